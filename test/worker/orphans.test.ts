/** The sweeper finds objects nothing references, and multipart uploads left open, and removes them. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ORPHAN_GRACE_MS, deleteOrphanedObjects } from "../../src/jobs/orphans";
import { MiB, call, createEvent, fileBytes, sendChunk, sendInChunks, startUpload, uploadCall } from "./helpers";

const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const exists = async (key: string) => (await env.PHOTOS.head(key)) !== null;
/** A time after every object these tests wrote has aged past the grace period. */
const later = () => Date.now() + ORPHAN_GRACE_MS + 60_000;

/** Runs walks until one comes back to the start of both prefixes (this file's objects are few). */
async function sweepAll(now: number) {
  let deleted = 0;
  for (let run = 0; run < 20; run++) {
    deleted += (await deleteOrphanedObjects(env, now)).deleted;
    const { results } = await env.DB.prepare("SELECT last_key FROM sweeper_state").all<{ last_key: string | null }>();
    if (results.every((row) => row.last_key === null)) return deleted;
  }
  throw new Error("the walk never came back to the start");
}

async function setting() {
  const { event_id, join_token } = await createEvent();
  // In flight, with a multipart upload and a tail (in its session), and a staged segment of the
  // previous byte engine (TRANSITION: a session from before tails moved into the session).
  const file = fileBytes(12 * MiB, 401);
  const inFlight = await startUpload(join_token, file.byteLength);
  for (let offset = 0; offset < 7 * MiB; offset += MiB) expect((await sendChunk(inFlight, file, offset, offset + MiB)).status).toBe(204);
  const inFlightStaging = [`staging/${inFlight.id}/${5 * MiB}-${6 * MiB}-old-engine`];
  await env.PHOTOS.put(inFlightStaging[0]!, new Uint8Array(100));

  // A photo: its original is used.
  const small = fileBytes(1000, 402);
  const kept = await startUpload(join_token, small.byteLength);
  await sendInChunks(kept, small, [1000]);
  const photo = await (await uploadCall(kept, "POST", "/complete")).json<{ photo_id: string; file_path: string }>();

  // A photo an organiser deleted, whose original's delete was lost (the object came back).
  const gone = await startUpload(join_token, small.byteLength);
  await sendInChunks(gone, small, [1000]);
  const deletedPhoto = await (await uploadCall(gone, "POST", "/complete")).json<{ photo_id: string; file_path: string }>();
  const moderation = await call(`/api/v1/admin/events/${event_id}/photos/${deletedPhoto.photo_id}`, { method: "DELETE", headers: admin });
  expect(moderation.status, await moderation.clone().text()).toBe(200);
  await env.PHOTOS.put(deletedPhoto.file_path, small);

  // A cancelled upload whose staged segment outlived its cleanup.
  const cancelled = await startUpload(join_token, file.byteLength);
  expect((await uploadCall(cancelled, "DELETE")).status).toBe(204);
  const cancelledLeftover = `staging/${cancelled.id}/0-100-lost`;
  await env.PHOTOS.put(cancelledLeftover, new Uint8Array(100));

  // Objects of uploads D1 never heard of, and a key of no known shape.
  const strays = [`staging/${crypto.randomUUID()}/0-100-x`, `uploads/${event_id}/${crypto.randomUUID()}`];
  for (const key of strays) await env.PHOTOS.put(key, new Uint8Array(10));
  const foreign = `uploads/${event_id}/notes.txt`;
  await env.PHOTOS.put(foreign, "not ours to judge");

  return {
    referenced: [...inFlightStaging, photo.file_path, foreign],
    orphans: [deletedPhoto.file_path, cancelledLeftover, ...strays],
    inFlight,
    file,
  };
}

describe("objects nothing references", () => {
  it("are deleted once past the grace period; referenced, foreign and fresh ones are kept", async () => {
    const { referenced, orphans, inFlight, file } = await setting();

    // Fresh: nothing is deleted, however unreferenced.
    await sweepAll(Date.now());
    for (const key of [...referenced, ...orphans]) expect(await exists(key), key).toBe(true);

    expect(await sweepAll(later())).toBeGreaterThanOrEqual(orphans.length);
    for (const key of referenced) expect(await exists(key), key).toBe(true);
    for (const key of orphans) expect(await exists(key), key).toBe(false);

    // The upload in flight is untouched: it finishes byte for byte.
    for (let offset = 7 * MiB; offset < file.byteLength; offset += MiB) {
      expect((await sendChunk(inFlight, file, offset, Math.min(offset + MiB, file.byteLength))).status).toBe(204);
    }
    const done = await uploadCall(inFlight, "POST", "/complete");
    expect(done.status).toBe(201);
    const { file_path } = await done.json<{ file_path: string }>();
    expect(new Uint8Array(await (await env.PHOTOS.get(file_path))!.arrayBuffer())).toEqual(file);
  });

  it("walks each prefix in bounded pages, carrying on where the last run stopped", async () => {
    const { orphans } = await setting();
    const now = later();
    // Pages of one key: each prefix holds two orphans, so no single run can delete them all
    // (with pages of two, random keys sometimes listed both first, and one run did).
    const first = await deleteOrphanedObjects(env, now, { pageSize: 1, pages: 1 });
    expect(first.listed).toBeLessThanOrEqual(2 * 1);
    const { results } = await env.DB.prepare("SELECT name, last_key FROM sweeper_state ORDER BY name").all<{ name: string; last_key: string | null }>();
    expect(results.map((row) => row.name)).toEqual(["orphans:staging/", "orphans:uploads/"]);
    expect(results.some((row) => row.last_key !== null)).toBe(true);

    let runs = 1;
    while (await Promise.all(orphans.map(exists)).then((found) => found.some(Boolean))) {
      await deleteOrphanedObjects(env, now, { pageSize: 1, pages: 1 });
      expect(++runs).toBeLessThan(500);
    }
    expect(runs).toBeGreaterThan(1);
  });

  it("the cron sweep aborts multipart uploads whose session's own abort failed", async () => {
    const { join_token } = await createEvent();
    // A session that closed while R2 refused its abort: the multipart upload still takes parts.
    const key = `uploads/${crypto.randomUUID()}/${crypto.randomUUID()}`;
    const multipart = await env.PHOTOS.createMultipartUpload(key);
    await multipart.uploadPart(1, new Uint8Array(5 * MiB));
    const template = await startUpload(join_token, 1000);
    const leftId = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO upload_sessions (id, event_id, join_token_id, device_id, status, total_size, chunk_size, expires_at, r2_key,
         multipart_upload_id, upload_key_hash, filename, content_type, updated_at)
       SELECT ?, event_id, join_token_id, 'left-device', 'cancelled', 12000000, chunk_size, 0, ?, ?, 'h', 'a.jpg', 'image/jpeg', 0
       FROM upload_sessions WHERE id = ?`,
    )
      .bind(leftId, key, multipart.uploadId, template.id)
      .run();

    // A session whose own abort worked leaves no id behind for the sweeper.
    const file = fileBytes(12 * MiB, 403);
    const aborted = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(aborted, file, 0, MiB)).status).toBe(204);
    expect((await uploadCall(aborted, "DELETE")).status).toBe(204);
    const closedRow = await env.DB.prepare("SELECT multipart_upload_id FROM upload_sessions WHERE id = ?").bind(aborted.id).first();
    expect(closedRow).toEqual({ multipart_upload_id: null });

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);
    await expect(env.PHOTOS.resumeMultipartUpload(key, multipart.uploadId).uploadPart(2, new Uint8Array(10))).rejects.toThrow();
    const row = await env.DB.prepare("SELECT status, multipart_upload_id FROM upload_sessions WHERE id = ?").bind(leftId).first();
    expect(row).toEqual({ status: "cancelled", multipart_upload_id: null });
  });
});
