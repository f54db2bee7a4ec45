/**
 * Videos as an upload kind (issue 15): taken when the event allows them, with their own size and
 * duration caps, through the guest API and tus alike; processed to `ready` with their kind,
 * duration and dimensions, no server thumbnails; the guests' copy has no location; ranges and
 * the event's ZIP include them.
 */
import { env } from "cloudflare:workers";
import { unzipSync } from "fflate";
import { describe, expect, it, vi } from "vitest";
import type { PhotoJob } from "../../src/core/completion";
import { FIXTURE_LOCATION, videos } from "../fixtures/videos";
import { call, createEvent, createUploadRequest, errorCode, sha256Hex } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";
import { addWebhook, captureWebhookQueue, deliveriesOf } from "./webhook-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(`/api/v1/admin${path}`, { method: init.method ?? "GET", headers: bootstrap, ...(init.body ? { body: JSON.stringify(init.body) } : {}) });
const fetchUrl = (url: string, headers: Record<string, string> = {}) => {
  const { pathname, search } = new URL(url);
  return call(pathname + search, { headers });
};
const latin1 = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
/** How the fixtures' ©xyz location is written (ISO 6709). */
const XYZ_LOCATION = /\+48\.8584\+002\.2945/;

interface PhotoView {
  status: string;
  media_kind: string;
  duration_s: number | null;
  content_type: string;
  width: number | null;
  height: number | null;
  thumbnail_state: string | null;
  failure_reason: string | null;
  gps: { latitude: number; longitude: number } | null;
  download_name: string;
  urls: { original?: string | null; scrubbed: string | null; thumb_1024: string | null };
}

async function photoView(eventId: string, photoId: string): Promise<PhotoView> {
  const response = await admin(`/events/${eventId}/photos/${photoId}`);
  expect(response.status).toBe(200);
  return response.json<PhotoView>();
}

/** `video` with its movie header (mvhd, version 0) claiming `seconds` instead of its own duration. */
function withDuration(video: Uint8Array, seconds: number): Uint8Array {
  const copy = video.slice();
  const at = latin1(copy).indexOf("mvhd");
  const view = new DataView(copy.buffer);
  expect(copy[at + 4], "a version 0 mvhd").toBe(0);
  const timescale = view.getUint32(at + 4 + 12);
  view.setUint32(at + 4 + 16, seconds * timescale);
  return copy;
}

describe("a video through the guest API", () => {
  it("ends ready as a video: its duration, dimensions and hash, no thumbnails (unavailable until a poster), no location kept", async () => {
    const event = await createEvent();
    const bytes = videos.xyz();
    const { job, photoId } = await uploadPhoto(bytes, { token: event.join_token, contentType: "video/quicktime", filename: "IMG_0042.MOV" });
    const result = await deliver([job]);
    expect(result.explicitAcks).toHaveLength(1);

    const view = await photoView(event.event_id, photoId);
    expect(view).toMatchObject({
      status: "ready",
      media_kind: "video",
      duration_s: 1,
      content_type: "video/quicktime",
      width: 160,
      height: 120,
      thumbnail_state: "unavailable",
      gps: null,
      download_name: "IMG_0042.mov",
    });
    expect(view.urls.thumb_1024).toBeNull();
    const row = await env.DB.prepare("SELECT sha256 FROM photos WHERE id = ?").bind(photoId).first<{ sha256: string }>();
    expect(row!.sha256).toBe(await sha256Hex(bytes));
  });

  it("keeps the video's location for organisers when the event keeps GPS", async () => {
    const event = await createEvent({ keep_gps: true });
    const { job, photoId } = await uploadPhoto(videos.xyz(), { token: event.join_token, contentType: "video/quicktime" });
    await deliver([job]);
    const { gps } = await photoView(event.event_id, photoId);
    expect(gps!.latitude).toBeCloseTo(FIXTURE_LOCATION.latitude, 3);
    expect(gps!.longitude).toBeCloseTo(FIXTURE_LOCATION.longitude, 3);
  });

  it("a phone's upright video is recorded as shown: width and height turned", async () => {
    const event = await createEvent();
    const { job, photoId } = await uploadPhoto(videos.rotated(), { token: event.join_token, contentType: "video/mp4" });
    await deliver([job]);
    expect(await photoView(event.event_id, photoId)).toMatchObject({ status: "ready", width: 120, height: 160 });
  });

  it("a video longer than the event's duration cap fails with the reason", async () => {
    const event = await createEvent({ max_video_duration_s: 30 });
    const { job, photoId } = await uploadPhoto(withDuration(videos.h264(), 45), { token: event.join_token, contentType: "video/mp4" });
    const result = await deliver([job]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await photoView(event.event_id, photoId)).toMatchObject({ status: "failed", failure_reason: "the video is 45 s long, over this event's limit of 30 s" });
  });

  it("a video that is not a plain movie (a ZIP riding along) fails as a photo would", async () => {
    const event = await createEvent();
    const zip = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);
    const { job, photoId } = await uploadPhoto(Uint8Array.from([...videos.h264(), ...zip]), { token: event.join_token, contentType: "video/mp4" });
    await deliver([job]);
    expect(await photoView(event.event_id, photoId)).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/^the file is not a plain video: /) });
  });
});

describe("a video's webhooks", () => {
  captureWebhookQueue();

  it("photo.ready and photo.failed go out for videos too, saying it is a video and how long", async () => {
    const event = await createEvent({ max_video_duration_s: 30 });
    const hook = await addWebhook(event.event_id, { url: "https://hooks.example.com/videos", event_types: ["photo.ready", "photo.failed"] });
    const ready = await uploadPhoto(videos.h264(), { token: event.join_token, contentType: "video/mp4" });
    const tooLong = await uploadPhoto(withDuration(videos.h264(), 45), { token: event.join_token, contentType: "video/mp4" });
    await deliver([ready.job, tooLong.job]);
    const bodies = (await deliveriesOf(hook.webhook_id)).map((row) => JSON.parse(row.payload) as { type: string; data: Record<string, unknown> });
    expect(bodies).toEqual([
      expect.objectContaining({ type: "photo.ready", data: expect.objectContaining({ photo_id: ready.photoId, media_kind: "video", duration_s: 1 }) }),
      expect.objectContaining({ type: "photo.failed", data: expect.objectContaining({ photo_id: tooLong.photoId, failure_reason: expect.stringContaining("over this event's limit of 30 s") }) }),
    ]);
  });
});

describe("an event's video settings", () => {
  it("defaults: videos allowed, 500 MiB, 10 minutes; organisers can change them", async () => {
    const { event_id } = await createEvent();
    const created = await (await admin(`/events/${event_id}`)).json<Record<string, unknown>>();
    expect(created).toMatchObject({ videos_allowed: true, max_video_size: 500 * 1024 * 1024, max_video_duration_s: 600 });
    const updated = await admin(`/events/${event_id}`, { method: "PATCH", body: { videos_allowed: false, max_video_size: 1000, max_video_duration_s: 90 } });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ videos_allowed: false, max_video_size: 1000, max_video_duration_s: 90 });
  });

  it("the guest's event info lists the video types and caps while videos are allowed", async () => {
    const { join_token } = await createEvent({ max_video_size: 1234 });
    const info = await (await call(`/api/v1/events/${join_token}`)).json<{ limits: Record<string, unknown> }>();
    expect(info.limits).toMatchObject({ videos_allowed: true, max_video_size: 1234, max_video_duration_s: 600 });
    expect(info.limits.allowed_content_types).toEqual(expect.arrayContaining(["image/jpeg", "video/mp4", "video/quicktime"]));
    const off = await createEvent({ videos_allowed: false });
    const offInfo = await (await call(`/api/v1/events/${off.join_token}`)).json<{ limits: { allowed_content_types: string[] } }>();
    expect(offInfo.limits.allowed_content_types).not.toContain("video/mp4");
  });

  it("a video over the event's video size cap is refused at create; a photo of that size is not", async () => {
    const { join_token } = await createEvent({ max_video_size: 1000, max_file_size: 5000 });
    const video = await createUploadRequest(join_token, { size: 2000, content_type: "video/mp4", filename: "clip.mp4" });
    expect(video.status).toBe(413);
    expect(await video.json()).toMatchObject({ error: { code: "upload_limit", limit: "max_video_size", max_video_size: 1000 } });
    expect((await createUploadRequest(join_token, { size: 2000 })).status).toBe(201);
  });

  it("videos_allowed off: a video is refused at create, and one declared as a photo fails in processing", async () => {
    const event = await createEvent({ videos_allowed: false });
    const refused = await createUploadRequest(event.join_token, { size: 2000, content_type: "video/quicktime", filename: "clip.mov" });
    expect(refused.status).toBe(415);
    expect(await refused.json()).toMatchObject({ error: { code: "unsupported_type", message: "This event does not take videos.", videos_allowed: false } });

    const { job, photoId } = await uploadPhoto(videos.h264(), { token: event.join_token, contentType: "image/jpeg" });
    await deliver([job]);
    expect(await photoView(event.event_id, photoId)).toMatchObject({ status: "failed", failure_reason: "the file is a video, and this event does not take videos" });
  });
});

describe("a video through tus", () => {
  const b64 = (text: string) => btoa(text);
  const tus = { "tus-resumable": "1.0.0" };

  it("announces the video cap as Tus-Max-Size, and ends ready as a video", async () => {
    const event = await createEvent({ max_file_size: 1024 * 1024, max_video_size: 8 * 1024 * 1024 });
    const base = `/api/v1/events/${event.join_token}/tus`;
    const options = await call(`${base}/`, { method: "OPTIONS", headers: tus });
    expect(options.headers.get("tus-max-size")).toBe(String(8 * 1024 * 1024));

    const bytes = videos.h264();
    const send = vi.spyOn(env.PHOTO_QUEUE, "send");
    const created = await call(`${base}/`, {
      method: "POST",
      headers: {
        ...tus,
        "upload-length": String(bytes.byteLength),
        "upload-metadata": `filename ${b64("clip.mp4")},filetype ${b64("video/mp4")},device_id ${b64("tus-video-device-1")}`,
        "content-type": "application/offset+octet-stream",
      },
      body: bytes,
    });
    expect(created.status, await created.clone().text()).toBe(201);
    expect(created.headers.get("upload-offset")).toBe(String(bytes.byteLength));
    const job = send.mock.calls[0]![0] as PhotoJob;
    send.mockRestore();
    await deliver([job]);
    expect(await photoView(event.event_id, job.photoId)).toMatchObject({ status: "ready", media_kind: "video", duration_s: 1, content_type: "video/mp4" });
  });

  it("a video over the cap is refused at create", async () => {
    const event = await createEvent({ max_video_size: 1000 });
    const response = await call(`/api/v1/events/${event.join_token}/tus/`, {
      method: "POST",
      headers: { ...tus, "upload-length": "2000", "upload-metadata": `filename ${b64("clip.mov")},filetype ${b64("video/quicktime")}` },
    });
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe("upload_limit");
  });
});

describe("a video through IETF resumable uploads", () => {
  it("a video over the video cap is refused at create; under it, the create states the video cap", async () => {
    const event = await createEvent({ max_file_size: 1000, max_video_size: 8 * 1024 * 1024 });
    const create = (length: number) =>
      call(`/api/v1/events/${event.join_token}/resumable`, {
        method: "POST",
        headers: { "upload-draft-interop-version": "9", "upload-complete": "?0", "content-type": "video/mp4", "upload-length": String(length), "x-device-id": "ietf-video-device-1" },
        body: new Uint8Array(0),
      });
    const over = await create(8 * 1024 * 1024 + 1);
    expect(over.status).toBe(413);
    expect(await errorCode(over)).toBe("upload_limit");
    const under = await create(5000);
    expect(under.status, await under.clone().text()).toBe(201);
    expect(under.headers.get("upload-limit")).toContain(`max-size=${8 * 1024 * 1024}`);
  });
});

describe("a video's downloads", () => {
  async function readyVideo(settings: Record<string, unknown>) {
    const event = await createEvent({ gallery_enabled: true, ...settings });
    const bytes = videos.xyz();
    const { job, photoId } = await uploadPhoto(bytes, { token: event.join_token, contentType: "video/quicktime", filename: "IMG_0042.MOV" });
    await deliver([job]);
    return { event, bytes, photoId };
  }

  it("the guest gallery plays the guests' copy: the same movie, its location blanked, ranges served", async () => {
    // Even when the event keeps GPS for organisers.
    const { event, bytes, photoId } = await readyVideo({ keep_gps: true });
    expect(latin1(bytes)).toMatch(XYZ_LOCATION);
    const page = await (await call(`/api/v1/events/${event.join_token}/photos`)).json<{ photos: Array<{ photo_id: string; media_kind: string; duration_s: number; urls: PhotoView["urls"] }> }>();
    expect(page.photos).toEqual([expect.objectContaining({ photo_id: photoId, media_kind: "video", duration_s: 1 })]);
    const url = page.photos[0]!.urls.scrubbed!;
    expect(url).toMatch(/\/files\/gallery\/.+\/scrubbed\?/);

    const whole = await fetchUrl(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("video/quicktime");
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    const copy = new Uint8Array(await whole.arrayBuffer());
    expect(copy.byteLength).toBe(bytes.byteLength);
    expect(latin1(copy)).not.toMatch(XYZ_LOCATION);

    // A player's range requests: what the copy has there, location blanked too.
    const at = latin1(bytes).search(XYZ_LOCATION);
    const part = await fetchUrl(url, { range: `bytes=${at - 4}-${at + 11}` });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes ${at - 4}-${at + 11}/${bytes.byteLength}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(copy.slice(at - 4, at + 12));

    // The organiser's original keeps it (the event keeps GPS).
    const { urls } = await photoView(event.event_id, photoId);
    expect(latin1(new Uint8Array(await (await fetchUrl(urls.original!)).arrayBuffer()))).toMatch(XYZ_LOCATION);
  });

  it("the event's ZIP holds the video under its own extension, without its location", async () => {
    const { event, bytes } = await readyVideo({});
    const link = await (await admin(`/events/${event.event_id}/download`, { method: "POST" })).json<{ url: string; photo_count: number }>();
    expect(link.photo_count).toBe(1);
    const entries = unzipSync(new Uint8Array(await (await fetchUrl(link.url)).arrayBuffer()));
    const names = Object.keys(entries);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/IMG_0042\.mov$/);
    expect(entries[names[0]!]!.byteLength).toBe(bytes.byteLength);
    expect(latin1(entries[names[0]!]!)).not.toMatch(XYZ_LOCATION);
  });
});
