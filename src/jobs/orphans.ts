/**
 * What nothing references any more: objects under `staging/` and `uploads/` that no live session
 * or photo uses (a delete that failed, a Worker that died between writing and recording), and
 * multipart uploads whose abort failed. The sweeper walks each prefix in bounded pages, carrying
 * on where the previous run stopped, and deletes only objects older than a grace period, so
 * nothing being written right now is ever touched.
 */
import { and, eq, inArray, isNotNull, ne, sql } from "drizzle-orm";
import { database } from "../db/client";
import { activeUploadStatuses, photos, sweeperState, uploadSessions } from "../db/schema";
import { uploadIdOfKey, uploadObjectPrefixes } from "../storage/keys";
import { logLine } from "../lib/log";

/** Objects younger than this are never deleted, whatever the database says. */
export const ORPHAN_GRACE_MS = 48 * 60 * 60 * 1000;

export interface OrphanWalk {
  /** Objects per R2 list call; a page's keys are looked up in D1 together (≤ 100 bound parameters). */
  pageSize: number;
  /** List calls per prefix per run. */
  pages: number;
}

/** 20 pages of 50 per prefix every run (every 10 minutes): about 144,000 objects a day per prefix. */
const DEFAULT_WALK: OrphanWalk = { pageSize: 50, pages: 20 };

export async function deleteOrphanedObjects(env: Env, now: number, walk: OrphanWalk = DEFAULT_WALK): Promise<{ listed: number; deleted: number }> {
  let listed = 0;
  let deleted = 0;
  for (const prefix of uploadObjectPrefixes) {
    const name = `orphans:${prefix}`;
    const db = database(env);
    let lastKey = (await db.select({ lastKey: sweeperState.lastKey }).from(sweeperState).where(eq(sweeperState.name, name)).get())?.lastKey ?? null;
    for (let page = 0; page < walk.pages; page++) {
      const listing = await env.PHOTOS.list({ prefix, limit: walk.pageSize, ...(lastKey ? { startAfter: lastKey } : {}) });
      listed += listing.objects.length;
      const old = listing.objects.filter((object) => object.uploaded.getTime() <= now - ORPHAN_GRACE_MS).map((object) => object.key);
      const doomed = await unreferenced(env, old, now);
      if (doomed.length) await env.PHOTOS.delete(doomed);
      deleted += doomed.length;
      // At the end of the prefix the next run starts over from its beginning.
      lastKey = listing.truncated ? (listing.objects.at(-1)?.key ?? null) : null;
      if (lastKey === null) break;
    }
    await db
      .insert(sweeperState)
      .values({ name, lastKey, updatedAt: now })
      .onConflictDoUpdate({ target: sweeperState.name, set: { lastKey, updatedAt: now } });
  }
  logLine("info", "job", { job: "delete_orphaned_objects", listed, deleted, outcome: "ok" });
  return { listed, deleted };
}

/**
 * The keys no live session or photo uses. A session is live while it takes bytes, and a completed
 * tus partial until it expires (a final upload may still gather it); an original is used by any
 * photo not deleted (linked duplicates share theirs). Keys of any other shape are left alone.
 */
async function unreferenced(env: Env, keys: string[], now: number): Promise<string[]> {
  const owned = keys.flatMap((key) => {
    const uploadId = uploadIdOfKey(key);
    return uploadId ? [{ key, uploadId }] : [];
  });
  if (owned.length === 0) return [];
  const db = database(env);
  const originals = owned.filter(({ key }) => key.startsWith("uploads/")).map(({ key }) => key);
  const [live, used] = await db.batch([
    db
      .select({ id: uploadSessions.id })
      .from(uploadSessions)
      .where(
        and(
          inArray(uploadSessions.id, [...new Set(owned.map(({ uploadId }) => uploadId))]),
          sql`(${inArray(uploadSessions.status, activeUploadStatuses)} or (${uploadSessions.partial} and ${uploadSessions.status} = 'completed' and ${uploadSessions.expiresAt} > ${now}))`,
        ),
      ),
    db
      .select({ key: photos.originalKey })
      .from(photos)
      .where(and(inArray(photos.originalKey, originals), ne(photos.status, "deleted"))),
  ]);
  const liveUploads = new Set(live.map((row) => row.id));
  const usedKeys = new Set(used.map((row) => row.key));
  return owned.filter(({ key, uploadId }) => !liveUploads.has(uploadId) && !usedKeys.has(key)).map(({ key }) => key);
}

/**
 * Aborts the multipart uploads of closed sessions whose own abort failed (the session leaves the
 * id in D1 then), once each: R2's own abort of unfinished uploads after 7 days is the last net.
 */
export async function abortLeftMultipartUploads(env: Env, limit: number): Promise<number> {
  const db = database(env);
  // Literal statuses, so D1 can use the partial index that holds exactly these rows.
  const left = await db
    .select({ id: uploadSessions.id, r2Key: uploadSessions.r2Key, multipartUploadId: uploadSessions.multipartUploadId })
    .from(uploadSessions)
    .where(and(sql`${uploadSessions.status} in ('failed', 'cancelled', 'expired')`, isNotNull(uploadSessions.multipartUploadId)))
    .orderBy(uploadSessions.updatedAt)
    .limit(limit);
  let failed = 0;
  for (const session of left) {
    await env.PHOTOS.resumeMultipartUpload(session.r2Key, session.multipartUploadId!)
      .abort()
      .catch(() => failed++);
    await db.update(uploadSessions).set({ multipartUploadId: null }).where(eq(uploadSessions.id, session.id));
  }
  logLine("info", "job", { job: "abort_left_multipart_uploads", aborted: left.length - failed, failed, outcome: "ok" });
  return left.length;
}
