/**
 * The upload engine's pure parts, fast and without a server: backoff with jitter, chunk
 * planning, the failure decision table, how files show, batch answers, the CLI's arguments and
 * output, the Node state file, and how previews are paced.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApiFailure, type BatchSnapshot } from "../../web/engine/api.ts";
import { parseRetryAfter, retryDelay, type RetryPolicy } from "../../web/engine/backoff.ts";
import { processingChanges, registrationChanges } from "../../web/engine/batches.ts";
import { ChunkSizer, contentRange, nextChunk } from "../../web/engine/chunks.ts";
import { defaultStatePath, parseCliArgs, parseJoinLink } from "../../web/engine/cli-args.ts";
import { ProgressRenderer, summary } from "../../web/engine/cli-render.ts";
import type { Clock } from "../../web/engine/clock.ts";
import { Gate, Trigger } from "../../web/engine/control.ts";
import { classify } from "../../web/engine/failures.ts";
import { UploadEngine } from "../../web/engine/engine.ts";
import { contentTypeOf, fingerprintOf } from "../../web/engine/files.ts";
import { JsonFileStore } from "../../web/engine/node-store.ts";
import { connectionLooksSlow, PREVIEW_WAIT_MS, PreviewLink, PreviewPipeline } from "../../web/engine/preview-pipeline.ts";
import { previewSizes, type PreviewSize } from "../../web/engine/preview-sizes.ts";
import { Retries } from "../../web/engine/retry.ts";
import { MemoryStore, type StoredFile } from "../../web/engine/store.ts";
import { fileView, totalsOf, type EngineSnapshot } from "../../web/engine/views.ts";

const policy: RetryPolicy = { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 4 };

/** Time that moves only when told to. */
class ManualClock implements Clock {
  private time = 0;
  private sleepers: Array<{ at: number; wake: () => void }> = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      this.sleepers.push({ at: this.time + ms, wake: resolve });
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  advance(ms: number): void {
    this.time += ms;
    for (const sleeper of this.sleepers.filter((sleeper) => sleeper.at <= this.time)) sleeper.wake();
    this.sleepers = this.sleepers.filter((sleeper) => sleeper.at > this.time);
  }
}

const settledWithin = async (promise: Promise<unknown>) => {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return settled;
};

describe("backoff", () => {
  it("draws each delay between zero and an exponential ceiling, capped", () => {
    const ceilings = [0, 1, 2, 3, 6, 7, 20].map((attempt) => retryDelay(policy, attempt, () => 0.999_999, null) + 1);
    expect(ceilings).toEqual([500, 1_000, 2_000, 4_000, 30_000, 30_000, 30_000]);
    expect(retryDelay(policy, 5, () => 0, null)).toBe(0);
    expect(retryDelay(policy, 2, () => 0.5, null)).toBe(1_000);
  });

  it("never comes back sooner than the server's Retry-After", () => {
    expect(retryDelay(policy, 0, () => 0.5, 60_000)).toBe(60_000);
    expect(retryDelay(policy, 6, () => 0.9, 1_000)).toBe(27_000);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-23T10:00:00Z");
    expect(parseRetryAfter("60", now)).toBe(60_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Mon, 23 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it("counts failures until the policy's attempts are spent, and starts over after progress", () => {
    const clock = new ManualClock();
    const retries = new Retries({ clock, random: () => 0.999_999, policy, gate: new Gate(), reconnected: new Trigger() });
    expect([retries.schedule(null), retries.schedule(null), retries.schedule(null)]).toEqual([499, 999, 1_999]);
    expect(retries.schedule(null)).toBeNull();
    retries.reset();
    expect(retries.schedule(null)).toBe(499);
  });

  it("sleeps until the next attempt, or until the connection is back", async () => {
    const clock = new ManualClock();
    const reconnected = new Trigger();
    const retries = new Retries({ clock, random: () => 0.5, policy, gate: new Gate(), reconnected });
    const timed = retries.sleepUntil(1_000, new AbortController().signal);
    clock.advance(999);
    expect(await settledWithin(timed)).toBe(false);
    clock.advance(1);
    expect(await settledWithin(timed)).toBe(true);

    const cut = retries.sleepUntil(60_000, new AbortController().signal);
    reconnected.fire();
    expect(await settledWithin(cut)).toBe(true);
  });
});

describe("the gate", () => {
  it("holds work while paused for any reason, and aborts requests in flight when it closes", async () => {
    const gate = new Gate();
    const never = new AbortController().signal;
    const inFlight = await gate.pass(never);
    gate.close("offline");
    expect(inFlight.aborted).toBe(true);
    gate.close("user");
    expect(gate.pausedBy).toBe("user");

    const waiting = gate.pass(never);
    gate.open("offline");
    expect(await settledWithin(waiting)).toBe(false);
    gate.open("user");
    expect(await settledWithin(waiting)).toBe(true);
    expect((await waiting).aborted).toBe(false);
  });
});

describe("chunk planning", () => {
  const MiB = 1024 * 1024;

  it("goes from the server's offset in chunks of the server's size, the last one shorter", () => {
    expect(nextChunk(0, 2.5 * MiB, MiB)).toEqual({ start: 0, end: MiB });
    expect(nextChunk(2 * MiB, 2.5 * MiB, MiB)).toEqual({ start: 2 * MiB, end: 2.5 * MiB });
    expect(nextChunk(2 * MiB, 2 * MiB, MiB)).toBeNull();
  });

  it("starts at any offset of the server's, and stops at its next part boundary unless too little is left to it", () => {
    // An offset between boundaries (a smaller chunk before, or another client's size): up to the boundary.
    expect(nextChunk(300_000, 12 * MiB, 5 * MiB)).toEqual({ start: 300_000, end: 5 * MiB });
    // Smaller chunks never cross a boundary either, so full-size ones fill whole parts again.
    expect(nextChunk(4 * MiB, 12 * MiB, 2 * MiB, 5 * MiB)).toEqual({ start: 4 * MiB, end: 5 * MiB });
    expect(nextChunk(5 * MiB, 12 * MiB, 5 * MiB)).toEqual({ start: 5 * MiB, end: 10 * MiB });
    // 100 KiB short of a boundary: a chunk that small would be refused (chunk_too_small), so it crosses.
    expect(nextChunk(5 * MiB - 100 * 1024, 12 * MiB, MiB, 5 * MiB)).toEqual({ start: 5 * MiB - 100 * 1024, end: 6 * MiB - 100 * 1024 });
    // The last chunk of a file is as short as the file.
    expect(nextChunk(5 * MiB - 100 * 1024, 5 * MiB - 10, MiB, 5 * MiB)).toEqual({ start: 5 * MiB - 100 * 1024, end: 5 * MiB - 10 });
  });

  it("names bytes in Content-Range with an inclusive end", () => {
    expect(contentRange({ start: 0, end: MiB }, 5 * MiB)).toBe("bytes 0-1048575/5242880");
    expect(contentRange({ start: 10, end: 11 }, 11)).toBe("bytes 10-10/11");
  });
});

describe("adaptive chunk size", () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const server = 5 * MiB;
  const quick = 100;
  const sizes = (sizer: ChunkSizer, outcomes: Array<"fail" | "slow" | "quick" | "middling">) =>
    outcomes.map((outcome) => {
      if (outcome === "fail") sizer.failed(server);
      else sizer.succeeded({ quick, middling: 7_000, slow: 11_000 }[outcome], server);
      return sizer.size(server) / KiB;
    });

  it("starts at the server's chunk size and stays there while chunks go through", () => {
    const sizer = new ChunkSizer();
    expect(sizer.size(server)).toBe(server);
    expect(sizes(sizer, ["quick", "quick", "quick", "quick", "middling"])).toEqual([5120, 5120, 5120, 5120, 5120]);
    // Another event's chunk size, on the same link.
    expect(sizer.size(MiB)).toBe(MiB);
  });

  it("halves after each failed or slow chunk, down to 256 KiB", () => {
    expect(sizes(new ChunkSizer(), ["fail", "fail", "slow", "fail", "fail", "fail", "slow"])).toEqual([2560, 1280, 640, 320, 256, 256, 256]);
  });

  it("doubles back after three quick chunks in a row, up to the server's size and no further", () => {
    const sizer = new ChunkSizer();
    sizes(sizer, ["fail", "fail", "fail", "fail", "fail"]);
    expect(sizer.size(server)).toBe(256 * KiB);
    const growing = sizes(sizer, Array<"quick">(18).fill("quick"));
    expect(growing.filter((_, i) => i % 3 === 2)).toEqual([512, 1024, 2048, 4096, 5120, 5120]);
    expect(growing.filter((_, i) => i % 3 !== 2)).toEqual([256, 256, 512, 512, 1024, 1024, 2048, 2048, 4096, 4096, 5120, 5120]);
  });

  it("neither grows on middling chunks nor counts across a failure", () => {
    const sizer = new ChunkSizer();
    sizes(sizer, ["fail"]);
    // Between half the slow limit and the limit: it holds (no growing into a size that would be slow).
    expect(sizes(sizer, ["middling", "middling", "middling", "middling"])).toEqual([2560, 2560, 2560, 2560]);
    expect(sizes(sizer, ["quick", "quick", "fail", "quick", "quick"])).toEqual([2560, 2560, 1280, 1280, 1280]);
    expect(sizes(sizer, ["quick"])).toEqual([2560]);
  });

  it("keeps under a forced ceiling and never under the server's own size when that is smaller than the floor", () => {
    const forced = new ChunkSizer({ maxBytes: MiB });
    expect(forced.size(server)).toBe(MiB);
    expect(sizes(forced, ["fail", "quick", "quick", "quick"])).toEqual([512, 512, 512, 1024]);
    const tiny = new ChunkSizer();
    tiny.failed(200 * KiB);
    expect(tiny.size(200 * KiB)).toBe(200 * KiB);
  });
});

describe("the decision table", () => {
  const failure = (status: number, code: string, details: Record<string, unknown> = {}, offset: number | null = null) =>
    new ApiFailure(status, { code, message: code }, details, null, offset);

  it("retries what passes with time", () => {
    for (const transient of [failure(0, "network_error"), failure(0, "timeout"), failure(500, "internal_error"), failure(503, "http_503"), failure(408, "http_408"), failure(429, "rate_limited"), failure(400, "chunk_interrupted")]) {
      expect(classify(transient), transient.code).toEqual({ kind: "retry", retryAfterMs: null });
    }
  });

  it("waits for a device slot, but takes the other limits as refusals", () => {
    expect(classify(failure(429, "upload_limit", { limit: "concurrent_uploads" }))).toEqual({ kind: "wait_for_slot" });
    expect(classify(failure(429, "upload_limit", { limit: "daily_uploads" }))).toEqual({ kind: "refused" });
    expect(classify(failure(413, "upload_limit", { limit: "max_file_size" }))).toEqual({ kind: "refused" });
    for (const code of ["unsupported_type", "event_closed", "event_not_found", "join_link_expired", "batch_file_refused"]) {
      expect(classify(failure(403, code)), code).toEqual({ kind: "refused" });
    }
  });

  it("resyncs to the server's offset, unless the server is still busy with that very chunk", () => {
    expect(classify(failure(409, "chunk_out_of_order", {}, 3_145_728), 1_048_576)).toEqual({ kind: "resync", offset: 3_145_728 });
    expect(classify(failure(409, "chunk_out_of_order", {}, 1_048_576), 1_048_576)).toEqual({ kind: "retry", retryAfterMs: null });
    expect(classify(failure(409, "upload_incomplete", { received_bytes: 42 }))).toEqual({ kind: "resync", offset: 42 });
  });

  it("starts a new session for a lost one, completes a full one, and stops at the end of the road", () => {
    for (const code of ["session_expired", "upload_not_found", "invalid_upload_key"]) expect(classify(failure(410, code)), code).toEqual({ kind: "new_session" });
    expect(classify(failure(409, "upload_completed"))).toEqual({ kind: "complete" });
    expect(classify(failure(410, "upload_cancelled"))).toEqual({ kind: "cancelled" });
    expect(classify(failure(409, "upload_failed"))).toEqual({ kind: "failed" });
    expect(classify(failure(400, "range_mismatch"))).toEqual({ kind: "failed" });
  });

  it("registers a file again whose waiting batch entry was let go (the event's batch quota was full), or withdrawn before it was taken up again", () => {
    expect(classify(failure(404, "batch_not_found"))).toEqual({ kind: "register_again" });
    expect(classify(failure(409, "batch_file_withdrawn"))).toEqual({ kind: "register_again" });
  });

  it("the engine registers that file again and uploads it, rather than failing it", async () => {
    // A server that lets the first batch's file go before its create arrives.
    const registered: string[] = [];
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(String(input));
      const route = `${init?.method ?? "GET"} ${url.pathname.replace(/^\/api\/v1\/events\/[^/]+/, "")}`;
      if (route === "POST /batches") {
        const { files } = JSON.parse(String(init!.body)) as { files: Array<{ client_id: string }> };
        const batchId = `batch-${registered.length + 1}`;
        registered.push(batchId);
        return json(201, { batch_id: batchId, batch_key: "key", files: files.map((file) => ({ client_id: file.client_id, file_id: `${batchId}-file`, state: "registered" })) });
      }
      if (route === "POST /uploads") {
        const { batch_id } = JSON.parse(String(init!.body)) as { batch_id: string };
        if (batch_id === "batch-1") return json(404, { error: { code: "batch_not_found", message: "Let go: register the files again." } });
        return json(201, { upload_id: "upload-1", upload_key: "upload-key", chunk_size: 5 * 1024 * 1024, expires_at: new Date(Date.now() + 60_000).toISOString(), event_id: "event" });
      }
      if (route === "PUT /uploads/upload-1/chunk") return new Response(null, { status: 204, headers: { "upload-offset": "3" } });
      if (route === "POST /uploads/upload-1/complete") return json(201, { photo_id: "photo-1", file_path: "/p", thumbnail_path: null, status: "processing" });
      if (route === "GET /batches/batch-2") return json(200, { files: [{ file_id: "batch-2-file", state: "done", photo_id: "photo-1", error: null }] });
      return json(404, { error: { code: "not_found", message: route } });
    };
    const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join-token-of-the-event", fetch: fakeFetch, processingPoll: { minMs: 1, maxMs: 1 } });
    await engine.add([new File([new Uint8Array([1, 2, 3])], "IMG_0001.jpg", { type: "image/jpeg", lastModified: 1 })]);
    const settled = await engine.settled();
    await engine.stop();
    expect(registered).toEqual(["batch-1", "batch-2"]);
    expect(settled.files.map((file) => file.state)).toEqual(["done"]);
  });
});

const stored = (change: Partial<StoredFile> = {}): StoredFile => ({
  id: "f1",
  name: "IMG_0001.jpg",
  size: 1_000,
  type: "image/jpeg",
  lastModified: 1,
  addedAt: 1,
  file: null,
  state: "queued",
  ...change,
});

describe("batch entries that will get no session", () => {
  interface Withdrawal {
    path: string;
    batchKey: string | null;
    reason: unknown;
  }

  /**
   * A guest API in memory: batches of `batch-N` with files `batch-N-file-I`, uploads that go
   * through and are processed at once. `hold` keeps the first answer of a route back until it is
   * aborted or released; `withdrawAnswers` are the statuses withdrawals get, in turn (then 200).
   */
  function fakeServer(options: { hold?: string; withdrawAnswers?: number[] } = {}) {
    const withdrawals: Withdrawal[] = [];
    const calls: string[] = [];
    const held = Promise.withResolvers<() => void>();
    let batches = 0;
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    const answer = (route: string, init: RequestInit | undefined): Response => {
      if (route === "POST /batches") {
        const { files } = JSON.parse(String(init!.body)) as { files: Array<{ client_id: string }> };
        const batchId = `batch-${++batches}`;
        return json(201, { batch_id: batchId, batch_key: `key-of-${batchId}`, files: files.map((file, i) => ({ client_id: file.client_id, file_id: `${batchId}-file-${i}`, state: "waiting", error: null })) });
      }
      if (route.endsWith("/withdraw")) {
        withdrawals.push({ path: route, batchKey: new Headers(init?.headers).get("batch-key"), reason: (JSON.parse(String(init!.body)) as { reason: unknown }).reason });
        const status = options.withdrawAnswers?.shift() ?? 200;
        return status === 200 ? json(200, {}) : json(status, { error: { code: `http_${status}`, message: "not now" } });
      }
      if (route === "POST /uploads") return json(201, { upload_id: "upload-1", upload_key: "upload-key", chunk_size: 5 * 1024 * 1024, expires_at: new Date(Date.now() + 60_000).toISOString(), event_id: "event" });
      if (route === "PUT /uploads/upload-1/chunk") return new Response(null, { status: 204, headers: { "upload-offset": "3" } });
      if (route === "POST /uploads/upload-1/complete") return json(201, { photo_id: "photo-1", file_path: "/p", thumbnail_path: null, status: "processing" });
      const polled = route.match(/^GET \/batches\/(batch-\d+)$/);
      if (polled) return json(200, { files: [{ file_id: `${polled[1]}-file-0`, state: "done", photo_id: "photo-1", error: null }] });
      return json(404, { error: { code: "not_found", message: route } });
    };
    const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const route = `${init?.method ?? "GET"} ${new URL(String(input)).pathname.replace(/^\/api\/v1\/events\/[^/]+/, "")}`;
      calls.push(route);
      if (route === options.hold && calls.indexOf(route) === calls.length - 1) {
        const release = Promise.withResolvers<void>();
        held.resolve(() => release.resolve());
        await Promise.race([release.promise, new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true }))]);
      }
      return answer(route, init);
    };
    return { fetch, calls, withdrawals, held: held.promise };
  }

  const photo = (name: string, lastModified: number) => new File([new Uint8Array([1, 2, 3])], name, { type: "image/jpeg", lastModified });
  const open = (fetch: typeof globalThis.fetch) =>
    UploadEngine.open({ origin: "https://photos.example", joinToken: "join-token-of-the-event", fetch, processingPoll: { minMs: 1, maxMs: 1 }, retry: { baseDelayMs: 1 } });
  async function eventually(check: () => boolean) {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(check()).toBe(true);
  }

  it("tells the server a file skipped as a duplicate of bytes this device sent, by its batch entry and key", async () => {
    const server = fakeServer();
    const engine = await open(server.fetch);
    await engine.add([photo("IMG_0001.jpg", 1)]);
    await engine.settled();
    const [copy] = await engine.add([photo("IMG_0001 (copy).jpg", 2)]);
    const settled = await engine.settled();
    await eventually(() => server.withdrawals.length > 0);
    await engine.stop();
    expect(settled.files.find((file) => file.id === copy!.id)).toMatchObject({ state: "done", duplicateOf: settled.files[0]!.id });
    expect(server.withdrawals).toEqual([{ path: "POST /batches/batch-2/files/batch-2-file-0/withdraw", batchKey: "key-of-batch-2", reason: "duplicate" }]);
    // Skipped before a session: the copy opened none.
    expect(server.calls.filter((route) => route === "POST /uploads")).toHaveLength(1);
  });

  it("tells the server a file cancelled before its session opened, retrying a failed call without holding the guest up", async () => {
    const server = fakeServer({ hold: "POST /uploads", withdrawAnswers: [503] });
    const engine = await open(server.fetch);
    const [picked] = await engine.add([photo("IMG_0002.jpg", 3)]);
    await server.held;
    await engine.cancel(picked!.id);
    expect(engine.snapshot().files[0]!.state).toBe("cancelled");
    await eventually(() => server.withdrawals.length === 2);
    await engine.stop();
    expect(server.withdrawals.map((call) => [call.path, call.reason])).toEqual([
      ["POST /batches/batch-1/files/batch-1-file-0/withdraw", "cancelled"],
      ["POST /batches/batch-1/files/batch-1-file-0/withdraw", "cancelled"],
    ]);
    expect(server.calls).not.toContain("DELETE /uploads/upload-1");
  });

  it("a file cancelled before its session and picked again is registered anew and uploads (its withdrawn entry stays withdrawn)", async () => {
    const server = fakeServer({ hold: "POST /uploads" });
    const engine = await open(server.fetch);
    const [picked] = await engine.add([photo("IMG_0004.jpg", 5)]);
    await server.held;
    await engine.cancel(picked!.id);
    await eventually(() => server.withdrawals.length > 0);
    await engine.add([photo("IMG_0004.jpg", 5)]);
    const settled = await engine.settled();
    await engine.stop();
    expect(settled.files.map((file) => [file.id, file.state])).toEqual([[picked!.id, "done"]]);
    expect(server.calls.filter((route) => route === "POST /batches")).toHaveLength(2);
    expect(server.calls).toContain("POST /uploads/upload-1/complete");
    expect(server.withdrawals.map((call) => call.path)).toEqual(["POST /batches/batch-1/files/batch-1-file-0/withdraw"]);
  });

  it("tells the server a file cancelled while its registration was on the way", async () => {
    const server = fakeServer({ hold: "POST /batches" });
    const engine = await open(server.fetch);
    const adding = engine.add([photo("IMG_0003.jpg", 4)]);
    const release = await server.held;
    await engine.cancel(engine.snapshot().files[0]!.id);
    release();
    await adding;
    await eventually(() => server.withdrawals.length > 0);
    await engine.stop();
    expect(server.withdrawals).toEqual([{ path: "POST /batches/batch-1/files/batch-1-file-0/withdraw", batchKey: "key-of-batch-1", reason: "cancelled" }]);
    expect(server.calls).not.toContain("POST /uploads");
  });

  it("a picked file the device cannot store (storage full) still uploads after its registration; the guest is told", async () => {
    const server = fakeServer();
    // Every save carrying the photo's bytes is refused, as a full IndexedDB refuses them.
    const fullStore = Object.assign(new MemoryStore(), {
      async putFile(file: StoredFile) {
        if (file.file) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      },
    });
    const engine = await UploadEngine.open({
      origin: "https://photos.example",
      joinToken: "join-token-of-the-event",
      fetch: server.fetch,
      store: fullStore,
      processingPoll: { minMs: 1, maxMs: 1 },
      retry: { baseDelayMs: 1 },
    });
    await expect(engine.add([photo("IMG_0005.jpg", 6)])).rejects.toThrow(/quota/);
    const settled = await Promise.race([engine.settled(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000))]);
    await engine.stop();
    expect(server.calls).toContain("POST /uploads/upload-1/complete");
    expect(settled?.files.map((file) => file.state)).toEqual(["done"]);
  });
});

describe("complete riding on the last chunk", () => {
  it("a completing chunk the server took but whose completion failed (500) is completed once, and does not shrink the chunks", async () => {
    const calls: string[] = [];
    let uploads = 0;
    const received = new Map<string, number>();
    let failCompletion = true;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
    const receipt = (id: string) => ({ photo_id: `photo-of-${id}`, file_path: "/p", thumbnail_path: null, status: "processing" });
    const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const route = `${init?.method ?? "GET"} ${new URL(String(input)).pathname.replace(/^\/api\/v1\/events\/[^/]+/, "")}`;
      const headers = new Headers(init?.headers);
      calls.push(`${route} ${headers.get("content-range") ?? ""} ${headers.get("upload-complete") ?? ""}`.trim());
      if (route === "POST /batches") {
        const { files } = JSON.parse(String(init!.body)) as { files: Array<{ client_id: string }> };
        return json(201, { batch_id: `batch-${uploads + 1}`, batch_key: "key", files: files.map((file) => ({ client_id: file.client_id, file_id: "file-0", state: "registered" })) });
      }
      if (route === "POST /uploads") return json(201, { upload_id: `upload-${++uploads}`, upload_key: "upload-key", chunk_size: 4, expires_at: new Date(Date.now() + 60_000).toISOString(), event_id: "event" });
      const chunk = route.match(/^PUT \/uploads\/(upload-\d+)\/chunk$/);
      if (chunk) {
        const [last, total] = headers.get("content-range")!.match(/bytes \d+-(\d+)\/(\d+)/)!.slice(1).map(Number) as [number, number];
        received.set(chunk[1]!, last + 1);
        const offset = { "upload-offset": String(last + 1) };
        if (last + 1 < total || headers.get("upload-complete") !== "?1") return new Response(null, { status: 204, headers: offset });
        // The chunk is in; the completion that follows it fails once.
        if (failCompletion) {
          failCompletion = false;
          return json(500, { error: { code: "assembly_failed", message: "The upload could not be assembled; try completing it again." } }, offset);
        }
        return json(201, receipt(chunk[1]!), offset);
      }
      const status = route.match(/^GET \/uploads\/(upload-\d+)$/);
      if (status) return json(200, { upload_id: status[1], status: "uploading", received_bytes: received.get(status[1]!) ?? 0, total_size: 4, chunk_size: 4, expires_at: new Date(Date.now() + 60_000).toISOString(), photo_id: null });
      const complete = route.match(/^POST \/uploads\/(upload-\d+)\/complete$/);
      if (complete) return json(201, receipt(complete[1]!));
      const polled = route.match(/^GET \/batches\/batch-(\d+)$/);
      if (polled) return json(200, { files: [{ file_id: "file-0", state: "done", photo_id: `photo-of-upload-${polled[1]}`, error: null }] });
      return json(404, { error: { code: "not_found", message: route } });
    };
    const engine = await UploadEngine.open({
      origin: "https://photos.example",
      joinToken: "join-token-of-the-event",
      fetch: fakeFetch,
      concurrency: 1,
      processingPoll: { minMs: 1, maxMs: 1 },
      retry: { baseDelayMs: 1 },
      chunking: { minBytes: 1, growAfter: 100 },
    });
    await engine.add([new File([new Uint8Array([1, 2, 3, 4])], "IMG_0001.jpg", { type: "image/jpeg", lastModified: 1 })]);
    await engine.settled();
    await engine.add([new File([new Uint8Array([5, 6, 7, 8])], "IMG_0002.jpg", { type: "image/jpeg", lastModified: 2 })]);
    const settled = await engine.settled();
    await engine.stop();
    expect(settled.files.map((file) => [file.state, file.photoId])).toEqual([
      ["done", "photo-of-upload-1"],
      ["done", "photo-of-upload-2"],
    ]);
    // The first file: its chunk was in, so complete alone followed (once), not the chunk again.
    expect(calls.filter((call) => call.startsWith("PUT /uploads/upload-1/chunk"))).toHaveLength(1);
    expect(calls.filter((call) => call === "POST /uploads/upload-1/complete")).toHaveLength(1);
    // The server's completion failing said nothing of the link: the next file goes in one 4-byte chunk still.
    expect(calls.filter((call) => call.startsWith("PUT /uploads/upload-2/chunk"))).toEqual(["PUT /uploads/upload-2/chunk bytes 0-3/4 ?1"]);
  });
});

describe("picking files", () => {
  it("registers the picked files while the device is still storing them, and saves each file's later changes after its first save", async () => {
    // A phone's IndexedDB takes seconds for twenty photos: nothing waits for it.
    const saves: Array<{ file: StoredFile; done: () => void }> = [];
    const saved: StoredFile[] = [];
    const slowStore = Object.assign(new MemoryStore(), {
      putFile(file: StoredFile) {
        return new Promise<void>((resolve) => saves.push({ file, done: () => (saved.push(file), resolve()) }));
      },
    });
    let registeredAfterSaves: number | null = null;
    const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      if (init?.method === "POST" && new URL(String(input)).pathname.endsWith("/batches")) {
        registeredAfterSaves ??= saved.length;
        const { files } = JSON.parse(String(init.body)) as { files: Array<{ client_id: string }> };
        const answer = { batch_id: "batch-1", batch_key: "key", files: files.map((file, i) => ({ client_id: file.client_id, file_id: `file-${i}`, state: "registered" })) };
        return new Response(JSON.stringify(answer), { status: 201, headers: { "content-type": "application/json" } });
      }
      return new Response(JSON.stringify({ error: { code: "unavailable", message: "not in this test" } }), { status: 503, headers: { "content-type": "application/json" } });
    };
    const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join-token-of-the-event", fetch: fakeFetch, store: slowStore, concurrency: 1 });
    const picked = [1, 2, 3].map((n) => new File([new Uint8Array([n])], `IMG_000${n}.jpg`, { type: "image/jpeg", lastModified: n }));
    const adding = engine.add(picked);
    for (let i = 0; i < 50 && registeredAfterSaves === null; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(registeredAfterSaves).toBe(0);
    expect(await settledWithin(adding)).toBe(false);
    // The store finishes in order: each file's first save (its bytes), then the batch it joined.
    for (let i = 0; i < 50 && saves.length < 6; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    for (const save of saves.splice(0)) save.done();
    await adding;
    await engine.stop();
    const firstSaves = saved.slice(0, 3);
    expect(firstSaves.map((file) => [file.name, file.batch])).toEqual(picked.map((file) => [file.name, undefined]));
    expect(saved.slice(3).every((file) => file.batch?.batchId === "batch-1")).toBe(true);
  }, 5_000);
});

describe("what the UI is shown", () => {
  it("derives each file's state from what is stored, what its run does, and the pause", () => {
    expect(fileView(stored(), undefined, null).state).toBe("waiting");
    expect(fileView(stored(), { kind: "hashing" }, null).state).toBe("hashing");
    expect(fileView(stored(), { kind: "uploading", sentBytes: 400 }, null)).toMatchObject({ state: "uploading", sentBytes: 400 });
    expect(fileView(stored(), { kind: "waiting_for_slot" }, null).state).toBe("waiting");
    expect(fileView(stored(), { kind: "uploading", sentBytes: 400 }, "offline")).toMatchObject({ state: "paused", sentBytes: 400 });
    const retrying = fileView(stored(), { kind: "retrying", sentBytes: 400, nextAttemptAt: 9_000, error: { code: "network_error", message: "cut" } }, null);
    expect(retrying).toMatchObject({ state: "retrying", nextAttemptAt: 9_000, error: { code: "network_error" } });
    // Past the queue, the pause changes nothing: the server has the bytes.
    expect(fileView(stored({ state: "processing" }), undefined, "user")).toMatchObject({ state: "processing", sentBytes: 1_000 });
    const refused = { code: "upload_limit", message: "too large" };
    expect(fileView(stored({ state: "refused", error: refused }), undefined, null)).toMatchObject({ state: "refused", error: refused, sentBytes: 0 });
  });

  it("totals files by state, and bytes over the files that arrived or are on their way", () => {
    const views = [
      fileView(stored({ id: "a", state: "done" }), undefined, null),
      fileView(stored({ id: "b" }), { kind: "uploading", sentBytes: 250 }, null),
      fileView(stored({ id: "c", state: "refused" }), undefined, null),
      fileView(stored({ id: "d", state: "failed" }), undefined, null),
    ];
    const totals = totalsOf(views);
    expect(totals).toMatchObject({ files: 4, bytes: 2_000, sentBytes: 1_250 });
    expect(totals.byState).toMatchObject({ done: 1, uploading: 1, refused: 1, failed: 1, waiting: 0 });
  });

  it("dedupes by name, size and modification time; declares a type from the extension when the browser has none", () => {
    expect(fingerprintOf({ name: "a.jpg", size: 1, lastModified: 2 })).toBe(fingerprintOf({ name: "a.jpg", size: 1, lastModified: 2 }));
    expect(fingerprintOf({ name: "a.jpg", size: 1, lastModified: 2 })).not.toBe(fingerprintOf({ name: "a.jpg", size: 1, lastModified: 3 }));
    expect(contentTypeOf({ name: "IMG_1.HEIC", type: "" })).toBe("image/heic");
    expect(contentTypeOf({ name: "x.png", type: "image/png" })).toBe("image/png");
    expect(contentTypeOf({ name: "notes", type: "" })).toBe("application/octet-stream");
  });
});

describe("batch answers", () => {
  it("turns a registration into each file's batch capability or refusal", () => {
    const changes = registrationChanges({
      batch_id: "b1",
      batch_key: "k1",
      event_id: "e1",
      files: [
        { client_id: "f1", file_id: "bf1", state: "waiting", error: null },
        { client_id: "f2", file_id: "bf2", state: "refused", error: { code: "unsupported_type", message: "Only JPEG" } },
      ],
    });
    expect(changes.get("f1")).toEqual({ batch: { batchId: "b1", batchKey: "k1", fileId: "bf1" } });
    expect(changes.get("f2")).toEqual({ state: "refused", error: { code: "unsupported_type", message: "Only JPEG" } });
  });

  it("reads how processing ended, leaving files the snapshot has not caught up with", () => {
    const entry = (file_id: string, state: BatchSnapshot["files"][number]["state"], extra = {}) => ({
      file_id, client_id: file_id, filename: "x", size: 1, state, upload_id: null, received_bytes: 1, photo_id: null, error: null, ...extra,
    });
    const snapshot: BatchSnapshot = {
      batch_id: "b1",
      created_at: "2026-06-20T14:00:00.000Z",
      counts: { total: 4, waiting: 0, uploading: 1, processing: 1, done: 1, failed: 1, refused: 0, cancelled: 0, skipped: 0 },
      files: [entry("bf1", "done", { photo_id: "p1" }), entry("bf2", "failed", { error: { code: "processing_failed", message: "not a photo" } }), entry("bf3", "processing"), entry("bf4", "uploading")],
    };
    const byFileId = new Map(["bf1", "bf2", "bf3", "bf4"].map((fileId) => [fileId, stored({ id: `local-${fileId}`, state: "processing" })]));
    const changes = processingChanges(snapshot, byFileId);
    expect([...changes]).toEqual([
      ["local-bf1", { state: "done", photoId: "p1" }],
      ["local-bf2", { state: "failed", error: { code: "processing_failed", message: "not a photo" } }],
    ]);
  });
});

describe("the command line", () => {
  it("takes the API origin and the token from a join link", () => {
    expect(parseJoinLink("http://127.0.0.1:8787/join/abc_DEF-123")).toEqual({ origin: "http://127.0.0.1:8787", joinToken: "abc_DEF-123" });
    expect(parseJoinLink("https://photos.example.com/join/tok/?utm=qr#x")).toEqual({ origin: "https://photos.example.com", joinToken: "tok" });
    expect(() => parseJoinLink("not a link")).toThrow(/not a join link/);
    expect(() => parseJoinLink("https://photos.example.com/")).toThrow(/no join token/);
  });

  it("keeps state per event under XDG_STATE_HOME, named without the token", () => {
    const statePath = defaultStatePath("http://127.0.0.1:8787", "secret-token", { XDG_STATE_HOME: "/state" });
    expect(statePath).toMatch(/^\/state\/edge-photo-uploads\/127\.0\.0\.1_8787-[0-9a-f]{16}\.json$/);
    expect(statePath).not.toContain("secret-token");
    expect(defaultStatePath("http://127.0.0.1:8787", "other", { XDG_STATE_HOME: "/state" })).not.toBe(statePath);
  });

  it("parses files, folders and options", () => {
    expect(parseCliArgs(["http://h/join/t", "a.jpg", "card/", "--state", "s.json", "--concurrency", "3"])).toEqual({
      origin: "http://h", joinToken: "t", paths: ["a.jpg", "card/"], statePath: "s.json", concurrency: 3,
    });
    expect(parseCliArgs(["--help"])).toBe("help");
    expect(() => parseCliArgs(["http://h/join/t"])).toThrow(/Usage/);
    expect(() => parseCliArgs(["http://h/join/t", "a.jpg", "--concurrency", "0"])).toThrow(/--concurrency/);
  });

  it("prints plain lines off a terminal: each file's news once, progress by tenths, a summary with reasons", () => {
    const written: string[] = [];
    const renderer = new ProgressRenderer({ write: (text) => written.push(text), isTTY: false }, new Set(["a", "b"]), () => 0);
    const snapshot = (a: Partial<StoredFile>, sent: number): EngineSnapshot => {
      const files = [
        fileView(stored({ id: "a", name: "A.jpg", ...a }), a.state === "queued" ? { kind: "uploading", sentBytes: sent } : undefined, null),
        fileView(stored({ id: "b", name: "B.jpg", state: "refused", error: { code: "unsupported_type", message: "Only JPEG" } }), undefined, null),
      ];
      return { files, totals: totalsOf(files), pausedBy: null };
    };
    renderer.render(snapshot({ state: "queued" }, 0));
    renderer.render(snapshot({ state: "queued" }, 500));
    renderer.render(snapshot({ state: "queued" }, 550));
    renderer.render(snapshot({ state: "done" }, 1_000));
    expect(written.join("")).toBe(
      [
        "uploading A.jpg (0.0 MB)",
        "refused B.jpg: Only JPEG",
        "0/2 files done · 0.0/0.0 MB sent · 1 in progress",
        "0/2 files done · 0.0/0.0 MB sent · 1 in progress",
        "done A.jpg",
        "1/2 files done · 0.0/0.0 MB sent · 0 in progress",
        "",
      ].join("\n"),
    );
    const final = summary(snapshot({ state: "done" }, 1_000), new Set(["a", "b"]));
    expect(final).toEqual({ text: "1 of 2 photos uploaded, 1 refused, 0 failed.\n  refused B.jpg: Only JPEG", ok: false });
  });
});

describe("the Node state file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "engine-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps files by path and opens them again lazily; a changed file comes back unavailable", async () => {
    const photo = path.join(dir, "IMG_0001.jpg");
    const edited = path.join(dir, "IMG_0002.jpg");
    writeFileSync(photo, "photo bytes");
    writeFileSync(edited, "other bytes");
    const statePath = path.join(dir, "state", "event.json");
    const first = await JsonFileStore.open(statePath);
    await first.putDeviceId("device-1");
    for (const [id, filePath] of [["f1", photo], ["f2", edited]] as const) {
      const file = await first.openFile(filePath);
      await first.putFile(stored({ id, name: file.name, size: file.size, lastModified: file.lastModified, file, session: { uploadId: "u", uploadKey: "k", chunkSize: 1 } }));
    }
    utimesSync(edited, new Date(), new Date(Date.now() + 60_000));

    expect(statSync(statePath).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(statePath, "utf8")).files.map((file: { path: string }) => file.path)).toEqual([photo, edited]);
    const reopened = await (await JsonFileStore.open(statePath)).load();
    expect(reopened.deviceId).toBe("device-1");
    const [kept, changed] = reopened.files;
    expect(await kept!.file!.text()).toBe("photo bytes");
    expect(kept).toMatchObject({ id: "f1", session: { uploadKey: "k" } });
    expect(changed).toMatchObject({ id: "f2", file: null });
  });

  it("refuses a file it was not given by path, since it could not find it again", async () => {
    const store = await JsonFileStore.open(path.join(dir, "other.json"));
    await expect(store.putFile(stored({ file: new File(["x"], "x.jpg") }))).rejects.toThrow(/openFile/);
  });
});

describe("preview pacing", () => {
  const photo = (name: string) => new File([new Uint8Array(10)], name, { type: "image/jpeg" });

  it("calls a link slow from the preview sends together, not from one send's share of it", () => {
    const link = new PreviewLink(undefined);
    expect(link.previewSize()).toEqual(previewSizes.normal);
    // Two 50 KB previews crossing at once in 150 ms: about 670 KB/s together, fast.
    link.sent(50_000, 0, 150);
    link.sent(50_000, 0, 150);
    expect(link.isSlow()).toBe(false);
    // Then four more, 200 ms each one after another: 250 KB/s, a 2 Mbit/s link.
    for (let i = 0; i < 4; i++) link.sent(50_000, 150 + i * 200, 350 + i * 200);
    expect(link.bytesPerSecond()).toBe(250_000);
    expect(link.previewSize()).toEqual(previewSizes.slow);
  });

  it("starts small when the browser reports a slow or data-saving connection, until sends measure the link", () => {
    expect(connectionLooksSlow(undefined)).toBeUndefined();
    expect(connectionLooksSlow({ effectiveType: "3g" })).toBe(true);
    expect(connectionLooksSlow({ saveData: true, effectiveType: "4g" })).toBe(true);
    expect(connectionLooksSlow({ effectiveType: "4g", downlink: 1.5 })).toBe(true);
    expect(connectionLooksSlow({ effectiveType: "4g", downlink: 10 })).toBe(false);
    const link = new PreviewLink(true);
    expect(link.previewSize()).toEqual(previewSizes.slow);
    link.sent(50_000, 0, 50);
    expect(link.previewSize()).toEqual(previewSizes.normal);
  });

  it("makes two previews at once, a few ahead, each sized for the link as it is when its making starts", async () => {
    const started: Array<{ name: string; size: PreviewSize; finish: (preview: Blob | null) => void }> = [];
    const make = (file: File, size: PreviewSize) => new Promise<Blob | null>((finish) => started.push({ name: file.name, size, finish }));
    const pipeline = new PreviewPipeline(make, new ManualClock(), new PreviewLink(undefined));
    for (const name of ["a", "b", "c", "d", "e", "f"]) pipeline.prepare(name, photo(name));
    expect(started.map((job) => job.name)).toEqual(["a", "b"]);
    started[0]!.finish(new Blob(["a"]));
    started[1]!.finish(new Blob(["b"]));
    await settledWithin(Promise.resolve());
    // Four made or being made, none taken yet: no further ahead.
    expect(started.map((job) => job.name)).toEqual(["a", "b", "c", "d"]);
    expect(started.every((job) => job.size === previewSizes.normal)).toBe(true);
    pipeline.link.sent(50_000, 0, 1_000);
    started[2]!.finish(new Blob(["c"]));
    started[3]!.finish(new Blob(["d"]));
    await settledWithin(Promise.resolve());
    expect(started).toHaveLength(4);
    const signal = new AbortController().signal;
    expect(await (await pipeline.take("a", photo("a"), signal))?.text()).toBe("a");
    // Taken, so the next one starts, small: the link measured slow meanwhile.
    expect(started.map((job) => job.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(started[4]!.size).toEqual(previewSizes.slow);
  });

  it("gives up on a preview that takes too long, so its original is not held up", async () => {
    const clock = new ManualClock();
    const pipeline = new PreviewPipeline(() => new Promise<Blob | null>(() => {}), clock, new PreviewLink(undefined));
    const taken = pipeline.take("stuck", photo("stuck.jpg"), new AbortController().signal);
    clock.advance(PREVIEW_WAIT_MS - 1);
    expect(await settledWithin(taken)).toBe(false);
    clock.advance(1);
    expect(await taken).toBeNull();
  });
});
