/** Drives the Worker as a client would: through its HTTP routes, in the Workers runtime. */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, expect } from "vitest";

export const MiB = 1024 * 1024;
const origin = "https://photos.test";

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${origin}${path}`, init));
}

export async function createEvent(settings: Record<string, unknown> = {}): Promise<{ event_id: string; join_token: string }> {
  const response = await call("/api/v1/admin/events", {
    method: "POST",
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Test wedding", ...settings }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

let deviceCounter = 0;
export const newDevice = () => `device-${Date.now()}-${deviceCounter++}`;

export interface Upload {
  token: string;
  id: string;
  key: string;
}

export function createUploadRequest(token: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/api/v1/events/${token}/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: "IMG_0001.jpg", content_type: "image/jpeg", device_id: newDevice(), ...body }),
  });
}

/** Registers a batch of one 1000-byte JPEG ("a.jpg") for `device`; the batch, with its file's id as `fileId`. */
export async function registerOneFile(token: string, device: string) {
  const response = await call(`/api/v1/events/${token}/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: device, files: [{ client_id: "a", filename: "a.jpg", size: 1000, content_type: "image/jpeg" }] }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  const batch = await response.json<{ batch_id: string; batch_key: string; files: Array<{ file_id: string }> }>();
  return { ...batch, fileId: batch.files[0]!.file_id };
}

export async function startUpload(token: string, size: number, extra: Record<string, unknown> = {}): Promise<Upload> {
  const response = await createUploadRequest(token, { size, ...extra });
  expect(response.status, await response.clone().text()).toBe(201);
  const body = await response.json<{ upload_id: string; upload_key: string }>();
  return { token, id: body.upload_id, key: body.upload_key };
}

export function sendChunk(upload: Upload, file: Uint8Array, start: number, end: number, headers: Record<string, string> = {}) {
  return call(`/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
    method: "PUT",
    headers: {
      "content-range": `bytes ${start}-${end - 1}/${file.byteLength}`,
      "upload-key": upload.key,
      ...headers,
    },
    body: file.slice(start, end),
  });
}

export function uploadCall(upload: Upload, method: string, suffix = "", headers: Record<string, string> = {}) {
  return call(`/api/v1/events/${upload.token}/uploads/${upload.id}${suffix}`, {
    method,
    headers: { "upload-key": upload.key, ...headers },
  });
}

/** Sends `file` in chunks of the given sizes (cycling through them), asserting each is accepted. */
export async function sendInChunks(upload: Upload, file: Uint8Array, chunkSizes: number[]): Promise<void> {
  let offset = 0;
  for (let i = 0; offset < file.byteLength; i++) {
    const end = Math.min(offset + chunkSizes[i % chunkSizes.length]!, file.byteLength);
    const response = await sendChunk(upload, file, offset, end);
    expect(response.status, await response.clone().text()).toBe(204);
    expect(response.headers.get("upload-offset")).toBe(String(end));
    offset = end;
  }
}

/** Bytes that look random (so no accidental equality), from a seed so failures reproduce. */
export function fileBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed * 2654435761 || 1;
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(size / 4));
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

export async function sha256Hex(data: ArrayBuffer | Uint8Array | ReadableStream): Promise<string> {
  let digest: ArrayBuffer;
  if (data instanceof ReadableStream) {
    const stream = new crypto.DigestStream("SHA-256");
    await data.pipeTo(stream);
    digest = await stream.digest;
  } else {
    digest = await crypto.subtle.digest("SHA-256", data);
  }
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function errorCode(response: Response): Promise<string> {
  const body = await response.json<{ error: { code: string } }>();
  return body.error.code;
}

export const sessionOf = (uploadId: string) => env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(uploadId));

/** Rows of the tail the upload's session stores (none once the session's storage is gone). */
export async function tailRows(uploadId: string): Promise<number> {
  return runInDurableObject(sessionOf(uploadId), (_instance, state) =>
    state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'tail_bytes'").toArray().length
      ? state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM tail_bytes").one().n
      : 0,
  );
}

/** Objects the previous byte engine staged in R2 for an upload (the current one stages none). */
export async function stagingObjects(uploadId: string) {
  return (await env.PHOTOS.list({ prefix: `staging/${uploadId}/` })).objects;
}

/** Moves an upload session's expiry into the past, as if its time had run out. */
export async function expireSession(uploadId: string): Promise<void> {
  await runInDurableObject(sessionOf(uploadId), (_instance, state) => {
    state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.expiresAt', ?)", Date.now() - 1);
  });
}

/** Starts a chunk whose body the test feeds by hand, like a slow or failing network (or to abort while it streams). */
export function manualChunk(upload: Upload, fileSize: number, start: number, end: number) {
  const { readable, writable } = new FixedLengthStream(end - start);
  const response = call(`/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
    method: "PUT",
    headers: { "upload-key": upload.key, "content-range": `bytes ${start}-${end - 1}/${fileSize}` },
    body: readable,
  });
  return { writer: writable.getWriter(), response };
}

/** Completes an upload through the guest API and answers the SHA-256 of the object it stored. */
export async function completedBytes(upload: Upload): Promise<string> {
  const complete = await uploadCall(upload, "POST", "/complete");
  expect(complete.status, await complete.clone().text()).toBe(201);
  const { file_path } = await complete.json<{ file_path: string }>();
  return sha256Hex((await env.PHOTOS.get(file_path))!.body);
}

/**
 * The tests and the Worker share `env`: in this file, admission is read afresh for every chunk
 * and piece (UPLOAD_RECHECK_MS 0), so a revocation or closing reaches uploads in flight at once.
 * Answers a setter for a test that wants another interval.
 */
export function recheckAdmissionEveryTime(): (ms: number) => void {
  const settable = env as unknown as Record<string, string>;
  const configured = settable.UPLOAD_RECHECK_MS;
  beforeEach(() => {
    settable.UPLOAD_RECHECK_MS = "0";
  });
  afterEach(() => {
    settable.UPLOAD_RECHECK_MS = configured!;
  });
  return (ms) => {
    settable.UPLOAD_RECHECK_MS = String(ms);
  };
}

export const tusHeaders = { "tus-resumable": "1.0.0" };
export const tusMetadata = (device: string) => `filetype ${btoa("image/jpeg")},device_id ${btoa(device)}`;

/** A tus concatenation partial with all its bytes sent (its creation-with-upload assembles it). */
export async function tusPartial(token: string, device: string, bytes: Uint8Array) {
  const created = await call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    headers: { ...tusHeaders, "upload-concat": "partial", "upload-length": String(bytes.byteLength), "upload-metadata": tusMetadata(device), "content-type": "application/offset+octet-stream" },
    body: bytes,
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const path = new URL(created.headers.get("location")!).pathname;
  return { path, id: path.split("/").pop()!.split(".")[0]! };
}

/** Creates a tus final upload from partial upload paths. */
export const tusFinal = (token: string, device: string, partialPaths: string[]) =>
  call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    headers: { ...tusHeaders, "upload-concat": `final;${partialPaths.join(" ")}`, "upload-metadata": tusMetadata(device) },
  });
