/**
 * Metadata is read wherever the format puts it, in any file size: WebP's EXIF chunk after the
 * image data (where the container spec puts it), PNG's eXIf after IDAT, JPEG's APP1 Exif behind
 * large APP segments, each both near the start and far past the first 256 KiB.
 */
import { env } from "cloudflare:workers";
import exifr from "exifr";
import { describe, expect, it } from "vitest";
import { makeJpeg, makePng, makeWebp, type FixtureExif, type FixtureOptions } from "../fixtures/photos";
import { createEvent } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const exif: FixtureExif = {
  make: "Pixelcam",
  model: "P9 Pro",
  orientation: 6,
  takenAt: "2026:06:14 17:03:22",
  gps: { latitude: 48.858222, longitude: -2.2945 },
};

const FAR = 300 * 1024; // past the 256 KiB the pipeline used to read metadata from

const cases: Array<[string, string, (options: FixtureOptions) => Uint8Array, Partial<FixtureOptions>]> = [
  ["WebP, EXIF after the image data", "image/webp", makeWebp, {}],
  // 3 MP of lossless image data (about 307 KiB) before the EXIF chunk.
  ["WebP, EXIF after 300 KiB of image data", "image/webp", makeWebp, { width: 2000, height: 1500 }],
  ["WebP, EXIF chunk with JPEG's Exif prefix", "image/webp", makeWebp, { exifWithJpegPrefix: true }],
  ["PNG, eXIf after IDAT", "image/png", makePng, { exifAfterImage: true }],
  ["PNG, eXIf after IDAT and 300 KiB more", "image/png", makePng, { exifAfterImage: true, fillerBeforeExif: FAR }],
  ["JPEG, Exif behind 300 KiB of APP segments", "image/jpeg", makeJpeg, { fillerBeforeExif: FAR }],
];

describe("metadata wherever the format puts it", () => {
  it.each(cases)("%s: date, camera, orientation and GPS recorded; none of it left in the scrubbed copy", async (_what, contentType, make, placement) => {
    const { join_token } = await createEvent({ keep_gps: true });
    const file = make({ width: 320, height: 240, exif, ...placement });
    if (placement.fillerBeforeExif || placement.width) expect(file.byteLength).toBeGreaterThan(FAR);
    const { job, photoId } = await uploadPhoto(file, { contentType, token: join_token });
    const result = await deliver([job]);
    expect(result.explicitAcks).toHaveLength(1);
    const row = (await env.DB.prepare("SELECT * FROM photos WHERE id = ?").bind(photoId).first<Record<string, string | number | null>>())!;
    expect(row).toMatchObject({
      status: "ready",
      taken_at: Date.UTC(2026, 5, 14, 17, 3, 22),
      camera_make: "Pixelcam",
      camera_model: "P9 Pro",
      orientation: 6,
    });
    expect(row.gps_latitude).toBeCloseTo(48.858222, 5);
    expect(row.gps_longitude).toBeCloseTo(-2.2945, 5);

    const scrubbed = new Uint8Array(await (await env.PHOTOS.get(String(row.scrubbed_key)))!.arrayBuffer());
    expect(new TextDecoder("latin1").decode(scrubbed)).not.toContain("Pixelcam");
    const left = await exifr.parse(scrubbed, { gps: true }).catch(() => undefined);
    expect(left?.latitude).toBeUndefined();
  });
});
