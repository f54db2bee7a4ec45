/**
 * A streamed PATCH (tus, IETF) ends at its Content-Length: its last piece gives the lease back,
 * so nothing it reads after that may reach storage. (Over HTTP the framing ends the body there;
 * a body handed over in-process may run on, and must not write over another PATCH's part.)
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BODY_BUFFER_BUDGET, bodyBuffers } from "../../src/storage/memory-budget";
import { PieceReader } from "../../src/storage/streams";
import { MiB, call, createEvent, fileBytes, sha256Hex, tusHeaders, tusMetadata } from "./helpers";

async function newTusUpload(size: number) {
  const { join_token } = await createEvent();
  const created = await call(`/api/v1/events/${join_token}/tus/`, {
    method: "POST",
    headers: { ...tusHeaders, "upload-length": String(size), "upload-metadata": tusMetadata("tus-device-bounds") },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  return new URL(created.headers.get("location")!).pathname;
}

const patch = (url: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) =>
  call(url, { method: "PATCH", headers: { ...tusHeaders, "content-type": "application/offset+octet-stream", "upload-offset": String(offset), ...headers }, body });

const offsetOf = async (url: string) => Number((await call(url, { method: "HEAD", headers: tusHeaders })).headers.get("upload-offset"));

async function storedSha(url: string) {
  const uploadId = url.split("/").pop()!.split(".")[0]!;
  const row = await env.DB.prepare("SELECT r2_key, status FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ r2_key: string; status: string }>();
  const object = await env.PHOTOS.get(row!.r2_key);
  return { status: row!.status, sha: object ? await sha256Hex(object.body) : null };
}

describe("a streamed PATCH ends at its Content-Length", () => {
  it("bytes past the declared length never overwrite the part another PATCH sent after the lease came back", async () => {
    const file = fileBytes(12 * MiB, 61);
    const url = await newTusUpload(file.byteLength);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // Declares exactly part 1; its last piece commits and gives the lease back.
    const first = patch(url, 0, readable, { "content-length": String(5 * MiB) });
    void writer.write(file.slice(0, 5 * MiB)).catch(() => {});
    for (let i = 0; i < 200 && (await offsetOf(url)) !== 5 * MiB; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await offsetOf(url)).toBe(5 * MiB);

    // The next PATCH sends part 2 while the first request is still open.
    expect((await patch(url, 5 * MiB, file.slice(5 * MiB, 10 * MiB))).status).toBe(204);
    // The first request's body runs on past its Content-Length with other bytes.
    void writer.write(new Uint8Array(5 * MiB).fill(0xee)).then(() => writer.close()).catch(() => {});
    const firstAnswer = await first;

    const last = await patch(url, 10 * MiB, file.slice(10 * MiB));
    expect(await storedSha(url)).toEqual({ status: "completed", sha: await sha256Hex(file) });
    expect(last.status).toBe(204);
    // The first PATCH ended where it said it would, with its bytes committed.
    expect(firstAnswer.status).toBe(204);
  });

  it("a PATCH declaring no bytes stores none, whatever follows it", async () => {
    const file = fileBytes(2 * MiB, 62);
    const url = await newTusUpload(file.byteLength);
    const response = await patch(url, 0, new Blob([file.slice(0, 4096)]).stream().pipeThrough(new TransformStream()), { "content-length": "0" });
    expect(response.status).toBe(204);
    expect(response.headers.get("upload-offset")).toBe("0");
    expect(await offsetOf(url)).toBe(0);
    expect((await patch(url, 0, file)).status).toBe(204);
    expect(await storedSha(url)).toEqual({ status: "completed", sha: await sha256Hex(file) });
  });
});

describe("a streamed PATCH cut off midway", () => {
  it("keeps the bytes that arrived before the break (all but the failed read's), answers chunk_interrupted with the exact offset, and resumes from there", async () => {
    const file = fileBytes(9 * MiB, 63);
    const url = await newTusUpload(file.byteLength);
    // A body the runtime reads block by block (a byte stream, as a request body is), which breaks
    // well inside part 2: the connection dropped.
    const cutAt = 5 * MiB + 300_000;
    let sent = 0;
    const body = new ReadableStream({
      type: "bytes",
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (sent >= cutAt) return controller.error(new Error("connection lost"));
        const next = file.slice(sent, Math.min(sent + 100_000, cutAt));
        sent += next.byteLength;
        controller.enqueue(next);
      },
    });
    const request = new Request(`https://photos.test${url}`, {
      method: "PATCH",
      headers: { ...tusHeaders, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      body,
      duplex: "half",
    } as RequestInit);
    const ctx = createExecutionContext();
    const response = await worker.fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "chunk_interrupted" } });
    // All of part 2 that arrived is kept but for the read the break failed (it never came back).
    const kept = Number(response.headers.get("upload-offset"));
    expect(kept).toBeLessThanOrEqual(cutAt);
    expect(kept).toBeGreaterThan(cutAt - PieceReader.READ_BYTES);
    expect(await offsetOf(url)).toBe(kept);
    expect((await patch(url, kept, file.slice(kept))).status).toBe(204);
    expect(await storedSha(url)).toEqual({ status: "completed", sha: await sha256Hex(file) });
  });
});

describe("a streamed PATCH and the isolate's memory budget", () => {
  it("holds its piece and its read block while it streams, and gives both back", async () => {
    const file = fileBytes(MiB, 64);
    const url = await newTusUpload(file.byteLength);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const declared = 64 * 1024;
    const response = patch(url, 0, readable, { "content-length": String(declared) });
    void writer.write(file.slice(0, 10)).catch(() => {});
    for (let i = 0; i < 100 && bodyBuffers.free === BODY_BUFFER_BUDGET; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // Many small PATCHes at once must not hold more memory than the budget counts.
    expect(BODY_BUFFER_BUDGET - bodyBuffers.free).toBe(2 * declared);
    await writer.write(file.slice(10, declared));
    await writer.close();
    expect((await response).status).toBe(204);
    expect(bodyBuffers.free).toBe(BODY_BUFFER_BUDGET);
    expect(await offsetOf(url)).toBe(declared);
  });
});
