/**
 * The cron sweeper: what an expiry alarm can miss (a lost alarm, a session whose Durable Object
 * was never created). Closes overdue non-terminal sessions in bounded batches, idempotently.
 */
import { and, eq, inArray, lte } from "drizzle-orm";
import { database } from "../db/client";
import { activeUploadStatuses, uploadSessions } from "../db/schema";
import { logLine } from "../lib/log";

export const SWEEP_BATCH = 50;
const MAX_BATCHES = 10;

export async function sweepExpiredSessions(env: Env, now = Date.now()): Promise<{ swept: number }> {
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
      const status = await env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(id)).expireIfDue();
      if (status === null) {
        // Never initialised: nothing was stored, only the row needs closing.
        await db
          .update(uploadSessions)
          .set({ status: "expired", updatedAt: Date.now() })
          .where(and(eq(uploadSessions.id, id), inArray(uploadSessions.status, activeUploadStatuses)));
      }
      swept++;
    }
    if (overdue.length < SWEEP_BATCH) break;
  }
  logLine("info", "job", { job: "sweeper", swept, ms: Date.now() - started, outcome: "ok" });
  return { swept };
}
