/**
 * The second-generation byte engine: the not-yet-full tail lives in the session's SQLite storage,
 * the multipart upload is created at the first full part, and R2 sees only parts (or one put).
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { UploadSession } from "../../src/core/upload-session";
import type { ChunkWriteResult } from "../../src/storage/byte-engine";
import { r2Keys } from "../../src/storage/keys";
import { MemoryBudget } from "../../src/storage/memory-budget";
import { ApiError } from "../../src/core/errors";
import {
  MiB,
  completedBytes,
  createEvent,
  fileBytes,
  sendChunk,
  sendInChunks,
  sessionOf,
  sha256Hex,
  stagingObjects,
  startUpload,
  type Upload,
  tailRows,
  uploadCall,
} from "./helpers";

const hash = async (value: string) => sha256Hex(new TextEncoder().encode(value));

/** Takes the lease for bytes [start, end) as a Worker would, so the test commits what that Worker wrote. */
async function leaseAsAWorker(upload: Upload, total: number, start: number, end: number) {
  const session = sessionOf(upload.id) as DurableObjectStub<UploadSession>;
  const caller = { uploadId: upload.id, tokenHash: await hash(upload.token), keyHash: await hash(upload.key) };
  const begun = await session.beginChunk(caller, { start, length: end - start, total, acceptReplay: true });
  if (!begun.ok || !("grant" in begun.value)) throw new Error("expected a lease");
  return { session, leaseId: begun.value.grant.leaseId };
}

async function tailRowSizes(uploadId: string): Promise<number[]> {
  return runInDurableObject(sessionOf(uploadId), (_instance, state) =>
    state.storage.sql.exec<{ n: number }>("SELECT length(bytes) AS n FROM tail_bytes ORDER BY start").toArray().map((row) => row.n),
  );
}

describe("the tail lives in the session's storage", () => {
  it("a chunk inside a part is stored in rows of at most 1 MiB, a tail of many rows fills its part byte-identical", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(12 * MiB, 31);
    const upload = await startUpload(join_token, file.byteLength);
    // One chunk of 4.5 MiB: five rows; then 256 KiB chunks: one row each.
    expect((await sendChunk(upload, file, 0, 4.5 * MiB)).status).toBe(204);
    expect(await tailRowSizes(upload.id)).toEqual([MiB, MiB, MiB, MiB, MiB / 2]);
    expect((await sendChunk(upload, file, 4.5 * MiB, 4.75 * MiB)).status).toBe(204);
    expect(await tailRowSizes(upload.id)).toEqual([MiB, MiB, MiB, MiB, MiB / 2, MiB / 4]);
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    // This chunk fills part 1 from the six rows and its own first 256 KiB; its last 768 KiB are the new tail.
    expect((await sendChunk(upload, file, 4.75 * MiB, 6 * MiB)).status).toBe(204);
    expect(await tailRowSizes(upload.id)).toEqual([MiB]);
    for (let offset = 6 * MiB; offset < file.byteLength; offset += 256 * 1024) {
      expect((await sendChunk(upload, file, offset, offset + 256 * 1024)).status).toBe(204);
    }
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
    expect(await tailRows(upload.id)).toBe(0);
    expect(await stagingObjects(upload.id)).toHaveLength(0);
  });

  it("a tail stored by a Worker that never answered is the guest's new offset; resuming gives identical bytes", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(7 * MiB, 32);
    const upload = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    // The Worker got the session to store bytes 1–3 MiB, then died before answering.
    const { session, leaseId } = await leaseAsAWorker(upload, file.byteLength, MiB, 3 * MiB);
    const tail = file.slice(MiB, 3 * MiB);
    const stored = await session.commitChunk(leaseId, 3 * MiB, {
      parts: [],
      objectSize: null,
      tail,
      multipartUploadId: null,
      consumedStaging: [],
    });
    expect(stored.ok).toBe(true);

    // The guest never heard back: it asks where to resume, and the session says after the stored tail.
    const status = await uploadCall(upload, "GET");
    expect(await status.json()).toMatchObject({ status: "uploading", received_bytes: 3 * MiB });
    // Its retry of the lost chunk is a harmless replay.
    const retry = await sendChunk(upload, file, MiB, 3 * MiB);
    expect(retry.status).toBe(204);
    expect(retry.headers.get("upload-offset")).toBe(String(3 * MiB));
    for (const [start, end] of [[3 * MiB, 5.5 * MiB], [5.5 * MiB, 7 * MiB]] as const) {
      expect((await sendChunk(upload, file, start, end)).status).toBe(204);
    }
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
    expect(await tailRows(upload.id)).toBe(0);
  });

  it("a chunk committed by a Worker still on the code before objectSize (a deploy in between) keeps the stored tail", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(7 * MiB, 38);
    const upload = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    // A Worker isolate of the previous version (or a gradual deployment) commits bytes 1–3 MiB as
    // tail in its own shape: `wroteObject: false`, no `objectSize`.
    const { session, leaseId } = await leaseAsAWorker(upload, file.byteLength, MiB, 3 * MiB);
    const previousShape = { parts: [], wroteObject: false, tail: file.slice(MiB, 3 * MiB), multipartUploadId: null, consumedStaging: [] };
    const stored = await session.commitChunk(leaseId, 3 * MiB, previousShape as unknown as ChunkWriteResult);
    expect(stored.ok).toBe(true);
    // Bytes 0–1 MiB, accepted before, are still held for part 1.
    expect(await tailRowSizes(upload.id)).toEqual([MiB, MiB, MiB]);
    for (const [start, end] of [[3 * MiB, 5.5 * MiB], [5.5 * MiB, 7 * MiB]] as const) {
      expect((await sendChunk(upload, file, start, end)).status).toBe(204);
    }
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });
});

/** D1's copy of an upload's progress, once the write that follows the response has had its moment. */
async function mirroredProgress(uploadId: string) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  return (await env.DB.prepare("SELECT status, received_bytes FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ status: string; received_bytes: number }>())!;
}

describe("the D1 mirror of progress", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("is written when the upload starts and at its first part, not for chunks inside a part", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(12 * MiB, 37);
    const upload = await startUpload(join_token, file.byteLength);
    const mirrored = () => mirroredProgress(upload.id);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    expect(await mirrored()).toEqual({ status: "uploading", received_bytes: MiB });
    for (let offset = MiB; offset < 7 * MiB; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    // Part 1 filled at 5 MiB; the two chunks since stayed inside part 2.
    expect(await mirrored()).toEqual({ status: "uploading", received_bytes: 5 * MiB });
    // The session itself always knows the exact offset.
    expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ received_bytes: 7 * MiB });
  });

  it("follows later parts at most every 10 s", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(15 * MiB, 38);
    const upload = await startUpload(join_token, file.byteLength);
    const mirrored = async () => (await mirroredProgress(upload.id)).received_bytes;
    for (const offset of [0, 5 * MiB]) expect((await sendChunk(upload, file, offset, offset + 5 * MiB)).status).toBe(204);
    // Part 1 was mirrored; part 2 filled within 10 s of it.
    expect(await mirrored()).toBe(5 * MiB);
    const later = Date.now() + 10_001;
    vi.spyOn(Date, "now").mockImplementation(() => later);
    expect((await sendChunk(upload, file, 10 * MiB, 15 * MiB)).status).toBe(204);
    expect(await mirrored()).toBe(15 * MiB);
  });
});

describe("the multipart upload is created at the first full part", () => {
  it("a file of one part never creates one: a single put, and the session's row never names one", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3_000_000, 33);
    const upload = await startUpload(join_token, file.byteLength);
    await sendInChunks(upload, file, [MiB]);
    const multipart = await runInDurableObject(sessionOf(upload.id), (_instance, state) =>
      state.storage.sql.exec<{ id: string | null }>("SELECT json_extract(data, '$.multipartUploadId') AS id FROM session").one().id,
    );
    expect(multipart).toBeNull();
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });

  it("a larger file has none until its first part fills", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(12 * MiB, 34);
    const upload = await startUpload(join_token, file.byteLength);
    const multipartId = () =>
      runInDurableObject(sessionOf(upload.id), (_instance, state) =>
        state.storage.sql.exec<{ id: string | null }>("SELECT json_extract(data, '$.multipartUploadId') AS id FROM session").one().id,
      );
    for (let offset = 0; offset < 4 * MiB; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    expect(await multipartId()).toBeNull();
    expect((await sendChunk(upload, file, 4 * MiB, 5 * MiB)).status).toBe(204);
    expect(await multipartId()).toMatch(/.+/);
    for (let offset = 5 * MiB; offset < file.byteLength; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });
});

/** Counts calls on an R2 bucket binding by R2's billing class (A: writes and lists; B: reads). */
function countingBucket(bucket: R2Bucket) {
  const counts = { A: 0, B: 0, calls: [] as string[] };
  const count = (name: string, cls: "A" | "B" | null) => {
    counts.calls.push(name);
    if (cls) counts[cls]++;
  };
  const classOf: Record<string, "A" | "B" | null> = {
    put: "A",
    createMultipartUpload: "A",
    list: "A",
    get: "B",
    head: "B",
    delete: null,
  };
  const wrapped = new Proxy(bucket, {
    get(target, name: string) {
      const value = Reflect.get(target, name) as unknown;
      if (typeof value !== "function") return value;
      if (name === "resumeMultipartUpload") {
        return (key: string, id: string) => {
          const multipart = target.resumeMultipartUpload(key, id);
          return {
            uploadPart: (n: number, body: ReadableStream | ArrayBuffer | string | Blob) => (count("uploadPart", "A"), multipart.uploadPart(n, body)),
            complete: (parts: R2UploadedPart[]) => (count("completeMultipartUpload", "A"), multipart.complete(parts)),
            abort: () => (count("abortMultipartUpload", null), multipart.abort()),
          };
        };
      }
      return (...args: unknown[]) => {
        count(name, classOf[name] ?? "A");
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { bucket: wrapped, counts };
}

describe("R2 operations per upload", () => {
  it("a 25 MiB upload in 1 MiB chunks costs 7 class A operations and no class B", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(25 * MiB, 35);
    const upload = await startUpload(join_token, file.byteLength);
    const { bucket, counts } = countingBucket(env.PHOTOS);
    // The Worker's requests and the session both see the counting bucket.
    const countedEnv = { ...env, PHOTOS: bucket };
    await runInDurableObject(sessionOf(upload.id), (instance) => {
      (instance as unknown as { env: Env }).env = { ...(instance as unknown as { env: Env }).env, PHOTOS: bucket };
    });
    const request = (start: number, end: number) =>
      new Request(`https://photos.test/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
        method: "PUT",
        headers: { "content-range": `bytes ${start}-${end - 1}/${file.byteLength}`, "content-length": String(end - start), "upload-key": upload.key },
        body: file.slice(start, end),
      });
    const ctx = createExecutionContext();
    for (let offset = 0; offset < file.byteLength; offset += MiB) {
      const response = await worker.fetch(request(offset, offset + MiB), countedEnv, ctx);
      expect(response.status).toBe(204);
    }
    const complete = await worker.fetch(
      new Request(`https://photos.test/api/v1/events/${upload.token}/uploads/${upload.id}/complete`, { method: "POST", headers: { "upload-key": upload.key } }),
      countedEnv,
      ctx,
    );
    expect(complete.status).toBe(201);
    await waitOnExecutionContext(ctx);
    // The session's own calls are counted too: it creates and completes the multipart upload.
    // Completing answers the object's size: no head to check it.
    expect(counts.calls.filter((name) => name !== "uploadPart")).toEqual(["createMultipartUpload", "completeMultipartUpload"]);
    expect(counts.calls.filter((name) => name === "uploadPart")).toHaveLength(5);
    expect(counts.A, counts.calls.join(",")).toBeLessThanOrEqual(7);
    expect(counts.B, counts.calls.join(",")).toBe(0);
    const { file_path } = await complete.json<{ file_path: string }>();
    expect(await sha256Hex((await env.PHOTOS.get(file_path))!.body)).toBe(await sha256Hex(file));
  });

  it("a photo of one part, sent in one chunk that completes it, costs one put and no class B operation", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3 * MiB, 36);
    const upload = await startUpload(join_token, file.byteLength);
    const { bucket, counts } = countingBucket(env.PHOTOS);
    await runInDurableObject(sessionOf(upload.id), (instance) => {
      (instance as unknown as { env: Env }).env = { ...(instance as unknown as { env: Env }).env, PHOTOS: bucket };
    });
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`https://photos.test/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
        method: "PUT",
        headers: { "content-range": `bytes 0-${file.byteLength - 1}/${file.byteLength}`, "content-length": String(file.byteLength), "upload-key": upload.key, "upload-complete": "?1" },
        body: file,
      }),
      { ...env, PHOTOS: bucket },
      ctx,
    );
    expect(response.status).toBe(201);
    await waitOnExecutionContext(ctx);
    // The put's answer gave the stored size: assembly needs no head.
    expect(counts.calls).toEqual(["put"]);
    const { file_path } = await response.json<{ file_path: string }>();
    expect(await sha256Hex((await env.PHOTOS.get(file_path))!.body)).toBe(await sha256Hex(file));
  });
});

describe("sessions from before the tail moved (transition)", () => {
  it("finish on the old path: their staged segments go into the next part, then are swept", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(8 * MiB, 36);
    const upload = await startUpload(join_token, file.byteLength);
    for (let offset = 0; offset < 2 * MiB; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    // Turn it into a session of the old engine: its tail as staging objects listed in `tail`, no marker.
    const keys = [r2Keys.stagingSegment(upload.id, 0, MiB, "a"), r2Keys.stagingSegment(upload.id, MiB, 2 * MiB, "b")];
    await env.PHOTOS.put(keys[0]!, file.slice(0, MiB));
    await env.PHOTOS.put(keys[1]!, file.slice(MiB, 2 * MiB));
    const leftover = r2Keys.stagingSegment(upload.id, MiB, 2 * MiB, "failed-attempt");
    await env.PHOTOS.put(leftover, file.slice(MiB, 2 * MiB));
    await runInDurableObject(sessionOf(upload.id), (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("DELETE FROM tail_bytes");
      sql.exec("CREATE TABLE tail (start INTEGER PRIMARY KEY, end INTEGER NOT NULL, key TEXT NOT NULL)");
      sql.exec("INSERT INTO tail (start, end, key) VALUES (0, ?, ?), (?, ?, ?)", MiB, keys[0]!, MiB, 2 * MiB, keys[1]!);
      sql.exec("UPDATE session SET data = json_remove(data, '$.tailInSession')");
    });
    // One more chunk lands in the session's storage after the staged segments; the next fills the part from both.
    for (let offset = 2 * MiB; offset < file.byteLength; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    expect(await tailRows(upload.id)).toBe(0);
  });
});

describe("the isolate's memory budget", () => {
  it("holds bodies first come, first served, and refuses with 503 server_busy when no room comes", async () => {
    const budget = new MemoryBudget(10 * MiB);
    const first = await budget.reserve(6 * MiB);
    const order: string[] = [];
    const second = budget.reserve(6 * MiB, 1000).then((held) => (order.push("second"), held));
    const third = budget.reserve(3 * MiB, 1000).then((held) => (order.push("third"), held));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]); // the third fits, but waits its turn behind the second
    first.release();
    (await second).release();
    (await third).release();
    expect(order).toEqual(["second", "third"]);
    expect(budget.free).toBe(10 * MiB);

    const hog = budget.overdraw(9 * MiB);
    const refused = await budget.reserve(5 * MiB, 50).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(503);
    expect((refused as ApiError).code).toBe("server_busy");
    hog.release();
    expect(budget.free).toBe(10 * MiB);
  });
});
