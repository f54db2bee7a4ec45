import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import exifr from "exifr";
import { PhotonImage } from "@cf-wasm/photon";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import type { PhotoJob } from "../../src/core/completion";
import { DEAD_LETTER_QUEUE, PROCESSING_QUEUE } from "../../src/jobs/processing";
import { corners, makeJpeg, makePng, makeWebp, type FixtureExif } from "../fixtures/photos";
import { createEvent, sha256Hex } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const exif: FixtureExif = {
  make: "Pixelcam",
  model: "P9 Pro",
  orientation: 6,
  takenAt: "2026:06:14 17:03:22",
  gps: { latitude: 48.858222, longitude: -2.294500 },
};

async function photoRow(photoId: string) {
  return (await env.DB.prepare("SELECT * FROM photos WHERE id = ?").bind(photoId).first<Record<string, string | number | null>>())!;
}

async function objectBytes(key: unknown): Promise<Uint8Array> {
  const object = await env.PHOTOS.get(String(key));
  expect(object, `R2 object ${key}`).not.toBeNull();
  return new Uint8Array(await object!.arrayBuffer());
}

function decode(bytes: Uint8Array) {
  const image = PhotonImage.new_from_byteslice(bytes);
  try {
    return { width: image.get_width(), height: image.get_height(), pixels: image.get_raw_pixels() };
  } finally {
    image.free();
  }
}

describe("processing a JPEG", () => {
  it("extracts metadata, keeps GPS out of D1 by default, scrubs the copy without touching pixels, and makes oriented thumbnails", async () => {
    const jpeg = makeJpeg({ width: 1200, height: 800, exif, xmpWithGps: true, comment: "sent from my phone at home" });
    const { job, photoId } = await uploadPhoto(jpeg);
    const result = await deliver([job]);
    expect(result.explicitAcks).toEqual([expect.any(String)]);

    const row = await photoRow(photoId);
    expect(row).toMatchObject({
      status: "ready",
      content_type: "image/jpeg",
      sha256: await sha256Hex(jpeg),
      width: 1200,
      height: 800,
      orientation: 6,
      camera_make: "Pixelcam",
      camera_model: "P9 Pro",
      taken_at: Date.UTC(2026, 5, 14, 17, 3, 22),
      gps_latitude: null,
      gps_longitude: null,
      thumbnail_state: "ready",
      failure_reason: null,
    });

    // The scrubbed copy: no GPS in EXIF or XMP, no comment, orientation kept, same pixels.
    const scrubbed = await objectBytes(row.scrubbed_key);
    const scrubbedExif = await exifr.parse(scrubbed, { gps: true, xmp: true, translateValues: false });
    expect(scrubbedExif?.latitude).toBeUndefined();
    expect(scrubbedExif?.GPSLatitude).toBeUndefined();
    expect(scrubbedExif?.Make).toBeUndefined();
    expect(scrubbedExif?.Orientation).toBe(6);
    expect(await exifr.parse(scrubbed, { tiff: false, xmp: true })).toBeUndefined();
    const text = new TextDecoder("latin1").decode(scrubbed);
    expect(text).not.toContain("sent from my phone");
    expect(text).not.toContain("Pixelcam");
    expect(decode(scrubbed).pixels).toEqual(decode(jpeg).pixels);
    // The original stays untouched (and private).
    expect(await sha256Hex(await objectBytes(row.original_key))).toBe(await sha256Hex(jpeg));

    // Thumbnails: WebP, long edge 1024 and 256, rotated 90° clockwise as orientation 6 says.
    const large = decode(await objectBytes(row.thumb_large_key));
    expect([large.width, large.height]).toEqual([683, 1024]);
    expect(corners(large.pixels, large.width, large.height)).toEqual({ topLeft: "blue", topRight: "red", bottomLeft: "white", bottomRight: "green" });
    const small = decode(await objectBytes(row.thumb_small_key));
    expect([small.width, small.height]).toEqual([171, 256]);
    expect(corners(small.pixels, small.width, small.height)).toEqual({ topLeft: "blue", topRight: "red", bottomLeft: "white", bottomRight: "green" });
  });

  it("keeps GPS for organisers when the event says so", async () => {
    const { join_token } = await createEvent({ keep_gps: true });
    const { job, photoId } = await uploadPhoto(makeJpeg({ width: 300, height: 200, exif }), { token: join_token });
    await deliver([job]);
    const row = await photoRow(photoId);
    expect(row.gps_latitude).toBeCloseTo(48.858222, 5);
    expect(row.gps_longitude).toBeCloseTo(-2.2945, 5);
  });
});

describe("processing PNG and WebP", () => {
  it("PNG: metadata read, eXIf/tEXt/XMP scrubbed, pixels identical, thumbnails made", async () => {
    const png = makePng({ width: 640, height: 480, exif, xmpWithGps: true, comment: "guest phone" });
    const { job, photoId } = await uploadPhoto(png, { contentType: "image/png" });
    await deliver([job]);
    const row = await photoRow(photoId);
    expect(row).toMatchObject({ status: "ready", content_type: "image/png", width: 640, height: 480, camera_model: "P9 Pro", orientation: 6 });
    const scrubbed = await objectBytes(row.scrubbed_key);
    const scrubbedExif = await exifr.parse(scrubbed, { gps: true, xmp: true, translateValues: false });
    expect(scrubbedExif?.latitude).toBeUndefined();
    expect(scrubbedExif?.Orientation).toBe(6);
    expect(new TextDecoder("latin1").decode(scrubbed)).not.toContain("guest phone");
    expect(decode(scrubbed).pixels).toEqual(decode(png).pixels);
    expect(decode(await objectBytes(row.thumb_large_key)).height).toBe(1024 > 640 ? 640 : 1024);
  });

  it("WebP: metadata read from the RIFF EXIF chunk, EXIF/XMP chunks scrubbed, thumbnails made", async () => {
    const webp = makeWebp({ width: 500, height: 300, exif, xmpWithGps: true });
    const { job, photoId } = await uploadPhoto(webp, { contentType: "image/webp" });
    await deliver([job]);
    const row = await photoRow(photoId);
    expect(row).toMatchObject({ status: "ready", content_type: "image/webp", width: 500, height: 300, camera_make: "Pixelcam", orientation: 6 });
    const scrubbed = await objectBytes(row.scrubbed_key);
    const text = new TextDecoder("latin1").decode(scrubbed);
    expect(text).not.toContain("EXIF");
    expect(text).not.toContain("XMP ");
    expect(text).not.toContain("Pixelcam");
    expect(decode(scrubbed).pixels).toEqual(decode(webp).pixels);
    const thumb = decode(await objectBytes(row.thumb_large_key));
    expect([thumb.width, thumb.height]).toEqual([300, 500]);
  });
});

describe("idempotency and duplicates", () => {
  it("a double delivery changes nothing", async () => {
    const { job, photoId } = await uploadPhoto(makeJpeg({ width: 320, height: 240, exif }));
    await deliver([job]);
    const first = await photoRow(photoId);
    const objects = async () => (await env.PHOTOS.list({ prefix: `photos/${job.eventId}/${photoId}/` })).objects.map((o) => [o.key, o.etag]);
    const before = await objects();
    const again = await deliver([job]);
    expect(again.explicitAcks).toHaveLength(1);
    expect(await photoRow(photoId)).toEqual(first);
    expect(await objects()).toEqual(before);
  });

  it("the same photo uploaded twice to an event is linked, not stored twice", async () => {
    const { join_token } = await createEvent();
    const jpeg = makeJpeg({ width: 320, height: 240, exif });
    const first = await uploadPhoto(jpeg, { token: join_token });
    await deliver([first.job]);
    const second = await uploadPhoto(jpeg, { token: join_token });
    await deliver([second.job]);
    const [a, b] = [await photoRow(first.photoId), await photoRow(second.photoId)];
    expect(b).toMatchObject({ status: "ready", duplicate_of: a.id, original_key: a.original_key, scrubbed_key: a.scrubbed_key, thumb_large_key: a.thumb_large_key });
    expect(await env.PHOTOS.head(second.job.originalKey)).toBeNull();
    expect((await env.PHOTOS.list({ prefix: `photos/${second.job.eventId}/${second.photoId}/` })).objects).toHaveLength(0);
  });
});

describe("refused and failing photos", () => {
  async function expectRejected(photoId: string, reason: RegExp) {
    const row = await photoRow(photoId);
    expect(row.status).toBe("failed");
    expect(String(row.failure_reason)).toMatch(reason);
    expect(row.thumb_large_key).toBeNull();
    expect((await env.PHOTOS.list({ prefix: `photos/` })).objects.filter((o) => o.key.includes(photoId))).toHaveLength(0);
  }

  it("a truncated JPEG fails on its first delivery with the reason: no retries, no dead-letter queue", async () => {
    const jpeg = makeJpeg({ width: 800, height: 600, exif });
    const { job, photoId } = await uploadPhoto(jpeg.slice(0, Math.floor(jpeg.byteLength * 0.7)));
    const first = await deliver([job]);
    expect(first.retryMessages).toHaveLength(0);
    expect(first.explicitAcks).toHaveLength(1);
    // No retry was ever recorded (the count the re-drive and the dead-letter queue go by).
    expect(await photoRow(photoId)).toMatchObject({ processing_attempts: 0 });
    await expectRejected(photoId, /^the image data is truncated: the file ends before the image does$/);
  });

  it("a header claiming 100000×100000 pixels fails fast without decoding", async () => {
    const png = makePng({ width: 64, height: 48 });
    const view = new DataView(png.buffer, png.byteOffset);
    view.setUint32(16, 100_000);
    view.setUint32(20, 100_000);
    const { job, photoId } = await uploadPhoto(png, { contentType: "image/png" });
    const result = await deliver([job]);
    expect(result.explicitAcks).toHaveLength(1);
    await expectRejected(photoId, /100000×100000 pixels, over the limit of 50000000/);
  });

  it.each([
    ["a ZIP appended", (jpeg: Uint8Array) => concatBytes(jpeg, zipArchive()), /ZIP archive/],
    ["HTML appended", (jpeg: Uint8Array) => concatBytes(jpeg, new TextEncoder().encode("<html><script>alert(1)</script></html>")), /markup/],
    ["a ZIP inside a comment", () => makeJpeg({ width: 200, height: 100, comment: "PK\x03\x04 hidden archive" }), /ZIP archive is embedded/],
    ["an SVG tag inside a comment", () => makeJpeg({ width: 200, height: 100, comment: "<SVG onload=alert(1)>" }), /markup \(<svg\)/],
  ])("a JPEG with %s fails and gets no thumbnail", async (_what, build, reason) => {
    const { job, photoId } = await uploadPhoto(build(makeJpeg({ width: 200, height: 100 })));
    await deliver([job]);
    await expectRejected(photoId, reason);
  });

  it("bytes that merely look like the start of a tag (as image data does by chance) are not markup", async () => {
    const { job, photoId } = await uploadPhoto(makeJpeg({ width: 200, height: 100, comment: "x<svgA<sCrIpt1<bodyx<html" }));
    await deliver([job]);
    expect((await photoRow(photoId)).status).toBe("ready");
  });

  it("a type that does not match the bytes, or no image at all, fails", async () => {
    const png = await uploadPhoto(makePng({ width: 40, height: 30 }), { contentType: "image/jpeg" });
    const noise = await uploadPhoto(crypto.getRandomValues(new Uint8Array(5000)));
    await deliver([png.job, noise.job]);
    await expectRejected(png.photoId, /declared image\/jpeg but its bytes are image\/png/);
    await expectRejected(noise.photoId, /not a JPEG, PNG, WebP or HEIC/);
  });

  it("bytes that differ from the SHA-256 the guest declared fail", async () => {
    const jpeg = makeJpeg({ width: 100, height: 100 });
    const { job, photoId } = await uploadPhoto(jpeg, { sha256: "0".repeat(64) });
    await deliver([job]);
    await expectRejected(photoId, /SHA-256/);
  });
});

describe("large photos", () => {
  it("a 12 MP JPEG goes through the Images binding, not photon, and still gets oriented thumbnails", async () => {
    const jpeg = makeJpeg({ width: 4000, height: 3000, exif: { orientation: 6 }, quality: 70 });
    const { job, photoId } = await uploadPhoto(jpeg);
    const log = vi.spyOn(console, "log");
    await deliver([job]);
    const line = log.mock.calls.map(([l]) => String(l)).find((l) => l.includes('"job":"process_photo"'));
    log.mockRestore();
    expect(JSON.parse(line!)).toMatchObject({ outcome: "ready", path: "images-binding", photo_id: photoId });
    const thumb = decode(await objectBytes((await photoRow(photoId)).thumb_large_key));
    expect([thumb.width, thumb.height]).toEqual([768, 1024]);
    expect(corners(thumb.pixels, thumb.width, thumb.height).topLeft).toBe("blue");
  });
});

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** A minimal stored-entry ZIP (one file), as `zip` would append it. */
function zipArchive(): Uint8Array {
  const name = new TextEncoder().encode("payload.txt");
  const data = new TextEncoder().encode("hello");
  const local = new Uint8Array(30 + name.length + data.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true);
  lv.setUint16(26, name.length, true);
  lv.setUint32(18, data.length, true);
  lv.setUint32(22, data.length, true);
  local.set(name, 30);
  local.set(data, 30 + name.length);
  const central = new Uint8Array(46 + name.length);
  const cv = new DataView(central.buffer);
  cv.setUint32(0, 0x02014b50, true);
  cv.setUint16(28, name.length, true);
  central.set(name, 46);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 1, true);
  ev.setUint16(10, 1, true);
  ev.setUint32(12, central.length, true);
  ev.setUint32(16, local.length, true);
  return concatBytes(concatBytes(local, central), end);
}



describe("the sweeper re-sends lost processing jobs", () => {
  it("enqueues photos stuck in processing for longer than the retry schedule, and only those", async () => {
    const stuck = await uploadPhoto(makeJpeg({ width: 100, height: 80 }));
    const fresh = await uploadPhoto(makeJpeg({ width: 100, height: 80 }));
    await env.DB.prepare("UPDATE photos SET updated_at = ? WHERE id = ?").bind(Date.now() - 31 * 60 * 1000, stuck.photoId).run();
    const sent = vi.spyOn(env.PHOTO_QUEUE, "sendBatch");
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);
    const bodies = sent.mock.calls.flatMap(([messages]) => [...messages].map((m) => (m.body as PhotoJob).photoId));
    sent.mockRestore();
    expect(bodies).toContain(stuck.photoId);
    expect(bodies).not.toContain(fresh.photoId);
    // The re-sent job processes like any other.
    await deliver([stuck.job]);
    expect((await photoRow(stuck.photoId)).status).toBe("ready");
  });
});

describe("HEIC", () => {
  it("is stored with its metadata and a scrubbed copy; without a decoder it is ready with thumbnail_unavailable, not failed", async () => {
    const { makeHeic } = await import("../fixtures/photos");
    const heic = makeHeic({ width: 4032, height: 3024, exif });
    const { job, photoId } = await uploadPhoto(heic, { contentType: "image/heic" });
    await deliver([job]);
    const row = await photoRow(photoId);
    expect(row).toMatchObject({
      status: "ready",
      content_type: "image/heic",
      width: 4032,
      height: 3024,
      camera_make: "Pixelcam",
      orientation: 6,
      thumbnail_state: "unavailable",
      thumb_large_key: null,
    });
    expect(await sha256Hex(await objectBytes(row.original_key))).toBe(await sha256Hex(heic));
    // The scrubbed copy blanks the Exif item in place: same length, same structure, no metadata.
    const scrubbed = await objectBytes(row.scrubbed_key);
    expect(String(row.scrubbed_key)).toMatch(/scrubbed\.heic$/);
    expect(scrubbed.byteLength).toBe(heic.byteLength);
    const readBack = await exifr.parse(scrubbed, { gps: true }).catch(() => undefined);
    expect(readBack?.Make).toBeUndefined();
    expect(readBack?.latitude).toBeUndefined();
    expect(new TextDecoder("latin1").decode(scrubbed)).not.toContain("Pixelcam");
    expect(await exifr.parse(heic, { gps: true })).toMatchObject({ Make: "Pixelcam" });
    const differing = scrubbed.reduce((n, byte, i) => n + (byte !== heic[i] ? 1 : 0), 0);
    expect(differing).toBeGreaterThan(0);
    expect(differing).toBeLessThan(heic.byteLength / 2);
  });
});

describe("photo-sized headers and metadata", () => {
  it("reads a HEIC larger than its 512 KiB header window, and a PNG with a 300 KB text chunk", async () => {
    const { makeHeic } = await import("../fixtures/photos");
    const heic = makeHeic({ width: 4032, height: 3024, exif, codedBytes: 900 * 1024 });
    const png = makePng({ width: 64, height: 48, exif, comment: "x".repeat(300_000) });
    const a = await uploadPhoto(heic, { contentType: "image/heic" });
    const b = await uploadPhoto(png, { contentType: "image/png" });
    await deliver([a.job, b.job]);
    expect(await photoRow(a.photoId)).toMatchObject({ status: "ready", width: 4032, height: 3024, camera_make: "Pixelcam" });
    expect(await photoRow(b.photoId)).toMatchObject({ status: "ready", width: 64, height: 48 });
  });
});
