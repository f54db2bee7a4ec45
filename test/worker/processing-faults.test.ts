/** Processing under faults: a consumer that fails midway, the dead-letter queue, and re-driving it. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PhotoJob } from "../../src/core/completion";
import { DEAD_LETTER_QUEUE } from "../../src/jobs/processing";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };

async function photoRow(photoId: string) {
  return (await env.DB.prepare("SELECT status, failure_reason, thumb_small_key, processing_attempts FROM photos WHERE id = ?").bind(photoId).first<{
    status: string;
    failure_reason: string | null;
    thumb_small_key: string | null;
    processing_attempts: number;
  }>())!;
}

/** R2 writes fail while `failing` is true, as in an outage. */
function breakR2Writes() {
  const state = { failing: true };
  const put = env.PHOTOS.put.bind(env.PHOTOS);
  vi.spyOn(env.PHOTOS, "put").mockImplementation(async (...args: Parameters<R2Bucket["put"]>) => {
    if (state.failing) throw new Error("injected: R2 is unavailable");
    return put(...args);
  });
  return state;
}

/** Runs a re-drive request and returns the jobs it put on the queue. */
async function redrive(path: string, body: unknown = {}) {
  const sent = vi.spyOn(env.PHOTO_QUEUE, "sendBatch");
  const response = await call(`/api/v1/admin${path}`, { method: "POST", headers: bootstrap, body: JSON.stringify(body) });
  const jobs = sent.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body as PhotoJob));
  sent.mockRestore();
  return { response, jobs };
}

afterEach(() => vi.restoreAllMocks());

describe("processing faults", () => {
  it("a consumer that fails midway retries and then ends ready, with every file", async () => {
    const { job, photoId } = await uploadPhoto(makeJpeg({ width: 200, height: 150 }));
    const outage = breakR2Writes();
    const first = await deliver([job]);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect(await photoRow(photoId)).toMatchObject({ status: "processing", failure_reason: "injected: R2 is unavailable", processing_attempts: 1 });

    outage.failing = false;
    const second = await deliver([job], { attempts: 2 });
    expect(second.explicitAcks).toHaveLength(1);
    const row = await photoRow(photoId);
    expect(row.status).toBe("ready");
    expect(row.failure_reason).toBeNull();
    expect(await env.PHOTOS.head(row.thumb_small_key!)).not.toBeNull();
  });

  it("the dead-letter queue fails the photo with the last error; re-driven after the fix, it ends ready", async () => {
    const event = await createEvent();
    const broken = await uploadPhoto(makeJpeg({ width: 200, height: 150 }), { token: event.join_token });
    const rejected = await uploadPhoto(new TextEncoder().encode("not an image at all, just text"), { token: event.join_token });
    await deliver([rejected.job]);
    expect((await photoRow(rejected.photoId)).status).toBe("failed");

    const outage = breakR2Writes();
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect((await deliver([broken.job], { attempts: attempt })).retryMessages).toHaveLength(1);
    }
    await deliver([broken.job], { queue: DEAD_LETTER_QUEUE });
    const failed = await photoRow(broken.photoId);
    expect(failed.status).toBe("failed");
    expect(failed.failure_reason).toBe("processing failed after repeated attempts: injected: R2 is unavailable");

    // Fixed: re-drive the event. Only the photo that had retries goes back; the rejected file would only be rejected again.
    outage.failing = false;
    const { response, jobs } = await redrive(`/events/${event.event_id}/photos/redrive`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ requeued: 1, photo_ids: [broken.photoId] });
    expect(jobs.map((queued) => queued.photoId)).toEqual([broken.photoId]);
    expect((await photoRow(broken.photoId)).status).toBe("processing");
    await deliver(jobs);
    expect((await photoRow(broken.photoId)).status).toBe("ready");
    expect((await photoRow(rejected.photoId)).status).toBe("failed");

    // Nothing left to re-drive.
    expect(await (await redrive(`/events/${event.event_id}/photos/redrive`)).response.json()).toEqual({ requeued: 0, photo_ids: [] });
  });

  it("operators re-drive every event at once; an event-scoped token cannot", async () => {
    const [a, b] = await Promise.all([createEvent(), createEvent()]);
    const photos = [await uploadPhoto(makeJpeg({ width: 90, height: 60 }), { token: a.join_token }), await uploadPhoto(makeJpeg({ width: 91, height: 60 }), { token: b.join_token })];
    for (const { photoId } of photos) {
      await env.DB.prepare("UPDATE photos SET status = 'failed', processing_attempts = 4, failure_reason = 'x' WHERE id = ?").bind(photoId).run();
    }
    const created = await call("/api/v1/admin/tokens", { method: "POST", headers: bootstrap, body: JSON.stringify({ name: "host", event_ids: [a.event_id] }) });
    const { token } = await created.json<{ token: string }>();
    const scoped = await call("/api/v1/admin/processing/redrive", { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(scoped.status).toBe(403);

    const { response, jobs } = await redrive("/processing/redrive");
    const result = await response.json<{ photo_ids: string[] }>();
    expect(result.photo_ids).toEqual(expect.arrayContaining(photos.map((photo) => photo.photoId)));
    expect(jobs.map((job) => job.photoId)).toEqual(expect.arrayContaining(photos.map((photo) => photo.photoId)));
    await deliver(jobs.filter((job) => photos.some((photo) => photo.photoId === job.photoId)));
    for (const { photoId } of photos) expect((await photoRow(photoId)).status).toBe("ready");
  });
});
