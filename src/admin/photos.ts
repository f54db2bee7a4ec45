/**
 * Organisers' view of an event's photos: filtered keyset pages, and moderation (approve, hide,
 * delete, in bulk), in keyset pages (admin/pagination.ts).
 */
import { and, asc, count, desc, eq, gte, inArray, isNotNull, isNull, lte, ne, or, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { photos, photoStatuses, type PhotoRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { deletePhoto } from "../core/photos";
import { afterCursor, toPage } from "../db/pagination";

export interface PhotoFilters {
  status?: (typeof photoStatuses)[number][] | undefined;
  approved?: boolean | undefined;
  deviceId?: string | undefined;
  /** The guest's name, exactly (normalised like names are); `null` for photos without one. */
  displayName?: string | null | undefined;
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
  if (filters.displayName !== undefined) where.push(filters.displayName === null ? isNull(photos.displayName) : eq(photos.displayName, filters.displayName));
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
 * Applies a moderation action (delete: see core/photos.ts).
 */
export async function moderate(db: Database, bucket: R2Bucket, photo: PhotoRow, action: ModerationAction): Promise<PhotoRow> {
  const now = Date.now();
  switch (action) {
    case "approve":
      if (photo.status === "preview") {
        // Shown to guests from its preview now; processing withdraws it if the original does not match (pipeline.ts).
        await db.update(photos).set({ approvedAt: photo.approvedAt ?? now, updatedAt: now }).where(and(eq(photos.id, photo.id), eq(photos.status, "preview")));
        break;
      }
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
    case "delete":
      await deletePhoto(db, bucket, photo.id);
      break;
  }
  return (await db.select().from(photos).where(eq(photos.id, photo.id)).get())!;
}

/** The names guests gave with the event's photos, with how many photos each (for the name filter). */
export async function listDisplayNames(db: Database, eventId: string): Promise<Array<{ display_name: string | null; photos: number }>> {
  const rows = await db
    .select({ name: photos.displayName, n: count() })
    .from(photos)
    .where(and(eq(photos.eventId, eventId), ne(photos.status, "deleted")))
    .groupBy(photos.displayName)
    .orderBy(asc(photos.displayName))
    .limit(MAX_LISTED_NAMES);
  return rows.map((row) => ({ display_name: row.name, photos: row.n }));
}

const MAX_LISTED_NAMES = 1000;
