/**
 * End-to-end tests drive stock clients (tus-js-client in Node) against a real `wrangler dev` of
 * the service, run from a bundle on a temporary state (scripts/lib/dev-server.ts). There is no
 * download route, so stored bytes are read back through bench/bare, which shares the state and
 * the bucket, and rows through `wrangler d1 execute`.
 */
import { createHash } from "node:crypto";
import { Upload, type HttpRequest, type HttpResponse } from "tus-js-client";
import { expect } from "vitest";
import { DevStack, Service, startBareWorker, type CreatedEvent, type DevServer } from "../../scripts/lib/dev-server";

export const MiB = 1024 * 1024;

export type UploadOptions = ConstructorParameters<typeof Upload>[1];

export interface E2e {
  stack: DevStack;
  service: Service;
  bare: DevServer;
  event: CreatedEvent;
  /** The event's tus endpoint, as a guest app would configure it. */
  endpoint: string;
}

/** Starts the service and bench/bare on a fresh state and creates an event with the default limits. */
export async function startE2e(prefix: string): Promise<E2e> {
  const stack = DevStack.create(prefix);
  try {
    // One after the other: two workerds opening the same fresh state at once can hit SQLITE_BUSY.
    const service = await Service.start(stack);
    const bare = await startBareWorker(stack);
    const event = await service.createEvent({ name: "e2e wedding" });
    return { stack, service, bare, event, endpoint: `${service.origin}/api/v1/events/${event.join_token}/tus/` };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let devices = 0;
/** tus metadata for one photo from a device of its own (the event allows 2 uploads in flight per device). */
export function photoMetadata(): Record<string, string> {
  return { filename: `IMG_${String(++devices).padStart(4, "0")}.jpg`, filetype: "image/jpeg", device_id: `e2e-device-${Date.now()}-${devices}` };
}

/** Every request a tus client sent and what came back, in order. */
export interface Exchange {
  method: string;
  url: string;
  uploadOffset: number | null;
  status: number;
  responseOffset: number | null;
}

export interface RunningUpload {
  upload: Upload;
  exchanges: Exchange[];
  /** Settles when tus-js-client calls onSuccess or onError. */
  finished: Promise<void>;
}

/** Starts a tus-js-client upload of `bytes`, recording each exchange. `onBeforeRequest` and `onAfterResponse` in `options` still run. */
export function startUpload(bytes: Buffer, options: UploadOptions, start: (upload: Upload) => void | Promise<void> = (upload) => upload.start()): RunningUpload {
  const exchanges: Exchange[] = [];
  const offsetOf = (value: string | undefined) => (value === undefined ? null : Number(value));
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const upload = new Upload(bytes, {
    ...options,
    onAfterResponse: async (req: HttpRequest, res: HttpResponse) => {
      exchanges.push({
        method: req.getMethod(),
        url: req.getURL(),
        uploadOffset: offsetOf(req.getHeader("Upload-Offset")),
        status: res.getStatus(),
        responseOffset: offsetOf(res.getHeader("Upload-Offset")),
      });
      await options.onAfterResponse?.(req, res);
    },
    onSuccess: () => settle.resolve(),
    onError: (error) => settle.reject(error),
  });
  Promise.resolve(start(upload)).catch((error: Error) => settle.reject(error));
  return { upload, exchanges, finished };
}

/** The upload id in a tus upload URL (`.../tus/{uploadId}.{uploadKey}`, src/http/capability.ts). */
function uploadIdOf(uploadUrl: string): string {
  const id = new URL(uploadUrl).pathname.split("/").pop()?.split(".")[0] ?? "";
  expect(id, uploadUrl).toMatch(/^[0-9a-f-]{36}$/);
  return id;
}

/**
 * Checks what the service recorded for a finished upload: the session completed, a photo row
 * exists (any processing outcome: the test bytes are random, so processing rejects them), and
 * the assembled R2 object has exactly the source's bytes.
 */
export async function expectStored(e2e: E2e, uploadUrl: string, source: Buffer): Promise<void> {
  const id = uploadIdOf(uploadUrl);
  const rows = e2e.stack.query<{ status: string; r2_key: string; total_size: number; photo_status: string | null; photo_size: number | null }>(
    `SELECT s.status, s.r2_key, s.total_size, p.status AS photo_status, p.size AS photo_size
       FROM upload_sessions s LEFT JOIN photos p ON p.upload_id = s.id WHERE s.id = '${id}'`,
  );
  expect(rows).toHaveLength(1);
  const row = rows[0]!;
  expect(row).toMatchObject({ status: "completed", total_size: source.length, photo_size: source.length });
  expect(["processing", "ready", "failed"]).toContain(row.photo_status);

  const response = await fetch(`${e2e.bare.origin}/${row.r2_key}`);
  const stored = Buffer.from(await response.arrayBuffer());
  expect(response.status, `GET ${row.r2_key} from the bucket`).toBe(200);
  expect(stored.length).toBe(source.length);
  expect(sha256(stored), "SHA-256 of the stored object").toBe(sha256(source));
}
