/**
 * The upload engine through venue-grade Wi-Fi: a loopback TCP proxy in front of `wrangler dev`
 * cuts every connection after a random 0.5–4 MB, drops some answers the server already sent,
 * and delays data. Every file must still arrive byte for byte, as one photo, with no chunk
 * accepted twice and no chunk sent again beyond the ones in flight when a connection broke.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { UploadEngine } from "../../web/engine/engine.ts";
import type { FileState } from "../../web/engine/views.ts";
import { MiB, startE2e, type E2e } from "./helpers";
import { expectAcceptedOnce, expectArrivedOnce, fileOf, noisePhotos, settledWithin, uploadsOf } from "./lib/engine-fixtures";
import { FlakyProxy } from "./lib/flaky-proxy";

let e2e: E2e;
let proxy: FlakyProxy;
beforeAll(async () => {
  e2e = await startE2e("e2e-engine-flaky-");
  proxy = await FlakyProxy.start({
    target: e2e.service.origin,
    dropResponseChance: 0.03,
    delayMs: () => (Math.random() < 0.02 ? 20 : 0),
  });
});
afterAll(async () => {
  await proxy?.close();
  await e2e?.stack.stop();
});

it("every file arrives byte-identical and once, however often the connection breaks", async () => {
  const photos = await noisePhotos(10, 1_000_000, 5_000_000);
  // A create whose answer is dropped leaves a session the engine never heard of, holding one
  // of the device's slots until it expires: give the device room for a few of those.
  const event = await e2e.service.createEvent({ name: "flaky venue", max_concurrent_uploads_per_device: 6 });
  const engine = await UploadEngine.open({
    origin: proxy.origin,
    joinToken: event.join_token,
    concurrency: 2,
    retry: { baseDelayMs: 100, maxDelayMs: 1_000 },
    processingPoll: { minMs: 300, maxMs: 1_000 },
  });
  const seen = new Set<FileState>();
  engine.subscribe((snapshot) => snapshot.files.forEach((file) => seen.add(file.state)));
  await engine.add(photos.map((photo) => fileOf(photo)));
  const final = await settledWithin(engine, e2e.service.server);

  expect(final.files.map((file) => [file.name, file.state, file.error])).toEqual(photos.map((photo) => [photo.name, "done", null]));
  expect(proxy.stats.cuts).toBeGreaterThanOrEqual(5);
  expect(seen.has("retrying")).toBe(true);

  const uploadIds = await expectArrivedOnce(e2e, event.event_id, photos);
  let replays = 0;
  for (const photo of photos) replays += expectAcceptedOnce(e2e.service.server, uploadIds.get(photo.name)!, photo.bytes.length).replays;
  // A replay is a chunk the server had when the client asked again: only the chunk in flight
  // when a connection broke (the engine asks for the offset before sending anything again).
  expect(replays).toBeLessThanOrEqual(proxy.breaks);
  // On the wire too: beyond the photos themselves, at most one chunk (1 MiB) for each break,
  // plus request heads.
  const photoBytes = photos.reduce((sum, photo) => sum + photo.bytes.length, 0);
  expect(proxy.stats.bytesUp - photoBytes).toBeLessThanOrEqual(proxy.breaks * MiB + 256 * 1024);
  const orphans = uploadsOf(e2e, event.event_id).filter((row) => row.status !== "completed");
  console.log(`flaky proxy: ${JSON.stringify(proxy.stats)}; replayed chunks ${replays}; sessions never heard of ${orphans.length}`);
});
