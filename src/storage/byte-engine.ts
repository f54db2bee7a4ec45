/**
 * The byte engine: maps chunks of any size onto R2 multipart parts that obey R2's rules (every
 * part but the last exactly `partSize` ≥ 5 MiB bytes), keeping the not-yet-full tail between
 * chunks as staging objects in R2. Bodies stream straight from the request to R2.
 *
 * Planning is pure (`planChunk`), so the arithmetic is tested on its own; `writeChunk` carries a
 * plan out. Nothing is committed here: the session Durable Object records the result, and until
 * it does, whatever this wrote is unreferenced (a re-sent part simply overwrites its number).
 */
import { r2Keys } from "./keys";
import { BodyReadError, BodyTooShortError, ByteSlicer, concatFixedLength } from "./streams";

/** Bytes [start, end) of the upload, held in one staging object. */
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
  /** Null when the upload fits in one part and is written with a single `put`. */
  multipartUploadId: string | null;
  /** Number of full parts already uploaded (parts 1..partsDone). */
  partsDone: number;
  /** Staged bytes after the last full part, in order. */
  tail: TailSegment[];
}

/** One R2 write a chunk produces: some staged tail segments, then a slice of the body. */
export type Target =
  | { kind: "part"; partNumber: number; start: number; end: number; fromTail: TailSegment[]; bodyBytes: number }
  | { kind: "object"; start: number; end: number; fromTail: TailSegment[]; bodyBytes: number }
  | { kind: "segment"; start: number; end: number; bodyBytes: number };

/** Splits the chunk [start, end) into R2 writes; `start` must be where the layout's bytes end. */
export function planChunk(layout: ByteLayout, start: number, end: number): Target[] {
  const targets: Target[] = [];
  let tail = layout.tail;
  let partNumber = layout.partsDone + 1;
  let position = start;
  while (position < end) {
    const partStart = (partNumber - 1) * layout.partSize;
    const partEnd = Math.min(partStart + layout.partSize, layout.totalSize);
    if (end < partEnd) {
      targets.push({ kind: "segment", start: position, end, bodyBytes: end - position });
      break;
    }
    const bodyBytes = partEnd - position;
    targets.push(
      layout.multipartUploadId === null
        ? { kind: "object", start: partStart, end: partEnd, fromTail: tail, bodyBytes }
        : { kind: "part", partNumber, start: partStart, end: partEnd, fromTail: tail, bodyBytes },
    );
    tail = [];
    position = partEnd;
    partNumber++;
  }
  return targets;
}

export interface ChunkWriteResult {
  /** Parts uploaded by this chunk. */
  parts: UploadedPart[];
  /** The tail after this chunk: the old one if no part was completed, plus any new segment. */
  tail: TailSegment[];
  /** Staging objects this chunk folded into a part; safe to delete once the result is committed. */
  consumed: TailSegment[];
  /** Whether this chunk wrote the whole upload as its one object (an upload of one part). */
  wroteObject: boolean;
}

/**
 * Streams `body` (exactly end - start bytes) into R2 according to the plan. `attempt` makes
 * staging keys unique per chunk attempt, so a failed attempt never overwrites committed bytes.
 */
export async function writeChunk(
  bucket: R2Bucket,
  layout: ByteLayout,
  start: number,
  end: number,
  body: ReadableStream<Uint8Array>,
  attempt: string,
): Promise<ChunkWriteResult> {
  const targets = planChunk(layout, start, end);
  // A body that goes whole into one write is piped natively; only a body that straddles a
  // part boundary is split, through the (JavaScript) slicer.
  const slicer = targets.length > 1 ? new ByteSlicer(body) : null;
  const bodySlice = (bytes: number) => async () => (slicer ? slicer.take(bytes) : body);
  const multipart = layout.multipartUploadId
    ? bucket.resumeMultipartUpload(layout.r2Key, layout.multipartUploadId)
    : null;
  const result: ChunkWriteResult = { parts: [], tail: layout.tail, consumed: [], wroteObject: false };
  const written: string[] = [];
  try {
    for (const target of targets) {
      const sources = [
        ...(target.kind === "segment" ? [] : target.fromTail.map((segment) => () => readSegment(bucket, segment))),
        bodySlice(target.bodyBytes),
      ];
      const { readable, copied } = concatFixedLength(target.end - target.start, sources);
      if (target.kind === "segment") {
        const key = r2Keys.stagingSegment(layout.uploadId, target.start, target.end, attempt);
        await settleBoth(bucket.put(key, readable), copied);
        written.push(key);
        result.tail = [...result.tail, { start: target.start, end: target.end, key }];
      } else {
        if (target.kind === "part") {
          const part = await settleBoth(multipart!.uploadPart(target.partNumber, readable), copied);
          result.parts.push({ partNumber: part.partNumber, etag: part.etag, size: target.end - target.start });
        } else {
          await settleBoth(bucket.put(layout.r2Key, readable), copied);
          result.wroteObject = true;
        }
        result.consumed.push(...target.fromTail);
        result.tail = [];
      }
    }
    return result;
  } catch (error) {
    await (slicer ?? body).cancel(error).catch(() => {});
    // Segments of a failed attempt are unreferenced; parts are overwritten by the retry.
    if (written.length) await bucket.delete(written).catch(() => {});
    throw error;
  }
}

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
