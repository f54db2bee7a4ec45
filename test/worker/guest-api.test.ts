import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import {
  MiB,
  call,
  createEvent,
  createUploadRequest,
  errorCode,
  fileBytes,
  newDevice,
  sendChunk,
  sendInChunks,
  stagingObjects,
  startUpload,
  tailRows,
  uploadCall,
} from "./helpers";

describe("create", () => {
  it("returns an upload id, a key of at least 128 bits, the chunk size and the expiry", async () => {
    const { join_token } = await createEvent();
    const response = await createUploadRequest(join_token, { size: 3 * MiB });
    expect(response.status).toBe(201);
    const body = await response.json<Record<string, string | number>>();
    expect(body.upload_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(body.upload_key).length).toBeGreaterThanOrEqual(22); // base64url of ≥ 128 bits
    // The part size, so each chunk fills one R2 part straight from the request.
    expect(body.chunk_size).toBe(5 * MiB);
    expect(Date.parse(String(body.expires_at)) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);

    // The key is stored hashed, never as given.
    const row = await env.DB.prepare("SELECT upload_key_hash, filename FROM upload_sessions WHERE id = ?")
      .bind(body.upload_id)
      .first<{ upload_key_hash: string }>();
    expect(row!.upload_key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.upload_key_hash).not.toContain(String(body.upload_key));
  });

  it("answers the chunk size the event sets instead of the part size", async () => {
    const { join_token } = await createEvent({ chunk_size: MiB });
    const response = await createUploadRequest(join_token, { size: 3 * MiB });
    expect((await response.json<{ chunk_size: number }>()).chunk_size).toBe(MiB);
  });

  it("refuses bad input with invalid_request and says what is wrong", async () => {
    const { join_token } = await createEvent();
    for (const bad of [{ size: 0 }, { size: -5 }, { size: 1.5 }, { size: "12" }, { size: 10, device_id: "x" }, { size: 10, sha256: "abc" }]) {
      const response = await createUploadRequest(join_token, bad);
      expect(response.status).toBe(400);
      const body = await response.json<{ error: { code: string; message: string; issues: string[] } }>();
      expect(body.error.code).toBe("invalid_request");
      expect(body.error.issues.length).toBeGreaterThan(0);
    }
    const json = { "content-type": "application/json" };
    const notJson = await call(`/api/v1/events/${join_token}/uploads`, { method: "POST", headers: json, body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(await errorCode(notJson)).toBe("invalid_json");
    // The body is JSON as the OpenAPI document states it, or it is refused unread.
    const plain = await call(`/api/v1/events/${join_token}/uploads`, { method: "POST", body: JSON.stringify({ filename: "a.jpg", size: 10, content_type: "image/jpeg", device_id: "device-0001" }) });
    expect(plain.status).toBe(415);
    expect(await errorCode(plain)).toBe("unsupported_media_type");
    const huge = await call(`/api/v1/events/${join_token}/uploads`, { method: "POST", headers: json, body: "x".repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(await errorCode(huge)).toBe("body_too_large");
  });

  it("keeps the filename only as cleaned metadata", async () => {
    const { join_token } = await createEvent();
    const response = await createUploadRequest(join_token, { size: 1000, filename: "../../etc/\u202eevil\u0000.jpg" });
    const { upload_id } = await response.json<{ upload_id: string }>();
    const row = await env.DB.prepare("SELECT filename, r2_key FROM upload_sessions WHERE id = ?")
      .bind(upload_id)
      .first<{ filename: string; r2_key: string }>();
    expect(row!.filename).toBe("evil.jpg");
    expect(row!.r2_key).not.toContain("evil");
  });

  it("refuses unknown, revoked and closed events", async () => {
    const unknown = await createUploadRequest("A".repeat(43), { size: 1000 });
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe("event_not_found");

    const { join_token, event_id } = await createEvent();
    await env.DB.prepare("UPDATE join_tokens SET revoked_at = ? WHERE event_id = ?").bind(Date.now(), event_id).run();
    const revoked = await createUploadRequest(join_token, { size: 1000 });
    expect(revoked.status).toBe(410);
    expect(await errorCode(revoked)).toBe("join_link_expired");

    const closed = await createEvent({ status: "closed" });
    const refused = await createUploadRequest(closed.join_token, { size: 1000 });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("event_closed");
  });

  it("enforces the size cap and the accepted types", async () => {
    const { join_token } = await createEvent();
    const tooBig = await createUploadRequest(join_token, { size: 25 * MiB + 1 });
    expect(tooBig.status).toBe(413);
    const body = await tooBig.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("upload_limit");
    expect(body.error.message).toContain(String(25 * MiB));

    const pdf = await createUploadRequest(join_token, { size: 1000, content_type: "application/pdf" });
    expect(pdf.status).toBe(415);
    expect(await errorCode(pdf)).toBe("unsupported_type");
    const heic = await createUploadRequest(join_token, { size: 1000, content_type: "IMAGE/HEIC" });
    expect(heic.status).toBe(201);

    const custom = await createEvent({ max_file_size: 2 * MiB });
    expect((await createUploadRequest(custom.join_token, { size: 2 * MiB + 1 })).status).toBe(413);
  });

  it("allows at most 2 uploads in flight per device, and frees a slot on complete or abort", async () => {
    const { join_token } = await createEvent();
    const device_id = newDevice();
    const first = await startUpload(join_token, 1000, { device_id });
    await startUpload(join_token, 1000, { device_id });
    const third = await createUploadRequest(join_token, { size: 1000, device_id });
    expect(third.status).toBe(429);
    const body = await third.json<{ error: { code: string; message: string; limit: string } }>();
    expect(body.error.code).toBe("upload_limit");
    expect(body.error.limit).toBe("concurrent_uploads");
    expect(body.error.message).toContain("2");
    // Another device is not affected.
    expect((await createUploadRequest(join_token, { size: 1000 })).status).toBe(201);

    expect((await uploadCall(first, "DELETE")).status).toBe(204);
    expect((await createUploadRequest(join_token, { size: 1000, device_id })).status).toBe(201);
  });

  it("admits exactly the limit when a device creates many sessions at once", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 3 });
    const device_id = newDevice();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => createUploadRequest(join_token, { size: 1000, device_id })),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(3);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it("enforces the daily cap per device", async () => {
    const { join_token } = await createEvent({ daily_upload_cap_per_device: 2, max_concurrent_uploads_per_device: 10 });
    const device_id = newDevice();
    for (let i = 0; i < 2; i++) {
      const upload = await startUpload(join_token, 1000, { device_id });
      await sendInChunks(upload, fileBytes(1000), [1000]);
      expect((await uploadCall(upload, "POST", "/complete")).status).toBe(201);
    }
    const over = await createUploadRequest(join_token, { size: 1000, device_id });
    expect(over.status).toBe(429);
    const body = await over.json<{ error: { code: string; message: string; limit: string } }>();
    expect(body.error.code).toBe("upload_limit");
    expect(body.error.limit).toBe("daily_uploads");
    expect(body.error.message).toContain("2");
  });
});

describe("chunk", () => {
  it("refuses malformed or inconsistent ranges and leaves the offset alone", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(2 * MiB);
    const fresh = await startUpload(join_token, file.byteLength);
    const put = (headers: Record<string, string>, body: BodyInit = file.slice(0, 1 * MiB)) =>
      call(`/api/v1/events/${join_token}/uploads/${fresh.id}/chunk`, {
        method: "PUT",
        headers: { "upload-key": fresh.key, ...headers },
        body,
      });
    for (const range of ["bytes 0-1048575", "0-1048575/2097152", "bytes 5-1/2097152", "bytes 0-2097152/2097152", "bytes -1-5/10"]) {
      const response = await put({ "content-range": range });
      expect(response.status, range).toBe(400);
      expect(await errorCode(response)).toBe("range_mismatch");
    }
    const wrongTotal = await put({ "content-range": `bytes 0-${MiB - 1}/${3 * MiB}` });
    expect(wrongTotal.status).toBe(400);
    expect(await errorCode(wrongTotal)).toBe("range_mismatch");
    const wrongLength = await put({ "content-range": `bytes 0-${MiB - 1}/${2 * MiB}` }, file.slice(0, MiB - 10));
    expect(wrongLength.status).toBe(400);
    expect(await errorCode(wrongLength)).toBe("range_mismatch");
    const huge = await put({ "content-range": `bytes 0-${2 ** 53}/${2 ** 54}` });
    expect(huge.status).toBe(400);

    const status = await uploadCall(fresh, "GET");
    expect((await status.json<{ received_bytes: number }>()).received_bytes).toBe(0);
  });

  it("needs a Content-Length", async () => {
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, 2 * MiB);
    // A stream of unknown length goes out chunked, without Content-Length.
    const stream = new Blob([fileBytes(MiB)]).stream().pipeThrough(new TransformStream());
    const response = await call(`/api/v1/events/${join_token}/uploads/${upload.id}/chunk`, {
      method: "PUT",
      headers: { "upload-key": upload.key, "content-range": `bytes 0-${MiB - 1}/${2 * MiB}` },
      body: stream,
    });
    expect(response.status).toBe(411);
    expect(await errorCode(response)).toBe("length_required");
  });

  it("refuses chunks that do not start at the offset, with the expected offset", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3 * MiB);
    const upload = await startUpload(join_token, file.byteLength);
    const ahead = await sendChunk(upload, file, MiB, 2 * MiB);
    expect(ahead.status).toBe(409);
    expect(ahead.headers.get("upload-offset")).toBe("0");
    const body = await ahead.json<{ error: { code: string; expected_offset: number } }>();
    expect(body.error).toMatchObject({ code: "chunk_out_of_order", expected_offset: 0 });

    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    const overlapping = await sendChunk(upload, file, MiB / 2, MiB + MiB / 2);
    expect(overlapping.status).toBe(409);
    expect(overlapping.headers.get("upload-offset")).toBe(String(MiB));
  });

  it("treats a replay of an accepted range as harmless", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3 * MiB, 5);
    const upload = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    expect((await sendChunk(upload, file, MiB, 2 * MiB)).status).toBe(204);
    const replay = await sendChunk(upload, file, 0, MiB);
    expect(replay.status).toBe(204);
    expect(replay.headers.get("upload-offset")).toBe(String(2 * MiB));
    expect((await sendChunk(upload, file, MiB, 2 * MiB)).headers.get("upload-offset")).toBe(String(2 * MiB));
    expect((await sendChunk(upload, file, 2 * MiB, 3 * MiB)).status).toBe(204);

    const complete = await uploadCall(upload, "POST", "/complete");
    const { file_path } = await complete.json<{ file_path: string }>();
    const stored = await env.PHOTOS.get(file_path);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(file);
    // Replays after completion still answer with the offset.
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
  });

  it("refuses small non-final chunks", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(MiB);
    const upload = await startUpload(join_token, file.byteLength);
    const response = await sendChunk(upload, file, 0, 100 * 1024);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("chunk_too_small");
  });
});

describe("who may touch an upload", () => {
  it("refuses a missing or wrong Upload-Key on every call", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(MiB);
    const upload = await startUpload(join_token, file.byteLength);
    for (const key of [undefined, "wrong-key", upload.key.slice(0, -1) + (upload.key.endsWith("A") ? "B" : "A")]) {
      const as = { ...upload, key: key as string };
      const attempts = [
        key === undefined
          ? call(`/api/v1/events/${join_token}/uploads/${upload.id}`, { method: "GET" })
          : uploadCall(as, "GET"),
        sendChunk(key === undefined ? { ...upload, key: "" } : as, file, 0, MiB),
        uploadCall(as, "POST", "/complete"),
        uploadCall(as, "DELETE"),
      ];
      for (const response of await Promise.all(attempts)) {
        expect(response.status).toBe(401);
        expect(await errorCode(response)).toBe("invalid_upload_key");
      }
    }
    // None of that changed anything.
    const status = await uploadCall(upload, "GET");
    expect(await status.json()).toMatchObject({ status: "pending", received_bytes: 0 });
  });

  it("refuses an upload id used under another event's token, even with its key", async () => {
    const a = await createEvent();
    const b = await createEvent();
    const file = fileBytes(MiB);
    const upload = await startUpload(a.join_token, file.byteLength);
    const elsewhere = { ...upload, token: b.join_token };
    for (const response of [
      await uploadCall(elsewhere, "GET"),
      await sendChunk(elsewhere, file, 0, MiB),
      await uploadCall(elsewhere, "POST", "/complete"),
      await uploadCall(elsewhere, "DELETE"),
    ]) {
      expect(response.status).toBe(404);
      expect(await errorCode(response)).toBe("upload_not_found");
    }
  });

  it("answers unknown and malformed upload ids with upload_not_found", async () => {
    const { join_token } = await createEvent();
    for (const id of [crypto.randomUUID(), "not-an-id", "%2e%2e%2fetc"]) {
      const response = await uploadCall({ token: join_token, id, key: "k" }, "GET");
      expect(response.status).toBe(404);
      expect(await errorCode(response)).toBe("upload_not_found");
    }
  });
});

describe("complete and abort", () => {
  it("completes once: a repeat answers 200 with the same photo and records no second photo", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB + 123, 9);
    const upload = await startUpload(join_token, file.byteLength);
    const early = await uploadCall(upload, "POST", "/complete");
    expect(early.status).toBe(409);
    const earlyBody = await early.json<{ error: { code: string; received_bytes: number } }>();
    expect(earlyBody.error).toMatchObject({ code: "upload_incomplete", received_bytes: 0 });

    await sendInChunks(upload, file, [MiB]);
    const enqueued = vi.spyOn(env.PHOTO_QUEUE, "send");
    const [first, second] = await Promise.all([uploadCall(upload, "POST", "/complete"), uploadCall(upload, "POST", "/complete")]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    const bodies = [await first.json(), await second.json()];
    expect(bodies[0]).toEqual(bodies[1]);
    const third = await uploadCall(upload, "POST", "/complete");
    expect(third.status).toBe(200);
    expect(await third.json()).toEqual(bodies[0]);
    // Exactly one processing job, for this photo.
    expect(enqueued).toHaveBeenCalledTimes(1);
    expect(enqueued.mock.calls[0]![0]).toMatchObject({ photoId: (bodies[0] as { photo_id: string }).photo_id, uploadId: upload.id });
    enqueued.mockRestore();

    const photos = await env.DB.prepare("SELECT * FROM photos WHERE upload_id = ?").bind(upload.id).all();
    expect(photos.results).toHaveLength(1);
    expect(photos.results[0]).toMatchObject({ status: "processing", size: file.byteLength, filename: "IMG_0001.jpg" });
    const session = await env.DB.prepare("SELECT status, received_bytes, photo_id FROM upload_sessions WHERE id = ?")
      .bind(upload.id)
      .first();
    expect(session).toEqual({ status: "completed", received_bytes: file.byteLength, photo_id: (bodies[0] as { photo_id: string }).photo_id });

    const status = await uploadCall(upload, "GET");
    expect(await status.json()).toMatchObject({ status: "completed", received_bytes: file.byteLength });
    const abort = await uploadCall(upload, "DELETE");
    expect(abort.status).toBe(409);
    expect(await errorCode(abort)).toBe("upload_completed");
  });

  it("abort frees everything, is idempotent, and closes the session for good", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(8 * MiB, 11);
    // Uploaded only partly, so there are parts and a stored tail to free.
    const partial = await startUpload(join_token, file.byteLength);
    for (let offset = 0; offset < 6 * MiB; offset += MiB) {
      expect((await sendChunk(partial, file, offset, offset + MiB)).status).toBe(204);
    }
    expect(await tailRows(partial.id)).toBe(1);

    expect((await uploadCall(partial, "DELETE")).status).toBe(204);
    expect((await uploadCall(partial, "DELETE")).status).toBe(204);
    expect(await tailRows(partial.id)).toBe(0);
    expect(await stagingObjects(partial.id)).toHaveLength(0);
    // A replay of a range it had accepted learns that the upload is gone, rather than 204.
    const replay = await sendChunk(partial, file, 0, MiB);
    expect(replay.status).toBe(410);
    expect(await errorCode(replay)).toBe("upload_cancelled");

    const chunk = await sendChunk(partial, file, 6 * MiB, 7 * MiB);
    expect(chunk.status).toBe(410);
    expect(await errorCode(chunk)).toBe("upload_cancelled");
    const complete = await uploadCall(partial, "POST", "/complete");
    expect(complete.status).toBe(410);
    expect(await errorCode(complete)).toBe("upload_cancelled");
    expect(await (await uploadCall(partial, "GET")).json()).toMatchObject({ status: "cancelled", received_bytes: 6 * MiB });
    const row = await env.DB.prepare("SELECT status FROM upload_sessions WHERE id = ?").bind(partial.id).first();
    expect(row).toEqual({ status: "cancelled" });
  });
});

describe("logs", () => {
  it("writes one JSON line per request with route, ids, bytes, ms and outcome", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(MiB);
    const upload = await startUpload(join_token, file.byteLength);
    const log = vi.spyOn(console, "log");
    try {
      await sendChunk(upload, file, 0, MiB);
      const lines = log.mock.calls
        .map(([line]) => {
          try {
            return JSON.parse(String(line));
          } catch {
            return null;
          }
        })
        .filter((line) => line?.msg === "request");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        method: "PUT",
        route: "/api/v1/events/:token/uploads/:id/chunk",
        status: 204,
        outcome: "ok",
        upload_id: upload.id,
        bytes: MiB,
      });
      expect(typeof lines[0].ms).toBe("number");
      expect(JSON.stringify(lines[0])).not.toContain(upload.key);
      expect(JSON.stringify(lines[0])).not.toContain(join_token);
    } finally {
      log.mockRestore();
    }
  });

  it("puts the error code and request id in failed requests' lines", async () => {
    const log = vi.spyOn(console, "log");
    try {
      const response = await createUploadRequest("B".repeat(43), { size: 10 });
      const { error } = await response.json<{ error: { request_id: string } }>();
      expect(response.headers.get("x-request-id")).toBe(error.request_id);
      const line = log.mock.calls.map(([l]) => String(l)).find((l) => l.includes(error.request_id));
      expect(JSON.parse(line!)).toMatchObject({ status: 404, outcome: "event_not_found" });
    } finally {
      log.mockRestore();
    }
  });
});
