/**
 * Batches: a guest registers a whole selection in one call and follows every file through upload
 * and processing. Registration checks each file against the event's limits on its own, so one
 * refusal does not fail the others; the upload sessions themselves are created later, one per
 * file as the device's concurrency slots free up, and linked to their batch file.
 *
 * What one join link can make D1 hold is bounded without letting anyone lock the others out:
 * only files without an upload count (those still waiting, and those refused or withdrawn, which
 * never get one). A device may have a quota of them (in batches active within the last hour); the
 * event holds at most its quota, and a registration that needs room takes it from the least
 * recently active batches, whose files without an upload are let go (their guests register them
 * again). Files that got an upload are bounded by the upload limits; the sweeper deletes batches
 * (with their files) after a while.
 */
import { and, asc, eq, exists, inArray, isNull, lt, notExists, sql, type SQL } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { batches, batchFiles, batchFileWithdrawals, photos, uploadSessions, type BatchFileRow, type EventRow } from "../db/schema";
import { newId, randomSecret, secretMatches, sha256Hex } from "../lib/crypto";
import { photoLimitRefusal, photosUsed } from "./allowance";
import { ApiError, type Refusal } from "./errors";
import { cleanFilename } from "./filenames";
import { acceptedTypes, fileRefusal, resolveJoinToken, uploadsClosedRefusal } from "./events";
import { mediaType } from "../lib/media-types";
import { cancelUnfinishedUpload } from "./session-client";

export interface BatchFileInput {
  clientId: string;
  filename: string;
  size: number;
  contentType: string;
}

/** A file's state as the guest understands it (`skipped`: withdrawn as a duplicate, core/batches.ts `withdrawBatchFile`). */
export const batchFileStates = ["waiting", "uploading", "processing", "done", "failed", "refused", "cancelled", "skipped"] as const;
export type BatchFileState = (typeof batchFileStates)[number];
export type BatchFileWithdrawal = (typeof batchFileWithdrawals)[number];

const batchNotFound = (): Refusal => ({
  status: 404,
  code: "batch_not_found",
  message: "No such batch or batch file for this event (files still waiting for their upload are let go when the event needs room): register the files again.",
});
const invalidBatchKey = (): Refusal => ({ status: 401, code: "invalid_batch_key", message: "The Batch-Key header is missing or does not match this batch." });

// D1 allows 100 bound parameters per statement; a batch file row binds 10, and its insert one more.
const ROWS_PER_INSERT = 9;

/** Batches (and their files) are deleted by the sweeper this long after registration. */
export const BATCH_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;

/** A batch none of whose files got an upload for this long no longer counts against its device's quota. */
export const BATCH_IDLE_MS = 60 * 60 * 1000;

/** `active_at` of batches being let go, within one registration's atomic D1 batch (never a real time). */
const LETTING_GO = -1;

/** The type stored for a file whose declared type the event does not accept (it is refused). */
const UNACCEPTED_TYPE = "application/octet-stream";

/** How many files may wait for their upload, per device and per event (wrangler.toml vars). */
export function batchQuotas(env: Pick<Env, "BATCH_FILES_PER_DEVICE" | "BATCH_FILES_PER_EVENT">) {
  const configured = (value: string, fallback: number) => (Number.isSafeInteger(Number(value)) && Number(value) > 0 ? Number(value) : fallback);
  return { perDevice: configured(env.BATCH_FILES_PER_DEVICE, 2000), perEvent: configured(env.BATCH_FILES_PER_EVENT, 100_000) };
}

export async function registerBatch(env: Env, joinToken: string, deviceId: string, files: BatchFileInput[], displayName?: string) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const closed = uploadsClosedRefusal(event);
  if (closed) throw new ApiError(closed);
  const clientIds = new Set(files.map((file) => file.clientId));
  if (clientIds.size !== files.length) {
    throw new ApiError({ status: 400, code: "invalid_request", message: "Every file of a batch needs its own client_id." });
  }

  const batchId = newId();
  const batchKey = randomSecret();
  // The files past the device's photo allowance are refused now (creates enforce it in any case).
  let photosLeft = event.maxPhotosPerGuest === null ? Infinity : event.maxPhotosPerGuest - (await photosUsed(db, event.id, deviceId));
  const rows = files.map((file, position) => {
    const contentType = mediaType(file.contentType);
    let refusal = fileRefusal(event, file.size, contentType);
    if (!refusal && photosLeft-- <= 0) refusal = photoLimitRefusal(event.maxPhotosPerGuest!);
    return {
      id: newId(),
      batchId,
      clientId: file.clientId,
      position,
      filename: cleanFilename(file.filename),
      size: file.size,
      contentType: acceptedTypes(event).includes(contentType) ? contentType : UNACCEPTED_TYPE,
      refusalCode: refusal?.code ?? null,
      refusalMessage: refusal?.message ?? null,
      uploadId: null,
    };
  });

  // One atomic D1 batch: room made in the event if the device may register these, then the batch
  // row if both quotas have room, then its files if it went in.
  const quotas = batchQuotas(env);
  const now = Date.now();
  const waiting = (scope: SQL | undefined) => sql`(select coalesce(sum(${batches.waitingFiles}), 0) from ${batches} where ${scope})`;
  const ofDevice = waiting(and(eq(batches.eventId, event.id), eq(batches.deviceId, deviceId), sql`${batches.activeAt} > ${now - BATCH_IDLE_MS}`));
  const ofEvent = waiting(eq(batches.eventId, event.id));
  const deviceFits = sql`${ofDevice} + ${rows.length} <= ${quotas.perDevice}`;
  const batchRow = { id: batchId, eventId: event.id, deviceId, batchKeyHash: await sha256Hex(batchKey), waitingFiles: rows.length, activeAt: now, displayName: displayName ?? null };
  const batchInserted = sql`exists (select 1 from ${batches} where ${eq(batches.id, batchId)})`;
  const statements = [
    ...letGoOfLeastActive(database(env), event.id, sql`${ofEvent} + ${rows.length} - ${quotas.perEvent}`, deviceFits),
    insertWhere(batches, [batchRow], sql`${deviceFits} and ${ofEvent} + ${rows.length} <= ${quotas.perEvent}`),
  ];
  const admission = statements.length - 1;
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) statements.push(insertWhere(batchFiles, rows.slice(i, i + ROWS_PER_INSERT), batchInserted));
  const results = await env.DB.batch(statements.map((query) => d1Statement(env.DB, query)));
  if (results[admission]!.meta.changes !== 1) {
    const [device] = await db.all<{ n: number }>(sql`select ${ofDevice} as n`);
    throw new ApiError(
      (device?.n ?? 0) + rows.length > quotas.perDevice
        ? {
            status: 429,
            code: "upload_limit",
            message: `A device may register at most ${quotas.perDevice} files for this event.`,
            details: { limit: "batch_files_per_device", max_batch_files_per_device: quotas.perDevice },
          }
        : {
            status: 429,
            code: "upload_limit",
            message: "This event takes no more file registrations for now.",
            details: { limit: "batch_files_per_event", max_batch_files_per_event: quotas.perEvent },
          },
    );
  }
  return {
    batch_id: batchId,
    batch_key: batchKey,
    event_id: event.id,
    files: rows.map((row) => ({
      client_id: row.clientId,
      file_id: row.id,
      state: row.refusalCode ? ("refused" as const) : ("waiting" as const),
      error: row.refusalCode ? { code: row.refusalCode, message: row.refusalMessage! } : null,
    })),
  };
}

export interface BatchFileClaim {
  batchId: string;
  fileId: string;
  batchKey: string | undefined;
  deviceId: string;
}

/**
 * Checks that a create names a file of a batch of this event and device, with the batch's key,
 * and that the file may still take an upload; refuses it with the reason otherwise.
 */
export async function authorizeBatchFile(db: Database, event: EventRow, claim: BatchFileClaim): Promise<void> {
  const found = await db
    .select({ batch: batches, file: batchFiles })
    .from(batchFiles)
    .innerJoin(batches, eq(batches.id, batchFiles.batchId))
    .where(and(eq(batchFiles.id, claim.fileId), eq(batches.id, claim.batchId), eq(batches.eventId, event.id)))
    .get();
  if (!found) throw new ApiError(batchNotFound());
  if (!(await secretMatches(claim.batchKey, found.batch.batchKeyHash))) throw new ApiError(invalidBatchKey());
  if (found.batch.deviceId !== claim.deviceId) {
    throw new ApiError({ status: 403, code: "batch_device_mismatch", message: "This batch belongs to another device." });
  }
  if (found.file.refusalCode) throw new ApiError(fileRefused(found.file));
  // Withdrawn for good: the snapshot never turns back from `skipped` or `cancelled` (the app registers a file it takes up again anew).
  if (found.file.withdrawn) throw new ApiError(fileWithdrawn(found.file.withdrawn));
}

/**
 * What `authorizeBatchFile` checks, as a condition of the create's own statement (the key by its
 * hash, `sha256Hex(claim.batchKey)`); a create it fails is checked again by `authorizeBatchFile`.
 */
export function batchFileClaimHolds(db: Database, eventId: string, claim: BatchFileClaim, batchKeyHash: string): SQL {
  const file = db
    .select({ one: sql`1` })
    .from(batchFiles)
    .innerJoin(batches, eq(batches.id, batchFiles.batchId))
    .where(
      and(
        eq(batchFiles.id, claim.fileId),
        eq(batches.id, claim.batchId),
        eq(batches.eventId, eventId),
        eq(batches.batchKeyHash, batchKeyHash),
        eq(batches.deviceId, claim.deviceId),
        isNull(batchFiles.refusalCode),
        isNull(batchFiles.withdrawn),
      ),
    );
  return sql`exists ${file}`;
}

/** The batch's display name, which its uploads carry unless they give their own. */
export function batchDisplayName(db: Database, batchId: string): SQL {
  // drizzle puts a subquery in parentheses of its own.
  return sql`${db.select({ name: batches.displayName }).from(batches).where(eq(batches.id, batchId))}`;
}

const fileRefused = (file: BatchFileRow): Refusal => ({ status: 409, code: "batch_file_refused", message: `This file was refused: ${file.refusalMessage}` });
const fileWithdrawn = (withdrawn: BatchFileWithdrawal): Refusal => ({
  status: 409,
  code: "batch_file_withdrawn",
  message: `This batch file was withdrawn (${withdrawn}) and takes no upload: register the file again to send it.`,
  details: { withdrawn },
});

/**
 * The guest's app withdraws a batch file that will never get a session: it was skipped as a
 * duplicate of bytes this device sent before, or cancelled. The batch key is the capability.
 * Idempotent. A file cancelled while its create was on its way may have a session the app never
 * heard of (the create's answer was lost): that session is ended too, or it would hold one of
 * the device's slots until it expired; the batch key that made it may end it. Any other file
 * with a session is refused (its session's state tells where it stands). Nothing grows: the row
 * exists already, and it still counts against the registration quotas (`waiting_files`, as
 * refused files do), so withdrawing frees no room to register more.
 */
export async function withdrawBatchFile(env: Env, joinToken: string, batchId: string, fileId: string, batchKey: string | undefined, withdrawal: BatchFileWithdrawal) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const ofThisBatch = and(eq(batchFiles.id, fileId), eq(batchFiles.batchId, batchId));
  const read = () =>
    db
      .select({ batch: batches, file: batchFiles })
      .from(batchFiles)
      .innerJoin(batches, eq(batches.id, batchFiles.batchId))
      .where(and(ofThisBatch, eq(batches.eventId, event.id)))
      .get();
  const found = await read();
  if (!found) throw new ApiError(batchNotFound());
  if (!(await secretMatches(batchKey, found.batch.batchKeyHash))) throw new ApiError(invalidBatchKey());
  // Conditional, so it never marks a file with a session or a refusal. A create that read the file
  // before this and links its session after it: the snapshot shows that session while it lives.
  await db
    .update(batchFiles)
    .set({ withdrawn: withdrawal })
    .where(and(ofThisBatch, isNull(batchFiles.uploadId), isNull(batchFiles.refusalCode), isNull(batchFiles.withdrawn)));
  const after = await read();
  if (!after) throw new ApiError(batchNotFound());
  const { file } = after;
  if (file.refusalCode) throw new ApiError(fileRefused(file));
  if (file.uploadId && withdrawal === "cancelled") {
    await cancelUnfinishedUpload(env, file.uploadId, "the guest cancelled the file before its upload was under way");
    // Its session over (ended now, or expired before), the file is withdrawn as one cancelled before
    // its create: a later create naming it is refused, and its snapshot never turns back to `waiting`.
    const sessionOver = db
      .select({ one: sql`1` })
      .from(uploadSessions)
      .where(and(eq(uploadSessions.id, file.uploadId), inArray(uploadSessions.status, ["cancelled", "expired"])));
    await db
      .update(batchFiles)
      .set({ withdrawn: withdrawal })
      .where(and(ofThisBatch, eq(batchFiles.uploadId, file.uploadId), isNull(batchFiles.withdrawn), exists(sessionOver)));
    const entry = (await fileEntries(db, eq(batchFiles.id, file.id)))[0];
    if (entry?.state === "cancelled") return entry;
  }
  if (file.uploadId) {
    throw new ApiError({
      status: 409,
      code: "batch_file_has_upload",
      message: "This file has an upload session: its state tells where it stands (end the session with DELETE on the upload to cancel it).",
      details: { upload_id: file.uploadId },
    });
  }
  if (file.withdrawn !== withdrawal) throw new ApiError(fileWithdrawn(file.withdrawn!));
  return fileView(file, null, null);
}

/**
 * Statements that let go of the waiting files of the event's least recently active batches, as
 * few batches as free `needed` waiting files (none if `needed` ≤ 0), if `when` holds: their
 * not-yet-uploaded files are deleted, and so are batches left with no file.
 */
function letGoOfLeastActive(db: Database, eventId: string, needed: SQL, when: SQL) {
  const byActivity = sql`select ${batches.id} as id, ${batches.waitingFiles} as files,
      sum(${batches.waitingFiles}) over (order by ${batches.activeAt}, ${batches.id}) as through
    from ${batches} where ${eq(batches.eventId, eventId)} and ${batches.waitingFiles} > 0`;
  const lettingGo = and(eq(batches.eventId, eventId), eq(batches.activeAt, LETTING_GO));
  return [
    sql`update ${batches} set ${sql.identifier(batches.activeAt.name)} = ${LETTING_GO}
      where ${batches.id} in (select id from (${byActivity}) where through - files < ${needed}) and ${when}`,
    db.delete(batchFiles).where(and(isNull(batchFiles.uploadId), inArray(batchFiles.batchId, db.select({ id: batches.id }).from(batches).where(lettingGo)))),
    db.delete(batches).where(and(lettingGo, notExists(db.select({ id: batchFiles.id }).from(batchFiles).where(eq(batchFiles.batchId, batches.id))))),
    db.update(batches).set({ waitingFiles: 0, activeAt: 0 }).where(lettingGo),
  ];
}

/**
 * The statements that link a batch file to its new upload (the file no longer waits, and its
 * batch was just active), for the batch of statements that inserts the upload: each takes effect
 * only if the insert did.
 */
export function batchUploadLinks(db: Database, fileId: string, uploadId: string) {
  const stillWaiting = db.select({ n: sql`count(*)` }).from(batchFiles).where(and(eq(batchFiles.id, fileId), isNull(batchFiles.uploadId)));
  const inserted = sql`exists ${db.select({ one: sql`1` }).from(uploadSessions).where(eq(uploadSessions.id, uploadId))}`;
  return [
    db
      .update(batches)
      .set({ activeAt: Date.now(), waitingFiles: sql`${batches.waitingFiles} - (${stillWaiting})` })
      .where(and(inArray(batches.id, db.select({ id: batchFiles.batchId }).from(batchFiles).where(eq(batchFiles.id, fileId))), inserted)),
    db.update(batchFiles).set({ uploadId }).where(and(eq(batchFiles.id, fileId), inserted)),
  ];
}

/**
 * Undoes `batchUploadLinks` for an upload whose session could not be started: the file waits
 * again (unless a later create has linked its own upload since).
 */
export function batchUploadUnlinks(db: Database, fileId: string, uploadId: string) {
  const linked = and(eq(batchFiles.id, fileId), eq(batchFiles.uploadId, uploadId));
  return [
    db
      .update(batches)
      .set({ waitingFiles: sql`${batches.waitingFiles} + 1` })
      .where(inArray(batches.id, db.select({ id: batchFiles.batchId }).from(batchFiles).where(linked))),
    db.update(batchFiles).set({ uploadId: null }).where(linked),
  ] as const;
}

/** Where each file of a batch stands, from its upload session and photo. */
export async function batchSnapshot(env: Env, joinToken: string, batchId: string, batchKey: string | undefined) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const batch = await db.select().from(batches).where(and(eq(batches.id, batchId), eq(batches.eventId, event.id))).get();
  if (!batch) throw new ApiError(batchNotFound());
  if (!(await secretMatches(batchKey, batch.batchKeyHash))) throw new ApiError(invalidBatchKey());

  const files = await fileEntries(db, eq(batchFiles.batchId, batch.id));
  const counts = { total: 0, ...Object.fromEntries(batchFileStates.map((state) => [state, 0])) } as Record<BatchFileState | "total", number>;
  for (const { state } of files) {
    counts.total++;
    counts[state]++;
  }
  return { batch_id: batch.id, created_at: new Date(batch.createdAt).toISOString(), counts, files };
}

/** The snapshot entries of the batch files `which` selects, in their batch's order, each with its upload and photo. */
async function fileEntries(db: Database, which: SQL) {
  const rows = await db
    .select({ file: batchFiles, upload: uploadSessions, photo: { id: photos.id, status: photos.status, failureReason: photos.failureReason } })
    .from(batchFiles)
    .leftJoin(uploadSessions, eq(uploadSessions.id, batchFiles.uploadId))
    .leftJoin(photos, eq(photos.uploadId, batchFiles.uploadId))
    .where(which)
    .orderBy(asc(batchFiles.position));
  return rows.map(({ file, upload, photo }) => fileView(file, upload, photo));
}

type UploadOfFile = { id: string; status: string; receivedBytes: number; failureReason: string | null };
type PhotoOfFile = { id: string; status: string; failureReason: string | null };

/** One file of a batch snapshot. */
function fileView(file: BatchFileRow, upload: UploadOfFile | null, photo: PhotoOfFile | null) {
  const { state, error } = fileState(file, upload, photo);
  return {
    file_id: file.id,
    client_id: file.clientId,
    filename: cleanFilename(file.filename),
    size: file.size,
    state,
    upload_id: upload?.id ?? null,
    received_bytes: upload?.receivedBytes ?? 0,
    photo_id: photo?.id ?? null,
    error,
  };
}

function fileState(
  file: BatchFileRow,
  upload: UploadOfFile | null,
  photo: PhotoOfFile | null,
): { state: BatchFileState; error: { code: string; message: string } | null } {
  if (file.refusalCode) return { state: "refused", error: { code: file.refusalCode, message: file.refusalMessage ?? "" } };
  if (photo) {
    if (photo.status === "processing") return { state: "processing", error: null };
    if (photo.status === "failed") return { state: "failed", error: { code: "processing_failed", message: photo.failureReason ?? "The photo could not be processed." } };
    if (photo.status === "deleted") return { state: "cancelled", error: null };
    return { state: "done", error: null };
  }
  switch (upload?.status) {
    case undefined:
    case "expired":
      // Withdrawn (a create that raced the withdrawal may have linked a session, which tells while it lives).
      if (file.withdrawn) return { state: file.withdrawn === "duplicate" ? "skipped" : "cancelled", error: null };
      // An expired session is replaced by a new one: the file is waiting for it.
      return { state: "waiting", error: null };
    case "failed":
      return { state: "failed", error: { code: "upload_failed", message: upload.failureReason ?? "The upload failed." } };
    case "cancelled":
      return { state: "cancelled", error: null };
    case "completed":
      return { state: "processing", error: null };
    default:
      return { state: "uploading", error: null };
  }
}

/** For the sweeper: deletes batches registered before `cutoff`, with their files, up to `limit` batches. */
export async function deleteBatchesBefore(env: Env, cutoff: number, limit: number): Promise<number> {
  const db = database(env);
  const old = await db.select({ id: batches.id }).from(batches).where(lt(batches.createdAt, cutoff)).limit(limit);
  if (old.length === 0) return 0;
  const ids = old.map((batch) => batch.id);
  await db.batch([db.delete(batchFiles).where(inArray(batchFiles.batchId, ids)), db.delete(batches).where(inArray(batches.id, ids))]);
  return ids.length;
}
