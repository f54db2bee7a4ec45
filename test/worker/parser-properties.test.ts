/**
 * Property (issue 12, "Parsers that believe what a file says about itself"): mutated and
 * truncated JPEG, PNG, WebP and HEIC files — bit flips, byte overwrites, huge values written
 * over length, count and offset fields (0xFFFFFFFF and friends), truncations, insertions and
 * deletions of valid seeds — go to the inspector (which runs the EXIF reader on whatever it
 * finds). For every case, in the Workers runtime:
 * - it ends accepted (sane dimensions and metadata) or rejected with a reason: no other exception;
 * - within TIME_BOUND_MS;
 * - no buffer larger than the file itself plus ALLOCATION_HEADROOM is allocated: every typed
 *   array and ArrayBuffer constructed with a length while it runs is recorded (the constructors
 *   are wrapped for the duration), so a buffer sized from a header cannot hide.
 * At least MIN_CASES cases a run. Then E2E_CASES of them go through the queue consumer and
 * must end `ready` or `failed` with a reason on their one delivery: acked, never retried.
 * A failure prints fast-check's seed and path; pass them as `{ seed, path }` to replay it.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { photos, uploadSessions } from "../../src/db/schema";
import { inspect, NotAnImageError, sniffType, TooManyPixelsError } from "../../src/processing/inspect";
import { MAX_PIXELS } from "../../src/processing/pipeline";
import { makeHeic, makeJpeg, makePng, makeWebp, type FixtureExif } from "../fixtures/photos";
import { createEvent } from "./helpers";
import { deliver } from "./photo-helpers";

const CASES_PER_SEED = 1100;
const MIN_CASES = 5000;
const E2E_CASES = 200;
const TIME_BOUND_MS = 1000;
/** The fixed-size things the inspector builds (a 26-byte TIFF, a VP8X chunk, …) fit well within this. */
const ALLOCATION_HEADROOM = 1024;

const exif: FixtureExif = { make: "Pixelcam", model: "P9", orientation: 6, takenAt: "2026:06:14 17:03:22", gps: { latitude: 48.85, longitude: -2.29 } };

interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Offsets of length, count and offset fields: where a lie does the most damage. */
  fields: number[];
}

// --- where the length fields are in each seed ---------------------------------------------------

const u16 = (b: Uint8Array, i: number, little = false) => (little ? b[i]! | (b[i + 1]! << 8) : (b[i]! << 8) | b[i + 1]!);
const u32 = (b: Uint8Array, i: number, little = false) =>
  little ? (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16)) + b[i + 3]! * 2 ** 24 : b[i]! * 2 ** 24 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);
const fourcc = (b: Uint8Array, i: number) => String.fromCharCode(...b.subarray(i, i + 4));

/** IFD entry counts, value counts and value offsets of a TIFF starting at `start`. */
function tiffFields(b: Uint8Array, start: number): number[] {
  const little = b[start] === 0x49;
  const fields = [start + 4];
  const ifds = [u32(b, start + 4, little)];
  for (let i = 0; i < ifds.length && i < 4; i++) {
    const at = start + ifds[i]!;
    if (at + 2 > b.length) continue;
    fields.push(at);
    for (let entry = at + 2, n = 0; n < u16(b, at, little) && entry + 12 <= b.length; n++, entry += 12) {
      fields.push(entry + 4, entry + 8);
      const tag = u16(b, entry, little);
      if (tag === 0x8769 || tag === 0x8825) ifds.push(u32(b, entry + 8, little));
    }
  }
  return fields;
}

function jpegFields(b: Uint8Array): number[] {
  const fields: number[] = [];
  for (let at = 2; at + 4 <= b.length && b[at] === 0xff && b[at + 1] !== 0xda; at += 2 + u16(b, at + 2)) {
    fields.push(at + 2);
    if (b[at + 1] === 0xe1 && fourcc(b, at + 4) === "Exif") fields.push(...tiffFields(b, at + 10));
  }
  return fields;
}

function pngFields(b: Uint8Array): number[] {
  const fields: number[] = [];
  for (let at = 8; at + 8 <= b.length; at += 12 + u32(b, at)) {
    fields.push(at);
    if (fourcc(b, at + 4) === "eXIf") fields.push(...tiffFields(b, at + 8));
  }
  return fields;
}

function webpFields(b: Uint8Array): number[] {
  const fields = [4];
  for (let at = 12; at + 8 <= b.length; at += 8 + u32(b, at + 4, true) + (u32(b, at + 4, true) & 1)) {
    fields.push(at + 4);
    if (fourcc(b, at) === "EXIF") fields.push(...tiffFields(b, at + 8));
  }
  return fields;
}

/** HEIF: every box size, and every field of the meta box (iinf, iloc, ispe, ipma are all counts and offsets). */
function heifFields(b: Uint8Array): number[] {
  const fields: number[] = [];
  for (let at = 0; at + 8 <= b.length; at += u32(b, at)) {
    fields.push(at);
    if (fourcc(b, at + 4) === "meta") for (let i = at + 8; i < at + u32(b, at); i += 2) fields.push(i);
    if (u32(b, at) < 8) break;
  }
  const tiff = b.lastIndexOf(0x4d, b.length - 1);
  return [...fields, ...(tiff > 0 && b[tiff - 1] === 0x4d ? tiffFields(b, tiff - 1) : [])];
}

const seeds: Seed[] = [
  ["jpeg", makeJpeg({ width: 48, height: 32, exif, xmpWithGps: true, comment: "hello" }), jpegFields],
  ["png", makePng({ width: 40, height: 30, exif, comment: "hello" }), pngFields],
  ["png, eXIf after IDAT", makePng({ width: 40, height: 30, exif, exifAfterImage: true }), pngFields],
  ["webp", makeWebp({ width: 40, height: 30, exif, xmpWithGps: true }), webpFields],
  ["heic", makeHeic({ width: 4032, height: 3024, exif, codedBytes: 300 }), heifFields],
].map(([name, bytes, fields]) => ({ name, bytes, fields: (fields as (b: Uint8Array) => number[])(bytes as Uint8Array) }) as Seed);

// --- mutations ----------------------------------------------------------------------------------

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "overwrite"; at: number; bytes: Uint8Array }
  | { kind: "lie"; field: number; value: number; width: 2 | 4; little: boolean }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number };

const hugeValues = fc.oneof(fc.constantFrom(0xffffffff, 0xfffffff0, 0xfffffff7, 0x7fffffff, 0x80000000, 0x10000, 0xffff, 0xfffe, 0, 1, 2, 8, 13), fc.nat());
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("overwrite" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  { arbitrary: fc.record({ kind: fc.constant("lie" as const), field: fc.nat(), value: hugeValues, width: fc.constantFrom(2 as const, 4 as const), little: fc.boolean() }), weight: 3 },
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
      if (field + m.width > bytes.length) continue;
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      if (m.width === 4) view.setUint32(field, m.value >>> 0, m.little);
      else view.setUint16(field, m.value & 0xffff, m.little);
    } else if (m.kind === "truncate") bytes = bytes.slice(0, at);
    else if (m.kind === "insert") bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    else if (m.kind === "delete") bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.length)]);
  }
  return bytes;
}

const mutatedFile = fc.record({
  seed: fc.integer({ min: 0, max: seeds.length - 1 }),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
  // Chunks as small as 64 bytes, so every field also straddles chunk boundaries.
  chunkSize: fc.constantFrom(64, 512, 4096, 65536),
});

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

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += size)));
    },
  });
}

type Verdict = { accepted: true } | { accepted: false; reason: string };

/** What the pipeline would decide from the inspection: accepted, or rejected with a reason. */
async function examine(bytes: Uint8Array, chunkSize: number): Promise<{ verdict: Verdict; ms: number; largest: number }> {
  const type = sniffType(bytes.subarray(0, 4096));
  if (!type) return { verdict: { accepted: false, reason: "not an image" }, ms: 0, largest: 0 };
  const stream = chunked(bytes, chunkSize);
  const started = performance.now();
  const { result, largest } = await largestAllocation(() => inspect(stream, type, { maxPixels: MAX_PIXELS, size: bytes.length }));
  const ms = performance.now() - started;
  if (result.status === "rejected") {
    const error = result.reason;
    if (!(error instanceof NotAnImageError || error instanceof TooManyPixelsError)) throw error;
    expect(error.message).toMatch(/\w/);
    return { verdict: { accepted: false, reason: error.message }, ms, largest };
  }
  const inspection = result.value;
  expect(inspection.size).toBe(bytes.length);
  if (inspection.truncated) return { verdict: { accepted: false, reason: inspection.truncated }, ms, largest };
  if (inspection.threats.length) return { verdict: { accepted: false, reason: inspection.threats.join("; ") }, ms, largest };
  expect(Number.isInteger(inspection.width) && inspection.width >= 1).toBe(true);
  expect(Number.isInteger(inspection.height) && inspection.height >= 1).toBe(true);
  expect(inspection.width * inspection.height).toBeLessThanOrEqual(MAX_PIXELS);
  const { orientation, takenAt } = inspection.metadata;
  expect(orientation === null || (Number.isInteger(orientation) && orientation >= 1 && orientation <= 8)).toBe(true);
  expect(takenAt === null || Number.isFinite(takenAt)).toBe(true);
  return { verdict: { accepted: true }, ms, largest };
}

// --- the properties -----------------------------------------------------------------------------

const tally = { cases: 0, accepted: 0, rejected: 0, slowestMs: 0 };
afterAll(() => console.log(JSON.stringify({ parser_properties: tally })));

describe("the inspector and EXIF reader never believe a file", () => {
  it("the seeds themselves are accepted, with their metadata", async () => {
    for (const seed of seeds) {
      expect((await examine(seed.bytes, 4096)).verdict, seed.name).toEqual({ accepted: true });
      expect(seed.fields.length, seed.name).toBeGreaterThan(5);
    }
  });

  it(`${CASES_PER_SEED * seeds.length} mutated files: each accepted or rejected with a reason, within ${TIME_BOUND_MS} ms, no buffer beyond the file + ${ALLOCATION_HEADROOM} B`, async () => {
    await fc.assert(
      fc.asyncProperty(mutatedFile, async ({ seed, mutations, chunkSize }) => {
        const bytes = mutate(seeds[seed]!, mutations);
        const { verdict, ms, largest } = await examine(bytes, chunkSize);
        tally.cases++;
        tally[verdict.accepted ? "accepted" : "rejected"]++;
        tally.slowestMs = Math.max(tally.slowestMs, ms);
        if (!verdict.accepted) expect(verdict.reason).toMatch(/\w/);
        expect(ms).toBeLessThan(TIME_BOUND_MS);
        expect(largest).toBeLessThanOrEqual(bytes.length + ALLOCATION_HEADROOM);
      }),
      { numRuns: CASES_PER_SEED * seeds.length },
    );
    expect(tally.cases).toBeGreaterThanOrEqual(MIN_CASES);
    // Both outcomes are exercised, not just one.
    expect(tally.accepted).toBeGreaterThan(CASES_PER_SEED);
    expect(tally.rejected).toBeGreaterThan(CASES_PER_SEED);
  }, 180_000);

  it("a WebP whose image chunk claims 4 GiB is rejected as truncated at once, with no buffer sized from the claim", async () => {
    const webp = makeWebp({ width: 40, height: 30, exif });
    const vp8l = webpFields(webp).find((at) => fourcc(webp, at - 4) === "VP8L")!;
    new DataView(webp.buffer).setUint32(vp8l, 0xfffffff0, true);
    const { verdict, ms, largest } = await examine(webp, 4096);
    expect(verdict).toEqual({ accepted: false, reason: `the image data is truncated: at byte ${vp8l + 4} it claims ${0xfffffff0} more bytes, but only ${webp.length - vp8l - 4} are left` });
    expect(ms).toBeLessThan(TIME_BOUND_MS);
    expect(largest).toBeLessThanOrEqual(webp.length + ALLOCATION_HEADROOM);
  });

  it("an EXIF entry claiming 4 billion values is not read (no array is sized from it)", async () => {
    const jpeg = makeJpeg({ width: 48, height: 32, exif });
    const fields = jpegFields(jpeg);
    // The GPS IFD's latitude: 3 RATIONALs; claim 0xFFFFFFFF of them.
    const lied = jpeg.slice();
    const view = new DataView(lied.buffer);
    const latitude = fields.find((at) => u16(jpeg, at - 4) === 0x0002 && u16(jpeg, at - 2) === 5)!;
    expect(latitude).toBeDefined();
    view.setUint32(latitude, 0xffffffff);
    const { verdict, largest } = await examine(lied, 4096);
    expect(verdict).toEqual({ accepted: true });
    expect(largest).toBeLessThanOrEqual(lied.length + ALLOCATION_HEADROOM);
  });
});

describe("mutated files through the queue consumer", () => {
  it(`${E2E_CASES} mutated files each end ready, or failed with a reason, on their one delivery`, async () => {
    const { event_id } = await createEvent({ keep_gps: true });
    const token = (await env.DB.prepare("SELECT id FROM join_tokens WHERE event_id = ?").bind(event_id).first<{ id: string }>())!;
    const files = fc.sample(mutatedFile, { numRuns: E2E_CASES, seed: 12 });
    const db = database(env);
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < files.length; i += 20) {
      const jobs = await Promise.all(
        files.slice(i, i + 20).map(async ({ seed, mutations }) => {
          const bytes = mutate(seeds[seed]!, mutations);
          const declared = sniffType(bytes.subarray(0, 4096)) ?? "image/jpeg";
          const [photoId, uploadId] = [crypto.randomUUID(), crypto.randomUUID()];
          const key = `uploads/${event_id}/${uploadId}`;
          await env.PHOTOS.put(key, bytes);
          const now = Date.now();
          const common = { eventId: event_id, deviceId: "property", filename: "mutated", updatedAt: now };
          await db.batch([
            db.insert(uploadSessions).values({ ...common, id: uploadId, joinTokenId: token.id, status: "completed", totalSize: bytes.length, receivedBytes: bytes.length, chunkSize: bytes.length, expiresAt: now + 3_600_000, r2Key: key, uploadKeyHash: "-", contentType: declared, photoId }),
            db.insert(photos).values({ ...common, id: photoId, uploadId, originalKey: key, size: bytes.length, declaredContentType: declared }),
          ]);
          return { photoId, eventId: event_id, uploadId, originalKey: key };
        }),
      );
      const result = await deliver(jobs);
      expect(result.retryMessages).toEqual([]);
      expect(result.explicitAcks).toHaveLength(jobs.length);
      for (const job of jobs) {
        const row = (await env.DB.prepare("SELECT status, failure_reason, processing_attempts FROM photos WHERE id = ?").bind(job.photoId).first<{ status: string; failure_reason: string | null; processing_attempts: number }>())!;
        expect(["ready", "failed"]).toContain(row.status);
        if (row.status === "failed") expect(row.failure_reason).toMatch(/\w/);
        expect(row.processing_attempts).toBe(0);
        outcomes[row.status] = (outcomes[row.status] ?? 0) + 1;
      }
    }
    console.log(JSON.stringify({ parser_properties_e2e: outcomes }));
    expect(outcomes.ready).toBeGreaterThan(0);
    expect(outcomes.failed).toBeGreaterThan(0);
  }, 180_000);
});
