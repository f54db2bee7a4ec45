/**
 * The upload engine (web/engine) in Node against a real `wrangler dev`: a selection arrives byte
 * for byte as one photo each, an engine dropped midway is resumed by a new one from the
 * server's offset, and the event's rules (size, type, per-device slots, daily cap) refuse only
 * the files they are about.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { UploadEngine, type EngineOptions } from "../../web/engine/engine.ts";
import { MemoryStore } from "../../web/engine/store.ts";
import type { FileView } from "../../web/engine/views.ts";
import { startE2e, MiB, type E2e } from "./helpers";
import { expectAcceptedOnce, expectArrivedOnce, fileOf, noiseJpeg, noisePhotos, settledWithin, uploadsOf, type SourcePhoto } from "./lib/engine-fixtures";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-engine-");
});
afterAll(() => e2e?.stack.stop());

/** An engine on a fresh event of its own; quick retries keep the tests short. */
async function engineFor(settings: Record<string, unknown>, options: Partial<EngineOptions> = {}) {
  const event = await e2e.service.createEvent({ name: "engine e2e", ...settings });
  const engine = await UploadEngine.open({
    origin: e2e.service.origin,
    joinToken: event.join_token,
    retry: { baseDelayMs: 100, maxDelayMs: 2_000 },
    processingPoll: { minMs: 300, maxMs: 1_000 },
    ...options,
  });
  return { event, engine };
}

function byName(files: FileView[]): Map<string, FileView> {
  return new Map(files.map((file) => [file.name, file]));
}

/** A fetch that records each request's method, path, Content-Range and whether it asks to complete the upload. */
function recordingFetch() {
  const sent: Array<{ method: string; path: string; range: string | null; completes: boolean }> = [];
  const fetchAndRecord: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    sent.push({ method: init?.method ?? "GET", path: new URL(String(input)).pathname, range: headers.get("content-range"), completes: headers.get("upload-complete") === "?1" });
    return fetch(input, init);
  };
  return { sent, fetch: fetchAndRecord };
}

/** Resolves at the first snapshot where `ready` holds. */
function when(engine: UploadEngine, ready: (files: FileView[]) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = engine.subscribe((snapshot) => {
      if (!ready(snapshot.files)) return;
      queueMicrotask(() => unsubscribe());
      resolve();
    });
  });
}

it("uploads ten photos of 1–5 MB: each arrives byte-identical, as exactly one processed photo, its last chunk completing it", async () => {
  const photos = await noisePhotos(10, 1_000_000, 5_000_000);
  const recorder = recordingFetch();
  const { event, engine } = await engineFor({}, { fetch: recorder.fetch });
  await engine.add(photos.map((photo) => fileOf(photo)));
  const final = await settledWithin(engine, e2e.service.server);
  // No separate complete: each photo's last chunk carried Upload-Complete, a round trip saved.
  expect(recorder.sent.filter((call) => call.path.endsWith("/complete"))).toEqual([]);
  expect(recorder.sent.filter((call) => call.completes)).toHaveLength(photos.length);

  expect(final.files.map((file) => [file.name, file.state, file.error])).toEqual(photos.map((photo) => [photo.name, "done", null]));
  expect(final.totals.sentBytes).toBe(final.totals.bytes);
  expect(final.files.every((file) => file.photoId)).toBe(true);
  await expectArrivedOnce(e2e, event.event_id, photos);
  const ready = uploadsOf(e2e, event.event_id).filter((row) => row.photo_status === "ready");
  expect(ready).toHaveLength(photos.length);
});

it("a file added again, or the same bytes under another name, is not uploaded twice; the copy's batch entry shows skipped, not waiting", async () => {
  const [photo] = await noisePhotos(1, 500_000, 500_000, "AGAIN_");
  const store = new MemoryStore();
  const { event, engine } = await engineFor({}, { store });
  const [first] = await engine.add([fileOf(photo!)]);
  await settledWithin(engine, e2e.service.server);
  const [again] = await engine.add([fileOf(photo!)]);
  const [renamed] = await engine.add([fileOf({ name: "COPY.jpg", bytes: photo!.bytes })]);
  const final = byName((await settledWithin(engine, e2e.service.server)).files);

  expect(again!.id).toBe(first!.id);
  expect(final.get("COPY.jpg")).toMatchObject({ state: "done", duplicateOf: first!.id, photoId: final.get(photo!.name)!.photoId });
  expect(uploadsOf(e2e, event.event_id)).toHaveLength(1);
  expect(renamed!.id).not.toBe(first!.id);
  // The server hears of the skip in the background.
  const { batch } = (await store.getFile(renamed!.id))!;
  const copyOnServer = async () => (await engine.api.batch(batch!.batchId, batch!.batchKey)).files.find((file) => file.file_id === batch!.fileId)?.state;
  await expect.poll(copyOnServer, { timeout: 10_000 }).toBe("skipped");
});

it("a new engine on the same store resumes from the server's offset without sending accepted bytes again", async () => {
  const photo: SourcePhoto = { name: "RESUME.jpg", bytes: await noiseJpeg(12 * MiB) };
  const store = new MemoryStore();
  const { event, engine: first } = await engineFor({}, { store, concurrency: 1 });
  const [added] = await first.add([fileOf(photo)]);
  await when(first, (files) => files[0]!.sentBytes >= 4 * MiB);
  await first.stop();

  // What the server holds once the abandoned chunk has settled (cut off: none of it is kept).
  const { session } = (await store.getFile(added!.id))!;
  const statusUrl = `${e2e.service.origin}/api/v1/events/${event.join_token}/uploads/${session!.uploadId}`;
  const offsetNow = async () => ((await (await fetch(statusUrl, { headers: { "upload-key": session!.uploadKey } })).json()) as { received_bytes: number }).received_bytes;
  let held = await offsetNow();
  for (let again = await offsetNow(); again !== held; again = await offsetNow()) held = again;
  expect(held).toBeGreaterThanOrEqual(4 * MiB);
  expect(held).toBeLessThan(photo.bytes.length);

  const { sent, fetch: recording } = recordingFetch();
  const second = await UploadEngine.open({ origin: e2e.service.origin, joinToken: event.join_token, store, fetch: recording, processingPoll: { minMs: 300, maxMs: 1_000 } });
  const final = await settledWithin(second, e2e.service.server);

  expect(final.files[0]).toMatchObject({ state: "done", sentBytes: photo.bytes.length });
  expect(sent[0]).toMatchObject({ method: "GET", path: `/api/v1/events/${event.join_token}/uploads/${session!.uploadId}` });
  expect(sent.some((request) => request.method === "POST" && request.path.endsWith("/uploads"))).toBe(false);
  const ranges = sent.filter((request) => request.method === "PUT").map((request) => request.range!.match(/^bytes (\d+)-(\d+)\//)!.slice(1).map(Number));
  expect(ranges[0]![0]).toBe(held);
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]! + 1);
  expect(ranges.at(-1)![1]).toBe(photo.bytes.length - 1);

  await expectArrivedOnce(e2e, event.event_id, [photo]);
  expect(expectAcceptedOnce(e2e.service.server, session!.uploadId, photo.bytes.length).replays).toBe(0);
});

it("going offline pauses every unfinished file at once; coming back online finishes them with no tap", async () => {
  const photos = await noisePhotos(3, 3 * MiB, 4 * MiB, "OFFLINE_");
  const recorder = recordingFetch();
  // 1 MiB chunks: the first file is midway (its last chunk completes it) when it has sent 2 MiB.
  const { event, engine } = await engineFor({ chunk_size: MiB }, { fetch: recorder.fetch });
  await engine.add(photos.map((photo) => fileOf(photo)));
  await when(engine, (files) => files[0]!.sentBytes >= 2 * MiB);

  engine.setOnline(false);
  expect(engine.snapshot().pausedBy).toBe("offline");
  expect(engine.snapshot().files.map((file) => file.state)).toEqual(["paused", "paused", "paused"]);
  const sentWhenOffline = recorder.sent.length;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(recorder.sent.length, "requests while offline").toBe(sentWhenOffline);

  engine.setOnline(true);
  const final = await settledWithin(engine, e2e.service.server);
  expect(final.files.map((file) => file.state)).toEqual(["done", "done", "done"]);
  const uploadIds = await expectArrivedOnce(e2e, event.event_id, photos);
  for (const photo of photos) expect(expectAcceptedOnce(e2e.service.server, uploadIds.get(photo.name)!, photo.bytes.length).replays).toBe(0);
});

it("cancelling a file mid-upload aborts its session; the others carry on", async () => {
  const photos = await noisePhotos(2, 6 * MiB, 6 * MiB, "CANCEL_");
  const { event, engine } = await engineFor({});
  const [doomed] = await engine.add(photos.map((photo) => fileOf(photo)));
  await when(engine, (files) => files[0]!.sentBytes >= MiB);
  await engine.cancel(doomed!.id);
  const final = byName((await settledWithin(engine, e2e.service.server)).files);

  expect(final.get(photos[0]!.name)).toMatchObject({ state: "cancelled" });
  expect(final.get(photos[1]!.name)).toMatchObject({ state: "done" });
  await expectArrivedOnce(e2e, event.event_id, [photos[1]!]);
  await expect.poll(() => uploadsOf(e2e, event.event_id).find((row) => row.filename === photos[0]!.name)?.status).toBe("cancelled");
});

it("refuses a file too large and one of the wrong type with their reasons, while six others wait for the device's two slots and finish", async () => {
  const good = await noisePhotos(6, 300_000, 900_000, "SLOT_");
  const large = { name: "LARGE.jpg", bytes: await noiseJpeg(1_500_000) };
  const gif = { name: "ANIMATION.gif", bytes: Buffer.from("GIF89a-not-a-photo") };
  const { event, engine } = await engineFor({ max_file_size: 1_000_000, max_concurrent_uploads_per_device: 2 }, { concurrency: 4 });
  const logsBefore = e2e.service.server.logs.length;
  await engine.add([...good.map((photo) => fileOf(photo)), fileOf(large), fileOf(gif, "image/gif")]);
  const final = byName((await settledWithin(engine, e2e.service.server)).files);

  for (const photo of good) expect(final.get(photo.name)).toMatchObject({ state: "done", error: null });
  expect(final.get(large.name)).toMatchObject({ state: "refused", error: { code: "upload_limit", message: expect.stringContaining("at most 1000000 bytes") } });
  expect(final.get(gif.name)).toMatchObject({ state: "refused", error: { code: "unsupported_type", message: expect.stringContaining("image/jpeg") } });
  await expectArrivedOnce(e2e, event.event_id, good);
  expect(uploadsOf(e2e, event.event_id)).toHaveLength(good.length);
  // Four runners against two slots: the engine was told to wait, and did.
  const waited = e2e.service.server.logs.slice(logsBefore).filter((entry) => entry.status === 429 && entry.outcome === "upload_limit");
  expect(waited.length).toBeGreaterThan(0);
});

it("the device's daily cap refuses the files past it, with the reason", async () => {
  const photos = await noisePhotos(3, 300_000, 300_000, "DAILY_");
  const { engine } = await engineFor({ daily_upload_cap_per_device: 2 });
  await engine.add(photos.map((photo) => fileOf(photo)));
  const final = (await settledWithin(engine, e2e.service.server)).files;

  expect(final.filter((file) => file.state === "done")).toHaveLength(2);
  expect(final.filter((file) => file.state === "refused")).toEqual([
    expect.objectContaining({ error: { code: "upload_limit", message: expect.stringContaining("at most 2 files a day") } }),
  ]);
});
