/**
 * A crash with a venue's worth of uploads in flight: five through the guest API (the upload
 * engine) and five through tus-js-client, `wrangler dev` SIGKILLed and started again on the same
 * state. Every upload resumes in its own session and arrives byte-identical; afterwards the
 * sweeper leaves no session non-terminal and nothing staged in R2.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { UploadEngine } from "../../web/engine/engine.ts";
import { expectStored, MiB, photoMetadata, startE2e, startUpload, type E2e } from "./helpers";
import { expectArrivedOnce, fileOf, noisePhotos, settledWithin, uploadsOf } from "./lib/engine-fixtures";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-crash-");
});
afterAll(() => e2e?.stack.stop());

/** Outlasts a restart (bundle reload, migrations, port) with room to spare. */
const tusRetryDelays = [500, 1000, 2000, 4000, 8000, 16000];

async function waitFor(condition: () => boolean, what: string, limitMs = 60_000): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(50)) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
  }
}

it("10 uploads in flight survive a SIGKILL of the server; the sweeper then leaves nothing behind", async () => {
  const { origin } = e2e.service;
  // A guest who gives up mid-upload for good: a short session with a staged 1 MiB tail.
  const abandonedEvent = await e2e.service.createEvent({ name: "abandoned", session_ttl_seconds: 60 });
  const abandonedAt = Date.now();
  const created = await fetch(`${origin}/api/v1/events/${abandonedEvent.join_token}/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: "GIVEN_UP.jpg", size: 8 * MiB, content_type: "image/jpeg", device_id: "guest-who-left" }),
  });
  const abandoned = (await created.json()) as { upload_id: string; upload_key: string };
  const firstChunk = await fetch(`${origin}/api/v1/events/${abandonedEvent.join_token}/uploads/${abandoned.upload_id}/chunk`, {
    method: "PUT",
    headers: { "upload-key": abandoned.upload_key, "content-range": `bytes 0-${MiB - 1}/${8 * MiB}` },
    body: randomBytes(MiB),
  });
  expect(firstChunk.status).toBe(204);

  // 1 MiB chunks, so no engine upload can finish in the few chunks before the crash.
  const event = await e2e.service.createEvent({ name: "crash", max_concurrent_uploads_per_device: 10, chunk_size: MiB });
  const photos = await noisePhotos(5, 6_000_000, 8_000_000, "CRASH_");
  const engine = await UploadEngine.open({
    origin,
    joinToken: event.join_token,
    concurrency: 5,
    retry: { baseDelayMs: 200, maxDelayMs: 4_000 },
    processingPoll: { minMs: 500, maxMs: 1_000 },
  });
  await engine.add(photos.map((photo) => fileOf(photo)));

  const tusSources = Array.from({ length: 5 }, () => randomBytes(8 * MiB));
  const progress = tusSources.map(() => 0);
  const tusRuns = tusSources.map((bytes, i) =>
    startUpload(bytes, {
      endpoint: `${origin}/api/v1/events/${event.join_token}/tus/`,
      metadata: photoMetadata(),
      chunkSize: MiB,
      retryDelays: tusRetryDelays,
      onProgress: (sent) => void (progress[i] = sent),
    }),
  );

  // Crash as soon as every upload is under way (large enough that none finishes first).
  await waitFor(
    () => engine.snapshot().files.every((file) => file.sentBytes >= MiB) && progress.every((sent) => sent >= MiB),
    "all ten uploads to be under way",
  );
  const inFlight = engine.snapshot().files.filter((file) => file.sentBytes < file.size).length + progress.filter((sent) => sent < 8 * MiB).length;
  expect(inFlight).toBe(10);
  await e2e.service.server.restart();

  const final = await settledWithin(engine, e2e.service.server, 150_000);
  await Promise.all(tusRuns.map((run) => run.finished));
  expect(final.files.map((file) => [file.name, file.state])).toEqual(photos.map((photo) => [photo.name, "done"]));
  await expectArrivedOnce(e2e, event.event_id, photos);
  // Resumed, not started again: one session per file, one creation per tus upload.
  expect(uploadsOf(e2e, event.event_id)).toHaveLength(10);
  for (const [i, run] of tusRuns.entries()) {
    expect(run.exchanges.filter((exchange) => exchange.method === "POST")).toHaveLength(1);
    await expectStored(e2e, run.upload.url!, tusSources[i]!);
  }
  await engine.stop();

  // The abandoned session's time runs out; the sweeper (or its alarm) closes it.
  await sleep(Math.max(0, abandonedAt + 61_000 - Date.now()));
  expect((await fetch(`${origin}/cdn-cgi/local/scheduled`)).status).toBe(200);
  await waitFor(() => e2e.stack.query(`SELECT id FROM upload_sessions WHERE status IN ('pending', 'uploading', 'assembling')`).length === 0, "no session left in flight", 20_000);
  expect(e2e.stack.query<{ status: string }>(`SELECT status FROM upload_sessions WHERE id = '${abandoned.upload_id}'`)).toEqual([{ status: "expired" }]);
  const staged = (await (await fetch(`${e2e.bare.origin}/?prefix=staging/`)).json()) as string[];
  expect(staged).toEqual([]);
});
