/**
 * How a preview is drawn and encoded, in the preview worker (photos) and on the main thread
 * (video posters) alike: scaled to a longest side, WebP where the browser encodes it (else
 * JPEG), at a modest quality, stepping the quality and then the size down until it fits the
 * byte target of its preset.
 */
import type { PreviewSize } from "./preview-sizes.ts";

export { previewSizes, type PreviewSize } from "./preview-sizes.ts";

/** Modest qualities, tried in turn at each size before the size steps down. */
const QUALITIES = [0.72, 0.6, 0.48];
/** Each size step down keeps this share of the longest side... */
const SIZE_STEP = 0.75;
/** ...down to this; whatever comes out there is the preview, over the target or not. */
const MIN_LONGEST_SIDE = 256;

/** The encodings tried, in order; a browser that cannot encode WebP answers PNG, and JPEG is used instead. */
const TYPES = ["image/webp", "image/jpeg"] as const;

/**
 * Encodes `source` (a decoded photo, or a video's frame) of `width`×`height` pixels as a
 * preview of `size`. Upright already: the source must have its orientation applied.
 */
export async function encodePreview(source: CanvasImageSource, width: number, height: number, size: PreviewSize): Promise<Blob> {
  let longest = Math.min(size.longestSide, Math.max(width, height));
  let type: (typeof TYPES)[number] = TYPES[0];
  let smallest: Blob | undefined;
  for (;;) {
    const scale = longest / Math.max(width, height);
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)));
    const context = canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas context");
    context.imageSmoothingQuality = "high";
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    for (const quality of QUALITIES) {
      let blob = await canvas.convertToBlob({ type, quality });
      if (blob.type !== type) {
        // No WebP encoder here: JPEG from now on.
        type = "image/jpeg";
        blob = await canvas.convertToBlob({ type, quality });
      }
      smallest = blob;
      if (blob.size <= size.targetBytes) return blob;
    }
    // Set: every size tries at least one quality.
    if (longest <= MIN_LONGEST_SIDE) return smallest!;
    longest = Math.max(MIN_LONGEST_SIDE, Math.round(longest * SIZE_STEP));
  }
}
