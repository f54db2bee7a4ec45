/**
 * UploadSession: one Durable Object per upload, the control plane for its bytes. It owns the
 * offset, the parts and their etags, the tail (the bytes after the last full part, ≤ one part,
 * in its SQLite storage as rows of at most 1 MiB), the status and the expiry alarm, and
 * serialises chunks through a lease. Between `beginChunk` and `commitChunk` the Worker streams
 * bodies that fill a part into R2 (see storage/byte-engine.ts); a chunk's bytes after the last
 * part boundary come to `commitChunk` and are stored with the new offset in one transaction.
 *
 * The lease lives in memory only, is short, and is renewed by the Worker's heartbeat while a
 * body streams: if the Worker dies it lapses within seconds, and if the whole process dies
 * (taking this object's memory with it) there is no lease left to wait for, so a guest resumes
 * at once after a crash.
 *
 * R2 and D1 calls let other calls interleave (the input gate opens during I/O), so every state
 * change is check-and-set against the state read in the same synchronous step.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { database } from "../db/client";
import { activeUploadStatuses, joinTokens, uploadSessions, type UploadStatus } from "../db/schema";
import type { ByteLayout, ChunkWriteResult, TailSegment } from "../storage/byte-engine";
import { r2Keys } from "../storage/keys";
import { partSizeFor } from "../storage/part-size";
import { digestsEqual, newId } from "../lib/crypto";
import { logLine } from "../lib/log";
import { recordMetric } from "../lib/metrics";
import { publishLive } from "../live/publish";
import { photoRecorded, recordCompletion } from "./completion";
import { endPreview } from "./previews";
import { refusals, type Refusal } from "./errors";
import { findJoinToken, uploadAdmissionRefusal } from "./events";
import { leaseMs } from "./limits";

/** Everything the session needs, fixed at creation. */
export interface SessionSpec {
  uploadId: string;
  eventId: string;
  deviceId: string;
  tokenHash: string;
  keyHash: string;
  totalSize: number;
  chunkSize: number;
  partSize: number;
  expiresAt: number;
  r2Key: string;
  filename: string;
  contentType: string;
  declaredSha256: string | null;
  /** A concatenation partial: assembled, never a photo of its own. */
  partial: boolean;
  /** A concatenation final: its bytes come from its partials, never from a client. */
  final: boolean;
  /** An anonymous upload expires if its first bytes have not begun by then (ANON_FIRST_BYTES_MS). */
  firstBytesBy: number | null;
  createdAt: number;
}

/** Who is asking: the upload they name, and hashes of the join token in the URL and of the Upload-Key header. */
export interface Caller {
  uploadId: string;
  tokenHash: string;
  keyHash: string;
}

export interface SessionView {
  upload_id: string;
  status: UploadStatus;
  received_bytes: number;
  total_size: number;
  chunk_size: number;
  expires_at: string;
  photo_id: string | null;
  partial: boolean;
}

export interface PhotoReceipt {
  photo_id: string;
  file_path: string;
  thumbnail_path: string | null;
  status: "processing";
}

/** What the preview of an upload needs to be recorded as its photo (core/previews.ts). */
export interface PreviewClaim {
  uploadId: string;
  photoId: string;
  eventId: string;
  deviceId: string;
  r2Key: string;
  totalSize: number;
  filename: string;
  contentType: string;
  declaredSha256: string | null;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

export interface AppendRequest {
  start: number;
  /** Bytes the request says it carries (checked against the upload's size). */
  length: number;
  /** The file size the client stated, checked when given (the guest API's Content-Range). */
  total: number | null;
  /** Answer a range the session already has as accepted (guest API) rather than refuse it (tus). */
  acceptReplay: boolean;
  /** The request completes the upload with this chunk (`Upload-Complete: ?1`), so must make a photo. */
  completes?: boolean | undefined;
}

export interface ChunkGrant {
  leaseId: string;
  layout: ByteLayout;
  /** How long the lease lasts without a heartbeat. */
  leaseMs: number;
  /**
   * For a chunk that reaches the end of the part it starts inside: the stored tail, and the
   * multipart upload (created now if this is the first full part), so filling the part needs no
   * further call to the session. Null otherwise.
   */
  fill: { tail: Uint8Array[]; multipartUploadId: string | null } | null;
}

/** What the session answers a chunk that arrives with its bytes (`appendInPart`). */
export type InPartAnswer = { appended: SessionView; mirrorProgress: boolean } | { grant: ChunkGrant } | { replayed: SessionView };

/** The largest row of stored tail bytes (SQLite-backed Durable Objects hold at most 2 MB a row). */
export const TAIL_ROW_BYTES = 1024 * 1024;

/** Progress reaches dashboards at most this often per upload; status changes at once. */
const PROGRESS_INTERVAL_MS = 1000;
/**
 * D1's copy of an upload's progress (for listings; the session is the authority) follows its
 * filled parts at most this often per upload: each copy is a D1 write, once per 5 MiB otherwise.
 */
const PROGRESS_MIRROR_MS = 10_000;
/** After a publish nobody heard, progress is not published for this long. */
const NO_LISTENERS_BACKOFF_MS = 5000;
/** A device re-sending chunks reaches the event's upload health at most this often per upload, listened to or not. */
const RETRY_ANNOUNCE_INTERVAL_MS = 5000;

const partialIsNoPhoto: Refusal = { status: 409, code: "upload_is_partial", message: "A partial upload becomes part of a final upload; it is not a photo." };
const terminal: ReadonlySet<UploadStatus> = new Set(["completed", "failed", "cancelled", "expired"]);

/**
 * How long a finished session keeps its storage, for clients repeating complete, abort or a
 * status call; after that it is deleted and D1 answers the same (see `#retired`).
 */
export const SESSION_RETENTION_MS = 60 * 60 * 1000;

/** Storage key of the reason a session was cancelled before its create started it (cancelUnfinished). */
const CANCELLED_BEFORE_START = "cancelledBeforeStart";

interface SessionRow extends SessionSpec {
  status: UploadStatus;
  /**
   * A partial whose bytes are one object, waiting for its final upload: still `uploading` (it holds
   * a slot and expires like any session) until a final consumes it and it is `completed`.
   */
  assembled?: boolean;
  /** The final upload this partial is part of (one partial makes one photo; see `reservePartial`). */
  reservedFor?: string;
  offset: number;
  multipartUploadId: string | null;
  photoId: string | null;
  failureReason: string | null;
  /** When the session reached a terminal status (the retention window starts then). */
  closedAt: number | null;
  /** When bytes last landed (upload health; absent in sessions from before it). */
  lastBytesAt?: number;
  /** What R2 answered for the upload's one object when a chunk put it (an upload of one part). */
  objectSize?: number;
  /**
   * TRANSITION: true for sessions created since tails moved into the session's storage. Older
   * sessions keep their staged tail segments in R2 (table `tail`), read into their next part and
   * swept at the end; once none is left (24 h TTL + 1 h retention after the deploy) this field,
   * the `tail` table and everything marked TRANSITION go.
   */
  tailInSession?: boolean;
}

const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const refuse = <T>(refusal: Refusal): Outcome<T> => ({ ok: false, refusal });

/** The tail's bytes from their first byte's position in the upload, in rows of at most TAIL_ROW_BYTES. */
const tailBytesTable = "CREATE TABLE IF NOT EXISTS tail_bytes (start INTEGER PRIMARY KEY, bytes BLOB NOT NULL);";

export class UploadSession extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  /** False until `init`: an id nobody created gets no storage written for it. */
  #exists: boolean;
  /** The chunk currently allowed to write, if any (see the note at the top). */
  #lease: { id: string; expiresAt: number } | null = null;
  readonly #leaseMs: number;
  /** Single-flight for assembly, so concurrent `complete` calls share one run. */
  #assembling: Promise<Outcome<SessionRow>> | null = null;
  /** Throttling of progress on the event's live channel. */
  #progressAnnouncedAt = 0;
  #nobodyListensUntil = 0;
  /** When the client last sent a chunk that brought nothing new (see `#noteRetry`), and when that was last announced. */
  #retriedAt: number | null = null;
  #retryAnnouncedAt = 0;
  /** When this session last had D1's copy of its progress written (`#mirrorDue`). */
  #progressMirroredAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#leaseMs = leaseMs(env);
    this.#exists = this.#sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session'").toArray().length > 0;
    // TRANSITION: sessions created before tails moved here lack the table.
    if (this.#exists) this.#sql.exec(tailBytesTable);
  }

  #createTables(): void {
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS session (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL);
      ${tailBytesTable}
    `);
    this.#exists = true;
  }

  /**
   * Creates the session and its expiry alarm (idempotent). No R2 call: the multipart upload is
   * created at the first full part (`multipartUpload`), and an upload of one part never has one.
   */
  async init(spec: SessionSpec): Promise<void> {
    if (this.#load()) return;
    // Cancelled before it started (cancelUnfinished): its D1 row is closed and holds no slot, so it starts closed.
    const cancelledFor = await this.ctx.storage.get<string>(CANCELLED_BEFORE_START);
    const row: SessionRow = {
      ...spec,
      status: cancelledFor === undefined ? "pending" : "cancelled",
      offset: 0,
      multipartUploadId: null,
      photoId: null,
      failureReason: cancelledFor ?? null,
      closedAt: cancelledFor === undefined ? null : Date.now(),
      tailInSession: true,
    };
    this.#createTables();
    this.#save(row);
    await this.ctx.storage.setAlarm(row.closedAt === null ? spec.expiresAt : row.closedAt + SESSION_RETENTION_MS);
    // Dashboards see it from its create: one that never sends a byte stalls too.
    this.#announce(row, "status");
  }

  async view(caller: Caller): Promise<Outcome<SessionView>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    return ok(this.#view(row));
  }

  /**
   * Asks to write `length` bytes from `start`. Grants a lease and the byte layout, or says the
   * range was already accepted (`replayed`, when the adapter allows replays), or refuses.
   */
  async beginChunk(caller: Caller, request: AppendRequest): Promise<Outcome<{ grant: ChunkGrant } | { replayed: SessionView }>> {
    const admitted = await this.#admitChunk(caller, request);
    if (!admitted.ok || "replayed" in admitted.value) return admitted as Outcome<{ replayed: SessionView }>;
    return this.#grant(admitted.value.row, request);
  }

  /**
   * A chunk that arrives with its bytes (at most one part, read by the Worker first). One that
   * stays inside its part is stored as tail with the new offset in one transaction: the whole
   * chunk is this one call, and no R2 operation. One that reaches a part boundary gets a lease,
   * as from `beginChunk`, and goes on through the byte engine.
   */
  async appendInPart(caller: Caller, request: AppendRequest, bytes: Uint8Array): Promise<Outcome<InPartAnswer>> {
    const admitted = await this.#admitChunk(caller, { ...request, length: bytes.byteLength });
    if (!admitted.ok || "replayed" in admitted.value) return admitted as Outcome<{ replayed: SessionView }>;
    const { row } = admitted.value;
    const end = request.start + bytes.byteLength;
    if (end >= this.#partEnd(row)) return this.#grant(row, request);
    const firstBytes = row.offset === 0;
    // Admitted, so any lease had lapsed: its chunk must not commit over these bytes later.
    this.#lease = null;
    this.ctx.storage.transactionSync(() => {
      this.#storeTail(request.start, bytes);
      row.offset = end;
      row.status = "uploading";
      row.lastBytesAt = Date.now();
      this.#save(row);
    });
    this.#announce(row, firstBytes ? "status" : "progress");
    return ok({ appended: this.#view(row), mirrorProgress: this.#mirrorDue(firstBytes, false) });
  }

  /** The checks every chunk passes before it may write: key, state, offset, size, turn. */
  async #admitChunk(caller: Caller, request: AppendRequest): Promise<Outcome<{ row: SessionRow } | { replayed: SessionView }>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    const { start, length } = request;
    // Refused before a byte is taken: completing could only refuse it after keeping them.
    if (request.completes && row.partial) return refuse(partialIsNoPhoto);
    if (request.total !== null && request.total !== row.totalSize) {
      return refuse(refusals.rangeMismatch(`The upload is ${row.totalSize} bytes, not ${request.total}.`));
    }
    const replay = request.acceptReplay && start + length <= row.offset;
    const closed = this.#closedRefusal(row);
    // A cancelled, expired or failed upload kept none of its bytes: a replay learns that, not 204.
    if (replay && (!closed || row.status === "completed" || row.status === "assembling")) {
      this.#noteRetry(row);
      return ok({ replayed: this.#view(row) });
    }
    if (closed) return refuse(closed);
    if (start !== row.offset) {
      this.#noteRetry(row);
      return refuse(refusals.chunkOutOfOrder(row.offset, `This chunk starts at byte ${start}.`));
    }
    if (start + length > row.totalSize) return refuse(refusals.beyondEnd(row.totalSize));
    const now = Date.now();
    if (this.#lease && this.#lease.expiresAt > now) {
      this.#noteRetry(row);
      return refuse(refusals.chunkOutOfOrder(row.offset, "Another chunk of this upload is still arriving."));
    }
    if (row.offset === 0 && row.firstBytesBy != null && now > row.firstBytesBy) {
      // It no longer counts against its address's slots (core/admission.ts), so it takes no bytes.
      await this.#close(row, "expired", null);
      return refuse(this.#closedRefusal(this.#load()!)!);
    }
    return ok({ row });
  }

  /** Takes the lease for an admitted chunk; one that reaches its part's end gets what filling it needs. */
  async #grant(row: SessionRow, request: AppendRequest): Promise<Outcome<{ grant: ChunkGrant }>> {
    const leaseId = newId();
    this.#lease = { id: leaseId, expiresAt: Date.now() + this.#leaseMs };
    let fill: ChunkGrant["fill"] = null;
    if (request.length > 0 && request.start + request.length >= this.#partEnd(row)) {
      const multipart = row.totalSize > row.partSize ? await this.multipartUpload(leaseId) : ok(null);
      if (!multipart.ok) return multipart;
      fill = { tail: this.#storedTail(), multipartUploadId: multipart.value };
    }
    return ok({ grant: { leaseId, layout: this.#layout(this.#load() ?? row), leaseMs: this.#leaseMs, fill } });
  }

  /** Where the part the upload's offset is inside ends. */
  #partEnd(row: SessionRow): number {
    return Math.min((Math.floor(row.offset / row.partSize) + 1) * row.partSize, row.totalSize);
  }

  /**
   * Records what a leased chunk wrote, in one transaction with the new offset: its parts (which
   * replace the stored tail) and the bytes it left after the last part boundary (the new tail).
   * Refused if the lease was lost (lapsed and taken by another chunk, abort, expiry).
   * `keepLease` keeps it for the next piece of a streamed append.
   */
  async commitChunk(
    leaseId: string,
    end: number,
    written: ChunkWriteResult,
    keepLease = false,
  ): Promise<Outcome<{ view: SessionView; layout: ByteLayout; mirrorProgress: boolean }>> {
    const row = this.#load();
    if (!row) return refuse(refusals.uploadNotFound());
    if (this.#lease?.id !== leaseId) return refuse(this.#lostTurn(row));
    const wasPending = row.status === "pending";
    // TRANSITION (until no Worker of the version before objectSize runs): such a Worker, in flight
    // across the deploy or in a gradual one, sends `wroteObject` and no objectSize. Undefined must
    // not count as an object written: that would drop the stored tail of a chunk that wrote none.
    // (Its put, unnamed, leaves stale tail rows until completion, and assembly heads.)
    const objectSize = typeof written.objectSize === "number" ? written.objectSize : null;
    const wroteStorage = written.parts.length > 0 || objectSize !== null;
    this.ctx.storage.transactionSync(() => {
      for (const part of written.parts) {
        this.#sql.exec(
          "INSERT OR REPLACE INTO parts (part_number, etag, size) VALUES (?, ?, ?)",
          part.partNumber,
          part.etag,
          part.size,
        );
      }
      // The tail went into the part (or the one object) this chunk filled.
      if (wroteStorage) this.#dropTail(row);
      if (objectSize !== null) row.objectSize = objectSize;
      if (written.tail) this.#storeTail(end - written.tail.byteLength, written.tail);
      if (end > row.offset) row.lastBytesAt = Date.now();
      row.offset = end;
      row.status = "uploading";
      this.#save(row);
    });
    this.#announce(row, end === row.totalSize || wasPending ? "status" : "progress");
    this.#lease = keepLease && end < row.totalSize ? { id: leaseId, expiresAt: Date.now() + this.#leaseMs } : null;
    // The first part's commit names the multipart upload, which the sweeper's last net reads from D1.
    const firstPart = written.parts.some((part) => part.partNumber === 1);
    const mirrorProgress = this.#mirrorDue(wasPending || firstPart, wroteStorage);
    return ok({ view: this.#view(row), layout: this.#layout(row), mirrorProgress });
  }

  /** The stored tail, in order, for the leased chunk that fills its part. */
  async readTail(leaseId: string): Promise<Outcome<Uint8Array[]>> {
    const row = this.#load();
    if (!row || this.#lease?.id !== leaseId) return refuse(this.#lostTurn(row));
    return ok(this.#storedTail());
  }

  /** The upload's multipart upload, created for the leased chunk that fills its first part. */
  async multipartUpload(leaseId: string): Promise<Outcome<string>> {
    const row = this.#load();
    if (!row || this.#lease?.id !== leaseId) return refuse(this.#lostTurn(row));
    if (row.multipartUploadId) return ok(row.multipartUploadId);
    const { uploadId } = await this.env.PHOTOS.createMultipartUpload(row.r2Key);
    // The input gate opened: an abort or expiry may have closed the session meanwhile.
    const now = this.#load();
    if (!now || this.#lease?.id !== leaseId || now.multipartUploadId) {
      await this.env.PHOTOS.resumeMultipartUpload(row.r2Key, uploadId).abort().catch(() => {});
      return now?.multipartUploadId && this.#lease?.id === leaseId ? ok(now.multipartUploadId) : refuse(this.#lostTurn(now));
    }
    now.multipartUploadId = uploadId;
    this.#save(now);
    return ok(uploadId);
  }

  #lostTurn(row: SessionRow | null): Refusal {
    if (!row) return refusals.uploadNotFound();
    return this.#closedRefusal(row) ?? refusals.chunkOutOfOrder(row.offset, "This chunk's turn was lost.");
  }

  /** The Worker's heartbeat while a body streams; false if the lease is no longer its own. */
  async renewLease(leaseId: string): Promise<boolean> {
    if (this.#lease?.id !== leaseId) return false;
    this.#lease.expiresAt = Date.now() + this.#leaseMs;
    return true;
  }

  /** A chunk read whole before its session heard of it (`appendInPart`) was cut off: its client will retry. */
  async noteCutOff(caller: Caller): Promise<void> {
    const auth = await this.#authorised(caller);
    if (auth.ok) this.#noteRetry(auth.value);
  }

  /**
   * Gives the lease back: after a streamed append that is done, or (`failed`) after a chunk cut
   * off or refused midway, which its client will send again.
   */
  async releaseChunk(leaseId: string, failed: boolean): Promise<void> {
    if (this.#lease?.id !== leaseId) return;
    this.#lease = null;
    const row = failed ? this.#load() : null;
    if (row) this.#noteRetry(row);
  }

  /**
   * Assembles the upload, records the photo and enqueues it. Idempotent: a repeat answers with
   * the same photo (`created: false`).
   */
  async complete(caller: Caller): Promise<Outcome<{ created: boolean; photo: PhotoReceipt }>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    if (row.partial) return refuse(partialIsNoPhoto);
    if (row.status === "completed") return ok({ created: false, photo: this.#receipt(row) });
    const closed = this.#closedRefusal(row);
    if (closed && row.status !== "assembling") return refuse(closed);
    if (row.offset < row.totalSize) return refuse(refusals.uploadIncomplete(row.offset, row.totalSize));
    const wasAssembling = this.#assembling !== null;
    const outcome = await this.#assemble();
    return outcome.ok ? ok({ created: !wasAssembling, photo: this.#receipt(outcome.value) }) : refuse(outcome.refusal);
  }

  /**
   * Lets the caller send this upload's preview: fixes the photo's id now, so the preview's photo
   * row is the one completion records later. Refused once the original has all its bytes
   * (assembling, completed), once the session has ended, and where a new upload would be refused.
   */
  async claimPreview(caller: Caller): Promise<Outcome<PreviewClaim>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    if (auth.value.partial) {
      return refuse({ status: 409, code: "upload_is_partial", message: "A partial upload becomes part of a final upload; it has no preview." });
    }
    const closed = this.#closedRefusal(auth.value);
    if (closed) return refuse(closed);
    const refusal = uploadAdmissionRefusal(await findJoinToken(database(this.env), auth.value.tokenHash));
    if (refusal) return refuse(refusal);
    const row = this.#load()!; // re-read: the input gate opened
    const stillOpen = this.#closedRefusal(row);
    if (stillOpen) return refuse(stillOpen);
    row.photoId ??= newId();
    this.#save(row);
    return ok({
      uploadId: row.uploadId,
      photoId: row.photoId,
      eventId: row.eventId,
      deviceId: row.deviceId,
      r2Key: row.r2Key,
      totalSize: row.totalSize,
      filename: row.filename,
      contentType: row.contentType,
      declaredSha256: row.declaredSha256,
    });
  }

  /** Assembles a concatenation partial once all its bytes are in (idempotent). */
  async assemblePartial(caller: Caller): Promise<Outcome<SessionView>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    if (!row.partial) return refuse({ status: 409, code: "upload_not_partial", message: "This is not a partial upload." });
    const closed = this.#closedRefusal(row);
    if (closed) return refuse(closed);
    if (row.assembled) return ok(this.#view(row));
    if (row.offset < row.totalSize) return refuse(refusals.uploadIncomplete(row.offset, row.totalSize));
    const outcome = await this.#assemble();
    return outcome.ok ? ok(this.#view(outcome.value)) : refuse(outcome.refusal);
  }

  /**
   * Makes an assembled partial part of the final upload `finalId` alone: another final naming it
   * is refused, so two finals racing for one partial make one photo (idempotent for `finalId`).
   */
  async reservePartial(caller: Caller, finalId: string): Promise<Outcome<SessionView>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    if (!row.partial) return refuse({ status: 409, code: "upload_not_partial", message: "This is not a partial upload." });
    if (row.status === "completed" || (row.reservedFor !== undefined && row.reservedFor !== finalId)) {
      return refuse({ ...refusals.uploadCompleted(), message: "This partial upload is already part of another final upload." });
    }
    const closed = this.#closedRefusal(row);
    if (closed) return refuse(closed);
    if (!row.assembled) return refuse(refusals.uploadIncomplete(row.offset, row.totalSize));
    row.reservedFor = finalId;
    this.#save(row);
    return ok(this.#view(row));
  }

  /** Frees a partial whose final upload failed before consuming it, for another final to use. */
  async releasePartial(caller: Caller, finalId: string): Promise<void> {
    const auth = await this.#authorised(caller);
    if (!auth.ok || auth.value.reservedFor !== finalId || auth.value.status !== "uploading") return;
    delete auth.value.reservedFor;
    this.#save(auth.value);
  }

  /** Ends an assembled partial once its final upload has its bytes: done, and its object deleted (idempotent). */
  async consumePartial(caller: Caller): Promise<Outcome<SessionView>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    if (!row.partial) return refuse({ status: 409, code: "upload_not_partial", message: "This is not a partial upload." });
    if (row.status === "completed") return ok(this.#view(row));
    if (!row.assembled || row.status !== "uploading") return refuse(this.#closedRefusal(row) ?? refusals.uploadIncomplete(row.offset, row.totalSize));
    row.status = "completed";
    row.closedAt = Date.now();
    this.#save(row);
    await this.ctx.storage.setAlarm(row.closedAt + SESSION_RETENTION_MS);
    await this.env.PHOTOS.delete(row.r2Key);
    const now = Date.now();
    await database(this.env)
      .update(uploadSessions)
      .set({ status: "completed", receivedBytes: row.totalSize, completedAt: now, updatedAt: now })
      .where(eq(uploadSessions.id, row.uploadId));
    return ok(this.#view(row));
  }

  /** Cancels the upload and frees its storage. Idempotent for sessions that are already closed. */
  async abort(caller: Caller): Promise<Outcome<SessionView>> {
    const auth = await this.#authorised(caller);
    if (!auth.ok) return refuse(auth.refusal);
    const row = auth.value;
    if (row.status === "completed" || row.status === "assembling") return refuse(refusals.uploadCompleted());
    if (!terminal.has(row.status)) await this.#close(row, "cancelled", null);
    return ok(this.#view(row));
  }

  /**
   * Ends a session for its creator, who could not present its key: the create's answer was lost,
   * and then the same file was created again (core/admission.ts) or cancelled with its batch's key
   * (core/batches.ts); those callers checked the claim. Never ends one being assembled or done.
   */
  async cancelUnfinished(reason: string): Promise<UploadStatus | null> {
    const row = this.#load();
    if (!row) {
      // Its create may still be on its way to `init` (its D1 row inserted just before): it must not
      // start a live session once the caller has closed that row. The alarm forgets this mark.
      await this.ctx.storage.put(CANCELLED_BEFORE_START, reason);
      await this.ctx.storage.setAlarm(Date.now() + SESSION_RETENTION_MS);
      return null;
    }
    if (row.status === "pending" || row.status === "uploading") await this.#close(row, "cancelled", reason);
    return this.#load()!.status;
  }

  /** For the sweeper: closes the session if it is past its expiry. Returns the resulting status. */
  async expireIfDue(): Promise<UploadStatus | null> {
    const row = this.#load();
    if (!row) return null;
    if (terminal.has(row.status) || row.expiresAt > Date.now()) return row.status;
    await this.#expire(row);
    return this.#load()!.status;
  }

  override async alarm(): Promise<void> {
    const row = this.#load();
    // Nothing but a cancelled-before-start mark whose create never came.
    if (!row) return this.ctx.storage.deleteAll();
    if (terminal.has(row.status)) return this.#retire(row);
    if (row.expiresAt > Date.now()) {
      await this.ctx.storage.setAlarm(row.expiresAt);
      return;
    }
    await this.#expire(row);
  }

  // --- internals -------------------------------------------------------------------------

  #load(): SessionRow | null {
    if (!this.#exists) return null;
    const found = this.#sql.exec<{ data: string }>("SELECT data FROM session WHERE id = 1").toArray()[0];
    return found ? (JSON.parse(found.data) as SessionRow) : null;
  }

  #save(row: SessionRow): void {
    this.#sql.exec("INSERT OR REPLACE INTO session (id, data) VALUES (1, ?)", JSON.stringify(row));
  }

  /** TRANSITION: the old engine's staged tail segments (sessions created before tails moved here). */
  #stagedTail(row: SessionRow): TailSegment[] {
    if (row.tailInSession) return [];
    return this.#sql.exec<{ start: number; end: number; key: string }>("SELECT start, end, key FROM tail ORDER BY start").toArray();
  }

  /** Adds bytes [start, start + length) to the stored tail, in rows of at most TAIL_ROW_BYTES (inside a transaction). */
  #storeTail(start: number, bytes: Uint8Array): void {
    for (let at = 0; at < bytes.byteLength; at += TAIL_ROW_BYTES) {
      this.#sql.exec("INSERT OR REPLACE INTO tail_bytes (start, bytes) VALUES (?, ?)", start + at, bytes.subarray(at, at + TAIL_ROW_BYTES));
    }
  }

  #storedTail(): Uint8Array[] {
    return this.#sql
      .exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM tail_bytes ORDER BY start")
      .toArray()
      .map((found) => new Uint8Array(found.bytes));
  }

  /** Forgets the tail (inside a transaction that records where its bytes went, or when the session ends). */
  #dropTail(row: SessionRow): void {
    this.#sql.exec("DELETE FROM tail_bytes");
    if (!row.tailInSession) this.#sql.exec("DELETE FROM tail"); // TRANSITION
  }

  #layout(row: SessionRow): ByteLayout {
    return {
      uploadId: row.uploadId,
      r2Key: row.r2Key,
      totalSize: row.totalSize,
      partSize: row.partSize,
      multipartUploadId: row.multipartUploadId,
      partsDone: this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM parts").one().n,
      offset: row.offset,
      stagedTail: this.#stagedTail(row),
    };
  }

  #view(row: SessionRow): SessionView {
    return {
      upload_id: row.uploadId,
      status: row.status,
      received_bytes: row.offset,
      total_size: row.totalSize,
      chunk_size: row.chunkSize,
      expires_at: new Date(row.expiresAt).toISOString(),
      photo_id: row.photoId,
      partial: row.partial,
    };
  }

  #receipt(row: SessionRow): PhotoReceipt {
    return { photo_id: row.photoId!, file_path: row.r2Key, thumbnail_path: null, status: "processing" };
  }

  /** Loads the session and checks the caller's token and key; expires it first if it is due. */
  async #authorised(caller: Caller): Promise<Outcome<SessionRow>> {
    const row = this.#load() ?? (await this.#retired(caller.uploadId));
    if (!row || !digestsEqual(caller.tokenHash, row.tokenHash)) return refuse(refusals.uploadNotFound());
    if (!digestsEqual(caller.keyHash, row.keyHash)) return refuse(refusals.invalidUploadKey());
    if (!terminal.has(row.status) && row.status !== "assembling" && row.expiresAt <= Date.now()) {
      await this.#expire(row);
      return ok(this.#load()!);
    }
    return ok(row);
  }

  /** Why no more bytes may be written, or null while they may. */
  #closedRefusal(row: SessionRow): Refusal | null {
    switch (row.status) {
      case "expired":
        return refusals.sessionExpired();
      case "cancelled":
        return refusals.uploadCancelled();
      case "failed":
        return refusals.uploadFailed(row.failureReason);
      case "completed":
      case "assembling":
        return row.final
          ? { status: 403, code: "final_upload", message: "A final upload is made of its partial uploads; it takes no bytes." }
          : refusals.uploadCompleted();
      default:
        return null;
    }
  }

  async #expire(row: SessionRow): Promise<void> {
    // All bytes are in and assembly was under way: finishing it beats throwing the photo away.
    if (!row.partial && (row.status === "assembling" || (row.offset === row.totalSize && row.status === "uploading"))) {
      const outcome = await this.#assemble();
      if (outcome.ok) return;
    }
    await this.#close(this.#load()!, "expired", null);
  }

  /**
   * Once the retention window has passed, deletes the session's storage (alarms may fire twice:
   * a second run finds nothing). Until then, re-arms the alarm for its end.
   */
  async #retire(row: SessionRow): Promise<void> {
    // Sessions closed before retention existed have no closedAt: their window is long over.
    const retireAt = (row.closedAt ?? 0) + SESSION_RETENTION_MS;
    if (retireAt > Date.now()) {
      await this.ctx.storage.setAlarm(retireAt);
      return;
    }
    // D1 answers from here on, so it must hold the final status even if the close's own write failed.
    await database(this.env)
      .update(uploadSessions)
      .set({ status: row.status, receivedBytes: row.offset, failureReason: row.failureReason, updatedAt: Date.now() })
      .where(and(eq(uploadSessions.id, row.uploadId), inArray(uploadSessions.status, activeUploadStatuses)));
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#exists = false;
    this.#lease = null;
  }

  /** A session retired after its retention window, as D1 recorded it; null if it is not one. */
  async #retired(uploadId: string): Promise<SessionRow | null> {
    const found = await database(this.env)
      .select({ session: uploadSessions, tokenHash: joinTokens.tokenHash })
      .from(uploadSessions)
      .innerJoin(joinTokens, eq(joinTokens.id, uploadSessions.joinTokenId))
      .where(eq(uploadSessions.id, uploadId))
      .get();
    if (!found || !terminal.has(found.session.status)) return null;
    const { session } = found;
    return {
      uploadId: session.id,
      eventId: session.eventId,
      deviceId: session.deviceId,
      tokenHash: found.tokenHash,
      keyHash: session.uploadKeyHash,
      totalSize: session.totalSize,
      chunkSize: session.chunkSize,
      partSize: partSizeFor(session.totalSize),
      expiresAt: session.expiresAt,
      r2Key: session.r2Key,
      filename: session.filename,
      contentType: session.contentType,
      declaredSha256: session.declaredSha256,
      partial: session.partial,
      // Not recorded in D1; it only changes the code a PATCH to a finished final upload gets.
      final: false,
      firstBytesBy: null,
      createdAt: session.createdAt,
      status: session.status,
      offset: session.receivedBytes,
      multipartUploadId: session.multipartUploadId,
      photoId: session.photoId,
      failureReason: session.failureReason,
      closedAt: session.completedAt ?? session.updatedAt,
    };
  }

  /** Moves to a terminal status other than completed and frees the upload's storage. */
  async #close(row: SessionRow, status: "cancelled" | "expired" | "failed", reason: string | null): Promise<void> {
    row.status = status;
    row.failureReason = reason;
    row.closedAt = Date.now();
    this.#lease = null;
    this.ctx.storage.transactionSync(() => {
      this.#save(row);
      this.#dropTail(row);
    });
    await this.ctx.storage.setAlarm(row.closedAt + SESSION_RETENTION_MS);
    // A multipart upload whose abort failed keeps its id in D1, for the sweeper to try again.
    let multipartLeft = row.multipartUploadId;
    if (row.multipartUploadId) {
      await this.env.PHOTOS.resumeMultipartUpload(row.r2Key, row.multipartUploadId)
        .abort()
        .then(() => (multipartLeft = null), () => {}); // already aborted or completed
    }
    // Also when the multipart upload was completed (an assembled partial, a refused photo).
    await this.env.PHOTOS.delete(row.r2Key);
    await this.#deleteTail(row);
    await database(this.env)
      .update(uploadSessions)
      .set({ status, failureReason: reason, receivedBytes: row.offset, multipartUploadId: multipartLeft, updatedAt: Date.now() })
      .where(and(eq(uploadSessions.id, row.uploadId), inArray(uploadSessions.status, activeUploadStatuses)));
    // After the session's D1 status (a preview recorded from here on is refused): its original will never come.
    if (row.photoId && !row.partial) await endPreview(this.env, row.photoId, status);
    logLine("info", "upload_closed", { upload_id: row.uploadId, event_id: row.eventId, status, bytes: row.offset });
    recordMetric(this.env, "upload_closed", { eventId: row.eventId, code: status, bytes: row.offset });
    this.#announce(row, "status");
  }

  /**
   * A chunk that brought nothing new: a replay of accepted bytes, one out of order or while
   * another holds the lease, one cut off or refused midway. Its client is retrying, which the
   * event's upload health shows until bytes land again.
   */
  #noteRetry(row: SessionRow): void {
    if (terminal.has(row.status)) return;
    this.#retriedAt = Date.now();
    this.#announce(row, "retry");
  }

  /**
   * Tells the event's hub where this upload stands: status changes at once, progress at most
   * every PROGRESS_INTERVAL_MS (less while nobody listens), a retry at once and then at most every
   * RETRY_ANNOUNCE_INTERVAL_MS until progress is announced again. Partials are internal.
   */
  /**
   * Whether the chunk just committed should copy the progress to D1: always when `now` (the upload
   * started, or its multipart upload was just named), else after a filled part, at most every
   * PROGRESS_MIRROR_MS.
   */
  #mirrorDue(now: boolean, filledPart: boolean): boolean {
    const at = Date.now();
    if (!now && !(filledPart && at - this.#progressMirroredAt >= PROGRESS_MIRROR_MS)) return false;
    this.#progressMirroredAt = at;
    return true;
  }

  #announce(row: SessionRow, news: "status" | "progress" | "retry"): void {
    const now = Date.now();
    if (row.partial) return;
    // The hub shows a device as retrying from a retry's announcement until one of progress.
    const retryShown = this.#retryAnnouncedAt > this.#progressAnnouncedAt;
    if (news === "progress" && !retryShown && (now - this.#progressAnnouncedAt < PROGRESS_INTERVAL_MS || now < this.#nobodyListensUntil)) return;
    if (news === "retry" && retryShown && now - this.#retryAnnouncedAt < RETRY_ANNOUNCE_INTERVAL_MS) return;
    if (news === "retry") this.#retryAnnouncedAt = now;
    else this.#progressAnnouncedAt = now;
    const upload = {
      id: row.uploadId,
      status: row.status,
      deviceId: row.deviceId,
      filename: row.filename,
      contentType: row.contentType,
      receivedBytes: row.offset,
      totalSize: row.totalSize,
      failureReason: row.failureReason,
      photoId: row.photoId,
      createdAt: row.createdAt,
      updatedAt: now,
      expiresAt: row.expiresAt,
    };
    this.ctx.waitUntil(
      publishLive(this.env, row.eventId, { kind: "upload", upload, lastBytesAt: row.lastBytesAt ?? null, retriedAt: this.#retriedAt }).then((listeners) => {
        this.#nobodyListensUntil = listeners === 0 ? Date.now() + NO_LISTENERS_BACKOFF_MS : 0;
      }),
    );
  }

  /**
   * Deletes the upload's tail once its bytes are in the object or no longer wanted. TRANSITION:
   * for a session from before tails moved here, also every staging object the old engine wrote
   * (including those of failed chunk attempts).
   */
  async #deleteTail(row: SessionRow): Promise<void> {
    this.#dropTail(row);
    if (row.tailInSession) return;
    const prefix = r2Keys.stagingPrefix(row.uploadId);
    let cursor: string | undefined;
    do {
      const listing = await this.env.PHOTOS.list({ prefix, cursor });
      if (listing.objects.length) await this.env.PHOTOS.delete(listing.objects.map((o) => o.key));
      cursor = listing.truncated ? listing.cursor : undefined;
    } while (cursor);
  }

  #assemble(): Promise<Outcome<SessionRow>> {
    this.#assembling ??= this.#runAssembly().finally(() => {
      this.#assembling = null;
    });
    return this.#assembling;
  }

  /**
   * The stored object's size as R2 answered it: completing the multipart upload, or the chunk
   * that put the one object. No class B operation, unless a head must tell (a run interrupted
   * after completing; a session from before objectSize). Undefined if there is no object.
   */
  async #storedSize(row: SessionRow): Promise<Outcome<number | undefined>> {
    const bucket = this.env.PHOTOS;
    if (row.multipartUploadId) {
      const parts = this.#sql
        .exec<{ partNumber: number; etag: string }>("SELECT part_number AS partNumber, etag FROM parts ORDER BY part_number")
        .toArray();
      try {
        return ok((await bucket.resumeMultipartUpload(row.r2Key, row.multipartUploadId).complete(parts)).size);
      } catch (error) {
        // A previous run may have completed it before being interrupted.
        const head = await bucket.head(row.r2Key);
        if (head?.size !== row.totalSize) {
          const reason = `assembling the upload failed: ${String(error)}`;
          logLine("error", "upload_assembly_failed", { upload_id: row.uploadId, event_id: row.eventId, reason });
          return refuse({ status: 500, code: "assembly_failed", message: "The upload could not be assembled; try completing it again." });
        }
        return ok(head.size);
      }
    }
    return ok(row.objectSize ?? (await bucket.head(row.r2Key))?.size);
  }

  async #runAssembly(): Promise<Outcome<SessionRow>> {
    let row = this.#load()!;
    if (row.status === "completed") return ok(row);
    // A photo lands only where a new upload would be taken now: read fresh, not cached. (A run
    // that was interrupted passed this check when it began, and may already have the photo.)
    const interrupted = row.status === "assembling";
    if (!row.partial && !interrupted) {
      const refusal = uploadAdmissionRefusal(await findJoinToken(database(this.env), row.tokenHash));
      if (refusal) return refuse(refusal);
      row = this.#load()!; // an abort may have closed it meanwhile
      if (terminal.has(row.status)) return row.status === "completed" ? ok(row) : refuse(this.#closedRefusal(row)!);
    }
    row.status = "assembling";
    if (!row.partial) row.photoId ??= newId();
    this.#save(row);

    // A run interrupted after it recorded the photo has nothing left to check in storage, which
    // processing may have changed since: linked to an earlier copy of the same bytes, the photo's
    // own original is deleted. Only the recording is left to finish.
    if (!(interrupted && !row.partial && (await photoRecorded(this.env, row.uploadId)))) {
      const stored = await this.#storedSize(row);
      if (!stored.ok) return refuse(stored.refusal);
      if (stored.value !== row.totalSize) {
        const reason = `stored object is ${stored.value ?? "missing"}, expected ${row.totalSize} bytes`;
        await this.#close(row, "failed", reason);
        return refuse(refusals.uploadFailed(reason));
      }
    }

    if (row.partial) {
      // Not done until a final upload consumes it: it keeps its slot, its alarm and its expiry.
      row.status = "uploading";
      row.assembled = true;
      this.#lease = null;
      this.#save(row);
      this.#sql.exec("DELETE FROM parts");
      await this.#deleteTail(row);
      await database(this.env)
        .update(uploadSessions)
        .set({ receivedBytes: row.totalSize, updatedAt: Date.now() })
        .where(eq(uploadSessions.id, row.uploadId));
      return ok(row);
    }
    if (!(await recordCompletion(this.env, this.ctx, { ...row, photoId: row.photoId! }))) {
      await this.#close(this.#load()!, "failed", "the event was archived before the upload completed");
      return refuse(refusals.eventClosed());
    }

    row.status = "completed";
    row.closedAt = Date.now();
    this.#lease = null;
    this.#save(row);
    recordMetric(this.env, "upload_completed", { eventId: row.eventId, bytes: row.totalSize, ms: Date.now() - row.createdAt });
    this.#announce(row, "status");
    this.#sql.exec("DELETE FROM parts");
    await this.ctx.storage.setAlarm(row.closedAt + SESSION_RETENTION_MS);
    await this.#deleteTail(row);
    return ok(row);
  }
}
