/**
 * Files that lie about themselves, through the queue consumer: each ends on its first delivery,
 * quickly. (Before the fix, the 45-byte PNG took 24 s an attempt and was retried; the HEIC's
 * iloc walk ran past the 60 s processing timeout.) WALL_BOUND_MS leaves room for a busy machine.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { makeHeic, makeJpeg, makePng } from "../fixtures/photos";
import { deliver, uploadPhoto } from "./photo-helpers";

async function photoRow(photoId: string) {
  return (await env.DB.prepare("SELECT status, failure_reason, processing_attempts, scrubbed_key FROM photos WHERE id = ?").bind(photoId).first<{
    scrubbed_key: string | null;
    status: string;
    failure_reason: string | null;
    processing_attempts: number;
  }>())!;
}

const WALL_BOUND_MS = 5000;

describe("lengths a file claims", () => {
  it("a 45-byte PNG whose header claims a 4 GiB chunk fails on its first delivery, at once", async () => {
    // Signature, IHDR, then a chunk header claiming 4 GiB, and 4 bytes.
    const png = makePng({ width: 8, height: 8 }).slice(0, 45);
    new DataView(png.buffer).setUint32(33, 0xfffffff0);
    const { job, photoId } = await uploadPhoto(png, { contentType: "image/png" });
    const started = Date.now();
    const result = await deliver([job]);
    const elapsed = Date.now() - started;
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(elapsed).toBeLessThan(WALL_BOUND_MS);
    expect(await photoRow(photoId)).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/^the image data is truncated: at byte 41 it claims 4294967284 more bytes, but only 4 are left$/) });
  });
});

describe("failures that can never succeed, and those that can", () => {
  it("a PNG whose image data cannot be decoded fails on its first delivery, leaving no files behind", async () => {
    const png = makePng({ width: 64, height: 48, exif: { orientation: 6 } });
    const idat = new TextDecoder("latin1").decode(png).indexOf("IDAT");
    png.fill(0x5a, idat + 6, idat + 40); // zlib data that inflates to nothing sensible; the structure is intact
    const { job, photoId } = await uploadPhoto(png, { contentType: "image/png" });
    const result = await deliver([job]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await photoRow(photoId)).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/^the image data cannot be decoded: /) });
    expect((await env.PHOTOS.list({ prefix: `photos/${job.eventId}/${photoId}/` })).objects).toEqual([]);
  });

  it("a HEIC whose iloc claims 4 billion items is read to its box's end, not for 4 billion turns", async () => {
    const heic = makeHeic({ width: 640, height: 480 });
    const iloc = new TextDecoder("latin1").decode(heic).indexOf("iloc");
    heic[iloc + 4] = 2; // version 2: a 32-bit item count
    new DataView(heic.buffer).setUint32(iloc + 10, 0xffffffff);
    const { job, photoId } = await uploadPhoto(heic, { contentType: "image/heic" });
    const started = Date.now();
    const result = await deliver([job]);
    expect(Date.now() - started).toBeLessThan(WALL_BOUND_MS);
    expect(result.explicitAcks).toHaveLength(1);
    // Its items cannot be located with certainty: kept, with no scrubbed copy to show guests.
    expect(await photoRow(photoId)).toMatchObject({ status: "ready", scrubbed_key: null });
  });

  it("a read of the original that ends short (a storage fault) is retried, not blamed on the file", async () => {
    const jpeg = makeJpeg({ width: 64, height: 48 });
    const { job, photoId } = await uploadPhoto(jpeg);
    const get = env.PHOTOS.get.bind(env.PHOTOS);
    vi.spyOn(env.PHOTOS, "get").mockImplementation(async (key: string, options?: R2GetOptions) => {
      const object = await get(key, options);
      if (!object || options?.range) return object;
      // The whole object was asked for; the stream breaks off after 1000 bytes.
      await object.body.cancel();
      return { size: object.size, body: new Response(jpeg.slice(0, 1000)).body! } as unknown as R2ObjectBody;
    });
    const result = await deliver([job]);
    vi.restoreAllMocks();
    expect(result.retryMessages).toHaveLength(1);
    expect(await photoRow(photoId)).toMatchObject({ status: "processing", failure_reason: `the stored original ended after 1000 of its ${jpeg.byteLength} bytes`, processing_attempts: 1 });
    expect((await deliver([job], { attempts: 2 })).explicitAcks).toHaveLength(1);
    expect((await photoRow(photoId)).status).toBe("ready");
  });
});
