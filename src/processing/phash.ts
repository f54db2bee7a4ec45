/**
 * A perceptual hash (dHash, 64 bits) to tell whether a guest's preview shows the same picture as
 * its original: the image shrunk to 9×8 grayscale, one bit per pair of horizontal neighbours
 * (left brighter than right). Re-encoding, resizing and mild colour changes move a few bits; a
 * different picture moves about half of them. Both sides are hashed from upright images (the
 * preview is made upright by the browser; the original's thumbnail by processing).
 */
import { PhotonImage, SamplingFilter, resize } from "@cf-wasm/photon";

/** Bits that may differ between a preview and its original's thumbnail before the photo is flagged. */
export const PREVIEW_MISMATCH_BITS = 12;

/** The dHash of encoded image bytes (JPEG, PNG, WebP), as 16 hex digits; throws if photon cannot decode them. */
export function dHash(encoded: Uint8Array): string {
  const decoded = PhotonImage.new_from_byteslice(encoded);
  let small: PhotonImage;
  try {
    small = resize(decoded, 9, 8, SamplingFilter.Triangle);
  } finally {
    decoded.free();
  }
  let rgba: Uint8Array;
  try {
    rgba = small.get_raw_pixels();
  } finally {
    small.free();
  }
  const luma = (i: number) => 0.299 * rgba[i * 4]! + 0.587 * rgba[i * 4 + 1]! + 0.114 * rgba[i * 4 + 2]!;
  let hex = "";
  for (let y = 0; y < 8; y++) {
    let byte = 0;
    for (let x = 0; x < 8; x++) byte = (byte << 1) | (luma(y * 9 + x) > luma(y * 9 + x + 1) ? 1 : 0);
    hex += byte.toString(16).padStart(2, "0");
  }
  return hex;
}

/** How many of the 64 bits two hashes differ in. */
export function hammingDistance(a: string, b: string): number {
  let distance = 0;
  for (let i = 0; i < 16; i += 2) {
    let differing = parseInt(a.slice(i, i + 2), 16) ^ parseInt(b.slice(i, i + 2), 16);
    for (; differing; differing &= differing - 1) distance++;
  }
  return distance;
}
