import {
  createExecutionContext,
  createScheduledController,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import {
  MiB,
  completedBytes,
  createEvent,
  errorCode,
  fileBytes,
  manualChunk,
  sendChunk,
  sendInChunks,
  sessionOf,
  sha256Hex,
  stagingObjects,
  startUpload,
  tailRows,
  uploadCall,
  type Upload,
} from "./helpers";

/** Rewrites a field of the session's stored state, as time passing (or a crash) would. */
async function setSessionField(upload: Upload, field: string, value: number) {
  await runInDurableObject(sessionOf(upload.id), (_instance, state) => {
    state.storage.sql.exec("UPDATE session SET data = json_set(data, ?, ?)", `$.${field}`, value);
  });
}

async function receivedBytes(upload: Upload): Promise<number> {
  const response = await uploadCall(upload, "GET");
  return (await response.json<{ received_bytes: number }>()).received_bytes;
}

const tick = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

describe("interrupted and concurrent chunks", () => {
  it.each([
    ["inside the tail", 2 * MiB, 3 * MiB],
    ["across a part boundary", 4 * MiB, 6 * MiB],
  ])("a chunk cut off midway (%s) commits nothing, and the retry completes the file intact", async (_where, start, end) => {
    const { join_token } = await createEvent();
    const file = fileBytes(12 * MiB, 21);
    const upload = await startUpload(join_token, file.byteLength);
    for (let offset = 0; offset < start; offset += MiB) {
      expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    }
    expect(await receivedBytes(upload)).toBe(start);

    const cut = manualChunk(upload, file.byteLength, start, end);
    await cut.writer.write(file.slice(start, start + (end - start) * 0.75));
    await tick();
    await cut.writer.abort(new Error("Wi-Fi dropped"));
    // The client is gone; if an answer gets through at all, it says the chunk was interrupted.
    const outcome = await cut.response.then((r) => r.status).catch(() => "no answer");
    expect([400, "no answer"]).toContain(outcome);
    expect(await receivedBytes(upload)).toBe(start);

    for (let offset = start; offset < file.byteLength; offset += MiB) {
      const response = await sendChunk(upload, file, offset, Math.min(offset + MiB, file.byteLength));
      expect(response.status).toBe(204);
    }
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    expect(await tailRows(upload.id)).toBe(0);
  });

  it("a second chunk while one streams into a part gets 409 chunk_out_of_order, never interleaved bytes", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 4);
    const upload = await startUpload(join_token, file.byteLength);
    // A chunk that fills a part streams into R2 under the session's lease.
    const slow = manualChunk(upload, file.byteLength, 0, 5 * MiB);
    await slow.writer.write(file.slice(0, MiB / 2));
    await tick();

    const rival = await sendChunk(upload, file, 0, 5 * MiB);
    expect(rival.status).toBe(409);
    expect(rival.headers.get("upload-offset")).toBe("0");
    expect(await errorCode(rival)).toBe("chunk_out_of_order");
    const next = await sendChunk(upload, file, 5 * MiB, 6 * MiB);
    expect(next.status).toBe(409);

    await slow.writer.write(file.slice(MiB / 2, 5 * MiB));
    await slow.writer.close();
    expect((await slow.response).status).toBe(204);
    expect((await sendChunk(upload, file, 5 * MiB, 6 * MiB)).status).toBe(204);
    const { file_path } = await (await uploadCall(upload, "POST", "/complete")).json<{ file_path: string }>();
    expect(new Uint8Array(await (await env.PHOTOS.get(file_path))!.arrayBuffer())).toEqual(file);
  });

  it("of two copies of a chunk that stays inside its part, the first to arrive whole is stored in one call; the other is a replay", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3 * MiB, 5);
    const upload = await startUpload(join_token, file.byteLength);
    // Such a chunk is read whole before the session hears of it, so a slow copy holds no turn.
    const slow = manualChunk(upload, file.byteLength, 0, MiB);
    await slow.writer.write(file.slice(0, MiB / 2));
    await tick();
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    expect(await receivedBytes(upload)).toBe(MiB);
    expect(await tailRows(upload.id)).toBe(1);
    await slow.writer.write(file.slice(MiB / 2, MiB));
    await slow.writer.close();
    const late = await slow.response;
    expect(late.status).toBe(204);
    expect(late.headers.get("upload-offset")).toBe(String(MiB));
    expect(await tailRows(upload.id)).toBe(1);
    for (let offset = MiB; offset < file.byteLength; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    const { file_path } = await (await uploadCall(upload, "POST", "/complete")).json<{ file_path: string }>();
    expect(new Uint8Array(await (await env.PHOTOS.get(file_path))!.arrayBuffer())).toEqual(file);
  });

  it("a lease whose Worker died (no more heartbeats) lapses, so the guest can resume", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(2 * MiB, 8);
    const upload = await startUpload(join_token, file.byteLength);
    // A chunk began, and the Worker carrying it vanished without committing or releasing.
    const caller = { uploadId: upload.id, tokenHash: await hash(join_token), keyHash: await hash(upload.key) };
    const begun = await sessionOf(upload.id).beginChunk(caller, { start: 0, length: MiB, total: file.byteLength, acceptReplay: true });
    expect(begun.ok).toBe(true);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 1600)); // CHUNK_LEASE_MS in the test config
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
  });

  it("a slow chunk keeps its turn through heartbeats for longer than the lease", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 9);
    const upload = await startUpload(join_token, file.byteLength);
    const slow = manualChunk(upload, file.byteLength, 0, 5 * MiB); // a whole part: streamed under the lease
    await slow.writer.write(file.slice(0, MiB / 2));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await sendChunk(upload, file, 0, 5 * MiB)).status).toBe(409);
    await slow.writer.write(file.slice(MiB / 2, 5 * MiB));
    await slow.writer.close();
    expect((await slow.response).status).toBe(204);
  });

  it("after a crash that took the session's memory, the guest resumes at once; the lost request cannot commit", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 10);
    const upload = await startUpload(join_token, file.byteLength);
    const slow = manualChunk(upload, file.byteLength, 0, 5 * MiB); // a whole part: streamed under the lease
    await slow.writer.write(file.slice(0, 1000));
    await tick();
    expect((await sendChunk(upload, file, 0, 5 * MiB)).status).toBe(409);
    await evictDurableObject(sessionOf(upload.id));
    expect((await sendChunk(upload, file, 0, 5 * MiB)).status).toBe(204);
    await slow.writer.write(file.slice(1000, 5 * MiB));
    await slow.writer.close();
    expect((await slow.response).status).toBe(409);
    expect(await receivedBytes(upload)).toBe(5 * MiB);
  });
});

const hash = async (value: string) =>
  [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** The session's next photo job cannot be sent (Queues unreachable): its completion stops after recording the photo. */
async function refuseOneJobSend(upload: Upload) {
  let refusedSends = 1;
  await runInDurableObject(sessionOf(upload.id), (instance) => {
    const session = instance as unknown as { env: Env };
    const queue = session.env.PHOTO_QUEUE;
    const send = (...args: Parameters<Queue["send"]>) => (refusedSends-- > 0 ? Promise.reject(new Error("queue unreachable")) : queue.send(...args));
    session.env = { ...session.env, PHOTO_QUEUE: { ...queue, send } as Queue };
  });
}

describe("a completion interrupted after the photo was recorded", () => {
  it("completes when asked again: the photo keeps its original and gets its job, never a failed session", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(300_000, 41);
    const upload = await startUpload(join_token, file.byteLength);
    await sendInChunks(upload, file, [file.byteLength]);
    await refuseOneJobSend(upload);
    const first = await uploadCall(upload, "POST", "/complete");
    expect(first.status).toBe(500);
    const photo = await env.DB.prepare("SELECT id, status FROM photos WHERE upload_id = ?").bind(upload.id).first<{ id: string; status: string }>();
    expect(photo).toMatchObject({ status: "processing" });

    const again = await uploadCall(upload, "POST", "/complete");
    expect(again.status, await again.clone().text()).toBe(201);
    const { photo_id, file_path } = await again.json<{ photo_id: string; file_path: string }>();
    expect(photo_id).toBe(photo!.id);
    expect(await sha256Hex((await env.PHOTOS.get(file_path))!.body)).toBe(await sha256Hex(file));
    expect((await uploadCall(upload, "GET").then((response) => response.json<{ status: string }>())).status).toBe("completed");
  });

  it("completes when asked again after processing linked the photo to an earlier copy and deleted its original", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 42);
    const upload = await startUpload(join_token, file.byteLength);
    await sendInChunks(upload, file, [5 * MiB]);
    await refuseOneJobSend(upload);
    expect((await uploadCall(upload, "POST", "/complete")).status).toBe(500);
    const photo = await env.DB.prepare("SELECT id, original_key FROM photos WHERE upload_id = ?").bind(upload.id).first<{ id: string; original_key: string }>();
    // What processing does with a duplicate of an earlier photo: it shares that photo's files and deletes its own original.
    await env.PHOTOS.delete(photo!.original_key);

    const again = await uploadCall(upload, "POST", "/complete");
    expect(again.status, await again.clone().text()).toBe(201);
    expect((await again.json<{ photo_id: string }>()).photo_id).toBe(photo!.id);
    expect((await uploadCall(upload, "GET").then((response) => response.json<{ status: string }>())).status).toBe("completed");
  });
});

describe("expiry", () => {
  async function halfUploaded() {
    const { join_token } = await createEvent();
    const file = fileBytes(12 * MiB, 13);
    const upload = await startUpload(join_token, file.byteLength);
    for (let offset = 0; offset < 7 * MiB; offset += MiB) {
      expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    }
    // Part 1 is in R2; the tail (bytes 5–7 MiB) is in the session's storage, nothing is staged in R2.
    expect(await tailRows(upload.id)).toBe(2);
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    const row = await env.DB.prepare("SELECT r2_key, multipart_upload_id FROM upload_sessions WHERE id = ?")
      .bind(upload.id)
      .first<{ r2_key: string; multipart_upload_id: string }>();
    return { upload, file, ...row! };
  }

  async function expectFreed(upload: Upload, file: Uint8Array, r2Key: string, multipartId: string) {
    const chunk = await sendChunk(upload, file, 7 * MiB, 8 * MiB);
    expect(chunk.status).toBe(410);
    expect(await errorCode(chunk)).toBe("session_expired");
    expect(await tailRows(upload.id)).toBe(0);
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    // A replay of a range it had accepted learns that the upload expired, rather than 204.
    const replay = await sendChunk(upload, file, 0, MiB);
    expect(replay.status).toBe(410);
    expect(await errorCode(replay)).toBe("session_expired");
    const part = env.PHOTOS.resumeMultipartUpload(r2Key, multipartId).uploadPart(3, new Uint8Array(10));
    await expect(part).rejects.toThrow();
    const row = await env.DB.prepare("SELECT status FROM upload_sessions WHERE id = ?").bind(upload.id).first();
    expect(row).toEqual({ status: "expired" });
    const status = await uploadCall(upload, "GET");
    expect(await status.json()).toMatchObject({ status: "expired" });
  }

  it("the alarm aborts the multipart upload, deletes the stored tail and marks the session expired", async () => {
    const { upload, file, r2_key, multipart_upload_id } = await halfUploaded();
    await setSessionField(upload, "expiresAt", Date.now() - 1);
    expect(await runDurableObjectAlarm(sessionOf(upload.id))).toBe(true);
    await expectFreed(upload, file, r2_key, multipart_upload_id);
    // Alarms can fire twice: the second run changes nothing.
    await runInDurableObject(sessionOf(upload.id), (instance) => instance.alarm());
    expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ status: "expired" });
  });

  it("an alarm that fires early re-arms itself and leaves the session alone", async () => {
    const { upload } = await halfUploaded();
    expect(await runDurableObjectAlarm(sessionOf(upload.id))).toBe(true);
    expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ status: "uploading", received_bytes: 7 * MiB });
    const rearmed = await runInDurableObject(sessionOf(upload.id), (_i, state) => state.storage.getAlarm());
    expect(rearmed).toBeGreaterThan(Date.now());
  });

  it("a chunk after the expiry time is refused even before the alarm ran", async () => {
    const { upload, file, r2_key, multipart_upload_id } = await halfUploaded();
    await setSessionField(upload, "expiresAt", Date.now() - 1);
    await expectFreed(upload, file, r2_key, multipart_upload_id);
  });

  it("the cron sweeper closes overdue sessions the alarm missed, in batches, idempotently", async () => {
    const { upload, file, r2_key, multipart_upload_id } = await halfUploaded();
    const past = Date.now() - 1;
    await setSessionField(upload, "expiresAt", past);
    await runInDurableObject(sessionOf(upload.id), (_i, state) => state.storage.deleteAlarm());
    await env.DB.prepare("UPDATE upload_sessions SET expires_at = ? WHERE id = ?").bind(past, upload.id).run();
    // A session whose Durable Object never started (the Worker died right after the insert).
    const orphan = { id: crypto.randomUUID() };
    await env.DB.prepare(
      `INSERT INTO upload_sessions (id, event_id, join_token_id, device_id, total_size, chunk_size, expires_at, r2_key,
         upload_key_hash, filename, content_type, updated_at)
       SELECT ?, event_id, join_token_id, 'lost-device', 1000, chunk_size, ?, 'uploads/x', 'h', 'a.jpg', 'image/jpeg', 0
       FROM upload_sessions WHERE id = ?`,
    )
      .bind(orphan.id, past, upload.id)
      .run();

    const sweep = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController(), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    await sweep();
    await expectFreed(upload, file, r2_key, multipart_upload_id);
    expect(await env.DB.prepare("SELECT status FROM upload_sessions WHERE id = ?").bind(orphan.id).first()).toEqual({
      status: "expired",
    });
    await sweep();
    const overdue = await env.DB.prepare(
      "SELECT count(*) AS n FROM upload_sessions WHERE status IN ('pending','uploading','assembling') AND expires_at <= ?",
    )
      .bind(Date.now())
      .first<{ n: number }>();
    expect(overdue!.n).toBe(0);
  });

  it("a session whose bytes all arrived is completed at expiry instead of thrown away", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 17);
    const upload = await startUpload(join_token, file.byteLength);
    await sendInChunks(upload, file, [2 * MiB]);
    await setSessionField(upload, "expiresAt", Date.now() - 1);
    await runDurableObjectAlarm(sessionOf(upload.id));
    const status = await (await uploadCall(upload, "GET")).json<{ status: string; photo_id: string }>();
    expect(status.status).toBe("completed");
    const photo = await env.DB.prepare("SELECT status FROM photos WHERE id = ?").bind(status.photo_id).first();
    expect(photo).toEqual({ status: "processing" });
  });
});
