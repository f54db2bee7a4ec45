/**
 * The byte engine: maps chunks of any size onto R2 multipart parts that obey R2's rules (every
 * part but the last exactly `partSize` ≥ 5 MiB bytes). The not-yet-full tail between chunks is
 * kept by the upload's session, in its own SQLite storage (core/upload-session.ts), not in R2: a
 * chunk that ends inside a part hands those bytes to the session and touches no R2 object; the
 * chunk that fills a part streams the stored tail and its own body into one `uploadPart` (for an
 * upload of one part, one `put`). Bodies going into a part stream straight from the request.
 *
 * Planning is pure (`planChunk`), so the arithmetic is tested on its own; `writeChunk` carries a
 * plan out. Nothing is committed here: the session records the result (parts and the new tail
 * together), and until it does, whatever this wrote is unreferenced (a re-sent part simply
 * overwrites its number).
 */
import { bodyBuffers } from "./memory-budget";
import { BodyReadError, BodyTooShortError, ByteSlicer, concatFixedLength, readExactly, streamOf } from "./streams";

/**
 * TRANSITION (remove with `ByteLayout.stagedTail`): bytes [start, end) of the upload in one R2
 * staging object, as the previous engine kept tails. Sessions in flight when tails moved into the
 * session still have some; they are read into their part like the stored tail, then deleted.
 */
export interface TailSegment {
  start: number;
  end: number;
  key: string;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
  size: number;
}

/** What the session knows about where an upload's bytes are. */
export interface ByteLayout {
  uploadId: string;
  r2Key: string;
  totalSize: number;
  partSize: number;
  /** Null until the first full part of a multi-part upload (and always for an upload of one part). */
  multipartUploadId: string | null;
  /** Number of full parts already uploaded (parts 1..partsDone). */
  partsDone: number;
  /** Where the accepted bytes end; those after the last full part are the stored tail. */
  offset: number;
  /** TRANSITION: the old engine's staged segments, which come before the stored tail. */
  stagedTail: TailSegment[];
}

/**
 * One write a chunk produces. A part or object starts with the bytes already held for it (the
 * tail) when the chunk starts inside it; `bodyBytes` of the chunk's body follow.
 */
export type Target =
  | { kind: "part"; partNumber: number; start: number; end: number; bodyBytes: number }
  | { kind: "object"; start: number; end: number; bodyBytes: number }
  | { kind: "tail"; start: number; end: number };

/** Splits the chunk [start, end) into writes; `start` must be the layout's offset. */
export function planChunk(layout: ByteLayout, start: number, end: number): Target[] {
  const targets: Target[] = [];
  let partNumber = layout.partsDone + 1;
  let position = start;
  while (position < end) {
    const partStart = (partNumber - 1) * layout.partSize;
    const partEnd = Math.min(partStart + layout.partSize, layout.totalSize);
    if (end < partEnd) {
      targets.push({ kind: "tail", start: position, end });
      break;
    }
    const bodyBytes = partEnd - position;
    targets.push(
      layout.totalSize > layout.partSize
        ? { kind: "part", partNumber, start: partStart, end: partEnd, bodyBytes }
        : { kind: "object", start: partStart, end: partEnd, bodyBytes },
    );
    position = partEnd;
    partNumber++;
  }
  return targets;
}

/** What the engine asks of the session while a chunk holds its lease. */
export interface SessionBytes {
  /** The stored tail, in order. */
  readTail(): Promise<Uint8Array[]>;
  /** The upload's multipart upload, created by the session at its first full part. */
  multipartUploadId(): Promise<string>;
}

export interface ChunkWriteResult {
  /** Parts uploaded by this chunk. */
  parts: UploadedPart[];
  /**
   * The size R2 answered for the one object this chunk wrote: the whole upload, when it is one
   * part. Null when the chunk wrote none.
   */
  objectSize: number | null;
  /** Bytes after the last part boundary the chunk reached, for the session to store; null if none. */
  tail: Uint8Array | null;
  /** The multipart upload the parts went to. */
  multipartUploadId: string | null;
  /** TRANSITION: staging objects folded into a part; deleted once the result is committed. */
  consumedStaging: string[];
}

/** A written chunk, and the memory its tail holds until the session has stored it. */
export interface WrittenChunk {
  written: ChunkWriteResult;
  release(): void;
}

/**
 * Writes the chunk [start, end) from `body` (a stream of exactly end - start bytes, or those
 * bytes already in memory) according to the plan: parts and objects to R2, the tail into the
 * result for the session. A tail read from a stream is held under the isolate's memory budget
 * until the caller releases it (once the session has stored it, or the chunk failed).
 */
export async function writeChunk(
  bucket: R2Bucket,
  session: SessionBytes,
  layout: ByteLayout,
  start: number,
  end: number,
  body: ReadableStream<Uint8Array> | Uint8Array,
): Promise<WrittenChunk> {
  const targets = planChunk(layout, start, end);
  const result: ChunkWriteResult = { parts: [], objectSize: null, tail: null, multipartUploadId: layout.multipartUploadId, consumedStaging: [] };
  let release = () => {};
  let bodyOffset = 0;
  // A streamed body that goes whole into one write is piped natively; only one that straddles a
  // part boundary is split, through the (JavaScript) slicer.
  const slicer = body instanceof Uint8Array || targets.length === 1 ? null : new ByteSlicer(body);
  const bodySlice = (bytes: number): ReadableStream<Uint8Array> => {
    if (body instanceof Uint8Array) return streamOf([body.subarray(bodyOffset, bodyOffset + bytes)]);
    return slicer ? slicer.take(bytes) : body;
  };
  try {
    for (const target of targets) {
      if (target.kind === "tail") {
        const bytes = target.end - target.start;
        if (body instanceof Uint8Array) {
          // A copy: a view would carry its whole buffer across the RPC to the session.
          result.tail = body.slice(bodyOffset, bodyOffset + bytes);
        } else {
          const held = await bodyBuffers.reserve(bytes);
          release = held.release;
          result.tail = await readExactly(bodySlice(bytes), bytes);
        }
        break;
      }
      const bodyStart = target.end - target.bodyBytes;
      const heldTail = bodyStart > target.start ? await readHeldTail(bucket, session, layout, result) : null;
      try {
        // Bytes in memory that make the whole target go as they are; anything else is streamed, joined.
        const { readable: value, copied } =
          !heldTail && body instanceof Uint8Array
            ? { readable: body.subarray(bodyOffset, bodyOffset + target.bodyBytes), copied: Promise.resolve() }
            : concatFixedLength(target.end - target.start, [...(heldTail?.sources ?? []), async () => bodySlice(target.bodyBytes)]);
        if (target.kind === "part") {
          result.multipartUploadId ??= await session.multipartUploadId();
          const multipart = bucket.resumeMultipartUpload(layout.r2Key, result.multipartUploadId);
          const part = await settleBoth(multipart.uploadPart(target.partNumber, value), copied);
          result.parts.push({ partNumber: part.partNumber, etag: part.etag, size: target.end - target.start });
        } else {
          // Not null: an unconditional put always answers its object.
          result.objectSize = (await settleBoth(bucket.put(layout.r2Key, value), copied))!.size;
        }
      } finally {
        heldTail?.held.release();
      }
      bodyOffset += target.bodyBytes;
    }
    return { written: result, release };
  } catch (error) {
    release();
    if (!(body instanceof Uint8Array)) await (slicer ?? body).cancel(error).catch(() => {});
    throw error;
  }
}

/** The bytes held for the part a chunk starts inside: the old engine's staged segments, then the stored tail. */
async function readHeldTail(bucket: R2Bucket, session: SessionBytes, layout: ByteLayout, result: ChunkWriteResult) {
  const stored = await session.readTail();
  const held = bodyBuffers.overdraw(stored.reduce((sum, row) => sum + row.byteLength, 0));
  result.consumedStaging = layout.stagedTail.map((segment) => segment.key);
  const sources = [
    ...layout.stagedTail.map((segment) => () => readSegment(bucket, segment)),
    async () => streamOf(stored),
  ];
  return { sources, held };
}

/** TRANSITION: one staging object of the old engine. */
async function readSegment(bucket: R2Bucket, segment: TailSegment): Promise<ReadableStream<Uint8Array>> {
  const object = await bucket.get(segment.key);
  if (!object) throw new MissingSegmentError(`staged segment ${segment.key} is missing`);
  return object.body;
}

/**
 * Awaits an R2 write and the copy feeding it. When the copy fails first, the source broke (for
 * a natively piped request body that is the client going away: a BodyReadError); when the write
 * fails first, storage did.
 */
async function settleBoth<T>(write: Promise<T>, copied: Promise<void>): Promise<T> {
  let firstFailure: "write" | "copy" | null = null;
  write.catch(() => (firstFailure ??= "write"));
  copied.catch(() => (firstFailure ??= "copy"));
  const [written, copy] = await Promise.allSettled([write, copied]);
  if (written.status === "fulfilled" && copy.status === "fulfilled") return written.value;
  // A body shorter than its Content-Length fails the R2 write's FixedLengthStream, often before the copy notices.
  if (written.status === "rejected" && isShortBody(written.reason)) throw new BodyTooShortError();
  if (firstFailure === "copy" && copy.status === "rejected") {
    const reason: unknown = copy.reason;
    throw reason instanceof BodyTooShortError || reason instanceof BodyReadError || reason instanceof MissingSegmentError
      ? reason
      : new BodyReadError(reason);
  }
  throw written.status === "rejected" ? written.reason : (copy as PromiseRejectedResult).reason;
}

export class MissingSegmentError extends Error {}

const isShortBody = (reason: unknown) => reason instanceof TypeError && reason.message.includes("did not see all expected bytes");
