/**
 * Batches: a guest registers a whole selection in one call and follows every file through upload
 * and processing. Registration checks each file against the event's limits on its own, so one
 * refusal does not fail the others; the upload sessions themselves are created later, one per
 * file as the device's concurrency slots free up, and linked to their batch file.
 */
import { and, asc, eq } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { batches, batchFiles, photos, uploadSessions, type EventRow } from "../db/schema";
import { newId, randomSecret, secretMatches, sha256Hex } from "../lib/crypto";
import { ApiError, type Refusal } from "./errors";
import { cleanFilename } from "./filenames";
import { fileRefusal, resolveJoinToken, uploadsClosedRefusal } from "./events";

export interface BatchFileInput {
  clientId: string;
  filename: string;
  size: number;
  contentType: string;
}

/** A file's state as the guest understands it. */
export type BatchFileState = "waiting" | "uploading" | "processing" | "done" | "failed" | "refused" | "cancelled";

const batchNotFound = (): Refusal => ({ status: 404, code: "batch_not_found", message: "No such batch for this event." });
const invalidBatchKey = (): Refusal => ({ status: 401, code: "invalid_batch_key", message: "The Batch-Key header is missing or does not match this batch." });

// D1 allows 100 bound parameters per statement; a batch file row binds 10.
const ROWS_PER_INSERT = 9;

export async function registerBatch(env: Env, joinToken: string, deviceId: string, files: BatchFileInput[]) {
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
  const rows = files.map((file, position) => {
    const refusal = fileRefusal(event, file.size, file.contentType);
    return {
      id: newId(),
      batchId,
      clientId: file.clientId,
      position,
      filename: cleanFilename(file.filename),
      size: file.size,
      contentType: file.contentType,
      refusalCode: refusal?.code ?? null,
      refusalMessage: refusal?.message ?? null,
      uploadId: null,
    };
  });
  const inserts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) inserts.push(db.insert(batchFiles).values(rows.slice(i, i + ROWS_PER_INSERT)));
  await db.batch([db.insert(batches).values({ id: batchId, eventId: event.id, deviceId, batchKeyHash: await sha256Hex(batchKey) }), ...inserts]);
  return {
    batch_id: batchId,
    batch_key: batchKey,
    event_id: event.id,
    files: rows.map((row) => ({
      client_id: row.clientId,
      file_id: row.id,
      state: (row.refusalCode ? "refused" : "waiting") satisfies BatchFileState,
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

/** Checks that a create names a file of a batch of this event and device, with the batch's key. */
export async function authorizeBatchFile(db: Database, event: EventRow, claim: BatchFileClaim) {
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
  if (found.file.refusalCode) {
    throw new ApiError({ status: 409, code: "batch_file_refused", message: `This file was refused: ${found.file.refusalMessage}` });
  }
}

export async function linkBatchUpload(db: Database, fileId: string, uploadId: string) {
  await db.update(batchFiles).set({ uploadId }).where(eq(batchFiles.id, fileId));
}

/** Where each file of a batch stands, from its upload session and photo. */
export async function batchSnapshot(env: Env, joinToken: string, batchId: string, batchKey: string | undefined) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const batch = await db.select().from(batches).where(and(eq(batches.id, batchId), eq(batches.eventId, event.id))).get();
  if (!batch) throw new ApiError(batchNotFound());
  if (!(await secretMatches(batchKey, batch.batchKeyHash))) throw new ApiError(invalidBatchKey());

  const rows = await db
    .select({ file: batchFiles, upload: uploadSessions, photo: { id: photos.id, status: photos.status, failureReason: photos.failureReason } })
    .from(batchFiles)
    .leftJoin(uploadSessions, eq(uploadSessions.id, batchFiles.uploadId))
    .leftJoin(photos, eq(photos.uploadId, batchFiles.uploadId))
    .where(eq(batchFiles.batchId, batch.id))
    .orderBy(asc(batchFiles.position));
  const counts: Record<BatchFileState | "total", number> = { total: 0, waiting: 0, uploading: 0, processing: 0, done: 0, failed: 0, refused: 0, cancelled: 0 };
  const files = rows.map(({ file, upload, photo }) => {
    const { state, error } = fileState(file.refusalCode, file.refusalMessage, upload, photo);
    counts.total++;
    counts[state]++;
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
  });
  return { batch_id: batch.id, created_at: new Date(batch.createdAt).toISOString(), counts, files };
}

function fileState(
  refusalCode: string | null,
  refusalMessage: string | null,
  upload: { status: string; failureReason: string | null } | null,
  photo: { status: string; failureReason: string | null } | null,
): { state: BatchFileState; error: { code: string; message: string } | null } {
  if (refusalCode) return { state: "refused", error: { code: refusalCode, message: refusalMessage ?? "" } };
  if (photo) {
    if (photo.status === "processing") return { state: "processing", error: null };
    if (photo.status === "failed") return { state: "failed", error: { code: "processing_failed", message: photo.failureReason ?? "The photo could not be processed." } };
    if (photo.status === "deleted") return { state: "cancelled", error: null };
    return { state: "done", error: null };
  }
  switch (upload?.status) {
    case undefined:
    case "expired":
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
