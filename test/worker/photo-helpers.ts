/** Photos through the whole path: uploaded with the guest API, then delivered to the queue handler. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import worker from "../../src/index";
import type { PhotoJob } from "../../src/core/completion";
import { PROCESSING_QUEUE } from "../../src/jobs/processing";
import { createEvent, sendInChunks, startUpload, uploadCall, type Upload } from "./helpers";

export interface Uploaded {
  job: PhotoJob;
  photoId: string;
  upload: Upload;
}

/** Uploads `bytes` through the guest API and completes it; returns the processing job it enqueued. */
export async function uploadPhoto(bytes: Uint8Array, options: { contentType?: string; token?: string; sha256?: string; filename?: string; extra?: Record<string, unknown> } = {}): Promise<Uploaded> {
  const token = options.token ?? (await createEvent()).join_token;
  const upload = await startUpload(token, bytes.byteLength, {
    content_type: options.contentType ?? "image/jpeg",
    filename: options.filename ?? "guest-photo",
    ...(options.sha256 ? { sha256: options.sha256 } : {}),
    ...options.extra,
  });
  await sendInChunks(upload, bytes, [1024 * 1024]);
  const send = vi.spyOn(env.PHOTO_QUEUE, "send");
  const response = await uploadCall(upload, "POST", "/complete");
  expect(response.status).toBe(201);
  const job = send.mock.calls[0]![0] as PhotoJob;
  send.mockRestore();
  return { job, photoId: job.photoId, upload };
}

/** Delivers the jobs to the Worker's queue handler, as Queues would, and returns what it decided. */
export async function deliver(jobs: PhotoJob[], { attempts = 1, queue = PROCESSING_QUEUE } = {}) {
  const batch = createMessageBatch<PhotoJob>(
    queue,
    jobs.map((body, i) => ({ id: `m-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

/**
 * Inserts `count` photos (and their upload sessions) straight into D1, as processing leaves
 * them; created_at steps by 1 ms every third photo, so ties exercise the id tiebreak.
 */
export async function seedPhotos(eventId: string, count: number, options: { from?: number; status?: string; device?: string } = {}) {
  const from = options.from ?? Date.now() - 10_000_000;
  const token = await env.DB.prepare("SELECT id FROM join_tokens WHERE event_id = ?").bind(eventId).first<{ id: string }>();
  const prefix = crypto.randomUUID().slice(0, 8);
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO upload_sessions (id, event_id, join_token_id, device_id, status, total_size, received_bytes, chunk_size, expires_at, r2_key, upload_key_hash, filename, content_type, updated_at, created_at)
       WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
       SELECT ? || '-' || i, ?, ?, ?, 'completed', 1000, 1000, 1000, 0, 'uploads/' || i, 'h', 'p' || i || '.jpg', 'image/jpeg', 0, ? + (i / 3) FROM n`,
    ).bind(count, prefix, eventId, token!.id, options.device ?? "device-seed", from),
    env.DB.prepare(
      `INSERT INTO photos (id, event_id, upload_id, device_id, status, original_key, size, filename, declared_content_type, updated_at, created_at, taken_at)
       WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
       SELECT ? || '-p-' || printf('%05d', i), ?, ? || '-' || i, ?, ?, 'uploads/' || i, 1000, 'p' || i || '.jpg', 'image/jpeg', 0, ? + (i / 3), ? + i * 60000 FROM n`,
    ).bind(count, prefix, eventId, prefix, options.device ?? "device-seed", options.status ?? "ready", from, from),
  ]);
  return prefix;
}
