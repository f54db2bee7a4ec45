/** Preview first (issue 15): a guest's preview makes a photo viewable before its original arrives. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { PhotoJob } from "../../src/core/completion";
import { makeHeic, makeJpeg, makePng, makeUnlikeJpeg, makeWebp } from "../fixtures/photos";
import { call, createEvent, createUploadRequest, errorCode, expireSession, fileBytes, sendChunk, sendInChunks, startUpload, uploadCall, type Upload } from "./helpers";
import { listen, ticket } from "./live-helpers";
import { deliver } from "./photo-helpers";
import { inspect } from "../../src/processing/inspect";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, method = "GET") => call(`/api/v1/admin${path}`, { method, headers: bootstrap });

interface Photo {
  photo_id: string;
  status: string;
  approved: boolean;
  preview_flagged: boolean;
  failure_reason: string | null;
  urls: { thumb_256: string | null; thumb_1024: string | null; original: string | null };
}

const original = () => makeJpeg({ width: 800, height: 600 });
/** The same picture as `original`, smaller, as the guest's browser makes it. */
const matchingPreview = () => makeWebp({ width: 400, height: 300 });

/** A body of unknown length (sent chunked). */
const streamOf = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });

function sendPreview(upload: Upload, bytes: Uint8Array | ReadableStream, headers: Record<string, string> = {}) {
  return call(`/api/v1/events/${upload.token}/uploads/${upload.id}/preview`, {
    method: "PUT",
    headers: { "upload-key": upload.key, "content-type": "image/webp", ...headers },
    body: bytes,
  });
}

async function photoOf(eventId: string, photoId: string): Promise<Photo> {
  const response = await admin(`/events/${eventId}/photos/${photoId}`);
  expect(response.status).toBe(200);
  return response.json<Photo>();
}

/** Sends the original's bytes and completes the upload; returns the processing job it enqueued. */
async function completeOriginal(upload: Upload, bytes: Uint8Array): Promise<PhotoJob> {
  await sendInChunks(upload, bytes, [1024 * 1024]);
  const send = vi.spyOn(env.PHOTO_QUEUE, "send");
  const response = await uploadCall(upload, "POST", "/complete");
  expect(response.status, await response.clone().text()).toBe(201);
  const job = send.mock.calls[0]![0] as PhotoJob;
  send.mockRestore();
  return job;
}

const photoRow = (photoId: string) => env.DB.prepare("SELECT status, failure_reason FROM photos WHERE id = ?").bind(photoId).first();

async function previewObjects(eventId: string, photoId: string) {
  return (await env.PHOTOS.list({ prefix: `photos/${eventId}/${photoId}/preview` })).objects.map((object) => object.key);
}

describe("a guest's preview", () => {
  it("records the photo at once as a preview, announced live and served from the preview", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    const bytes = original();
    const upload = await startUpload(event.join_token, bytes.byteLength, { content_type: "image/jpeg" });
    const preview = matchingPreview();

    const response = await sendPreview(upload, preview);
    expect(response.status, await response.clone().text()).toBe(201);
    const { photo_id } = await response.json<{ photo_id: string; status: string }>();

    const announced = await live.next((m) => m.photo?.photo_id === photo_id, "the preview photo");
    expect(announced.photo).toMatchObject({ status: "preview", approved: true });
    expect(announced.photo!.urls.thumb_256).toMatch(/\/api\/v1\/files\/photos\/[^/]+\/preview\?/);

    const photo = await photoOf(event.event_id, photo_id);
    expect(photo).toMatchObject({ status: "preview", preview_flagged: false });
    const stats = await (await admin(`/events/${event.event_id}/stats`)).json<{ photos: Record<string, number> }>();
    expect(stats.photos).toMatchObject({ total: 1, preview: 1, processing: 0 });
    const served = await call(new URL(photo.urls.thumb_1024!).pathname + new URL(photo.urls.thumb_1024!).search);
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toBe("image/webp");
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(preview);
    live.socket.close(1000, "done");
  });

  it("carries the name its guest gave from its first moment, before the original arrives", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, original().byteLength, { content_type: "image/jpeg", display_name: "Ana" });
    const response = await sendPreview(upload, matchingPreview());
    expect(response.status, await response.clone().text()).toBe(201);
    const { photo_id } = await response.json<{ photo_id: string }>();
    expect(await photoOf(event.event_id, photo_id)).toMatchObject({ status: "preview", display_name: "Ana" });
  });

  it("is replaced by the server's thumbnails once the original is processed, on the same photo", async () => {
    const event = await createEvent();
    const bytes = original();
    const upload = await startUpload(event.join_token, bytes.byteLength, { content_type: "image/jpeg" });
    const { photo_id } = await (await sendPreview(upload, matchingPreview())).json<{ photo_id: string }>();

    const job = await completeOriginal(upload, bytes);
    expect(job.photoId).toBe(photo_id);
    expect((await photoOf(event.event_id, photo_id)).status).toBe("processing");
    await deliver([job]);

    const photo = await photoOf(event.event_id, photo_id);
    expect(photo).toMatchObject({ status: "ready", approved: true, preview_flagged: false });
    expect(photo.urls.thumb_256).toMatch(/\/thumb-256\?/);
    expect(await previewObjects(event.event_id, photo_id)).toEqual([]);
    const photos = await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE upload_id = ?").bind(upload.id).first<{ n: number }>();
    expect(photos!.n).toBe(1);
  });

  it("that does not look like its original flags the photo for review instead of approving it", async () => {
    const event = await createEvent({ gallery_enabled: true });
    const bytes = original();
    const upload = await startUpload(event.join_token, bytes.byteLength, { content_type: "image/jpeg" });
    const sent = await sendPreview(upload, makeUnlikeJpeg(400, 300), { "content-type": "image/jpeg" });
    expect(sent.status).toBe(201);
    const { photo_id } = await sent.json<{ photo_id: string }>();

    await deliver([await completeOriginal(upload, bytes)]);
    const photo = await photoOf(event.event_id, photo_id);
    expect(photo).toMatchObject({ status: "ready", preview_flagged: true, approved: false });
    const gallery = await call(`/api/v1/events/${event.join_token}/photos`);
    expect((await gallery.json<{ photos: Array<{ photo_id: string }> }>()).photos.map((p) => p.photo_id)).not.toContain(photo_id);
  });

  it("of a photo the server cannot make thumbnails of (HEIC without a decoder) stays its image, flagged as unverified", async () => {
    const event = await createEvent();
    const heic = makeHeic({ width: 4032, height: 3024 });
    const upload = await startUpload(event.join_token, heic.byteLength, { content_type: "image/heic" });
    const { photo_id } = await (await sendPreview(upload, matchingPreview())).json<{ photo_id: string }>();
    await deliver([await completeOriginal(upload, heic)]);
    const photo = await photoOf(event.event_id, photo_id);
    expect(photo).toMatchObject({ status: "ready", thumbnail_state: "unavailable", preview_flagged: true, approved: false });
    expect(photo.urls.thumb_256).toMatch(/\/preview\?/);
    expect(await previewObjects(event.event_id, photo_id)).toHaveLength(1);
  });

  it("shows in the guests' gallery while a preview in auto mode, and only once approved in review mode", async () => {
    const gallery = async (token: string) =>
      (await (await call(`/api/v1/events/${token}/photos`)).json<{ photos: Array<{ photo_id: string; urls: { thumb_256: string } }> }>()).photos;
    const auto = await createEvent({ gallery_enabled: true });
    const autoUpload = await startUpload(auto.join_token, 100_000, { content_type: "image/jpeg" });
    const { photo_id: autoPhoto } = await (await sendPreview(autoUpload, matchingPreview())).json<{ photo_id: string }>();
    const listed = await gallery(auto.join_token);
    expect(listed.map((p) => p.photo_id)).toEqual([autoPhoto]);
    expect((await call(new URL(listed[0]!.urls.thumb_256).pathname + new URL(listed[0]!.urls.thumb_256).search)).status).toBe(200);

    const review = await createEvent({ gallery_enabled: true, moderation_mode: "review" });
    const reviewUpload = await startUpload(review.join_token, 100_000, { content_type: "image/jpeg" });
    const { photo_id: reviewPhoto } = await (await sendPreview(reviewUpload, matchingPreview())).json<{ photo_id: string }>();
    expect(await gallery(review.join_token)).toEqual([]);
    expect((await admin(`/events/${review.event_id}/photos/${reviewPhoto}/approve`, "POST")).status).toBe(200);
    expect((await photoOf(review.event_id, reviewPhoto)).status).toBe("preview");
    expect((await gallery(review.join_token)).map((p) => p.photo_id)).toEqual([reviewPhoto]);
  });

  it("is refused when it is not a JPEG or WebP, mislabelled, too big, too many pixels, without a length, or with a bad key", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 100_000, { content_type: "image/jpeg" });
    const refused = async (response: Response) => [response.status, response.status >= 400 && response.headers.get("content-type")?.includes("json") ? await errorCode(response) : await response.text()];

    expect(await refused(await sendPreview(upload, makePng({ width: 40, height: 30 }), { "content-type": "image/png" }))).toEqual([415, "unsupported_type"]);
    expect(await refused(await sendPreview(upload, new TextEncoder().encode("<html>not a picture</html>")))).toEqual([415, "unsupported_type"]);
    expect(await refused(await sendPreview(upload, matchingPreview(), { "content-type": "image/jpeg" }))).toEqual([415, "unsupported_type"]);
    expect(await refused(await sendPreview(upload, new Uint8Array(256 * 1024 + 1)))).toEqual([413, "preview_too_large"]);
    expect(await refused(await sendPreview(upload, makeJpeg({ width: 2100, height: 40, quality: 40 }), { "content-type": "image/jpeg" }))).toEqual([422, "preview_dimensions_too_large"]);
    expect(await refused(await sendPreview(upload, makeJpeg({ width: 200, height: 100 }).subarray(0, 300), { "content-type": "image/jpeg" }))).toEqual([422, "invalid_preview"]);
    expect(await refused(await sendPreview(upload, streamOf(matchingPreview())))).toEqual([411, "length_required"]);
    expect(await refused(await sendPreview({ ...upload, key: "x".repeat(43) }, matchingPreview()))).toEqual([401, "invalid_upload_key"]);
    // None of them made a photo.
    expect(await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE upload_id = ?").bind(upload.id).first()).toEqual({ n: 0 });
  });

  it("is kept without the location or camera a client put in it, since guests may see it", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 100_000, { content_type: "image/jpeg" });
    const located = makeJpeg({ width: 400, height: 300, exif: { make: "Canon", model: "EOS R6", gps: { latitude: 48.8584, longitude: 2.2945 } }, xmpWithGps: true });
    const sent = await sendPreview(upload, located, { "content-type": "image/jpeg" });
    expect(sent.status).toBe(201);
    const { photo_id } = await sent.json<{ photo_id: string }>();
    const [key] = await previewObjects(event.event_id, photo_id);
    const stored = new Uint8Array(await (await env.PHOTOS.get(key!))!.arrayBuffer());
    const inspected = await inspect(new Blob([stored]).stream(), "image/jpeg", { maxPixels: 1e7, size: stored.byteLength });
    expect(inspected.metadata).toMatchObject({ gps: null, cameraMake: null, cameraModel: null });
    expect(inspected).toMatchObject({ width: 400, height: 300 });
    expect(new TextDecoder("latin1").decode(stored)).not.toMatch(/Canon|48\.85|GPS/);
  });

  it("is refused once the original has arrived", async () => {
    const event = await createEvent();
    const bytes = original();
    const upload = await startUpload(event.join_token, bytes.byteLength, { content_type: "image/jpeg" });
    await completeOriginal(upload, bytes);
    const late = await sendPreview(upload, matchingPreview());
    expect(late.status).toBe(409);
    expect(await errorCode(late)).toBe("upload_completed");
  });

  it("whose original never arrives ends with its session: the sweeper deletes the photo and its preview", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 100_000, { content_type: "image/jpeg" });
    const { photo_id } = await (await sendPreview(upload, matchingPreview())).json<{ photo_id: string }>();
    expect(await previewObjects(event.event_id, photo_id)).toHaveLength(1);

    await expireSession(upload.id);
    await env.DB.prepare("UPDATE upload_sessions SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, upload.id).run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);

    expect(await photoRow(photo_id)).toEqual({ status: "deleted", failure_reason: "the original never arrived (upload expired)" });
    expect((await admin(`/events/${event.event_id}/photos/${photo_id}`)).status).toBe(404);
    expect(await previewObjects(event.event_id, photo_id)).toEqual([]);
  });

  it("of an upload the guest cancels goes with it", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 100_000, { content_type: "image/jpeg" });
    const { photo_id } = await (await sendPreview(upload, matchingPreview())).json<{ photo_id: string }>();
    expect((await uploadCall(upload, "DELETE")).status).toBe(204);
    expect(await photoRow(photo_id)).toEqual({ status: "deleted", failure_reason: "the original never arrived (upload cancelled)" });
    expect(await previewObjects(event.event_id, photo_id)).toEqual([]);
  });

  it("deleted by an organiser stays deleted when its original arrives, and the original is not kept", async () => {
    const event = await createEvent();
    const bytes = original();
    const upload = await startUpload(event.join_token, bytes.byteLength, { content_type: "image/jpeg" });
    const { photo_id } = await (await sendPreview(upload, matchingPreview())).json<{ photo_id: string }>();
    expect((await admin(`/events/${event.event_id}/photos/${photo_id}`, "DELETE")).status).toBe(200);
    expect(await previewObjects(event.event_id, photo_id)).toEqual([]);

    await sendInChunks(upload, bytes, [1024 * 1024]);
    const send = vi.spyOn(env.PHOTO_QUEUE, "send");
    const completed = await uploadCall(upload, "POST", "/complete");
    expect(completed.status).toBe(201);
    expect(send).not.toHaveBeenCalled();
    send.mockRestore();
    const row = await env.DB.prepare("SELECT p.status, p.original_key AS key, s.status AS session FROM photos p JOIN upload_sessions s ON s.id = p.upload_id WHERE p.id = ?")
      .bind(photo_id)
      .first<{ status: string; key: string; session: string }>();
    expect(row).toMatchObject({ status: "deleted", session: "completed" });
    expect(await env.PHOTOS.head(row!.key)).toBeNull();
  });

  it("lets a device open a session for every picked photo's preview: a session holding only a preview takes no upload slot", async () => {
    const event = await createEvent({ max_concurrent_uploads_per_device: 2 });
    const device = "device-previews-first";
    const bytes = fileBytes(300_000);
    const open = () => createUploadRequest(event.join_token, { filename: "p.jpg", size: bytes.byteLength, content_type: "image/jpeg", device_id: device });
    const created = async () => {
      const response = await open();
      expect(response.status, await response.clone().text()).toBe(201);
      const body = await response.json<{ upload_id: string; upload_key: string }>();
      return { token: event.join_token, id: body.upload_id, key: body.upload_key };
    };
    const [first, second] = [await created(), await created()];
    const refused = await open();
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe("upload_limit");

    for (const upload of [first, second]) expect((await sendPreview(upload, matchingPreview())).status).toBe(201);
    const third = await created();
    expect((await sendPreview(third, matchingPreview())).status).toBe(201);
    // Once an original's bytes flow, its session holds a slot again.
    expect((await sendChunk(first, bytes, 0, 256 * 1024)).status).toBe(204);
    expect((await sendChunk(second, bytes, 0, 256 * 1024)).status).toBe(204);
    expect((await open()).status).toBe(429);
  });
});
