/** Organisers' view of an event's upload sessions, and the event's figures at a glance. */
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { and, count, countDistinct, desc, eq, inArray, max, min, ne, sql, sum, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { activeUploadStatuses, photos, uploadSessions, type UploadSessionRow, type UploadStatus } from "../db/schema";
import { afterCursor, toPage } from "../db/pagination";

export async function listUploads(
  db: Database,
  eventId: string,
  filters: { statuses?: UploadStatus[] | undefined; deviceId?: string | undefined },
  page: { limit: number; cursor?: string | undefined },
): Promise<{ uploads: UploadSessionRow[]; nextCursor: string | null }> {
  const where: Array<SQL | undefined> = [eq(uploadSessions.eventId, eventId), eq(uploadSessions.partial, false)];
  if (filters.statuses) where.push(inArray(uploadSessions.status, filters.statuses));
  if (filters.deviceId) where.push(eq(uploadSessions.deviceId, filters.deviceId));
  where.push(afterCursor(uploadSessions.createdAt, uploadSessions.id, page.cursor));
  const rows = await db
    .select()
    .from(uploadSessions)
    .where(and(...where))
    .orderBy(desc(uploadSessions.createdAt), desc(uploadSessions.id))
    .limit(page.limit + 1);
  const { rows: pageRows, nextCursor } = toPage(rows, page.limit);
  return { uploads: pageRows, nextCursor };
}

export async function eventStats(db: Database, eventId: string) {
  const [sessions, photoRows] = await db.batch([
    db
      .select({ status: uploadSessions.status, n: count() })
      .from(uploadSessions)
      .where(and(eq(uploadSessions.eventId, eventId), eq(uploadSessions.partial, false)))
      .groupBy(uploadSessions.status),
    db
      .select({ status: photos.status, n: count(), bytes: sum(photos.size) })
      .from(photos)
      .where(and(eq(photos.eventId, eventId), ne(photos.status, "deleted")))
      .groupBy(photos.status),
  ]);
  const devices = await db
    .select({ n: countDistinct(uploadSessions.deviceId), first: min(uploadSessions.createdAt), last: max(uploadSessions.createdAt) })
    .from(uploadSessions)
    .where(eq(uploadSessions.eventId, eventId))
    .get();
  const timeline = await uploadsOverTime(db, eventId, devices?.first ?? null, devices?.last ?? null);
  const stored = await storedBytes(db, eventId);
  const uploads = Object.fromEntries(sessions.map((row) => [row.status, row.n])) as Partial<Record<UploadStatus, number>>;
  const byPhoto = Object.fromEntries(photoRows.map((row) => [row.status, row.n])) as Record<string, number>;
  const inFlight = activeUploadStatuses.reduce((total, status) => total + (uploads[status] ?? 0), 0);
  const lost = (uploads.failed ?? 0) + (uploads.expired ?? 0);
  const finished = lost + (uploads.completed ?? 0);
  const judged = (byPhoto.ready ?? 0) + (byPhoto.hidden ?? 0) + (byPhoto.failed ?? 0);
  const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000);
  return {
    photos: {
      total: photoRows.reduce((total, row) => total + row.n, 0),
      preview: byPhoto.preview ?? 0,
      ready: byPhoto.ready ?? 0,
      processing: byPhoto.processing ?? 0,
      failed: byPhoto.failed ?? 0,
      hidden: byPhoto.hidden ?? 0,
      bytes: photoRows.reduce((total, row) => total + Number(row.bytes ?? 0), 0),
    },
    uploads: {
      in_flight: inFlight,
      completed: uploads.completed ?? 0,
      failed: uploads.failed ?? 0,
      expired: uploads.expired ?? 0,
      cancelled: uploads.cancelled ?? 0,
    },
    devices: devices?.n ?? 0,
    stored_bytes: stored,
    /** Uploads that ended without their bytes becoming a photo, of those that ended (cancelled ones aside). */
    upload_failure_rate: rate(lost, finished),
    /** Photos processing refused, of those processing finished. */
    processing_failure_rate: rate(byPhoto.failed ?? 0, judged),
    uploads_over_time: timeline,
  };
}

/**
 * What the event holds in R2, in bytes: each object once, however many photos share it (linked
 * duplicates), and none of deleted photos; in flight, what unfinished uploads have received.
 */
async function storedBytes(db: Database, eventId: string) {
  const perObject = (key: SQLiteColumn, size: SQLiteColumn) =>
    sql<number>`(select coalesce(sum(size), 0) from (select max(${size}) as size from ${photos}
      where ${photos.eventId} = ${eventId} and ${photos.status} != 'deleted' and ${key} is not null group by ${key}))`;
  const inFlight = sql<number>`(select coalesce(sum(${uploadSessions.receivedBytes}), 0) from ${uploadSessions}
    where ${uploadSessions.eventId} = ${eventId} and ${inArray(uploadSessions.status, activeUploadStatuses)})`;
  const [bytes] = await db.all<{ originals: number; scrubbed_copies: number; thumbnails: number; in_flight: number }>(sql`select
    ${perObject(photos.originalKey, photos.size)} as originals,
    ${perObject(photos.scrubbedKey, photos.scrubbedSize)} as scrubbed_copies,
    ${perObject(photos.thumbLargeKey, photos.thumbnailsSize)} as thumbnails,
    ${inFlight} as in_flight`);
  const { originals, scrubbed_copies, thumbnails, in_flight } = bytes!;
  return { originals, scrubbed_copies, thumbnails, in_flight, total: originals + scrubbed_copies + thumbnails + in_flight };
}

/** Bucket widths for the timeline: the smallest that keeps it under MAX_BUCKETS. */
const BUCKET_MINUTES = [1, 5, 15, 60, 360, 1440];
const MAX_BUCKETS = 200;

/** Uploads started per time bucket (empty buckets left out), for the dashboard's chart. */
async function uploadsOverTime(db: Database, eventId: string, first: number | null, last: number | null) {
  if (first === null || last === null) return { bucket_seconds: 60, buckets: [] };
  const minutes = BUCKET_MINUTES.find((width) => (last - first) / (width * 60_000) < MAX_BUCKETS) ?? BUCKET_MINUTES.at(-1)!;
  const width = minutes * 60_000;
  // created_at may be fractional (unixepoch subsec): truncate to the bucket explicitly.
  const start = sql<number>`cast(${uploadSessions.createdAt} / ${width} as integer) * ${width}`;
  const rows = await db
    .select({ start, uploads: count(), bytes: sum(uploadSessions.totalSize) })
    .from(uploadSessions)
    .where(and(eq(uploadSessions.eventId, eventId), eq(uploadSessions.partial, false)))
    .groupBy(start)
    .orderBy(start);
  return {
    bucket_seconds: width / 1000,
    buckets: rows.map((row) => ({ start: new Date(row.start).toISOString(), uploads: row.uploads, bytes: Number(row.bytes ?? 0) })),
  };
}
