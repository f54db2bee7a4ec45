/**
 * Property-based hostile input (issue 8, "Hostile input, with a stated count"): fast-check
 * generates sequences of guest-API, tus and IETF requests against a few uploads in two events
 * — aligned and unaligned ranges, overlaps, gaps, replays with other bytes, ranges past the
 * end, garbage and missing headers, bodies cut off by a dropped connection or of the wrong
 * length, wrong keys, other events' tokens, expiry, complete and abort at any point — and keeps
 * a model of every upload's accepted bytes. After every request:
 * - the answer obeys what holds for any request (CheckedClient: no 5xx; every refusal is the
 *   JSON error form with a known code and its request id);
 * - the answer is the one the model predicts, and a refused request changed nothing;
 * - the server's offset never goes back and equals the model's.
 * At the end of each sequence every upload is finished through the guest API and its stored
 * object must be exactly the accepted bytes (SHA-256), with one photo and one processing job per
 * completed upload, and nothing left behind for cancelled or expired ones.
 *
 * Scale: FUZZ_RUNS sets the number of sequences; FUZZ_SEED and FUZZ_PATH replay a failure that
 * fast-check reported (see `setting` for how they reach the runtime).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { eventDefaults, hardLimits } from "../../src/core/limits";
import { partSizeFor, R2_MIN_PART_SIZE } from "../../src/storage/part-size";
import { MiB, createEvent, tailRows } from "./helpers";
import {
  CheckedClient,
  ContentPool,
  MAX_FUZZ_SIZE,
  UploadModel,
  chunkedBody,
  cutShortBody,
  expectStoredEqualsAccepted,
  outcome,
  storedObject,
  type Answer,
} from "./fuzz-model";

// --- configuration ----------------------------------------------------------------------------

/**
 * Knobs come from vitest.config.ts's `test.provide` (evaluated on every run), e.g.
 * `provide: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? "" }`. Not import.meta.env: vitest's module
 * cache bakes its values into the transformed file, so a later run would silently reuse them.
 */
declare module "vitest" {
  export interface ProvidedContext {
    FUZZ_RUNS?: string;
    FUZZ_SEED?: string;
    FUZZ_PATH?: string;
  }
}
function setting(name: "FUZZ_RUNS" | "FUZZ_SEED" | "FUZZ_PATH"): string | undefined {
  const value = inject(name);
  return value === undefined || value === "" ? undefined : String(value);
}

/** About 64 requests a sequence on average (the total is asserted): sized for ≥ 10,000 with room to spare. */
const DEFAULT_RUNS = 180;
const RUNS = Number(setting("FUZZ_RUNS") ?? DEFAULT_RUNS);
const SEED = setting("FUZZ_SEED") === undefined ? undefined : Number(setting("FUZZ_SEED"));
const PATH = setting("FUZZ_PATH");
const MIN_REQUESTS = 10_000;

const MIN_CHUNK = hardLimits.minChunkSize; // every guest chunk but the last
const EVENT_SIZE_CAP = eventDefaults.maxFileSize; // the fuzzed events keep the defaults
const DEVICE_UPLOADS_IN_FLIGHT = eventDefaults.maxConcurrentPerDevice;

// --- the generated commands ------------------------------------------------------------------

type Protocol = "guest" | "tus" | "ietf";

/** Who the request claims to be: the upload's own id and key, or something else. */
type Access = "own" | "noKey" | "wrongKey" | "foreignToken" | "unknownId" | "malformedId";

/** Where a range starts, relative to what the server has. */
type Start = { at: "offset" } | { at: "behind"; by: number } | { at: "ahead"; by: number } | { at: "zero" } | { at: "end" };

/** How long a range is. */
type Length = { len: "rest" } | { len: "min" } | { len: "bytes"; n: number } | { len: "fraction"; f: number } | { len: "pastEnd"; by: number };

/** Body faults shared by all protocols: none, no Content-Length, or a connection that drops part-way. */
type BodyFault = { body: "exact" } | { body: "chunked" } | { body: "dropped"; kept: number };

type CreateFault = "none" | "sizeZero" | "tooBig" | "badType" | "protocol";

type ChunkFault =
  | { f: "none" }
  | { f: "access"; access: Access }
  | { f: "malformedRange"; range: string }
  | { f: "wrongTotal"; delta: number }
  | { f: "lengthMismatch"; delta: number }
  | { f: "noContentLength" }
  | { f: "dropped"; kept: number };

type PatchFault =
  | { f: "none" }
  | { f: "access"; access: Access }
  | { f: "protocolHeader" }
  | { f: "contentType" }
  | { f: "badOffset"; value: string }
  | { f: "body"; body: BodyFault }
  | { f: "checksum"; which: "right" | "wrong" | "garbage" }
  | { f: "methodOverride" }
  | { f: "badComplete" };

type Command =
  | { kind: "create"; via: Protocol; size: number; device: number; filename: string; first: number; fault: CreateFault }
  | { kind: "chunk"; target: number; start: Start; length: Length; version: 0 | 1; fault: ChunkFault }
  | { kind: "patch"; via: "tus" | "ietf"; target: number; start: Start; length: Length; version: 0 | 1; fault: PatchFault; complete: "auto" | "yes" | "no" }
  | { kind: "status"; via: Protocol; target: number; fault: Access | "protocolHeader" }
  | { kind: "complete"; target: number; fault: Access }
  | { kind: "abort"; via: Protocol; target: number; fault: Access | "protocolHeader" }
  | { kind: "expire"; target: number }
  | { kind: "race"; via: "guest" | "tus"; target: number; length: Length; version: 0 | 1 };

const weighted = <T>(...entries: Array<[number, fc.Arbitrary<T>]>) =>
  fc.oneof(...entries.map(([weight, arbitrary]) => ({ weight, arbitrary })));

const protocolArb = fc.constantFrom<Protocol>("guest", "tus", "ietf");
/** A target below TARGET_OPEN picks among the uploads in progress, others among all (see Sequence.target). */
const TARGET_OPEN = 8;
const targetArb = fc.nat({ max: 9 });
const versionArb = weighted<0 | 1>([5, fc.constant(0)], [1, fc.constant(1)]);
const accessArb = fc.constantFrom<Access>("noKey", "wrongKey", "foreignToken", "unknownId", "malformedId");

/** Mostly tiny and small files; a few just past one 5 MiB part, so multipart and staged tails are fuzzed too. */
const sizeArb = weighted(
  [8, fc.integer({ min: 1, max: 4096 })],
  [12, fc.integer({ min: 4097, max: MIN_CHUNK })],
  [20, fc.integer({ min: MIN_CHUNK + 1, max: 900 * 1024 })],
  // Rare: each costs about as much as forty small requests.
  [1, fc.integer({ min: 5 * MiB - 64 * 1024, max: MAX_FUZZ_SIZE })],
);

const startArb: fc.Arbitrary<Start> = weighted<Start>(
  [14, fc.constant({ at: "offset" })],
  [2, fc.record({ at: fc.constant("behind" as const), by: fc.integer({ min: 1, max: 600 * 1024 }) })],
  [1, fc.record({ at: fc.constant("ahead" as const), by: fc.integer({ min: 1, max: 600 * 1024 }) })],
  [1, fc.constant({ at: "zero" })],
  [1, fc.constant({ at: "end" })],
);

/**
 * Guest chunks: mostly what a client sends (the minimum, or the rest), sometimes any length.
 * Appending the rest finishes an upload, after which most appends can only be refused.
 */
const guestLengthArb: fc.Arbitrary<Length> = weighted<Length>(
  [6, fc.constant({ len: "rest" })],
  [6, fc.constant({ len: "min" })],
  [1, fc.record({ len: fc.constant("bytes" as const), n: fc.integer({ min: 0, max: 600 * 1024 }) })],
  [2, fc.record({ len: fc.constant("fraction" as const), f: fc.double({ min: 0, max: 1, noNaN: true }) })],
  [1, fc.record({ len: fc.constant("pastEnd" as const), by: fc.integer({ min: 1, max: 4096 }) })],
);

/** tus and IETF appends take any length: mostly parts of what is left. */
const patchLengthArb: fc.Arbitrary<Length> = weighted<Length>(
  [2, fc.constant({ len: "rest" })],
  [6, fc.record({ len: fc.constant("bytes" as const), n: fc.integer({ min: 0, max: 96 * 1024 }) })],
  [4, fc.record({ len: fc.constant("fraction" as const), f: fc.double({ min: 0, max: 1, noNaN: true }) })],
  [1, fc.record({ len: fc.constant("pastEnd" as const), by: fc.integer({ min: 1, max: 4096 }) })],
);

/** Content-Range values that are not a range inside a file, whatever the upload. */
const MALFORMED_RANGES = [
  "",
  "bytes 0-1",
  "bytes=0-1/2",
  "0-1/2",
  "bytes -1-5/10",
  "bytes 1-0/10",
  "bytes 0-10/10",
  "bytes */10",
  "bytes 0-1/*",
  "bytes 0-1/-5",
  "bytes 0 - 1/2",
  "bytes 0x0-0x10/0x20",
  "bytes 1e3-2e3/3e3",
  "bytes 0-1/2, bytes 3-4/5",
  "bytes 9007199254740992-9007199254740993/9007199254740994", // past 2^53: not exact in a double
  "bytes 12345678901234567-12345678901234568/12345678901234569",
];
/** Upload-Offset values that are not a non-negative integer. */
const BAD_OFFSETS = ["", "-1", "abc", "1.5", "0x10", "1e3", "9007199254740993", "12345678901234567", "+5"];

const dropArb = fc.double({ min: 0, max: 0.99, noNaN: true });

const chunkFaultArb: fc.Arbitrary<ChunkFault> = weighted<ChunkFault>(
  [16, fc.constant({ f: "none" })],
  [3, fc.record({ f: fc.constant("access" as const), access: accessArb })],
  [2, fc.record({ f: fc.constant("malformedRange" as const), range: fc.constantFrom(...MALFORMED_RANGES) })],
  [1, fc.record({ f: fc.constant("wrongTotal" as const), delta: fc.integer({ min: -1000, max: 1000 }).filter((d) => d !== 0) })],
  [1, fc.record({ f: fc.constant("lengthMismatch" as const), delta: fc.integer({ min: -1000, max: 1000 }).filter((d) => d !== 0) })],
  [1, fc.constant({ f: "noContentLength" })],
  [2, fc.record({ f: fc.constant("dropped" as const), kept: dropArb })],
);

const bodyFaultArb: fc.Arbitrary<BodyFault> = fc.oneof(
  fc.constant({ body: "chunked" as const }),
  fc.record({ body: fc.constant("dropped" as const), kept: dropArb }),
);

const patchFaultArb: fc.Arbitrary<PatchFault> = weighted<PatchFault>(
  [16, fc.constant({ f: "none" })],
  [3, fc.record({ f: fc.constant("access" as const), access: accessArb })],
  [1, fc.constant({ f: "protocolHeader" })],
  [1, fc.constant({ f: "contentType" })],
  [1, fc.record({ f: fc.constant("badOffset" as const), value: fc.constantFrom(...BAD_OFFSETS) })],
  [3, fc.record({ f: fc.constant("body" as const), body: bodyFaultArb })],
  [2, fc.record({ f: fc.constant("checksum" as const), which: fc.constantFrom("right" as const, "wrong" as const, "garbage" as const) })],
  [1, fc.constant({ f: "methodOverride" })],
  [1, fc.constant({ f: "badComplete" })],
);

const createArb = fc.record({
  kind: fc.constant("create" as const),
  via: protocolArb,
  size: sizeArb,
  device: fc.nat({ max: 2 }),
  // Any UTF-16 (lone surrogates and control characters included) and known troublemakers: it is only ever metadata.
  filename: weighted(
    [3, fc.string({ unit: "binary", minLength: 1, maxLength: 40 })],
    [1, fc.constantFrom("../../etc/passwd", "..\\boot.ini", "a\u0000b.jpg", "\u202egpj.exe", "100%.jpg", "%E0%A4%A.jpg", "%2e%2e%2f.jpg", "x".repeat(4096), ".", " ")],
  ),
  first: weighted([2, fc.constant(0)], [1, fc.double({ min: 0, max: 1, noNaN: true })]),
  fault: weighted<CreateFault>([14, fc.constant("none")], [1, fc.constantFrom("sizeZero", "tooBig", "badType", "protocol")]),
});

const commandArb: fc.Arbitrary<Command> = weighted<Command>(
  [4, createArb],
  [14, fc.record({ kind: fc.constant("chunk" as const), target: targetArb, start: startArb, length: guestLengthArb, version: versionArb, fault: chunkFaultArb })],
  [14, fc.record({
    kind: fc.constant("patch" as const),
    via: fc.constantFrom("tus" as const, "ietf" as const),
    target: targetArb,
    start: startArb,
    length: patchLengthArb,
    version: versionArb,
    fault: patchFaultArb,
    complete: weighted([6, fc.constant("auto" as const)], [1, fc.constantFrom("yes" as const, "no" as const)]),
  })],
  [6, fc.record({ kind: fc.constant("status" as const), via: protocolArb, target: targetArb, fault: weighted<Access | "protocolHeader">([8, fc.constant("own")], [2, accessArb], [1, fc.constant("protocolHeader")]) })],
  [4, fc.record({ kind: fc.constant("complete" as const), target: targetArb, fault: weighted<Access>([8, fc.constant("own")], [1, accessArb]) })],
  [2, fc.record({ kind: fc.constant("abort" as const), via: protocolArb, target: targetArb, fault: weighted<Access | "protocolHeader">([3, fc.constant("own")], [1, accessArb], [1, fc.constant("protocolHeader")]) })],
  [1, fc.record({ kind: fc.constant("expire" as const), target: targetArb })],
  [2, fc.record({
    kind: fc.constant("race" as const),
    via: fc.constantFrom("guest" as const, "tus" as const),
    target: targetArb,
    length: weighted<Length>([3, fc.constant({ len: "rest" })], [3, fc.constant({ len: "min" })], [1, guestLengthArb]),
    version: versionArb,
  })],
);

/** A sequence opens with an upload, so the commands that name one have something to aim at. */
const sequenceArb = fc.tuple(createArb, fc.array(commandArb, { maxLength: 80, size: "max" }));

// --- requests ---------------------------------------------------------------------------------

const TUS = { "tus-resumable": "1.0.0" };
const OCTETS = "application/offset+octet-stream";
const PARTIAL_UPLOAD = "application/partial-upload";
const b64 = (text: string) => {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
};
/**
 * A filename as a client might put it in Content-Disposition: printable ASCII as is (a `%`
 * included, as naive clients send it), anything else percent-encoded.
 */
const dispositionFilename = (name: string) =>
  [...name.toWellFormed()].map((ch) => (/^[\x20-\x7e]$/.test(ch) && ch !== '"' && ch !== "\\" ? ch : encodeURIComponent(ch))).join("");
const flip = (key: string) => key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");

interface EventRef {
  token: string;
  id: string;
}

/** What is expected of a refusal: its status and the code(s) it may carry. */
interface Refusal {
  status: number;
  code: string | readonly string[];
}
const refusal = (status: number, code: string | readonly string[]): Refusal => ({ status, code });

/** Refusals whose answer says nothing about the upload: who the caller is not. */
function accessRefusal(access: Access, via: Protocol): Refusal | null {
  if (access === "own") return null;
  // tus and IETF URLs are capabilities: a missing or wrong key is an unknown upload.
  if (via !== "guest" || access === "foreignToken" || access === "unknownId" || access === "malformedId") {
    return refusal(404, "upload_not_found");
  }
  return refusal(401, "invalid_upload_key");
}

/** Why a closed upload takes no more bytes. */
function closedRefusal(upload: UploadModel): Refusal | null {
  switch (upload.status) {
    case "cancelled":
      return refusal(410, "upload_cancelled");
    case "expired":
      return refusal(410, "session_expired");
    case "completed":
      return refusal(409, "upload_completed");
    default:
      return null;
  }
}

/** One property run: two events, a few devices, the uploads made so far and their models. */
class Sequence {
  readonly uploads: UploadModel[] = [];
  readonly devices: string[];
  completions = 0;

  constructor(
    readonly client: CheckedClient,
    readonly pool: ContentPool,
    readonly home: EventRef,
    readonly elsewhere: EventRef,
    readonly run: number,
  ) {
    client.newAddress();
    this.devices = [0, 1, 2].map((d) => `fuzz-${run}-${d}-${Date.now()}`);
  }

  /**
   * Most commands aim at an upload in progress (for appends: one still missing bytes); the rest
   * at any, closed ones included.
   */
  target(index: number, appends: boolean): UploadModel | null {
    const inProgress = this.uploads.filter((upload) => upload.open && (!appends || upload.remaining > 0));
    const among = index < TARGET_OPEN && inProgress.length > 0 ? inProgress : this.uploads;
    return among.length === 0 ? null : among[index % among.length]!;
  }

  // --- paths -----------------------------------------------------------------------------------

  guestPath(upload: UploadModel, access: Access, suffix = ""): { path: string; key: string | undefined } {
    const token = access === "foreignToken" ? this.elsewhere.token : upload.token;
    const id = access === "unknownId" ? crypto.randomUUID() : access === "malformedId" ? "..%2F..%2Fetc" : upload.id;
    const key = access === "noKey" ? undefined : access === "wrongKey" ? flip(upload.key) : upload.key;
    return { path: `/api/v1/events/${token}/uploads/${id}${suffix}`, key };
  }

  capabilityPath(upload: UploadModel, via: "tus" | "ietf", access: Access): string {
    const token = access === "foreignToken" ? this.elsewhere.token : upload.token;
    const segment = {
      own: upload.capability,
      foreignToken: upload.capability,
      noKey: upload.id,
      wrongKey: `${upload.id}.${flip(upload.key)}`,
      unknownId: `${crypto.randomUUID()}.${upload.key}`,
      malformedId: `${upload.id}.${upload.key}%00`,
    }[access];
    return `/api/v1/events/${token}/${via === "tus" ? "tus" : "resumable"}/${segment}`;
  }

  // --- checking answers --------------------------------------------------------------------------

  /** Was the request refused by a rate limiter? Then it must have changed nothing, like any refusal. */
  static limited(answer: Answer): boolean {
    return answer.status === 429 && answer.error?.code === "rate_limited";
  }

  expectRefused(answer: Answer, expected: Refusal, what: string): void {
    const codes = typeof expected.code === "string" ? [expected.code] : expected.code;
    const message = `${what}: expected ${expected.status} ${codes.join("|")}, got ${outcome(answer)}\n${this.client.trail}`;
    expect(answer.status, message).toBe(expected.status);
    if (answer.method !== "HEAD") expect(codes, message).toContain(answer.error!.code);
  }

  expectStatus(answer: Answer, status: number, what: string): void {
    expect(answer.status, `${what}: expected ${status}, got ${outcome(answer)}\n${this.client.trail}`).toBe(status);
  }

  /**
   * Reads the upload's status as its guest would and checks it against the model: the offset
   * never goes back and equals the model's, the status matches, a completed upload has its photo.
   * With `kept`, the server may have kept any prefix of those bytes (a dropped or overlong body),
   * and the model takes what it reports; `mayComplete`: a tus append that leaves every byte in
   * completes the upload.
   */
  async probe(upload: UploadModel, kept?: { bytes: Uint8Array; atMost: number; mayComplete: boolean }): Promise<void> {
    const { path, key } = this.guestPath(upload, "own");
    const answer = await this.client.send(path, { method: "GET", headers: { "upload-key": key! } });
    this.expectStatus(answer, 200, `status of ${upload.name}`);
    const view = answer.json as { status: string; received_bytes: number; total_size: number; photo_id: string | null };
    const where = `${upload.name} ${JSON.stringify(view)}\n${this.client.trail}`;
    expect(view.received_bytes, `offset went back: ${where}`).toBeGreaterThanOrEqual(upload.highestSeen);
    upload.highestSeen = view.received_bytes;
    if (kept) {
      const gained = view.received_bytes - upload.offset;
      expect(gained, `lost bytes it had accepted: ${where}`).toBeGreaterThanOrEqual(0);
      expect(gained, `kept more than the body held: ${where}`).toBeLessThanOrEqual(kept.atMost);
      upload.accept(kept.bytes.subarray(0, gained));
      if (kept.mayComplete && upload.offset === upload.size && view.status === "completed") await this.completed(upload, view.photo_id);
    }
    expect(view.received_bytes, `offset ≠ model (${upload.offset}): ${where}`).toBe(upload.offset);
    expect(view.total_size).toBe(upload.size);
    const status = upload.status === "open" ? ["pending", "uploading"] : [upload.status];
    expect(status, `status ≠ model (${upload.status}): ${where}`).toContain(view.status);
    if (upload.status === "completed") {
      expect(view.photo_id, where).toMatch(/^[0-9a-f-]{36}$/);
      if (upload.photoId) expect(view.photo_id, `a second photo: ${where}`).toBe(upload.photoId);
      upload.photoId = view.photo_id;
    }
  }

  /** The upload just became completed: one photo, its bytes exactly the accepted ones. */
  async completed(upload: UploadModel, photoId: string | null): Promise<void> {
    expect(upload.offset, `${upload.name} completed with ${upload.offset} of ${upload.size} bytes`).toBe(upload.size);
    upload.status = "completed";
    if (photoId) upload.photoId = photoId;
    this.completions++;
    await expectStoredEqualsAccepted(upload);
  }

  // --- ranges -------------------------------------------------------------------------------------

  static resolveStart(upload: UploadModel, start: Start): number {
    switch (start.at) {
      case "offset":
        return upload.offset;
      case "behind":
        return Math.max(0, upload.offset - start.by);
      case "ahead":
        return upload.offset + start.by;
      case "zero":
        return 0;
      case "end":
        return upload.size;
    }
  }

  static resolveLength(upload: UploadModel, from: number, length: Length): number {
    const rest = Math.max(0, upload.size - from);
    switch (length.len) {
      case "rest":
        return rest;
      case "min":
        return Math.min(MIN_CHUNK, rest); // what a client sends: the smallest chunk allowed, or the rest
      case "bytes":
        return length.n;
      case "fraction":
        return Math.round(rest * length.f);
      case "pastEnd":
        return rest + length.by;
    }
  }

  /** Bytes `[start, end)` of the upload's file in one of its versions (past its end too: a client may send too much). */
  bytesOf(upload: UploadModel, version: 0 | 1, start: number, end: number): Uint8Array {
    return this.pool.bytes(upload.shift, version, start, end);
  }

  // --- commands --------------------------------------------------------------------------------

  async apply(command: Command): Promise<void> {
    if (command.kind === "create") return this.create(command);
    const upload = this.target(command.target, command.kind === "chunk" || command.kind === "patch" || command.kind === "race");
    if (!upload) return;
    switch (command.kind) {
      case "chunk":
        return this.chunk(upload, command);
      case "patch":
        return this.patch(upload, command);
      case "status":
        return this.status(upload, command);
      case "complete":
        return this.complete(upload, command);
      case "abort":
        return this.abort(upload, command);
      case "expire":
        return this.expire(upload);
      case "race":
        return this.race(upload, command);
    }
  }

  async create(command: Extract<Command, { kind: "create" }>): Promise<void> {
    const device = this.devices[command.device]!;
    const size = { none: command.size, sizeZero: 0, tooBig: EVENT_SIZE_CAP + command.size, badType: command.size, protocol: command.size }[command.fault];
    const type = command.fault === "badType" ? "application/pdf" : "image/jpeg";
    // Creation-with-upload (tus, IETF) sends the first bytes with the create.
    const first = command.via === "guest" || command.fault !== "none" ? 0 : Math.round(command.first * size);
    const name = `${command.via}#${this.uploads.length}`;
    const shift = ContentPool.shiftFor(this.run * 8 + this.uploads.length);
    const firstBytes = this.pool.bytes(shift, 0, 0, first);

    const request = this.createRequest(command.via, command.fault === "protocol", { size, type, device, filename: command.filename, firstBytes });
    const answer = await this.client.send(request.path, request.init);
    // The checks in the order the server makes them: the protocol's own, then the event's (core/admission.ts).
    const expected = ((): Refusal | null => {
      if (command.fault === "protocol") return request.malformed;
      if (size === 0) return refusal(400, "invalid_request");
      if (size > EVENT_SIZE_CAP) return refusal(413, "upload_limit");
      if (command.fault === "badType") return refusal(415, "unsupported_type");
      const inFlight = this.uploads.filter((u) => u.device === device && u.open).length;
      return inFlight >= DEVICE_UPLOADS_IN_FLIGHT ? refusal(429, "upload_limit") : null;
    })();
    if (Sequence.limited(answer)) return;
    if (expected) return this.expectRefused(answer, expected, `create ${name} (${command.fault})`);

    this.expectStatus(answer, 201, `create ${name}`);
    let id: string;
    let key: string;
    if (command.via === "guest") {
      const created = answer.json as { upload_id: string; upload_key: string; event_id: string };
      expect(created.event_id, name).toBe(this.home.id);
      ({ upload_id: id, upload_key: key } = created);
    } else {
      const location = answer.headers.get("location") ?? "";
      const segment = location.split("/").pop()!;
      expect(location).toMatch(new RegExp(`^https://photos\\.test/api/v1/events/${this.home.token}/(tus|resumable)/[0-9a-f-]{36}\\.[A-Za-z0-9_-]+$`));
      [id, key] = segment.split(".") as [string, string];
    }
    const upload = new UploadModel(name, this.home.token, id, key, size, device, shift);
    this.uploads.push(upload);
    if (first > 0) {
      expect(answer.headers.get("upload-offset"), `creation-with-upload of ${name}`).toBe(String(first));
      upload.accept(firstBytes);
      if (first === size) await this.completed(upload, (answer.json as { photo_id?: string } | null)?.photo_id ?? null);
    }
    await this.probe(upload);
  }

  /**
   * A create of each protocol (tus and IETF sending `firstBytes` with it), and how the protocol
   * refuses it when `malformed`: invalid JSON, no Tus-Resumable, no interop version.
   */
  createRequest(
    via: Protocol,
    malformed: boolean,
    file: { size: number; type: string; device: string; filename: string; firstBytes: Uint8Array },
  ): { path: string; init: RequestInit & { method: string }; malformed: Refusal } {
    const base = `/api/v1/events/${this.home.token}`;
    const withBody = file.firstBytes.byteLength > 0;
    if (via === "guest") {
      const json = { filename: file.filename, size: file.size, content_type: file.type, device_id: file.device };
      return {
        path: `${base}/uploads`,
        init: { method: "POST", headers: { "content-type": "application/json" }, body: malformed ? JSON.stringify(json).slice(0, -3) : JSON.stringify(json) },
        malformed: refusal(400, "invalid_json"),
      };
    }
    if (via === "tus") {
      const metadata = `filename ${b64(file.filename)},filetype ${b64(file.type)},device_id ${b64(file.device)}`;
      return {
        path: `${base}/tus/`,
        init: {
          method: "POST",
          headers: { ...(malformed ? {} : TUS), "upload-length": String(file.size), "upload-metadata": metadata, ...(withBody ? { "content-type": OCTETS } : {}) },
          ...(withBody ? { body: file.firstBytes } : {}),
        },
        malformed: refusal(412, "unsupported_tus_version"),
      };
    }
    return {
      path: `${base}/resumable`,
      init: {
        method: "POST",
        headers: {
          ...(malformed ? {} : { "upload-draft-interop-version": file.size % 2 ? "6" : "9" }),
          "upload-complete": file.firstBytes.byteLength === file.size ? "?1" : "?0",
          "upload-length": String(file.size),
          "content-type": file.type,
          "content-disposition": `attachment; filename="${dispositionFilename(file.filename)}"`,
          "x-device-id": file.device,
        },
        body: file.firstBytes,
      },
      malformed: refusal(400, "unsupported_interop_version"),
    };
  }

  /** A guest-API chunk: `PUT …/chunk` with Content-Range, Content-Length and Upload-Key. */
  async chunk(upload: UploadModel, command: Extract<Command, { kind: "chunk" }>): Promise<void> {
    const fault = command.fault;
    const access = fault.f === "access" ? fault.access : "own";
    const start = Sequence.resolveStart(upload, command.start);
    const length = Sequence.resolveLength(upload, start, command.length);
    const end = start + length;
    const total = fault.f === "wrongTotal" ? Math.max(1, upload.size + fault.delta) : upload.size;
    const bytes = this.bytesOf(upload, command.version, start, end);
    const { path, key } = this.guestPath(upload, access, "/chunk");
    const headers: Record<string, string> = {
      "content-range": fault.f === "malformedRange" ? fault.range : `bytes ${start}-${end - 1}/${total}`,
      ...(key === undefined ? {} : { "upload-key": key }),
    };
    let body: BodyInit = bytes;
    if (fault.f === "lengthMismatch") body = this.bytesOf(upload, command.version, start, Math.max(start, end + fault.delta));
    if (fault.f === "noContentLength") body = chunkedBody(bytes);
    const delivered = fault.f === "dropped" ? Math.floor(bytes.byteLength * fault.kept) : 0;
    if (fault.f === "dropped") {
      body = cutShortBody(bytes, delivered);
      headers["content-length"] = String(bytes.byteLength);
    }
    // Bodies are cut short far past the pool's end; such ranges are refused before the body matters.
    const bodyLength = body instanceof Uint8Array ? body.byteLength : bytes.byteLength;

    // The checks in the order the server makes them (src/http/guest.ts, core/upload-session.ts).
    const expected = ((): Refusal | "replay" | null => {
      if (access === "malformedId") return refusal(404, "upload_not_found");
      if (fault.f === "malformedRange" || length === 0 || end > total) return refusal(400, "range_mismatch");
      if (fault.f === "noContentLength") return refusal(411, "length_required");
      if (bodyLength !== length) return refusal(400, "range_mismatch");
      if (end < total && length < MIN_CHUNK) return refusal(400, "chunk_too_small");
      const denied = accessRefusal(access, "guest");
      if (access === "noKey") return denied;
      // A chunk smaller than a part is read whole before the session hears of it (core/append.ts),
      // unless it ends the file from a part boundary (it streams): cut off, it is refused as such whatever the session would have said.
      if (fault.f === "dropped" && length < R2_MIN_PART_SIZE && (end !== total || start % partSizeFor(total) !== 0)) return refusal(400, ["chunk_interrupted", "range_mismatch"]);
      if (denied) return denied;
      if (total !== upload.size) return refusal(400, "range_mismatch");
      const closed = closedRefusal(upload);
      // A replay after a cancel or expiry learns the upload is gone (the bytes are); after completion it still answers 204.
      if (end <= upload.offset && (!closed || upload.status === "completed")) return "replay";
      if (closed) return closed;
      if (start !== upload.offset) return refusal(409, "chunk_out_of_order");
      // A chunk is all or nothing: a body cut off commits none of it.
      if (fault.f === "dropped") return refusal(400, ["chunk_interrupted", "range_mismatch"]);
      return null;
    })();

    const answer = await this.client.send(path, { method: "PUT", headers, body });
    const what = `chunk ${upload.name} bytes ${start}-${end - 1}/${total} (${JSON.stringify(fault)})`;
    if (Sequence.limited(answer)) return this.probe(upload);
    if (expected === "replay") {
      // A replay answers with the current offset and changes nothing, whatever bytes it carries.
      this.expectStatus(answer, 204, what);
      expect(answer.headers.get("upload-offset"), what).toBe(String(upload.offset));
    } else if (expected) {
      this.expectRefused(answer, expected, what);
      if (expected.code === "chunk_out_of_order") {
        expect(answer.headers.get("upload-offset"), what).toBe(String(upload.offset));
        expect(answer.error!.expected_offset, what).toBe(upload.offset);
      }
    } else {
      this.expectStatus(answer, 204, what);
      expect(answer.headers.get("upload-offset"), what).toBe(String(end));
      upload.accept(bytes);
    }
    await this.probe(upload);
  }

  /** A tus or IETF append: PATCH with Upload-Offset; bytes that arrived before a drop are kept. */
  async patch(upload: UploadModel, command: Extract<Command, { kind: "patch" }>): Promise<void> {
    const { via, fault } = command;
    const access = fault.f === "access" ? fault.access : "own";
    const checksum = via === "tus" && fault.f === "checksum" ? fault.which : null;
    const start = Sequence.resolveStart(upload, command.start);
    const bytes = this.bytesOf(upload, command.version, start, start + Sequence.resolveLength(upload, start, command.length));
    const length = bytes.byteLength;
    const bodyFault: BodyFault = fault.f === "body" ? fault.body : { body: "exact" };
    const delivered = bodyFault.body === "dropped" ? Math.floor(length * bodyFault.kept) : length;
    const reachesEnd = start + length === upload.size;
    // A client that is cut off never claims to complete; otherwise IETF completes on the last byte (or when told).
    const complete = bodyFault.body === "dropped" ? false : command.complete === "auto" ? reachesEnd : command.complete === "yes";

    const headers: Record<string, string> = { "upload-offset": fault.f === "badOffset" ? fault.value : String(start) };
    if (via === "tus") {
      if (fault.f !== "protocolHeader") Object.assign(headers, TUS);
      headers["content-type"] = fault.f === "contentType" ? "application/octet-stream" : OCTETS;
      if (checksum) {
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        if (checksum === "wrong") digest[0]! ^= 0xff;
        headers["upload-checksum"] = checksum === "garbage" ? "sha256 !!!not-base64!!!" : `sha256 ${btoa(String.fromCharCode(...digest))}`;
      }
    } else {
      if (fault.f !== "protocolHeader") headers["upload-draft-interop-version"] = length % 2 ? "6" : "9";
      headers["upload-complete"] = fault.f === "badComplete" ? "true" : complete ? "?1" : "?0";
      headers["content-type"] = fault.f === "contentType" ? "application/octet-stream" : PARTIAL_UPLOAD;
    }
    let body: BodyInit = bytes;
    if (bodyFault.body === "chunked") body = chunkedBody(bytes);
    if (bodyFault.body === "dropped") {
      body = cutShortBody(bytes, delivered);
      headers["content-length"] = String(length);
    }
    const override = via === "tus" && fault.f === "methodOverride";
    if (override) headers["x-http-method-override"] = "PATCH";

    // The checks in the order the server makes them (src/http/tus.ts, resumable.ts, core/admission.ts).
    /**
     * A refusal keeps nothing; `accepted` keeps every byte (and may still be answered with a
     * refusal); `keepsSome` may keep any prefix of the body; `replaysFinal` answers the photo again.
     */
    type Expected = Refusal | { accepted: Refusal | null } | { keepsSome: Refusal | null } | { replaysFinal: true };
    const expected = ((): Expected => {
      if (fault.f === "protocolHeader") return via === "tus" ? refusal(412, "unsupported_tus_version") : refusal(400, "unsupported_interop_version");
      if (via === "ietf" && fault.f === "badComplete") return refusal(400, "invalid_request");
      if (via === "ietf" && fault.f === "contentType") return refusal(415, "unsupported_media_type");
      if (access === "malformedId" || access === "noKey") return refusal(404, "upload_not_found");
      if (via === "tus" && fault.f === "contentType") return refusal(415, "unsupported_media_type");
      if (fault.f === "badOffset") return refusal(400, "invalid_request");
      if (checksum === "garbage") return refusal(400, "unsupported_checksum");
      const denied = accessRefusal(access, via);
      if (denied) return denied;
      // An empty completing IETF append to a completed upload answers the final response again.
      if (via === "ietf" && complete && length === 0 && bodyFault.body === "exact" && upload.status === "completed" && start === upload.size) {
        return { replaysFinal: true };
      }
      const closed = closedRefusal(upload);
      if (closed) return closed;
      if (start !== upload.offset) return refusal(409, "chunk_out_of_order");
      if (start + length > upload.size) {
        // Declared too long: refused before a byte is read. Of a chunked (undeclared) body, the
        // pieces before the one that would cross the end may be kept.
        return bodyFault.body === "chunked" ? { keepsSome: refusal(413, "beyond_upload_length") } : refusal(413, "beyond_upload_length");
      }
      if (checksum === "wrong") return refusal(460, "checksum_mismatch");
      if (bodyFault.body === "dropped") return { keepsSome: null };
      // A completing IETF append that cannot reach the end: refused before a byte is kept when its
      // length is declared; a chunked one is only found short once its bytes are in.
      if (via === "ietf" && complete && !reachesEnd) {
        return bodyFault.body === "exact" ? refusal(400, "inconsistent_upload_length") : { accepted: refusal(400, "inconsistent_upload_length") };
      }
      return { accepted: null };
    })();

    const path = this.capabilityPath(upload, via, access);
    const answer = await this.client.send(path, { method: override ? "POST" : "PATCH", headers, body });
    const what = `${via} PATCH ${upload.name} at ${start} +${length} (${JSON.stringify(fault)}, complete ${complete})`;
    if (Sequence.limited(answer)) return this.probe(upload);

    if ("status" in expected) {
      this.expectRefused(answer, expected, what);
      if (expected.code === "chunk_out_of_order") {
        expect(answer.headers.get("upload-offset"), what).toBe(String(upload.offset));
        // IETF answers with the draft's mismatching-upload-offset problem details.
        if (via === "ietf") expect(answer.error, what).toMatchObject({ "expected-offset": upload.offset, "provided-offset": start });
      }
      return this.probe(upload);
    }
    if ("replaysFinal" in expected) {
      this.expectStatus(answer, 201, what);
      expect((answer.json as { photo_id: string }).photo_id, what).toBe(upload.photoId ?? (answer.json as { photo_id: string }).photo_id);
      return this.probe(upload);
    }
    if ("keepsSome" in expected) {
      // Dropped: the client is gone, so any answer that is not a server error will do; the offset tells.
      if (expected.keepsSome) this.expectRefused(answer, expected.keepsSome, what);
      else if (answer.status !== 204) this.expectRefused(answer, refusal(400, "chunk_interrupted"), what);
      const atMost = bodyFault.body === "dropped" ? delivered : Math.max(0, upload.size - start - 1);
      await this.probe(upload, { bytes, atMost, mayComplete: via === "tus" && answer.status < 300 });
      return;
    }
    // Accepted: every byte; tus completes on the last byte, IETF when the client says so.
    if (expected.accepted) this.expectRefused(answer, expected.accepted, what);
    else this.expectStatus(answer, via === "ietf" && complete ? 201 : 204, what);
    if (!expected.accepted) expect(answer.headers.get("upload-offset"), what).toBe(String(start + length));
    if (via === "ietf") expect(answer.headers.get("upload-complete"), what).toBe(!expected.accepted && complete ? "?1" : "?0");
    upload.accept(bytes);
    if (!expected.accepted && (via === "tus" ? reachesEnd : complete)) {
      await this.completed(upload, (answer.json as { photo_id?: string } | null)?.photo_id ?? null);
    }
    await this.probe(upload);
  }

  /** Status: guest GET, tus HEAD or IETF HEAD. */
  async status(upload: UploadModel, command: Extract<Command, { kind: "status" }>): Promise<void> {
    const { via, fault } = command;
    const access: Access = fault === "protocolHeader" ? "own" : fault;
    let answer: Answer;
    const what = `${via} status of ${upload.name} (${fault})`;
    if (via === "guest") {
      const denied = accessRefusal(access, "guest");
      if (!denied) return this.probe(upload); // the probe is the guest's status call
      const { path, key } = this.guestPath(upload, access);
      answer = await this.client.send(path, { method: "GET", headers: key === undefined ? {} : { "upload-key": key } });
      return this.expectRefused(answer, denied, what);
    }
    const headers: Record<string, string> =
      fault === "protocolHeader" ? {} : via === "tus" ? TUS : { "upload-draft-interop-version": upload.size % 2 ? "6" : "9" };
    answer = await this.client.send(this.capabilityPath(upload, via, access), { method: "HEAD", headers });
    if (fault === "protocolHeader") return this.expectStatus(answer, via === "tus" ? 412 : 400, what);
    if (accessRefusal(access, via)) return this.expectStatus(answer, 404, what);
    if (upload.status === "cancelled" || upload.status === "expired") return this.expectStatus(answer, via === "tus" ? 410 : 404, what);
    this.expectStatus(answer, via === "tus" ? 200 : 204, what);
    expect(answer.headers.get("upload-offset"), what).toBe(String(upload.offset));
    expect(answer.headers.get("upload-length"), what).toBe(String(upload.size));
    if (via === "ietf") expect(answer.headers.get("upload-complete"), what).toBe(upload.status === "completed" ? "?1" : "?0");
  }

  /** Guest complete: 201 with the photo once, 200 with the same photo when repeated. */
  async complete(upload: UploadModel, command: Extract<Command, { kind: "complete" }>): Promise<void> {
    const { path, key } = this.guestPath(upload, command.fault, "/complete");
    const answer = await this.client.send(path, { method: "POST", headers: key === undefined ? {} : { "upload-key": key } });
    const what = `complete ${upload.name} (${command.fault})`;
    const expected =
      accessRefusal(command.fault, "guest") ??
      (upload.status === "completed" ? null : closedRefusal(upload)) ??
      (upload.offset < upload.size ? refusal(409, "upload_incomplete") : null);
    if (expected) {
      this.expectRefused(answer, expected, what);
      if (expected.code === "upload_incomplete") {
        expect(answer.error, what).toMatchObject({ received_bytes: upload.offset, total_size: upload.size });
      }
      return this.probe(upload);
    }
    const receipt = answer.json as { photo_id: string; file_path: string; thumbnail_path: null; status: string };
    if (upload.status === "completed") {
      this.expectStatus(answer, 200, what);
      if (upload.photoId) expect(receipt.photo_id, `a second photo: ${what}`).toBe(upload.photoId);
      upload.photoId = receipt.photo_id;
    } else {
      this.expectStatus(answer, 201, what);
      expect(receipt).toMatchObject({ thumbnail_path: null, status: "processing" });
      expect(receipt.file_path, what).toBe(`uploads/${this.home.id}/${upload.id}`);
      await this.completed(upload, receipt.photo_id);
    }
    await this.probe(upload);
  }

  /** Abort (guest DELETE, tus termination, IETF cancellation): 204 also when repeated; not after completion. */
  async abort(upload: UploadModel, command: Extract<Command, { kind: "abort" }>): Promise<void> {
    const { via, fault } = command;
    const access: Access = fault === "protocolHeader" ? "own" : fault;
    const what = `${via} abort ${upload.name} (${fault})`;
    let answer: Answer;
    if (via === "guest") {
      const { path, key } = this.guestPath(upload, access);
      answer = await this.client.send(path, { method: "DELETE", headers: key === undefined ? {} : { "upload-key": key } });
    } else {
      const headers: Record<string, string> =
        fault === "protocolHeader" ? {} : via === "tus" ? TUS : { "upload-draft-interop-version": "9" };
      answer = await this.client.send(this.capabilityPath(upload, via, access), { method: "DELETE", headers });
    }
    const expected =
      fault === "protocolHeader" && via !== "guest"
        ? via === "tus"
          ? refusal(412, "unsupported_tus_version")
          : refusal(400, "unsupported_interop_version")
        : (accessRefusal(access, via) ?? (upload.status === "completed" ? refusal(409, "upload_completed") : null));
    if (expected) this.expectRefused(answer, expected, what);
    else {
      this.expectStatus(answer, 204, what);
      if (upload.open) upload.status = "cancelled";
    }
    await this.probe(upload);
  }

  /**
   * The same append sent twice at once (a client retrying while its first attempt is still
   * under way): exactly one writes. The other is refused (409), or, in the guest API, answered as
   * a replay if it arrives after the first committed. Ranges a lone request would not append go
   * through `chunk` or `patch` instead, which know every refusal.
   */
  async race(upload: UploadModel, command: Extract<Command, { kind: "race" }>): Promise<void> {
    const start = upload.offset;
    const length = Sequence.resolveLength(upload, start, command.length);
    const end = start + length;
    const appendable = upload.open && length > 0 && end <= upload.size && (command.via === "tus" || end === upload.size || length >= MIN_CHUNK);
    if (!appendable) {
      const single = { target: command.target, start: { at: "offset" as const }, length: command.length, version: command.version };
      return command.via === "guest"
        ? this.chunk(upload, { kind: "chunk", ...single, fault: { f: "none" } })
        : this.patch(upload, { kind: "patch", via: "tus", ...single, fault: { f: "none" }, complete: "auto" });
    }
    const bytes = this.bytesOf(upload, command.version, start, end);
    const send = () =>
      command.via === "guest"
        ? this.client.send(this.guestPath(upload, "own", "/chunk").path, {
            method: "PUT",
            headers: { "upload-key": upload.key, "content-range": `bytes ${start}-${end - 1}/${upload.size}` },
            body: bytes,
          })
        : this.client.send(this.capabilityPath(upload, "tus", "own"), {
            method: "PATCH",
            headers: { ...TUS, "content-type": OCTETS, "upload-offset": String(start) },
            body: bytes,
          });
    const answers = (await Promise.all([send(), send()])).filter((answer) => !Sequence.limited(answer));
    const what = `${command.via} race ${upload.name} bytes ${start}-${end - 1}: ${answers.map(outcome).join(", ")}`;
    const wrote = answers.filter((answer) => answer.status === 204);
    for (const answer of answers) {
      if (answer.status === 204) expect(answer.headers.get("upload-offset"), what).toBe(String(end));
      else this.expectRefused(answer, refusal(409, "chunk_out_of_order"), what);
    }
    if (answers.length === 2) expect(wrote.length, what).toBeGreaterThanOrEqual(1);
    if (command.via === "tus") expect(wrote.length, what).toBeLessThanOrEqual(1);
    if (wrote.length > 0) {
      upload.accept(bytes);
      if (command.via === "tus" && end === upload.size) await this.completed(upload, null);
    }
    await this.probe(upload);
  }

  /**
   * Time passes beyond the session's expiry (its stored expiry is moved into the past); the next
   * call closes it. An upload with every byte in is assembled rather than thrown away.
   */
  async expire(upload: UploadModel): Promise<void> {
    await runInDurableObject(env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(upload.id)), (_instance, state) => {
      state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.expiresAt', ?)", Date.now() - 1);
    });
    const assembles = upload.open && upload.offset === upload.size;
    if (upload.open) upload.status = assembles ? "completed" : "expired";
    await this.probe(upload); // the call that notices the expiry
    if (assembles) await this.completed(upload, upload.photoId);
  }

  /**
   * Ends the sequence: every upload still open is finished through the guest API (its remaining
   * bytes in one chunk, then complete); then each upload's stored state must be exactly what the
   * model says, with one photo per completed upload and no staged bytes left anywhere.
   */
  async finish(): Promise<void> {
    for (const upload of this.uploads) {
      if (upload.open) {
        if (upload.remaining > 0) {
          await this.chunk(upload, { kind: "chunk", target: 0, start: { at: "offset" }, length: { len: "rest" }, version: 0, fault: { f: "none" } });
        }
        if (upload.open) await this.complete(upload, { kind: "complete", target: 0, fault: "own" });
      }
      if (upload.status === "completed") {
        await expectStoredEqualsAccepted(upload);
        const photos = await env.DB.prepare("SELECT id, size FROM photos WHERE upload_id = ?").bind(upload.id).all<{ id: string; size: number }>();
        expect(photos.results, `${upload.name}: one photo per completed upload`).toEqual([{ id: upload.photoId, size: upload.size }]);
      } else {
        expect((await storedObject(upload.id)).object, `${upload.name} is ${upload.status}, yet its object remains`).toBeNull();
      }
      const staged = await env.PHOTOS.list({ prefix: `staging/${upload.id}/` });
      expect(staged.objects, `${upload.name} is ${upload.status}, yet staged bytes remain`).toHaveLength(0);
      expect(await tailRows(upload.id), `${upload.name} is ${upload.status}, yet its session keeps tail bytes`).toBe(0);
    }
  }
}

// --- the property ---------------------------------------------------------------------------

describe("hostile request sequences (fast-check, in the Workers runtime)", () => {
  const client = new CheckedClient(10);
  const pool = new ContentPool();
  let events: [EventRef, EventRef];
  let queueSends: ReturnType<typeof vi.spyOn>;
  let runs = 0;
  let completions = 0;
  const started = Date.now();

  beforeAll(async () => {
    const [a, b] = await Promise.all([createEvent({ name: "Fuzz A" }), createEvent({ name: "Fuzz B" })]);
    events = [
      { token: a.join_token, id: a.event_id },
      { token: b.join_token, id: b.event_id },
    ];
    // One JSON line per request would be tens of thousands of lines; failures carry their own trail.
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation((line: unknown) => client.trail.add(`server: ${String(line).slice(0, 500)}`));
    // Jobs are counted, not processed: the bytes are random, and processing is not under test here.
    queueSends = vi.spyOn(env.PHOTO_QUEUE, "send").mockResolvedValue(undefined as never);
  });

  afterAll(() => {
    vi.restoreAllMocks();
  });

  it(`keeps every invariant over ${RUNS} generated sequences`, { timeout: 30 * 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArb, async ([opening, commands]) => {
        const sequence = new Sequence(client, pool, events[0], events[1], runs++);
        const sendsBefore = queueSends.mock.calls.length;
        for (const command of [opening, ...commands]) await sequence.apply(command);
        await sequence.finish();
        // One processing job per completed upload, never a second.
        expect(queueSends.mock.calls.length - sendsBefore, client.trail.toString()).toBe(sequence.completions);
        completions += sequence.completions;
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }), endOnFailure: false },
    );
    const seconds = (Date.now() - started) / 1000;
    const tally = [...client.tally].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `  ${kind}: ${n}`);
    console.info(`fuzz: ${RUNS} sequences, ${client.requests} requests, ${completions} uploads completed, ${seconds.toFixed(1)} s\n${tally.join("\n")}`);
    if (SEED === undefined && PATH === undefined && RUNS >= DEFAULT_RUNS) expect(client.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
