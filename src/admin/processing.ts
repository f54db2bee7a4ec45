/**
 * Re-driving processing once the cause of failures is fixed: photos the dead-letter queue marked
 * failed (they had retries; rejected files never did, and would only be rejected again) go back
 * to `processing` and onto the queue.
 */
import { and, eq, gt, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { inList } from "../db/lists";
import { photos } from "../db/schema";
import { enqueuePhotos, photoJobColumns } from "../core/completion";

/** At most this many photos per call; call again for the rest. */
export const REDRIVE_LIMIT = 500;

export async function redriveFailedPhotos(env: Env, db: Database, scope: { eventIds: string[] | null; photoIds?: string[] | undefined }) {
  const where: SQL[] = [eq(photos.status, "failed"), gt(photos.processingAttempts, 0)];
  if (scope.eventIds) where.push(inList(photos.eventId, scope.eventIds));
  if (scope.photoIds) where.push(inList(photos.id, scope.photoIds));
  const failed = await db
    .select(photoJobColumns)
    .from(photos)
    .where(and(...where))
    .limit(REDRIVE_LIMIT);
  if (!failed.length) return { requeued: 0, photo_ids: [] };
  const ids = failed.map((photo) => photo.photoId);
  await db
    .update(photos)
    .set({ status: "processing", failureReason: null, processingAttempts: 0, updatedAt: Date.now() })
    .where(and(inList(photos.id, ids), eq(photos.status, "failed")));
  await enqueuePhotos(env, failed);
  return { requeued: failed.length, photo_ids: ids };
}
