/**
 * The server dies mid-upload (SIGKILL of wrangler dev and its workerd: nothing gets to clean up)
 * and comes back on the same port and state; tus-js-client resumes at its stored upload URL.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FileUrlStorage } from "tus-js-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectStored, MiB, photoMetadata, startE2e, startUpload, type E2e, type RunningUpload, type UploadOptions } from "./helpers";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-tus-crash-");
});
afterAll(() => e2e?.stack.stop());

const size = 25 * MiB;

/**
 * Long enough to outlast the restart (a few seconds) and the lease the killed PATCH may still
 * hold in the upload's Durable Object (10 s + 1 MiB at 100 kB/s ≈ 20 s): until it lapses,
 * PATCHes get 409, which tus-js-client retries.
 */
const retryDelays = [500, 1000, 2000, 4000, 8000, 16000];

/**
 * Adds a crash to `options`: once the upload is past 40 %, in the middle of a PATCH body (the
 * progress tus-js-client reports while it writes one, not at a chunk boundary), the server is
 * SIGKILLed and started again. `onCrash` runs right after the kill; `restarted` settles when the
 * server is back.
 */
function crashMidPatch(options: UploadOptions & { chunkSize: number }, onCrash: () => void = () => {}) {
  let crashed = false;
  const restarted = Promise.withResolvers<void>();
  return {
    options: {
      ...options,
      onProgress: (sent: number, total: number) => {
        if (crashed || sent < 0.4 * total || sent % options.chunkSize === 0) return;
        crashed = true;
        restarted.resolve(e2e.service.server.restart());
        onCrash();
      },
    },
    crashed: () => crashed,
    /** Never settles if the upload never reaches the crash. */
    restarted: restarted.promise,
  };
}

/** What the client sent after the crash: it must carry on from a committed offset > 0, on the same URL. */
function expectResumed(run: RunningUpload, exchangesBeforeCrash: number, uploadUrl: string) {
  expect(run.exchanges.filter((exchange) => exchange.method === "POST")).toHaveLength(1);
  const after = run.exchanges.slice(exchangesBeforeCrash);
  expect(after.every((exchange) => exchange.url === uploadUrl)).toBe(true);
  const firstAccepted = after.find((exchange) => exchange.method === "PATCH" && exchange.status === 204);
  expect(firstAccepted?.uploadOffset).toBeGreaterThan(0);
  expect(after.at(-1)).toMatchObject({ method: "PATCH", status: 204, responseOffset: size });
}

it("the same client retries until the restarted server takes the rest", async () => {
  const bytes = randomBytes(size);
  let exchangesBeforeCrash = 0;
  const crash = crashMidPatch({ endpoint: e2e.endpoint, metadata: photoMetadata(), chunkSize: MiB, retryDelays }, () => {
    exchangesBeforeCrash = run.exchanges.length;
  });
  const run = startUpload(bytes, crash.options);
  await run.finished;
  expect(crash.crashed()).toBe(true);
  await crash.restarted;

  expectResumed(run, exchangesBeforeCrash, run.upload.url!);
  await expectStored(e2e, run.upload.url!, bytes);
});

it("a new client (the app restarted too) finds the upload URL in its storage and resumes", async () => {
  const bytes = randomBytes(size);
  const urlStorage = new FileUrlStorage(path.join(e2e.stack.dir, "tus-uploads.json"));
  const options = { endpoint: e2e.endpoint, metadata: photoMetadata(), chunkSize: MiB, retryDelays, urlStorage };

  // The phone dies with the server: the client stops where it is, without terminating the upload.
  const crash = crashMidPatch(options, () => void first.upload.abort(false));
  const first = startUpload(bytes, crash.options);
  await Promise.race([crash.restarted, first.finished.then(() => expect.fail("the upload finished before the crash"))]);
  const uploadUrl = first.upload.url!;

  const second = startUpload(bytes, options, async (upload) => {
    const previous = await upload.findPreviousUploads();
    expect(previous.map((stored) => stored.uploadUrl)).toEqual([uploadUrl]);
    upload.resumeFromPreviousUpload(previous[0]!);
    upload.start();
  });
  await second.finished;

  expect(second.exchanges[0]).toMatchObject({ method: "HEAD", url: uploadUrl, status: 200 });
  expect(second.exchanges[0]!.responseOffset).toBeGreaterThan(0);
  expectResumed({ ...second, exchanges: [...first.exchanges, ...second.exchanges] }, first.exchanges.length, uploadUrl);
  await expectStored(e2e, uploadUrl, bytes);
});

it("one long PATCH: the bytes that arrived before the crash are kept, and the client resumes after them", async () => {
  const bytes = randomBytes(size);
  // The killed PATCH's lease (renewed for 1 MiB at each committed piece, so ≈ 20 s) outlives the
  // crash; give the client more retries than the chunked uploads above need.
  const run = startUpload(bytes, { endpoint: e2e.endpoint, metadata: photoMetadata(), retryDelays: [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000] });

  // Crash once the server has committed 40 % (it trails the client's progress, which counts
  // bytes handed to the socket), asking it as any tus client would: HEAD.
  let committed = 0;
  while (committed < 0.4 * size) {
    await sleep(100);
    if (!run.upload.url) continue;
    const head = await fetch(run.upload.url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    committed = Number(head.headers.get("upload-offset"));
  }
  const exchangesBeforeCrash = run.exchanges.length;
  expect(committed).toBeLessThan(size);
  await e2e.service.server.restart();
  await run.finished;

  const after = run.exchanges.slice(exchangesBeforeCrash);
  expect(after[0]).toMatchObject({ method: "HEAD", status: 200 });
  expect(after[0]!.responseOffset).toBeGreaterThanOrEqual(committed);
  expect(after.find((exchange) => exchange.method === "PATCH" && exchange.status === 204)?.uploadOffset).toBe(after[0]!.responseOffset);
  expectResumed(run, exchangesBeforeCrash, run.upload.url!);
  await expectStored(e2e, run.upload.url!, bytes);
});
