/**
 * What happens when an upload completes, in one place: the photo row (atomic with "the event is
 * not archived"), the processing queue's message and the live announcement. The upload session
 * (core/upload-session.ts) completes uploads; the sweeper and the dead-letter re-drive send
 * photos to the queue again with the same message.
 */
import { and, eq, exists, ne, sql } from "drizzle-orm";
import { database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { events, photos, uploadSessions } from "../db/schema";
import { announcePhoto } from "../live/publish";

/** The message the processing queue receives for each completed upload. */
export interface PhotoJob {
  photoId: string;
  eventId: string;
  uploadId: string;
  originalKey: string;
}

/** The columns of `photos` that make a photo's `PhotoJob`, for selecting photos to enqueue again. */
export const photoJobColumns = { photoId: photos.id, eventId: photos.eventId, uploadId: photos.uploadId, originalKey: photos.originalKey };

/** A completed upload whose object holds all its bytes. */
export interface CompletedUpload {
  photoId: string;
  eventId: string;
  uploadId: string;
  deviceId: string;
  r2Key: string;
  totalSize: number;
  filename: string;
  contentType: string;
  declaredSha256: string | null;
}

/** Whether the upload's photo is recorded (past its preview, if it had one): its completion ran before. */
export async function photoRecorded(env: Env, uploadId: string): Promise<boolean> {
  const found = await database(env)
    .select({ id: photos.id })
    .from(photos)
    .where(and(eq(photos.uploadId, uploadId), ne(photos.status, "preview")))
    .get();
  return found !== undefined;
}

/**
 * Records the photo (or moves its preview on: core/previews.ts) and the session's completion,
 * enqueues its processing and announces it. False, with nothing recorded, if the event was
 * archived. Run again after it was interrupted, it finds its photo recorded and enqueues it again.
 * A photo deleted while it was a preview stays deleted: the session completes, and the original
 * it no longer needs is deleted.
 */
export async function recordCompletion(env: Env, ctx: Pick<ExecutionContext, "waitUntil">, upload: CompletedUpload): Promise<boolean> {
  const now = Date.now();
  const db = database(env);
  const notArchived = sql`exists (select 1 from ${events} where ${events.id} = ${upload.eventId} and ${events.status} <> 'archived')`;
  const completed = db
    .update(uploadSessions)
    .set({ status: "completed", receivedBytes: upload.totalSize, photoId: upload.photoId, completedAt: now, updatedAt: now });
  // Atomic with the insert, so an event archived since the admission check never gets this photo.
  const [fromPreview, inserted] = await env.DB.batch([
    d1Statement(
      env.DB,
      db
        .update(photos)
        .set({ status: "processing", originalKey: upload.r2Key, size: upload.totalSize, updatedAt: now })
        .where(and(eq(photos.uploadId, upload.uploadId), eq(photos.id, upload.photoId), eq(photos.status, "preview"), notArchived)),
    ),
    d1Statement(
      env.DB,
      insertWhere(
        photos,
        {
          id: upload.photoId,
          eventId: upload.eventId,
          uploadId: upload.uploadId,
          deviceId: upload.deviceId,
          status: "processing",
          originalKey: upload.r2Key,
          size: upload.totalSize,
          filename: upload.filename,
          declaredContentType: upload.contentType,
          declaredSha256: upload.declaredSha256,
          updatedAt: now,
        },
        sql`${notArchived} and not exists (select 1 from ${photos} where ${photos.uploadId} = ${upload.uploadId})`,
      ),
    ),
    // The photo carries the name its guest gave at create.
    d1Statement(
      env.DB,
      db
        .update(photos)
        .set({ displayName: sql`(select ${uploadSessions.displayName} from ${uploadSessions} where ${uploadSessions.id} = ${upload.uploadId})` })
        .where(eq(photos.id, upload.photoId)),
    ),
    d1Statement(
      env.DB,
      completed.where(
        and(
          eq(uploadSessions.id, upload.uploadId),
          exists(db.select({ id: photos.id }).from(photos).where(and(eq(photos.uploadId, upload.uploadId), ne(photos.status, "preview")))),
        ),
      ),
    ),
  ]);
  if (fromPreview!.meta.changes + inserted!.meta.changes === 0) {
    const existing = await db.select({ id: photos.id, status: photos.status }).from(photos).where(eq(photos.uploadId, upload.uploadId)).get();
    // No photo, or only its preview: the event was archived.
    if (!existing || existing.status === "preview") return false;
    if (existing.status === "deleted") {
      await env.PHOTOS.delete(upload.r2Key);
      return true;
    }
    // A run interrupted after this batch (the job's send failed, or the session was reset before
    // it saved its completion): the photo is recorded. Its job goes (again: processing skips a
    // photo no longer processing) rather than the session failing and deleting its original.
  }
  const job: PhotoJob = { photoId: upload.photoId, eventId: upload.eventId, uploadId: upload.uploadId, originalKey: upload.r2Key };
  await env.PHOTO_QUEUE.send(job);
  ctx.waitUntil(announcePhoto(env, upload.photoId));
  return true;
}

/** Queues takes at most 100 messages per sendBatch. */
const SEND_BATCH_LIMIT = 100;

/** Enqueues photos again (stuck or re-driven), in as many sends as Queues needs. */
export async function enqueuePhotos(env: Env, jobs: PhotoJob[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += SEND_BATCH_LIMIT) {
    await env.PHOTO_QUEUE.sendBatch(jobs.slice(i, i + SEND_BATCH_LIMIT).map((body) => ({ body })));
  }
}
