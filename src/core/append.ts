/**
 * The append pipeline: a chunk of known length (guest API, IETF) committed whole or not at all,
 * or a streamed PATCH (tus) committed piece by piece, through the session's lease into the byte
 * engine. Admission (link and event still taking uploads) is re-checked through one seam, `admit`.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { database } from "../db/client";
import { uploadSessions } from "../db/schema";
import { writeChunk, type ByteLayout, type ChunkWriteResult, type SessionBytes, type WrittenChunk } from "../storage/byte-engine";
import { bodyBuffers } from "../storage/memory-budget";
import { partSizeFor, R2_MIN_PART_SIZE } from "../storage/part-size";
import { BodyReadError, BodyTooShortError, PieceReader, readExactly } from "../storage/streams";
import { ApiError, refusals } from "./errors";
import { assertUploadsAdmitted } from "./events";
import { callerOf, rememberCaller, sessionStub, startInMemoryRead, unwrap, type SessionStub, type UploadRef } from "./session-client";
import type { Caller, ChunkGrant, SessionView } from "./upload-session";

/** How an adapter wants bytes appended. */
export interface AppendOptions {
  /** Answer a range the session already has as accepted (guest API) rather than refuse it (tus). */
  acceptReplay: boolean;
  /** The file size the client stated, checked against the upload's (the guest API's Content-Range). */
  total: number | null;
  /** The chunk completes the upload (the guest API's `Upload-Complete: ?1`): a partial upload refuses it. */
  completes?: boolean | undefined;
  /** A digest the body must match before any of it is committed (tus checksum extension). */
  checksum?: { algorithm: "SHA-1" | "SHA-256" | "MD5"; expected: string } | undefined;
}

export type AppendResult = SessionView & { replayed: boolean };
export type Background = (work: Promise<unknown>) => void;

/**
 * Appends exactly `length` bytes from `body` at `start`, atomically: all of the chunk is
 * committed or none of it (a cut-off body, a wrong length or a checksum mismatch commit nothing).
 */
export function appendChunk(
  env: Env,
  ref: UploadRef,
  start: number,
  length: number,
  body: ReadableStream<Uint8Array>,
  options: AppendOptions,
  background: Background,
): Promise<AppendResult> {
  // Kept alive past a client disconnect, so the lease is always released or committed.
  return surviveDisconnect(background, async () => {
    await admit(env, ref);
    const caller = await callerOf(ref);
    // A chunk smaller than any part is read first and handed to the session with its bytes: if it
    // stays inside its part, that one call stores it. (A checksummed one streams through the digest.
    // So does one that ends the file from a part boundary: it can never stay inside its part, and
    // has no stored tail to hold while its body arrives; streaming, it holds none of the budget.)
    const endsFile = start + length === options.total && start % partSizeFor(options.total) === 0;
    const endRead = length < R2_MIN_PART_SIZE && !options.checksum && !endsFile ? startInMemoryRead(ref.uploadId, caller.keyHash) : null;
    let inMemory: Awaited<ReturnType<typeof readChunk>> | null = null;
    try {
      inMemory = endRead ? await readChunk(env, ref, caller, body, length) : null;
      const opened = inMemory ? await appendInPart(env, ref, caller, start, inMemory.bytes, options) : await openAppend(env, ref, caller, start, length, options);
      rememberCaller(ref.uploadId, caller.keyHash);
      if ("appended" in opened) {
        if (opened.mirrorProgress) background(mirrorProgress(env, ref, start + length, null));
        return { ...opened.appended, replayed: false };
      }
      if ("replayed" in opened) {
        await body.cancel().catch(() => {});
        return { ...opened.replayed, replayed: true };
      }
      const { session, leaseId, layout } = opened;
      const source = inMemory?.bytes ?? body;
      const digest = options.checksum && !(source instanceof Uint8Array) ? digesting(source, options.checksum.algorithm) : null;
      let chunk: WrittenChunk;
      try {
        chunk = await withHeartbeat(opened, () =>
          writeChunk(env.PHOTOS, sessionBytes(opened), layout, start, start + length, digest?.stream ?? source),
        );
        if (digest && (await digest.hex) !== options.checksum!.expected) {
          // Nothing is recorded; a part it wrote is overwritten by the retry (same number).
          chunk.release();
          throw new ApiError(refusals.checksumMismatch());
        }
      } catch (error) {
        await session.releaseChunk(leaseId, true);
        throw chunkFailure(error);
      }
      try {
        const view = await commit(env, ref, session, leaseId, layout, start + length, chunk.written, false, background);
        return { ...view.view, replayed: false };
      } finally {
        chunk.release();
      }
    } finally {
      inMemory?.held.release();
      endRead?.();
    }
  });
}

/** Reads a whole chunk under the isolate's memory budget; one cut off is told to its session (a retry follows). */
async function readChunk(env: Env, ref: UploadRef, caller: Caller, body: ReadableStream<Uint8Array>, length: number) {
  const held = await bodyBuffers.reserve(length);
  try {
    return { bytes: await readExactly(body, length), held };
  } catch (error) {
    held.release();
    await sessionStub(env, ref.uploadId).noteCutOff(caller).catch(() => {});
    throw chunkFailure(error);
  }
}

/**
 * Appends a body of unknown or untrusted length at `start`, committing it piece by piece, so
 * the bytes that arrived before a connection dropped are kept and the offset reflects them
 * (tus semantics). A piece runs to the next part boundary (≤ one part, held in memory under the
 * isolate's budget): a piece that fills its part goes into it, one that the body ends or breaks
 * off inside a part goes to the session's stored tail. `declaredLength` (Content-Length) is
 * only a hint for the lease, the buffer and for refusing an overlong body early.
 */
export function appendStream(
  env: Env,
  ref: UploadRef,
  start: number,
  declaredLength: number | null,
  body: ReadableStream<Uint8Array>,
  background: Background,
): Promise<AppendResult> {
  return surviveDisconnect(background, async () => {
    // A body of unknown length claims nothing up front; the pieces check the end as they come.
    await admit(env, ref);
    const opened = await openAppend(env, ref, await callerOf(ref), start, declaredLength ?? 0, { acceptReplay: false, total: null });
    if ("replayed" in opened) throw new Error("streamed appends never replay");
    const { session, leaseId } = opened;
    let layout = opened.layout;
    let offset = start;
    let view: SessionView | null = null;
    const pieceBytes = Math.max(1, Math.min(layout.partSize, declaredLength ?? layout.partSize, layout.totalSize - start));
    let held: { release(): void } | null = null;
    const stored = sessionBytes(opened);
    // A body of declared length ends with the piece that reaches it: that piece's commit gives the lease back.
    const bodyEnd = declaredLength === null ? null : start + declaredLength;
    let leaseHeld = true;
    try {
      held = await bodyBuffers.reserve(PieceReader.bytesHeld(pieceBytes));
      const pieces = new PieceReader(body, pieceBytes);
      await withHeartbeat(opened, async () => {
        for (;;) {
          const partEnd = Math.min((layout.partsDone + 1) * layout.partSize, layout.totalSize);
          // Pieces never straddle a part boundary, so a piece that completes a part goes straight into it;
          // nor the declared end: the lease goes back there, so nothing read past it may be stored.
          const piece = await pieces.next(Math.min(pieceBytes, partEnd - offset, (bodyEnd ?? Infinity) - offset));
          const reachesEnd = offset + piece.bytes.byteLength === layout.totalSize;
          // An overlong body is refused before its last in-bounds piece, so the upload never completes with it.
          if (reachesEnd && !piece.failure && (await pieces.hasMore())) throw new ApiError(refusals.beyondEnd(layout.totalSize));
          if (piece.bytes.byteLength > 0) {
            // One PATCH may stream for minutes: a link revoked or an event closed meanwhile stops its next piece.
            await admit(env, ref);
            const end = offset + piece.bytes.byteLength;
            const { written } = await writeChunk(env.PHOTOS, stored, layout, offset, end, piece.bytes);
            const last = end === bodyEnd || end === layout.totalSize;
            const committed = await commit(env, ref, session, leaseId, layout, end, written, !last, background);
            ({ view, layout } = committed);
            offset = end;
            leaseHeld = !last;
          }
          if (piece.failure) throw piece.failure;
          if (piece.ended || reachesEnd || offset === bodyEnd) break;
        }
      });
    } catch (error) {
      held?.release();
      await session.releaseChunk(leaseId, true);
      throw error instanceof BodyReadError
        ? new ApiError({
            status: 400,
            code: "chunk_interrupted",
            message: `The body was cut off after ${offset - start} bytes; those bytes were kept.`,
            headers: { "Upload-Offset": String(offset) },
          })
        : error;
    }
    held.release();
    if (leaseHeld) await session.releaseChunk(leaseId, false);
    return { ...(view ?? unwrap(await session.view(await callerOf(ref)))), replayed: false };
  });
}

function surviveDisconnect<T>(background: Background, work: () => Promise<T>): Promise<T> {
  const running = work();
  background(running.catch(() => {}));
  return running;
}

type Granted = ChunkGrant & { session: SessionStub };
type Opened = { replayed: SessionView } | Granted;

/**
 * How the pipeline re-checks admission: before a request takes its turn, and before each piece
 * of a streamed body (its pieces may arrive long after). Revoking the link or closing the event
 * stops uploads already in flight, not only new ones.
 */
function admit(env: Env, ref: UploadRef): Promise<void> {
  return assertUploadsAdmitted(env, ref.joinToken);
}

async function openAppend(env: Env, ref: UploadRef, caller: Caller, start: number, length: number, options: AppendOptions): Promise<Opened> {
  const session = sessionStub(env, ref.uploadId);
  const begun = unwrap(await session.beginChunk(caller, { start, length, total: options.total, acceptReplay: options.acceptReplay, completes: options.completes }));
  if ("replayed" in begun) return { replayed: begun.replayed };
  return { session, ...begun.grant };
}

/** Hands a chunk read into memory to the session: stored at once if it stays inside its part, else a lease. */
async function appendInPart(
  env: Env,
  ref: UploadRef,
  caller: Caller,
  start: number,
  bytes: Uint8Array,
  options: AppendOptions,
): Promise<Opened | { appended: SessionView; mirrorProgress: boolean }> {
  const session = sessionStub(env, ref.uploadId);
  const request = { start, length: bytes.byteLength, total: options.total, acceptReplay: options.acceptReplay, completes: options.completes };
  const answer = unwrap(await session.appendInPart(caller, request, bytes));
  return "grant" in answer ? { session, ...answer.grant } : answer;
}

/**
 * What the byte engine may ask of the session while this chunk holds the lease. The grant
 * brought what filling the first part needs (its stored tail, the multipart upload); later parts
 * of a streamed append ask for theirs.
 */
function sessionBytes({ session, leaseId, fill }: Granted): SessionBytes {
  let grantedTail = fill?.tail ?? null;
  let multipartUploadId = fill?.multipartUploadId ?? null;
  return {
    readTail: async () => {
      const tail = grantedTail ?? unwrap(await session.readTail(leaseId));
      grantedTail = null;
      return tail;
    },
    multipartUploadId: async () => (multipartUploadId ??= unwrap(await session.multipartUpload(leaseId))),
  };
}

/** Renews the lease while a body streams: a slow body keeps its turn, a dead Worker soon loses it. */
async function withHeartbeat<T>(grant: Granted, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => void grant.session.renewLease(grant.leaseId).catch(() => {}), Math.max(250, grant.leaseMs / 3));
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Records a written chunk in the session; on refusal, removes what only this chunk wrote. */
async function commit(
  env: Env,
  ref: UploadRef,
  session: SessionStub,
  leaseId: string,
  layout: ByteLayout,
  end: number,
  written: ChunkWriteResult,
  keepLease: boolean,
  background: Background,
) {
  const committed = await session.commitChunk(leaseId, end, written, keepLease);
  if (!committed.ok) {
    await discard(env, layout, written, sessionClosedCodes.has(committed.refusal.code));
    throw new ApiError(committed.refusal);
  }
  // D1 mirrors progress for listings when the session says so (UploadSession `#mirrorDue`): when
  // the upload starts, at its first part, then at most every 10 s of filled parts.
  if (written.consumedStaging.length) background(env.PHOTOS.delete(written.consumedStaging)); // TRANSITION
  if (committed.value.mirrorProgress) background(mirrorProgress(env, ref, end, written.multipartUploadId));
  return committed.value;
}

/** D1's copy of an upload's progress, for listings (the session is the authority). */
function mirrorProgress(env: Env, ref: UploadRef, end: number, multipartUploadId: string | null): Promise<unknown> {
  return database(env)
    .update(uploadSessions)
    .set({
      status: "uploading",
      receivedBytes: sql`max(${uploadSessions.receivedBytes}, ${end})`,
      // Created lazily at the first full part; recorded for the sweeper's last net.
      ...(multipartUploadId ? { multipartUploadId } : {}),
      updatedAt: Date.now(),
    })
    .where(and(eq(uploadSessions.id, ref.uploadId), inArray(uploadSessions.status, ["pending", "uploading"])));
}

/** Refusals meaning the session closed (abort, expiry, failure) and freed its storage for good. */
const sessionClosedCodes: ReadonlySet<string> = new Set(
  [refusals.sessionExpired(), refusals.uploadCancelled(), refusals.uploadFailed(null)].map((refusal) => refusal.code),
);

/**
 * Deletes what a chunk wrote that the session never recorded, when the session closed while the
 * body streamed (its cleanup ran before these writes landed): the object or the parts. While the
 * session lives they are left alone: another chunk of the same range may have written them and
 * been committed. (A tail never reached storage unless it was recorded.)
 */
async function discard(env: Env, layout: ByteLayout, written: ChunkWriteResult, sessionClosed: boolean): Promise<void> {
  if (!sessionClosed) return;
  await Promise.all([
    written.objectSize !== null ? env.PHOTOS.delete(layout.r2Key) : null,
    written.parts.length && written.multipartUploadId
      ? env.PHOTOS.resumeMultipartUpload(layout.r2Key, written.multipartUploadId).abort().catch(() => {}) // already aborted
      : null,
  ]);
}

/** Passes `body` through unchanged while computing its digest. */
function digesting(body: ReadableStream<Uint8Array>, algorithm: string) {
  const digest = new crypto.DigestStream(algorithm);
  const writer = digest.getWriter();
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        void writer.write(chunk);
        controller.enqueue(chunk);
      },
      flush: () => writer.close(),
    }),
  );
  const hex = digest.digest.then((bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  return { stream, hex };
}

function chunkFailure(error: unknown): unknown {
  if (error instanceof BodyTooShortError) {
    return new ApiError(refusals.rangeMismatch("The body ended before the range's last byte; nothing of this chunk was kept."));
  }
  if (error instanceof BodyReadError) {
    return new ApiError({
      status: 400,
      code: "chunk_interrupted",
      message: "The chunk's body was cut off; nothing of it was kept. Send it again.",
    });
  }
  return error;
}
