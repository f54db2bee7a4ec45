/**
 * The cron sweeper, for what alarms and queues can miss, in bounded batches, idempotently:
 * - overdue non-terminal sessions (a lost alarm, a Durable Object never created) are closed;
 * - photos stuck in `processing` (a lost message) are enqueued again;
 * - batches past their retention are deleted with their files;
 * - objects nothing references and multipart uploads left open are deleted (jobs/orphans.ts);
 * - webhook deliveries whose message was lost are queued again, and the delivery log is pruned.
 */
import { and, eq, inArray, lte } from "drizzle-orm";
import { database } from "../db/client";
import { activeUploadStatuses, photos, uploadSessions } from "../db/schema";
import { BATCH_RETENTION_MS, deleteBatchesBefore } from "../core/batches";
import { enqueuePhotos, photoJobColumns } from "../core/completion";
import { closeUnstartedSession, sessionStub } from "../core/session-client";
import { logLine } from "../lib/log";
import { abortLeftMultipartUploads, deleteOrphanedObjects } from "./orphans";
import { pruneDeliveryLog, requeueLostDeliveries } from "../webhooks/delivery";

/** Longer than a photo's whole retry schedule, so only lost messages are re-sent. */
export const STUCK_PROCESSING_MS = 30 * 60 * 1000;

export const SWEEP_BATCH = 50;
const MAX_BATCHES = 10;

export async function sweep(env: Env, now = Date.now()) {
  const { swept } = await sweepExpiredSessions(env, now);
  const requeued = await requeueStuckPhotos(env, now);
  const batchesDeleted = await deleteOldBatches(env, now);
  const multipartAborted = await abortLeftMultipartUploads(env, SWEEP_BATCH);
  const orphans = await deleteOrphanedObjects(env, now);
  const webhooks = await sweepWebhooks(env, now);
  return { swept, requeued, batchesDeleted, multipartAborted, orphansDeleted: orphans.deleted, ...webhooks };
}

async function sweepWebhooks(env: Env, now: number) {
  const deliveriesRequeued = await requeueLostDeliveries(env, now);
  let deliveriesPruned = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const n = await pruneDeliveryLog(env, now);
    deliveriesPruned += n;
    if (n === 0) break;
  }
  logLine("info", "job", { job: "sweep_webhooks", requeued: deliveriesRequeued, pruned: deliveriesPruned, outcome: "ok" });
  return { deliveriesRequeued, deliveriesPruned };
}

async function deleteOldBatches(env: Env, now: number): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const n = await deleteBatchesBefore(env, now - BATCH_RETENTION_MS, SWEEP_BATCH);
    deleted += n;
    if (n < SWEEP_BATCH) break;
  }
  logLine("info", "job", { job: "delete_old_batches", deleted, outcome: "ok" });
  return deleted;
}

async function requeueStuckPhotos(env: Env, now: number): Promise<number> {
  const stuck = await database(env)
    .select(photoJobColumns)
    .from(photos)
    .where(and(eq(photos.status, "processing"), lte(photos.updatedAt, now - STUCK_PROCESSING_MS)))
    .limit(SWEEP_BATCH * MAX_BATCHES);
  await enqueuePhotos(env, stuck);
  logLine("info", "job", { job: "requeue_stuck_photos", requeued: stuck.length, outcome: "ok" });
  return stuck.length;
}

async function sweepExpiredSessions(env: Env, now: number): Promise<{ swept: number }> {
  const db = database(env);
  const started = Date.now();
  let swept = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const overdue = await db
      .select({ id: uploadSessions.id })
      .from(uploadSessions)
      .where(and(inArray(uploadSessions.status, activeUploadStatuses), lte(uploadSessions.expiresAt, now)))
      .limit(SWEEP_BATCH);
    for (const { id } of overdue) {
      // Never initialised: nothing was stored, only the row needs closing.
      if ((await sessionStub(env, id).expireIfDue()) === null) await closeUnstartedSession(env, id, "expired");
      swept++;
    }
    if (overdue.length < SWEEP_BATCH) break;
  }
  logLine("info", "job", { job: "sweeper", swept, ms: Date.now() - started, outcome: "ok" });
  return { swept };
}
