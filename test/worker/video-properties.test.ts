/**
 * Property (issue 15, the video counterpart of parser-properties.test.ts): mutated and truncated
 * MP4 and QuickTime files — bit flips, byte overwrites, huge values written over box sizes and
 * the header fields the reader uses (counts, timescales, durations, dimensions), truncations,
 * insertions and deletions of valid seeds — go to the video inspector. For every case, in the
 * Workers runtime:
 * - it ends accepted (sane duration, dimensions, rotation, location fields inside the file) or
 *   rejected with a NotAVideoError and a reason: no other exception, and no read outside the file;
 * - within TIME_BOUND_MS;
 * - no buffer larger than the file itself plus ALLOCATION_HEADROOM is allocated (every typed array
 *   and ArrayBuffer constructed with a length is recorded), so nothing is sized from a header.
 * A failure prints fast-check's seed and path; pass them as `{ seed, path }` to replay it.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { sniffMedia } from "../../src/processing/inspect";
import { inspectVideo, MAX_VIDEO_SECONDS, MAX_VIDEO_SIDE, NotAVideoError } from "../../src/processing/video";
import { isoBox, memorySource, quickTimeMeta, videos, withMoovChild } from "../fixtures/videos";

const CASES = 5000;
// A guard against a parse that runs away, not a speed target (a loaded CI machine makes tight bounds flaky).
const TIME_BOUND_MS = 3000;
/** The small things the inspector builds (a pruned moov of a few hundred bytes, box headers) fit well within this. */
const ALLOCATION_HEADROOM = 1024;
const MAX_PIXELS = 50_000_000;

interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Offsets of size, count and header fields: where a lie does the most damage. */
  fields: number[];
}

const u32 = (b: Uint8Array, i: number) => b[i]! * 2 ** 24 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
const fourcc = (b: Uint8Array, i: number) => String.fromCharCode(...b.subarray(i, i + 4));

/** Boxes whose children are boxes (and where in their body the children start). */
const CONTAINERS: Record<string, number> = { moov: 0, trak: 0, mdia: 0, minf: 0, stbl: 0, edts: 0, dinf: 0, udta: 0, ilst: 0, stsd: 8, meta: -1 };
/** Boxes whose every 32-bit field (at every 2 bytes) is a candidate for a lie. */
const HEADER_BOXES = new Set(["mvhd", "tkhd", "mdhd", "hdlr", "keys", "stsz", "stco", "stsc", "stts", "loci", "\xa9xyz", "data", "avc1", "hvc1"]);

/** Every box's size field, and every field of the boxes the reader uses. */
function boxFields(b: Uint8Array, from: number, to: number, parent: string, out: number[]): number[] {
  for (let at = from; at + 8 <= to; ) {
    const size = u32(b, at);
    const type = fourcc(b, at + 4);
    if (size < 8 || at + size > to) break;
    out.push(at);
    let body = at + 8;
    if (type === "meta") body += ["hdlr", "keys", "ilst"].includes(fourcc(b, at + 12)) ? 0 : 4;
    if (parent === "ilst") boxFields(b, body, at + size, "item", out);
    else if (type in CONTAINERS) boxFields(b, body + Math.max(0, CONTAINERS[type]!), at + size, type, out);
    if (HEADER_BOXES.has(type)) for (let i = at + 8; i + 4 <= Math.min(at + size, at + 120); i += 2) out.push(i);
    at += size;
  }
  return out;
}

const iPhoneLike = withMoovChild(
  videos.moovLast(),
  quickTimeMeta({ "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/", "com.apple.quicktime.creationdate": "2026-06-14T19:03:22+0200", "com.apple.quicktime.make": "Apple" }),
);
const seeds: Seed[] = (
  [
    ["mp4, moov first", videos.h264()],
    ["mp4, hevc", videos.hevc()],
    ["quicktime, moov last", videos.moovLast()],
    ["mp4, rotated", videos.rotated()],
    ["quicktime, ©xyz", videos.xyz()],
    ["quicktime, ISO6709 key in udta", videos.iso6709()],
    ["mp4, loci", videos.loci()],
    ["quicktime, iPhone-like meta", iPhoneLike],
    ["mp4, XMP uuid after mdat", Uint8Array.from([...videos.h264(), ...isoBox("uuid", Uint8Array.from([0xbe, 0x7a, 0xcf, 0xcb, 0x97, 0xa9, 0x42, 0xe8, 0x9c, 0x71, 0x99, 0x94, 0x91, 0xe3, 0xaf, 0xac]), new TextEncoder().encode("<x:xmpmeta/>"))])],
  ] as const
).map(([name, bytes]) => ({ name, bytes, fields: boxFields(bytes, 0, bytes.length, "", []) }));

// --- mutations ----------------------------------------------------------------------------------

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "lie"; field: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number };

const hugeValues = fc.oneof(fc.constantFrom(0xffffffff, 0xfffffff0, 0xfffffff7, 0x7fffffff, 0x80000000, 0x10000, 0xffff, 0, 1, 2, 7, 8, 9, 16), fc.nat());
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("overwrite" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  { arbitrary: fc.record({ kind: fc.constant("lie" as const), field: fc.nat(), value: hugeValues }), weight: 4 },
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(seed: Seed, mutations: Mutation[]): Uint8Array {
  let bytes = seed.bytes.slice();
  for (const m of mutations) {
    const at = "at" in m ? m.at % (bytes.length + 1) : 0;
    if (m.kind === "flip" && at < bytes.length) bytes[at]! ^= 1 << m.bit;
    else if (m.kind === "overwrite") bytes.set(m.bytes.subarray(0, bytes.length - at), at);
    else if (m.kind === "lie") {
      const field = seed.fields[m.field % seed.fields.length]!;
      if (field + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(field, m.value >>> 0);
    } else if (m.kind === "truncate") bytes = bytes.slice(0, at);
    else if (m.kind === "insert") bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    else if (m.kind === "delete") bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
  }
  return bytes;
}

const mutatedFile = fc.record({ seed: fc.integer({ min: 0, max: seeds.length - 1 }), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) });

// --- allocation accounting -----------------------------------------------------------------------

const BUFFER_CONSTRUCTORS = ["ArrayBuffer", "Uint8Array", "Int8Array", "Uint8ClampedArray", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"] as const;

/** Runs `work` with every buffer constructor wrapped; returns its result and the largest buffer (bytes) constructed meanwhile. */
async function largestAllocation<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; largest: number }> {
  const globals = globalThis as unknown as Record<string, unknown>;
  const originals = BUFFER_CONSTRUCTORS.map((name) => [name, globals[name]] as const);
  let largest = 0;
  for (const [name, original] of originals) {
    const Constructor = original as { new (...args: unknown[]): object; BYTES_PER_ELEMENT?: number };
    globals[name] = new Proxy(Constructor, {
      construct(target, args) {
        if (typeof args[0] === "number") largest = Math.max(largest, args[0] * (Constructor.BYTES_PER_ELEMENT ?? 1));
        return Reflect.construct(target, args);
      },
    });
  }
  try {
    const [result] = await Promise.allSettled([work()]);
    return { result: result!, largest };
  } finally {
    for (const [name, original] of originals) globals[name] = original;
  }
}

type Verdict = { accepted: true } | { accepted: false; reason: string };

async function examine(bytes: Uint8Array): Promise<{ verdict: Verdict; ms: number; largest: number }> {
  const type = sniffMedia(bytes.subarray(0, 4096));
  if (type !== "video/mp4" && type !== "video/quicktime") return { verdict: { accepted: false, reason: "not a video" }, ms: 0, largest: 0 };
  const started = performance.now();
  const { result, largest } = await largestAllocation(() => inspectVideo(memorySource(bytes), type, { maxPixels: MAX_PIXELS }));
  const ms = performance.now() - started;
  if (result.status === "rejected") {
    if (!(result.reason instanceof NotAVideoError)) throw result.reason;
    expect(result.reason.message).toMatch(/\w/);
    return { verdict: { accepted: false, reason: result.reason.message }, ms, largest };
  }
  const inspection = result.value;
  for (const field of inspection.locationFields) expect(field.at >= 0 && field.length > 0 && field.at + field.length <= bytes.length).toBe(true);
  if (inspection.truncated) return { verdict: { accepted: false, reason: inspection.truncated }, ms, largest };
  if (inspection.threats.length) return { verdict: { accepted: false, reason: inspection.threats.join("; ") }, ms, largest };
  const { width, height, durationSeconds, rotation, createdAt, gps } = inspection;
  expect(Number.isInteger(width) && width >= 1 && width <= MAX_VIDEO_SIDE).toBe(true);
  expect(Number.isInteger(height) && height >= 1 && height <= MAX_VIDEO_SIDE).toBe(true);
  expect(width * height).toBeLessThanOrEqual(MAX_PIXELS);
  expect(Number.isFinite(durationSeconds) && durationSeconds > 0 && durationSeconds <= MAX_VIDEO_SECONDS).toBe(true);
  expect([0, 90, 180, 270]).toContain(rotation);
  expect(createdAt === null || Number.isFinite(createdAt)).toBe(true);
  expect(gps === null || (Math.abs(gps.latitude) <= 90 && Math.abs(gps.longitude) <= 180)).toBe(true);
  return { verdict: { accepted: true }, ms, largest };
}

// --- the properties -----------------------------------------------------------------------------

const tally = { cases: 0, accepted: 0, rejected: 0, slowestMs: 0, largestBeyondFile: -Infinity };
afterAll(() => console.log(JSON.stringify({ video_properties: tally })));

describe("the video inspector never believes a file", () => {
  it("the seeds themselves are accepted", async () => {
    for (const seed of seeds) {
      expect((await examine(seed.bytes)).verdict, seed.name).toEqual({ accepted: true });
      expect(seed.fields.length, seed.name).toBeGreaterThan(50);
    }
  });

  it(`${CASES} mutated videos: each accepted or rejected with a reason, within ${TIME_BOUND_MS} ms, no buffer beyond the file + ${ALLOCATION_HEADROOM} B`, async () => {
    await fc.assert(
      fc.asyncProperty(mutatedFile, async ({ seed, mutations }) => {
        const bytes = mutate(seeds[seed]!, mutations);
        const { verdict, ms, largest } = await examine(bytes);
        tally.cases++;
        tally[verdict.accepted ? "accepted" : "rejected"]++;
        tally.slowestMs = Math.max(tally.slowestMs, ms);
        tally.largestBeyondFile = Math.max(tally.largestBeyondFile, largest - bytes.length);
        expect(ms).toBeLessThan(TIME_BOUND_MS);
        expect(largest).toBeLessThanOrEqual(bytes.length + ALLOCATION_HEADROOM);
      }),
      { numRuns: CASES },
    );
    // Both outcomes are exercised, not just one.
    expect(tally.accepted).toBeGreaterThan(CASES / 10);
    expect(tally.rejected).toBeGreaterThan(CASES / 10);
  }, 180_000);
});
