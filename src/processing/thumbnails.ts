/**
 * Thumbnails (WebP, 1024 px and 256 px on the long edge, orientation applied). Two paths, by
 * size, because a Worker isolate has 128 MB and photon's wasm memory grows and never shrinks.
 * Measured peak wasm memory for photon's decode + resize (npm run bench:processing): 2 MP
 * 44 MB, 12 MP 187 MB, 24 MP 278 MB, about 14–15 MB a megapixel. So:
 * - up to PHOTON_MAX_PIXELS (4 MP, ≈ 70 MB peak), photon decodes in the isolate;
 * - above that, and for HEIC (photon cannot decode it), the Images binding resizes outside the
 *   isolate, so a 12 or 24 MP photo never decodes in our memory.
 * Orientation: photon ignores EXIF, so it is applied here; the Images binding applies it itself.
 * Photon's WebP encoder is lossless (bigger files); the Images binding's output is lossy (q85).
 */
import { PhotonImage, SamplingFilter, fliph, flipv, resize, rotate } from "@cf-wasm/photon";
import type { ImageType } from "./inspect";

export const PHOTON_MAX_PIXELS = 4_000_000;
export const THUMBNAIL_SIZES = { large: 1024, small: 256 } as const;

export interface Thumbnails {
  large: Uint8Array;
  small: Uint8Array;
  path: "photon" | "images-binding";
}

export class ThumbnailUnavailableError extends Error {}

export function thumbnailPath(type: ImageType, width: number, height: number): Thumbnails["path"] {
  const photonCanDecode = type === "image/jpeg" || type === "image/png" || type === "image/webp";
  return photonCanDecode && width * height <= PHOTON_MAX_PIXELS ? "photon" : "images-binding";
}

/** Long edge `edge`, never enlarged. */
function fit(width: number, height: number, edge: number): [number, number] {
  const scale = Math.min(1, edge / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** Rotates/flips per EXIF orientation; returns a new image (or the same, for 1) and frees the input. */
function orient(image: PhotonImage, orientation: number | null): PhotonImage {
  const turn = (degrees: number) => {
    const turned = rotate(image, degrees);
    image.free();
    return turned;
  };
  switch (orientation) {
    case 2:
      fliph(image);
      return image;
    case 3:
      return turn(180);
    case 4:
      flipv(image);
      return image;
    case 5: {
      const turned = turn(90);
      fliph(turned);
      return turned;
    }
    case 6:
      return turn(90);
    case 7: {
      const turned = turn(270);
      fliph(turned);
      return turned;
    }
    case 8:
      return turn(270);
    default:
      return image;
  }
}

function shrink(image: PhotonImage, edge: number): PhotonImage {
  const [width, height] = fit(image.get_width(), image.get_height(), edge);
  return resize(image, width, height, SamplingFilter.Lanczos3);
}

export function thumbnailsWithPhoton(original: Uint8Array, orientation: number | null): Thumbnails {
  const decoded = PhotonImage.new_from_byteslice(original);
  let large: PhotonImage | null = null;
  let small: PhotonImage | null = null;
  try {
    large = orient(shrink(decoded, THUMBNAIL_SIZES.large), orientation);
    small = shrink(large, THUMBNAIL_SIZES.small);
    return { large: large.get_bytes_webp(), small: small.get_bytes_webp(), path: "photon" };
  } finally {
    decoded.free();
    large?.free();
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
