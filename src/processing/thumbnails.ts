/**
 * Thumbnails (WebP, 1024 px and 256 px on the long edge, orientation applied). Two paths, by
 * size, because a Worker isolate has 128 MB and photon's wasm memory grows and never shrinks.
 * Measured peak wasm memory for photon's decode + resize (npm run bench:processing): 2 MP
 * 44 MB, 12 MP 187 MB, 24 MP 278 MB, about 14–15 MB a megapixel. So:
 * - up to PHOTON_MAX_PIXELS (4 MP, ≈ 70 MB peak), photon decodes in the isolate;
 * - above that, and for HEIC (photon cannot decode it), the Images binding resizes outside the
 *   isolate, so a 12 or 24 MP photo never decodes in our memory.
 * Orientation: photon ignores EXIF, so it is applied here (to the 1024 px thumbnail, by moving pixels);
 * the Images binding applies it itself.
 * Photon's WebP encoder is lossless (bigger files); the Images binding's output is lossy (q85).
 */
import { PhotonImage, SamplingFilter, resize } from "@cf-wasm/photon";
import { mediaTypes, type ImageType } from "../lib/media-types";

export const PHOTON_MAX_PIXELS = 4_000_000;
export const THUMBNAIL_SIZES = { large: 1024, small: 256 } as const;

export interface Thumbnails {
  large: Uint8Array;
  small: Uint8Array;
  path: "photon" | "images-binding";
}

export class ThumbnailUnavailableError extends Error {}

export function thumbnailPath(type: ImageType, width: number, height: number): Thumbnails["path"] {
  return mediaTypes[type].photonDecodes && width * height <= PHOTON_MAX_PIXELS ? "photon" : "images-binding";
}

/** Long edge `edge`, never enlarged. */
function fit(width: number, height: number, edge: number): [number, number] {
  const scale = Math.min(1, edge / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/**
 * For each EXIF orientation (TIFF tag 0x0112), where stored pixel (x, y) lands in the upright
 * image: at origin + x * alongX + y * alongY (pixel indices). w and h are the stored dimensions;
 * 5–8 swap them, so the upright image is h pixels wide.
 */
const UPRIGHT: Record<number, (w: number, h: number) => { origin: number; alongX: number; alongY: number }> = {
  2: (w) => ({ origin: w - 1, alongX: -1, alongY: w }), // mirrored left-right
  3: (w, h) => ({ origin: h * w - 1, alongX: -1, alongY: -w }), // turned 180°
  4: (w, h) => ({ origin: (h - 1) * w, alongX: 1, alongY: -w }), // mirrored top-bottom
  5: (_, h) => ({ origin: 0, alongX: h, alongY: 1 }), // transposed
  6: (_, h) => ({ origin: h - 1, alongX: h, alongY: -1 }), // turned 90° clockwise
  7: (w, h) => ({ origin: w * h - 1, alongX: -h, alongY: -1 }), // transversed
  8: (w, h) => ({ origin: (w - 1) * h, alongX: -h, alongY: 1 }), // turned 90° anticlockwise
};

/**
 * Turns the image upright per its EXIF orientation, moving whole RGBA pixels (photon's `rotate`
 * is an arbitrary-angle rotation that washes the colours out). Returns a new image and frees the
 * input, or returns the input itself for 1 or none. Called on the ≤ 1024 px thumbnail, so each
 * pixel copy it makes is at most 4 MB.
 */
function upright(image: PhotonImage, orientation: number | null): PhotonImage {
  if (orientation === null || !UPRIGHT[orientation]) return image;
  const [width, height] = [image.get_width(), image.get_height()];
  const { origin, alongX, alongY } = UPRIGHT[orientation](width, height);
  const stored = image.get_raw_pixels();
  const from = new Uint32Array(stored.buffer, stored.byteOffset, width * height); // one word per RGBA pixel
  const to = new Uint32Array(width * height);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0, at = origin + y * alongY; x < width; x++, at += alongX) to[at] = from[i++]!;
  }
  const [turnedWidth, turnedHeight] = orientation >= 5 ? [height, width] : [width, height];
  const turned = new PhotonImage(new Uint8Array(to.buffer), turnedWidth, turnedHeight);
  image.free();
  return turned;
}

function shrink(image: PhotonImage, edge: number): PhotonImage {
  const [width, height] = fit(image.get_width(), image.get_height(), edge);
  return resize(image, width, height, SamplingFilter.Lanczos3);
}

export function thumbnailsWithPhoton(original: Uint8Array, orientation: number | null): Thumbnails {
  const decoded = PhotonImage.new_from_byteslice(original);
  let large: PhotonImage;
  try {
    large = shrink(decoded, THUMBNAIL_SIZES.large);
  } finally {
    // Freed before turning: wasm memory never shrinks, so the peak is what counts.
    decoded.free();
  }
  let small: PhotonImage | null = null;
  try {
    large = upright(large, orientation);
    small = shrink(large, THUMBNAIL_SIZES.small);
    return { large: large.get_bytes_webp(), small: small.get_bytes_webp(), path: "photon" };
  } finally {
    large.free();
    small?.free();
  }
}

export async function thumbnailsWithImages(images: ImagesBinding, open: () => Promise<ReadableStream<Uint8Array>>): Promise<Thumbnails> {
  const render = async (input: ReadableStream<Uint8Array>, edge: number) => {
    const output = await images.input(input).transform({ width: edge, height: edge, fit: "scale-down" }).output({ format: "image/webp", quality: 85 });
    return new Uint8Array(await output.response().arrayBuffer());
  };
  let large: Uint8Array;
  try {
    large = await render(await open(), THUMBNAIL_SIZES.large);
  } catch (error) {
    throw new ThumbnailUnavailableError(`the image could not be resized: ${String(error)}`);
  }
  // From the large one (already oriented): a second small transform, lossy like the first.
  const small = await render(new Blob([large]).stream(), THUMBNAIL_SIZES.small);
  return { large, small, path: "images-binding" };
}
