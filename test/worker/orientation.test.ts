/**
 * Thumbnails show the photo the right way up, on both thumbnail paths, at both sizes, for every
 * EXIF orientation: each thumbnail's pixels are compared with the fixture pattern turned per the
 * EXIF definition, on a coarse grid of cell means (dimensions alone pass a mirrored or washed-out
 * thumbnail, as photon's rotate made them).
 */
import { env } from "cloudflare:workers";
import { PhotonImage } from "@cf-wasm/photon";
import { describe, expect, it } from "vitest";
import { processPhoto } from "../../src/processing/pipeline";
import { THUMBNAIL_SIZES } from "../../src/processing/thumbnails";
import { gridDifference, ORIENTATIONS, storedPattern, upright, washedOut, type Rgba } from "../fixtures/orientation";
import { makeJpeg, makePng, makeWebp } from "../fixtures/photos";
import { uploadPhoto } from "./photo-helpers";

/**
 * Largest grid difference (0–255) for a thumbnail to count as the turned photo. Correct thumbnails
 * measure about 0.6–1.2 (resampling, JPEG, lossy WebP); a wrong turn or mirror, or photon's
 * washed-out rotation (about 90), measure far more.
 */
const MAX_DIFFERENCE = 10;

function decodeWebp(bytes: Uint8Array): Rgba {
  const image = PhotonImage.new_from_byteslice(bytes);
  try {
    return { width: image.get_width(), height: image.get_height(), pixels: image.get_raw_pixels() };
  } finally {
    image.free();
  }
}

/** Long edge `edge`, never enlarged: the size a thumbnail of `image` must have. */
function thumbnailSize({ width, height }: Rgba, edge: number): [number, number] {
  const scale = Math.min(1, edge / Math.max(width, height));
  return [Math.round(width * scale), Math.round(height * scale)];
}

/** Uploads and processes the photo; checks the path taken and both thumbnails against `expected`. */
async function expectUprightThumbnails(bytes: Uint8Array, contentType: string, path: "photon" | "images-binding", expected: Rgba) {
  const { photoId } = await uploadPhoto(bytes, { contentType });
  expect(await processPhoto(env, photoId)).toMatchObject({ outcome: "ready", thumbnailPath: path });
  const row = (await env.DB.prepare("SELECT thumb_large_key, thumb_small_key FROM photos WHERE id = ?").bind(photoId).first<{ thumb_large_key: string; thumb_small_key: string }>())!;
  for (const [key, edge] of [
    [row.thumb_large_key, THUMBNAIL_SIZES.large],
    [row.thumb_small_key, THUMBNAIL_SIZES.small],
  ] as const) {
    const object = await env.PHOTOS.get(key);
    expect(object?.httpMetadata?.contentType, `${edge} px thumbnail`).toBe("image/webp");
    const thumbnail = decodeWebp(new Uint8Array(await object!.arrayBuffer()));
    expect([thumbnail.width, thumbnail.height], `${edge} px dimensions`).toEqual(thumbnailSize(expected, edge));
    expect(gridDifference(thumbnail, expected), `${edge} px thumbnail against the turned photo`).toBeLessThan(MAX_DIFFERENCE);
  }
}

describe("the pixel comparison itself", () => {
  it("tells every orientation from every other, and rejects a washed-out rendering of the right one", () => {
    const stored = storedPattern(300, 200);
    for (const orientation of ORIENTATIONS) {
      const expected = upright(stored, orientation);
      expect(gridDifference(expected, expected)).toBe(0);
      for (const other of ORIENTATIONS.filter((o) => o !== orientation)) {
        expect(gridDifference(upright(stored, other), expected), `${other} passed for ${orientation}`).toBeGreaterThan(MAX_DIFFERENCE * 3);
      }
      // What photon's rotate produced: the right layout, faded most of the way to white.
      expect(gridDifference(washedOut(expected, 0.6), expected)).toBeGreaterThan(MAX_DIFFERENCE * 3);
    }
  });
});

const PATHS = [
  { path: "photon", width: 600, height: 400 },
  // Just over PHOTON_MAX_PIXELS (4 MP): the Images binding (locally miniflare's sharp-backed emulation).
  { path: "images-binding", width: 2560, height: 1600 },
] as const;

describe.each(PATHS)("thumbnails made by $path ($width×$height)", ({ path, width, height }) => {
  const stored = storedPattern(width, height);

  it.each(ORIENTATIONS)("JPEG, orientation %i: both sizes are the photo turned the right way", async (orientation) => {
    await expectUprightThumbnails(makeJpeg({ width, height, exif: { orientation } }), "image/jpeg", path, upright(stored, orientation));
  });

  // Where the orientation is read from differs (PNG eXIf, WebP EXIF chunk); the turn must not.
  it.each([
    { contentType: "image/png", make: makePng, orientation: 6 },
    { contentType: "image/webp", make: makeWebp, orientation: 7 },
  ] as const)("$contentType, orientation $orientation: both sizes are the photo turned the right way", async ({ contentType, make, orientation }) => {
    await expectUprightThumbnails(make({ width, height, exif: { orientation } }), contentType, path, upright(stored, orientation));
  });
});
