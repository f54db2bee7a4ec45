import { describe, expect, it } from "vitest";
import { partSizeFor, R2_MAX_PARTS, R2_MIN_PART_SIZE } from "../../src/storage/part-size";
import { planChunk, type ByteLayout } from "../../src/storage/byte-engine";

const MiB = 1024 * 1024;

/** Runs a whole upload's chunk sizes through the planner, applying each plan as the engine would. */
function simulate(totalSize: number, chunkSizes: number[]) {
  const partSize = partSizeFor(totalSize);
  const layout: ByteLayout = {
    uploadId: "u",
    r2Key: "k",
    totalSize,
    partSize,
    multipartUploadId: null,
    partsDone: 0,
    offset: 0,
    stagedTail: [],
  };
  const parts: Array<{ partNumber: number; start: number; end: number }> = [];
  const objects: Array<{ start: number; end: number }> = [];
  /** Where the bytes held for the current part begin (they end at the offset). */
  let tailStart = 0;
  for (let i = 0; layout.offset < totalSize; i++) {
    const end = Math.min(layout.offset + chunkSizes[i % chunkSizes.length]!, totalSize);
    for (const target of planChunk(layout, layout.offset, end)) {
      if (target.kind === "tail") {
        expect(target.start).toBe(Math.max(layout.offset, tailStart));
        expect(target.end).toBe(end);
        continue;
      }
      // The held tail plus the body must be exactly the part's bytes, contiguous.
      const bodyStart = target.end - target.bodyBytes;
      expect(bodyStart === target.start || tailStart === target.start).toBe(true);
      if (target.kind === "part") {
        parts.push({ partNumber: target.partNumber, start: target.start, end: target.end });
        layout.partsDone++;
      } else objects.push({ start: target.start, end: target.end });
      tailStart = target.end;
    }
    layout.offset = end;
  }
  const tail = layout.offset > tailStart ? [[tailStart, layout.offset]] : [];
  return { parts, objects, partSize, tail };
}

describe("planChunk maps any chunk sequence onto R2-legal parts", () => {
  it("keeps every non-final part the same size ≥ 5 MiB and covers the file exactly", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const total = 1 + Math.floor(random() * 40 * MiB);
      const chunks = Array.from({ length: 8 }, () => 256 * 1024 + Math.floor(random() * 9 * MiB));
      const { parts, objects, partSize, tail } = simulate(total, chunks);
      expect(tail).toEqual([]);
      if (total <= partSize) {
        expect(parts).toEqual([]);
        expect(objects).toEqual([{ start: 0, end: total }]);
        continue;
      }
      expect(objects).toEqual([]);
      parts.forEach((part, i) => {
        expect(part.partNumber).toBe(i + 1);
        expect(part.start).toBe(i * partSize);
        if (i < parts.length - 1) expect(part.end - part.start).toBe(partSize);
        else expect(part.end - part.start).toBeLessThanOrEqual(partSize);
      });
      expect(parts.at(-1)!.end).toBe(total);
      expect(partSize).toBeGreaterThanOrEqual(R2_MIN_PART_SIZE);
    }
  });

  it("stays within 10,000 parts for very large files", () => {
    for (const total of [5 * 1024 * MiB, 48 * 1024 * MiB + 1, 100 * 1024 * MiB]) {
      expect(Math.ceil(total / partSizeFor(total))).toBeLessThanOrEqual(R2_MAX_PARTS);
    }
  });

  it("keeps a chunk that ends inside a part as the tail, and fills parts of the fixed size", () => {
    const { parts } = simulate(12 * MiB, [1 * MiB]);
    expect(parts.map((p) => p.end - p.start)).toEqual([5 * MiB, 5 * MiB, 2 * MiB]);
  });
});
