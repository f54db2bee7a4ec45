/**
 * A chunk smaller than a part is read into memory before its session is asked (so a chunk
 * inside its part is one call). Only a caller the session has already accepted gets that, one
 * chunk at a time per upload: a stranger with the join link (wrong key, made-up upload id) or
 * one guest's many chunks at once cannot hold the isolate's body budget while bodies trickle in.
 */
import { describe, expect, it } from "vitest";
import { BODY_BUFFER_BUDGET, bodyBuffers } from "../../src/storage/memory-budget";
import { completedBytes, createEvent, errorCode, fileBytes, manualChunk, MiB, sendChunk, sessionOf, sha256Hex, startUpload } from "./helpers";

const settled = (response: Promise<Response>, ms = 1000) =>
  Promise.race([response, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))]);

describe("bodies read before the session is asked", () => {
  it("a chunk with a wrong key is refused before its body is read, holding none of the budget", async () => {
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, 4 * MiB);
    const stranger = manualChunk({ ...upload, key: "not-the-key-of-this-upload-000000" }, 4 * MiB, 0, 4 * MiB - 1);
    const madeUp = manualChunk({ ...upload, id: crypto.randomUUID() }, 4 * MiB, 0, 4 * MiB - 1);
    // The bodies trickle: a few bytes, then nothing.
    void stranger.writer.write(new Uint8Array(10)).catch(() => {});
    void madeUp.writer.write(new Uint8Array(10)).catch(() => {});
    const [refused, unknown] = await Promise.all([settled(stranger.response), settled(madeUp.response)]);
    expect(bodyBuffers.free).toBe(BODY_BUFFER_BUDGET);
    expect(refused && (await errorCode(refused))).toBe("invalid_upload_key");
    expect(unknown && (await errorCode(unknown))).toBe("upload_not_found");
    await Promise.all([stranger.writer.abort().catch(() => {}), madeUp.writer.abort().catch(() => {})]);
  });

  it("one upload's chunks arriving at once hold at most one in-memory read and one lease; a third is refused at once", async () => {
    const { join_token } = await createEvent();
    const size = 12 * MiB;
    const upload = await startUpload(join_token, size);
    const file = fileBytes(size);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204); // its session has accepted this caller
    const trickling = [manualChunk(upload, size, MiB, 2 * MiB), manualChunk(upload, size, MiB, 2 * MiB)];
    for (const chunk of trickling) void chunk.writer.write(file.slice(MiB, MiB + 10)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = manualChunk(upload, size, MiB, 2 * MiB);
    void third.writer.write(file.slice(MiB, MiB + 10)).catch(() => {});
    const answered = await settled(third.response);
    expect(answered?.status).toBe(409);
    expect(answered && (await errorCode(answered))).toBe("chunk_out_of_order");
    await Promise.all([...trickling, third].map((chunk) => chunk.writer.abort().catch(() => {})));
    await Promise.all([...trickling, third].map((chunk) => chunk.response.catch(() => {})));
  });
});

describe("a chunk that ends the file", () => {
  it("from a part boundary, streams into R2 as its body arrives, holding none of the body budget (100 guests' one-chunk photos do not queue for it)", async () => {
    const { join_token } = await createEvent();
    const size = 2 * MiB;
    const file = fileBytes(size, 12);
    const upload = await startUpload(join_token, size); // its key is known to this isolate: a smaller chunk would be read into memory
    const chunk = manualChunk(upload, size, 0, size);
    await chunk.writer.write(file.slice(0, MiB));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bodyBuffers.free).toBe(BODY_BUFFER_BUDGET);
    await chunk.writer.write(file.slice(MiB));
    await chunk.writer.close();
    expect((await chunk.response).status).toBe(204);
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });

  it("starting inside a part, is read first: no stored tail is held in the isolate while its body trickles in", async () => {
    const { join_token } = await createEvent();
    const size = 3 * MiB;
    const file = fileBytes(size, 7);
    const upload = await startUpload(join_token, size);
    for (const at of [0, MiB]) expect((await sendChunk(upload, file, at, at + MiB)).status).toBe(204);
    const last = manualChunk(upload, size, 2 * MiB, size);
    await last.writer.write(file.slice(2 * MiB, 2.5 * MiB));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // At most the chunk itself (1 MiB), not the 2 MiB tail stored before it.
    expect(BODY_BUFFER_BUDGET - bodyBuffers.free).toBeLessThanOrEqual(MiB);
    await last.writer.write(file.slice(2.5 * MiB));
    await last.writer.close();
    expect((await last.response).status).toBe(204);
    expect(bodyBuffers.free).toBe(BODY_BUFFER_BUDGET);
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });
});

describe("a lapsed lease and a chunk stored in one call", () => {
  it("the lapsed chunk cannot commit over bytes the session accepted after it", async () => {
    const { join_token } = await createEvent();
    const size = 3 * MiB;
    const file = fileBytes(size, 11);
    const upload = await startUpload(join_token, size);
    // A chunk began (its Worker then went silent: no heartbeats) ...
    const caller = { uploadId: upload.id, tokenHash: await sha256Hex(new TextEncoder().encode(join_token)), keyHash: await sha256Hex(new TextEncoder().encode(upload.key)) };
    const begun = await sessionOf(upload.id).beginChunk(caller, { start: 0, length: MiB, total: size, acceptReplay: true });
    if (!begun.ok || !("grant" in begun.value)) throw new Error("no grant");
    await new Promise((resolve) => setTimeout(resolve, 1600)); // CHUNK_LEASE_MS in the test config
    // ... so the guest's retry is stored, in one call, and acknowledged.
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    // The silent Worker wakes and commits other bytes for the same range: refused, its turn was lost.
    const other = fileBytes(MiB, 99);
    const late = await sessionOf(upload.id).commitChunk(begun.value.grant.leaseId, MiB, { parts: [], objectSize: null, tail: other, multipartUploadId: null, consumedStaging: [] });
    expect(late.ok).toBe(false);
    for (let offset = MiB; offset < size; offset += MiB) expect((await sendChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    expect(await completedBytes(upload)).toBe(await sha256Hex(file));
  });
});
