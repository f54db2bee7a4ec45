/**
 * The upload core as the protocol adapters see it: create a session, append a chunk, report
 * status, complete, abort. The guest API (and later tus) are thin HTTP layers over these.
 */
import { and, count, eq, gt, inArray, ne, or, sql, type SQL } from "drizzle-orm";
import { database } from "../db/client";
import { insertWhere } from "../db/conditional-insert";
import { activeUploadStatuses, batchFiles, uploadSessions } from "../db/schema";
import { writeChunk, type ByteLayout, type ChunkWriteResult, type SessionBytes, type WrittenChunk } from "../storage/byte-engine";
import { bodyBuffers } from "../storage/memory-budget";
import { r2Keys } from "../storage/keys";
import { BodyReadError, BodyTooShortError, PieceReader, concatFixedLength } from "../storage/streams";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import { recordMetric } from "../lib/metrics";
import { ApiError, refusals, type Refusal } from "./errors";
import { authorizeBatchFile, linkBatchUpload, type BatchFileClaim } from "./batches";
import { assertUploadsAdmitted, fileRefusal, resolveJoinToken, uploadsClosedRefusal } from "./events";
import { cleanFilename } from "./filenames";
import { ANON_FIRST_BYTES_MS, partSizeFor, uploaderLimits, type UploaderLimits } from "./limits";
import type { Caller, Outcome, PhotoReceipt, SessionView } from "./upload-session";

export interface NewUpload {
  filename: string;
  size: number;
  contentType: string;
  deviceId: string;
  /** No device id was given: `deviceId` stands for the client's IP address (see `uploaderLimits`). */
  anonymous?: boolean;
  sha256?: string | undefined;
  /**
   * A tus concatenation partial: its type is checked on the final upload; it holds one of the
   * creator's partial slots until a final consumes it, and only the final counts as a photo.
   */
  partial?: boolean;
  /** A tus concatenation final: written from its partials only. */
  final?: boolean;
  /** The file of a guest's batch this upload carries. */
  batch?: BatchFileClaim | undefined;
  /** The client's own id for the file: a create with the same one ends the device's earlier session for it. */
  clientId?: string | undefined;
}

export interface CreatedUpload {
  upload_id: string;
  upload_key: string;
  chunk_size: number;
  expires_at: string;
  event_id: string;
}

/** A request's claim on one upload: the ids and secrets it presented. */
export interface UploadRef {
  joinToken: string;
  uploadId: string;
  uploadKey: string | undefined;
}

/** Statuses that count against a device's daily cap (cancelled and expired sessions do not). */
const countedStatuses = [...activeUploadStatuses, "completed"] as const;
const DAY_MS = 24 * 60 * 60 * 1000;

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new ApiError(outcome.refusal);
  return outcome.value;
}

function sessionStub(env: Env, uploadId: string) {
  return env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(uploadId));
}

export async function createUpload(env: Env, joinToken: string, input: NewUpload): Promise<CreatedUpload> {
  const db = database(env);
  const now = Date.now();
  const { event, joinToken: token, tokenHash } = await resolveJoinToken(db, joinToken, now);
  const closed = uploadsClosedRefusal(event, now);
  if (closed) throw new ApiError(closed);
  const contentType = input.contentType.toLowerCase().split(";")[0]!.trim();
  const partial = input.partial ?? false;
  // A partial's type is checked on its final upload.
  const refusal = fileRefusal(event, input.size, partial ? null : contentType);
  if (refusal) throw new ApiError(refusal);
  if (input.batch) await authorizeBatchFile(db, event, input.batch);
  await endReplacedSessions(env, event.id, input);

  const uploadId = newId();
  const uploadKey = randomSecret();
  const keyHash = await sha256Hex(uploadKey);
  const expiresAt = now + event.sessionTtlSeconds * 1000;
  const r2Key = r2Keys.upload(event.id, uploadId);
  const filename = cleanFilename(input.filename);
  const deviceSessions = (extra: SQL, ofPartials = false) =>
    db
      .select({ n: count() })
      .from(uploadSessions)
      .where(
        and(eq(uploadSessions.eventId, event.id), eq(uploadSessions.deviceId, input.deviceId), eq(uploadSessions.partial, ofPartials), extra),
      );
  const anonymous = input.anonymous ?? false;
  const inFlight = and(
    inArray(uploadSessions.status, activeUploadStatuses),
    gt(uploadSessions.expiresAt, now),
    // An anonymous create never sent stops holding its address's slot soon (ANON_FIRST_BYTES_MS).
    anonymous ? or(ne(uploadSessions.status, "pending"), gt(uploadSessions.createdAt, now - ANON_FIRST_BYTES_MS)) : undefined,
  )!;
  const limits = uploaderLimits(env, event, anonymous);
  const insert = insertWhere(
    uploadSessions,
    {
      id: uploadId,
      eventId: event.id,
      joinTokenId: token.id,
      deviceId: input.deviceId,
      status: "pending",
      totalSize: input.size,
      receivedBytes: 0,
      chunkSize: event.chunkSize,
      expiresAt,
      r2Key,
      uploadKeyHash: keyHash,
      declaredSha256: input.sha256 ?? null,
      filename,
      contentType,
      // An anonymous uploader's id stands for a whole address, so its client ids could collide.
      clientId: input.anonymous ? null : (input.clientId ?? null),
      partial,
      createdAt: now,
      updatedAt: now,
    },
    partial
      ? sql`(${deviceSessions(inFlight, true)}) < ${limits.maxPartials}`
      : sql`(${deviceSessions(inFlight)}) < ${limits.maxConcurrent}
      and (${deviceSessions(and(inArray(uploadSessions.status, countedStatuses), gt(uploadSessions.createdAt, now - DAY_MS))!)}) < ${limits.dailyCap}`,
  );
  // One statement, so the limit checks and the insert are atomic in D1.
  if ((await db.run(insert)).meta.changes !== 1) {
    const [active] = partial ? [] : await deviceSessions(inFlight);
    throw new ApiError(uploadLimitRefusal(limits, partial ? "partials" : (active?.n ?? 0) >= limits.maxConcurrent ? "concurrent" : "daily"));
  }

  try {
    await sessionStub(env, uploadId).init({
      uploadId,
      eventId: event.id,
      deviceId: input.deviceId,
      tokenHash,
      keyHash,
      totalSize: input.size,
      chunkSize: event.chunkSize,
      partSize: partSizeFor(input.size),
      expiresAt,
      r2Key,
      filename,
      contentType,
      declaredSha256: input.sha256 ?? null,
      partial,
      final: input.final ?? false,
      firstBytesBy: anonymous ? now + ANON_FIRST_BYTES_MS : null,
      createdAt: now,
    });
  } catch (error) {
    // Free the device's slot rather than hold it until the sweeper's expiry.
    await db
      .update(uploadSessions)
      .set({ status: "failed", failureReason: "session could not be started", updatedAt: Date.now() })
      .where(eq(uploadSessions.id, uploadId));
    throw error;
  }
  if (input.batch) await linkBatchUpload(db, input.batch.fileId, uploadId);
  recordMetric(env, "upload_created", { eventId: event.id, bytes: input.size, code: partial ? "partial" : undefined });
  return {
    upload_id: uploadId,
    upload_key: uploadKey,
    chunk_size: event.chunkSize,
    expires_at: new Date(expiresAt).toISOString(),
    event_id: event.id,
  };
}

/**
 * A create whose answer was lost leaves a session holding one of the device's slots until it
 * expires: a new create for the same batch file, or with the same client id, from the same device
 * to the same event, ends that earlier session first (unless it is being assembled or done).
 */
async function endReplacedSessions(env: Env, eventId: string, input: NewUpload): Promise<void> {
  const sameFile = [
    input.batch ? sql`${uploadSessions.id} = (select ${batchFiles.uploadId} from ${batchFiles} where ${batchFiles.id} = ${input.batch.fileId})` : undefined,
    input.clientId && !input.anonymous ? eq(uploadSessions.clientId, input.clientId) : undefined,
  ].filter((claim) => claim !== undefined);
  if (sameFile.length === 0 || input.partial || input.final) return;
  const db = database(env);
  const replaced = await db
    .select({ id: uploadSessions.id })
    .from(uploadSessions)
    .where(
      and(
        eq(uploadSessions.eventId, eventId),
        eq(uploadSessions.deviceId, input.deviceId),
        eq(uploadSessions.partial, false),
        inArray(uploadSessions.status, ["pending", "uploading"]),
        or(...sameFile),
      ),
    );
  for (const { id } of replaced) {
    const status = await sessionStub(env, id).supersede();
    if (status === null) {
      // Never started (its create failed midway): only the row holds the slot.
      await db
        .update(uploadSessions)
        .set({ status: "cancelled", updatedAt: Date.now() })
        .where(and(eq(uploadSessions.id, id), inArray(uploadSessions.status, activeUploadStatuses)));
    }
  }
}

/** The 429 for a create past one of its creator's limits (UploaderLimits). */
function uploadLimitRefusal(limits: UploaderLimits, which: "concurrent" | "daily" | "partials"): Refusal {
  const who =
    limits.scope === "device"
      ? "A device"
      : "Uploads without a device id from one address (send one for limits of your own:" +
        " tus metadata device_id, or the X-Device-Id header)";
  const suffix = limits.scope === "device" ? "" : "_per_address";
  switch (which) {
    case "concurrent":
      return {
        status: 429,
        code: "upload_limit",
        message: `${who} may have at most ${limits.maxConcurrent} uploads in progress at once; finish or cancel one first.`,
        details: { limit: `concurrent_uploads${suffix}`, max_concurrent_uploads: limits.maxConcurrent },
      };
    case "daily":
      return {
        status: 429,
        code: "upload_limit",
        message: `${who} may upload at most ${limits.dailyCap} files a day to this event.`,
        details: { limit: `daily_uploads${suffix}`, daily_cap: limits.dailyCap },
      };
    case "partials":
      return {
        status: 429,
        code: "upload_limit",
        message: `${who} may have at most ${limits.maxPartials} partial uploads in progress at once.`,
        details: { limit: `concurrent_partials${suffix}`, max_concurrent_partials: limits.maxPartials },
      };
  }
}

async function callerOf(ref: UploadRef): Promise<Caller> {
  if (!ref.uploadKey) throw new ApiError(refusals.invalidUploadKey());
  const [tokenHash, keyHash] = await Promise.all([sha256Hex(ref.joinToken), sha256Hex(ref.uploadKey)]);
  return { uploadId: ref.uploadId, tokenHash, keyHash };
}

/** How an adapter wants bytes appended. */
export interface AppendOptions {
  /** Answer a range the session already has as accepted (guest API) rather than refuse it (tus). */
  acceptReplay: boolean;
  /** The file size the client stated, checked against the upload's (the guest API's Content-Range). */
  total: number | null;
  /** A digest the body must match before any of it is committed (tus checksum extension). */
  checksum?: { algorithm: "SHA-1" | "SHA-256" | "MD5"; expected: string } | undefined;
}

export type AppendResult = SessionView & { replayed: boolean };
type Background = (work: Promise<unknown>) => void;

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
    const opened = await openAppend(env, ref, start, length, options);
    if ("replayed" in opened) {
      await body.cancel().catch(() => {});
      return { ...opened.replayed, replayed: true };
    }
    const { session, leaseId, layout } = opened;
    const digest = options.checksum ? digesting(body, options.checksum.algorithm) : null;
    let chunk: WrittenChunk;
    try {
      chunk = await withHeartbeat(opened, () =>
        writeChunk(env.PHOTOS, sessionBytes(opened), layout, start, start + length, digest?.stream ?? body),
      );
      if (digest && (await digest.hex) !== options.checksum!.expected) {
        // Nothing is recorded; a part it wrote is overwritten by the retry (same number).
        chunk.release();
        throw new ApiError(refusals.checksumMismatch());
      }
    } catch (error) {
      await session.releaseChunk(leaseId);
      throw chunkFailure(error);
    }
    try {
      const view = await commit(env, ref, session, leaseId, layout, start + length, chunk.written, false, background);
      return { ...view.view, replayed: false };
    } finally {
      chunk.release();
    }
  });
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
    const opened = await openAppend(env, ref, start, declaredLength ?? 0, { acceptReplay: false, total: null });
    if ("replayed" in opened) throw new Error("streamed appends never replay");
    const { session, leaseId } = opened;
    let layout = opened.layout;
    let offset = start;
    let view: SessionView | null = null;
    const pieceBytes = Math.max(1, Math.min(layout.partSize, declaredLength ?? layout.partSize, layout.totalSize - start));
    let held: { release(): void } | null = null;
    try {
      held = await bodyBuffers.reserve(pieceBytes);
      const pieces = new PieceReader(body, pieceBytes);
      await withHeartbeat(opened, async () => {
        for (;;) {
          const partEnd = Math.min((layout.partsDone + 1) * layout.partSize, layout.totalSize);
          // Pieces never straddle a part boundary, so a piece that completes a part goes straight into it.
          const piece = await pieces.next(Math.min(pieceBytes, partEnd - offset));
          const reachesEnd = offset + piece.bytes.byteLength === layout.totalSize;
          // An overlong body is refused before its last in-bounds piece, so the upload never completes with it.
          if (reachesEnd && !piece.failure && (await pieces.hasMore())) throw new ApiError(refusals.beyondEnd(layout.totalSize));
          if (piece.bytes.byteLength > 0) {
            // One PATCH may stream for minutes: a link revoked or an event closed meanwhile stops its next piece.
            await assertUploadsAdmitted(env, ref.joinToken);
            const end = offset + piece.bytes.byteLength;
            const { written } = await writeChunk(env.PHOTOS, sessionBytes(opened), layout, offset, end, piece.bytes);
            const committed = await commit(env, ref, session, leaseId, layout, end, written, true, background);
            ({ view, layout } = committed);
            offset = end;
          }
          if (piece.failure) throw piece.failure;
          if (piece.ended || reachesEnd) break;
        }
      });
    } catch (error) {
      held?.release();
      await session.releaseChunk(leaseId);
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
    await session.releaseChunk(leaseId);
    return { ...(view ?? unwrap(await session.view(await callerOf(ref)))), replayed: false };
  });
}

function surviveDisconnect<T>(background: Background, work: () => Promise<T>): Promise<T> {
  const running = work();
  background(running.catch(() => {}));
  return running;
}

type SessionStub = ReturnType<typeof sessionStub>;
type Granted = { session: SessionStub; leaseId: string; layout: ByteLayout; leaseMs: number };
type Opened = { replayed: SessionView } | Granted;

async function openAppend(env: Env, ref: UploadRef, start: number, length: number, options: AppendOptions): Promise<Opened> {
  // Revoking the link or closing the event stops uploads already in flight, not only new ones.
  await assertUploadsAdmitted(env, ref.joinToken);
  const session = sessionStub(env, ref.uploadId);
  const begun = unwrap(
    await session.beginChunk(await callerOf(ref), { start, length, total: options.total, acceptReplay: options.acceptReplay }),
  );
  if ("replayed" in begun) return { replayed: begun.replayed };
  return { session, leaseId: begun.grant.leaseId, layout: begun.grant.layout, leaseMs: begun.grant.leaseMs };
}

/** What the byte engine may ask of the session while this chunk holds the lease. */
function sessionBytes({ session, leaseId }: Granted): SessionBytes {
  return {
    readTail: async () => unwrap(await session.readTail(leaseId)),
    multipartUploadId: async () => unwrap(await session.multipartUpload(leaseId)),
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
  // D1 mirrors progress for listings: when the upload starts (pending → uploading) and when a part
  // fills, never more than once per part.
  const mirrorProgress = layout.offset === 0 || written.parts.length > 0 || written.wroteObject;
  background(
    Promise.all([
      written.consumedStaging.length ? env.PHOTOS.delete(written.consumedStaging) : null, // TRANSITION
      mirrorProgress
        ? database(env)
            .update(uploadSessions)
            .set({
              status: "uploading",
              receivedBytes: sql`max(${uploadSessions.receivedBytes}, ${end})`,
              // Created lazily at the first full part; recorded for the sweeper's last net.
              ...(written.multipartUploadId ? { multipartUploadId: written.multipartUploadId } : {}),
              updatedAt: Date.now(),
            })
            .where(and(eq(uploadSessions.id, ref.uploadId), inArray(uploadSessions.status, ["pending", "uploading"])))
        : null,
    ]),
  );
  return committed.value;
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
    written.wroteObject ? env.PHOTOS.delete(layout.r2Key) : null,
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

export async function uploadStatus(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).view(await callerOf(ref)));
}

export async function completeUpload(env: Env, ref: UploadRef): Promise<{ created: boolean; photo: PhotoReceipt }> {
  return unwrap(await sessionStub(env, ref.uploadId).complete(await callerOf(ref)));
}

export async function abortUpload(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).abort(await callerOf(ref)));
}

/** Assembles a concatenation partial whose bytes have all arrived. */
export async function assemblePartial(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).assemblePartial(await callerOf(ref)));
}

/**
 * tus concatenation: a final upload whose bytes are the given partials of this event, in order,
 * each with all its bytes. The partials' objects are streamed through the byte engine into the
 * final upload's parts (R2's binding has no part copy), then it completes like any upload and
 * the partials are done (their objects deleted). Until then a partial holds a slot and expires
 * like any session.
 */
export async function createConcatenated(
  env: Env,
  joinToken: string,
  input: Omit<NewUpload, "size" | "partial">,
  partials: UploadRef[],
  background: Background,
): Promise<{ created: CreatedUpload; photo: PhotoReceipt; size: number }> {
  const views = await Promise.all(
    partials.map((ref) =>
      assemblePartial(env, ref).catch((error: unknown) => {
        if (!(error instanceof ApiError)) throw error;
        throw new ApiError({ status: 400, code: "partial_not_complete", message: "Every partial upload must be a partial of this event with all its bytes." });
      }),
    ),
  );
  const size = views.reduce((sum, view) => sum + view.total_size, 0);
  const created = await createUpload(env, joinToken, { ...input, size, final: true });
  const ref: UploadRef = { joinToken, uploadId: created.upload_id, uploadKey: created.upload_key };
  const partialStub = (partial: UploadRef) => sessionStub(env, partial.uploadId);
  const reserved = await Promise.all(
    partials.map(async (partial) => ({ partial, outcome: await partialStub(partial).reservePartial(await callerOf(partial), created.upload_id) })),
  );
  const lost = reserved.find(({ outcome }) => !outcome.ok);
  if (lost) {
    // Another final has (some of) these partials: this one ends at once rather than hold a slot.
    await releasePartials(env, partials, created.upload_id);
    await abortUpload(env, ref);
    unwrap(lost.outcome);
  }
  const sources = partials.map((partial) => async () => {
    const key = r2Keys.upload(created.event_id, partial.uploadId);
    const object = await env.PHOTOS.get(key);
    if (!object) throw new Error(`partial upload object ${key} is missing`);
    return object.body;
  });
  const { readable, copied } = concatFixedLength(size, sources);
  // A JavaScript hop between the two fixed-length streams: piped natively from one into the
  // other (a final of one object, ≤ 5 MiB), workerd never finished the copy.
  try {
    await Promise.all([appendChunk(env, ref, 0, size, readable.pipeThrough(new TransformStream()), { acceptReplay: false, total: null }, background), copied]);
  } catch (error) {
    // This final never got its bytes, so it can never complete: free the partials for another final.
    await releasePartials(env, partials, created.upload_id);
    throw error;
  }
  const { photo } = await completeUpload(env, ref);
  await Promise.all(partials.map(async (partial) => unwrap(await partialStub(partial).consumePartial(await callerOf(partial)))));
  return { created, photo, size };
}

async function releasePartials(env: Env, partials: UploadRef[], finalId: string): Promise<void> {
  await Promise.all(partials.map(async (partial) => sessionStub(env, partial.uploadId).releasePartial(await callerOf(partial), finalId)));
}
