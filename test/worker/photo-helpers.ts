/** Photos through the whole path: uploaded with the guest API, then delivered to the queue handler. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import worker from "../../src/index";
import type { PhotoJob } from "../../src/core/upload-session";
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

