/**
 * Photos as guests reach them: the event's gallery, and taking back a photo they uploaded.
 * Deleting a photo (the guest's take-back and an organiser's delete) lives here, once.
 */
import { and, desc, eq, inArray, isNotNull, ne, or } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { afterCursor, toPage } from "../db/pagination";
import { photos, uploadSessions, type PhotoRow } from "../db/schema";
import { guestVisibleStatuses, photoUrls } from "../downloads/photo-files";
import { secretMatches } from "../lib/crypto";
import { isoOrNull } from "../lib/time";
import { ApiError, refusals } from "./errors";
import { galleryOpen, resolveJoinToken } from "./events";
import type { UploadRef } from "./session-client";

/** The R2 objects a photo row points at. */
export const objectKeysOf = (row: Pick<PhotoRow, "originalKey" | "scrubbedKey" | "thumbLargeKey" | "thumbSmallKey"> & { previewKey?: string | null }): string[] =>
  [row.originalKey, row.scrubbedKey, row.thumbLargeKey, row.thumbSmallKey, row.previewKey ?? null].filter((key): key is string => key !== null);

/**
 * Deletes those of `keys` that no live (not deleted) photo points at. A photo only ever gets
 * another's keys by linking to a live photo that has them (pipeline.ts links only while it is
 * live, in the linking statement itself), so once no live photo points at a key none ever will
 * again: a duplicate linking meanwhile either shows up here or does not link at all.
 */
export async function releaseObjects(db: Database, bucket: R2Bucket, keys: string[]): Promise<void> {
  if (!keys.length) return;
  const stillUsed = await db
    .select({ originalKey: photos.originalKey, scrubbedKey: photos.scrubbedKey, thumbLargeKey: photos.thumbLargeKey, thumbSmallKey: photos.thumbSmallKey })
    .from(photos)
    .where(
      and(
        ne(photos.status, "deleted"),
        or(inArray(photos.originalKey, keys), inArray(photos.scrubbedKey, keys), inArray(photos.thumbLargeKey, keys), inArray(photos.thumbSmallKey, keys)),
      ),
    );
  const shared = new Set(stillUsed.flatMap(objectKeysOf));
  const doomed = keys.filter((key) => !shared.has(key));
  if (doomed.length) await bucket.delete(doomed);
}

/**
 * Marks the photo deleted and removes its original, scrubbed copy and thumbnails from R2,
 * except objects another live photo (a linked duplicate) still uses. The keys come from the row
 * as it is deleted, so objects processing recorded a moment earlier go too. False if it was already deleted.
 */
export async function deletePhoto(db: Database, bucket: R2Bucket, photoId: string): Promise<boolean> {
  const deleted = await db
    .update(photos)
    .set({ status: "deleted", updatedAt: Date.now() })
    .where(and(eq(photos.id, photoId), ne(photos.status, "deleted")))
    .returning({ originalKey: photos.originalKey, scrubbedKey: photos.scrubbedKey, thumbLargeKey: photos.thumbLargeKey, thumbSmallKey: photos.thumbSmallKey, previewKey: photos.previewKey })
    .get();
  if (!deleted) return false;
  await releaseObjects(db, bucket, objectKeysOf(deleted));
  return true;
}

const galleryDisabled = () =>
  new ApiError({ status: 403, code: "gallery_disabled", message: "This event does not show its photos to guests." });

/** The event's approved photos for guests, newest first, in keyset pages; scrubbed copies and thumbnails only. */
export async function listGallery(env: Env, joinToken: string, origin: string, page: { limit: number; cursor?: string | undefined }) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  if (!event.galleryEnabled || event.status === "archived") throw galleryDisabled();
  if (!galleryOpen(event)) {
    const opens = isoOrNull(event.galleryOpensAt)!;
    throw new ApiError({ status: 403, code: "gallery_not_open", message: `This event shows its photos from ${opens}.`, details: { gallery_opens_at: opens } });
  }
  const rows = await db
    .select()
    .from(photos)
    .where(and(eq(photos.eventId, event.id), inArray(photos.status, guestVisibleStatuses), isNotNull(photos.approvedAt), afterCursor(photos.createdAt, photos.id, page.cursor)))
    .orderBy(desc(photos.createdAt), desc(photos.id))
    .limit(page.limit + 1);
  const { rows: pageRows, nextCursor } = toPage(rows, page.limit);
  return {
    photos: await Promise.all(
      pageRows.map(async (photo) => ({
        photo_id: photo.id,
        media_kind: photo.mediaKind,
        duration_s: photo.durationSeconds,
        width: photo.width,
        height: photo.height,
        taken_at: isoOrNull(photo.takenAt),
        uploaded_at: isoOrNull(photo.createdAt),
        urls: await photoUrls(env, origin, photo, "guest"),
      })),
    ),
    next_cursor: nextCursor,
  };
}

/**
 * A guest takes back the photo made from their upload, authorised by that upload's key: it is
 * deleted, not hidden. Repeating it answers the same. Returns the photo, or null if it was already gone.
 */
export async function takeBackPhoto(env: Env, ref: UploadRef): Promise<PhotoRow | null> {
  const db = database(env);
  const { event } = await resolveJoinToken(db, ref.joinToken);
  const session = await db
    .select({ keyHash: uploadSessions.uploadKeyHash, photoId: uploadSessions.photoId, partial: uploadSessions.partial })
    .from(uploadSessions)
    .where(and(eq(uploadSessions.id, ref.uploadId), eq(uploadSessions.eventId, event.id)))
    .get();
  if (!session || session.partial) throw new ApiError(refusals.uploadNotFound());
  if (!(await secretMatches(ref.uploadKey, session.keyHash))) throw new ApiError(refusals.invalidUploadKey());
  if (!session.photoId) throw new ApiError({ status: 409, code: "upload_incomplete", message: "This upload has not become a photo yet." });
  const photo = await db.select().from(photos).where(eq(photos.id, session.photoId)).get();
  if (!photo || !(await deletePhoto(db, env.PHOTOS, photo.id))) return null;
  return photo;
}
