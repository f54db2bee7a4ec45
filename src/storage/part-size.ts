/** The part-size rules of R2 multipart uploads, which the byte engine (byte-engine.ts) writes by. */
const MiB = 1024 * 1024;

/** R2 multipart: every part but the last at least 5 MiB and all the same size; ≤ 10,000 parts. */
export const R2_MIN_PART_SIZE = 5 * MiB;
export const R2_MAX_PARTS = 10_000;

/** The fixed part size for an upload of `totalSize` bytes (5 MiB unless that needs > 10,000 parts). */
export function partSizeFor(totalSize: number): number {
  const needed = Math.ceil(totalSize / R2_MAX_PARTS);
  return Math.max(R2_MIN_PART_SIZE, Math.ceil(needed / MiB) * MiB);
}
