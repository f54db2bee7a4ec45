/**
 * Organisers' view of an event's photos: filtered keyset pages, and moderation (approve, hide,
 * delete, in bulk), in keyset pages (admin/pagination.ts).
 */
import { and, desc, eq, gte, inArray, isNotNull, isNull, lte, ne, or, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { photos, photoStatuses, type PhotoRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { afterCursor, toPage } from "./pagination";

export interface PhotoFilters {
  status?: (typeof photoStatuses)[number][] | undefined;
  approved?: boolean | undefined;
  deviceId?: string | undefined;
  takenFrom?: number | undefined;
  takenTo?: number | undefined;
  uploadedFrom?: number | undefined;
  uploadedTo?: number | undefined;
}

export async function listPhotos(
  db: Database,
  eventId: string,
  filters: PhotoFilters,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ photos: PhotoRow[]; nextCursor: string | null }> {
  const where: Array<SQL | undefined> = [eq(photos.eventId, eventId)];
  where.push(filters.status ? inArray(photos.status, filters.status) : ne(photos.status, "deleted"));
  if (filters.approved !== undefined) where.push(filters.approved ? isNotNull(photos.approvedAt) : isNull(photos.approvedAt));
  if (filters.deviceId) where.push(eq(photos.deviceId, filters.deviceId));
  if (filters.takenFrom !== undefined) where.push(gte(photos.takenAt, filters.takenFrom));
  if (filters.takenTo !== undefined) where.push(lte(photos.takenAt, filters.takenTo));
  if (filters.uploadedFrom !== undefined) where.push(gte(photos.createdAt, filters.uploadedFrom));
  if (filters.uploadedTo !== undefined) where.push(lte(photos.createdAt, filters.uploadedTo));
  where.push(afterCursor(photos.createdAt, photos.id, page.cursor));
  const rows = await db
    .select()
    .from(photos)
    .where(and(...where))
    .orderBy(desc(photos.createdAt), desc(photos.id))
    .limit(page.limit + 1);
  const { rows: pageRows, nextCursor } = toPage(rows, page.limit);
  return { photos: pageRows, nextCursor };
}

export async function getPhoto(db: Database, eventId: string, photoId: string): Promise<PhotoRow> {
  const photo = await db.select().from(photos).where(and(eq(photos.id, photoId), eq(photos.eventId, eventId))).get();
  if (!photo || photo.status === "deleted") throw new ApiError({ status: 404, code: "photo_not_found", message: "No such photo in this event." });
  return photo;
}

export type ModerationAction = "approve" | "hide" | "unhide" | "delete";

/**
 * Applies a moderation action. Delete removes the original, the scrubbed copy and the
 * thumbnails from R2, except objects another live photo (a linked duplicate) still uses.
 */
export async function moderate(db: Database, bucket: R2Bucket, photo: PhotoRow, action: ModerationAction): Promise<PhotoRow> {
  const now = Date.now();
  switch (action) {
    case "approve":
      if (photo.status !== "ready" && photo.status !== "hidden") {
        throw new ApiError({ status: 409, code: "photo_not_ready", message: `A ${photo.status} photo cannot be approved.` });
      }
      await db.update(photos).set({ status: "ready", approvedAt: photo.approvedAt ?? now, updatedAt: now }).where(eq(photos.id, photo.id));
      break;
    case "hide":
      if (photo.status !== "ready") throw new ApiError({ status: 409, code: "photo_not_ready", message: `A ${photo.status} photo cannot be hidden.` });
      await db.update(photos).set({ status: "hidden", updatedAt: now }).where(eq(photos.id, photo.id));
      break;
    case "unhide":
      if (photo.status !== "hidden") throw new ApiError({ status: 409, code: "photo_not_hidden", message: "Only a hidden photo can be shown again." });
      await db.update(photos).set({ status: "ready", updatedAt: now }).where(eq(photos.id, photo.id));
      break;
    case "delete": {
      await db.update(photos).set({ status: "deleted", updatedAt: now }).where(eq(photos.id, photo.id));
      const keys = [photo.originalKey, photo.scrubbedKey, photo.thumbLargeKey, photo.thumbSmallKey].filter((key): key is string => key !== null);
      const stillUsed = await db
        .select({ originalKey: photos.originalKey, scrubbedKey: photos.scrubbedKey, thumbLargeKey: photos.thumbLargeKey, thumbSmallKey: photos.thumbSmallKey })
        .from(photos)
        .where(and(ne(photos.status, "deleted"), or(eq(photos.originalKey, photo.originalKey), eq(photos.duplicateOf, photo.id), eq(photos.id, photo.duplicateOf ?? ""))));
      const shared = new Set(stillUsed.flatMap((row) => Object.values(row)));
      const doomed = keys.filter((key) => !shared.has(key));
      if (doomed.length) await bucket.delete(doomed);
      break;
    }
  }
  return (await db.select().from(photos).where(eq(photos.id, photo.id)).get())!;
}
