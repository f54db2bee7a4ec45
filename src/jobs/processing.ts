/**
 * The processing queue's consumer, and its dead-letter queue's. A photo that can never succeed
 * (not an image, a type mismatch, truncated or corrupt, a length past the end of the file,
 * undecodable, a polyglot, a pixel bomb, a hash mismatch) fails at once with its reason, on its
 * first delivery; anything else (storage or Images outages, a short read, a timeout) is retried
 * with backoff and, once Queues gives up, arrives on the dead-letter queue, which marks it failed
 * with the last error. Photos are processed one at a time: memory, not CPU, is the budget.
 */
import { eq, sql } from "drizzle-orm";
import { database } from "../db/client";
import { photos } from "../db/schema";
import type { PhotoJob } from "../core/completion";
import { logLine } from "../lib/log";
import { recordMetric } from "../lib/metrics";
import { announcePhoto } from "../live/publish";
import { failPhoto, PhotoRejected, processPhoto } from "../processing/pipeline";
import { emitPhotoOutcome } from "../webhooks/emit";

export const PROCESSING_QUEUE = "photo-processing";
export const DEAD_LETTER_QUEUE = "photo-processing-dlq";

/**
 * A photo takes well under a few seconds; one that takes this long is stuck (a hung subrequest),
 * and would hold up the rest of its batch. It is retried like any failure.
 */
export const PROCESSING_TIMEOUT_MS = 60_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`processing took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function handlePhotoBatch(batch: MessageBatch<PhotoJob>, env: Env): Promise<void> {
  const deadLetters = batch.queue === DEAD_LETTER_QUEUE;
  for (const message of batch.messages) {
    const started = Date.now();
    const { photoId, eventId } = message.body;
    const log = { job: deadLetters ? "photo_dead_letter" : "process_photo", photo_id: photoId, event_id: eventId, attempt: message.attempts };
    if (deadLetters) {
      const photo = await database(env).select({ reason: photos.failureReason }).from(photos).where(eq(photos.id, photoId)).get();
      const failed = await failPhoto(env, photoId, `processing failed after repeated attempts: ${photo?.reason ?? "unknown error"}`);
      await announcePhoto(env, photoId);
      if (failed) await emitPhotoOutcome(env, "photo.failed", eventId, photoId);
      message.ack();
      recordMetric(env, "photo_failed", { eventId, code: "dead_letter" });
      logLine("warn", "job", { ...log, outcome: "failed", ms: Date.now() - started });
      continue;
    }
    try {
      const result = await withTimeout(processPhoto(env, photoId), PROCESSING_TIMEOUT_MS);
      if (result.outcome !== "skipped") {
        await announcePhoto(env, photoId);
        await emitPhotoOutcome(env, "photo.ready", eventId, photoId);
        recordMetric(env, "photo_processed", { eventId, code: result.outcome, bytes: result.bytes, ms: Date.now() - started });
      }
      message.ack();
      logLine("info", "job", {
        ...log,
        outcome: result.outcome,
        bytes: result.bytes,
        path: result.thumbnailPath,
        inspect_ms: result.inspectMs,
        scrub_ms: result.scrubMs,
        thumbnails_ms: result.thumbnailsMs,
        preview_distance: result.previewDistance,
        ms: Date.now() - started,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof PhotoRejected) {
        const failed = await failPhoto(env, photoId, reason);
        await announcePhoto(env, photoId);
        if (failed) await emitPhotoOutcome(env, "photo.failed", eventId, photoId);
        message.ack();
        recordMetric(env, "photo_failed", { eventId, code: "rejected", ms: Date.now() - started });
        logLine("info", "job", { ...log, outcome: "rejected", reason, ms: Date.now() - started });
        continue;
      }
      // Keep the last error, so the dead-letter consumer can say why.
      await database(env)
        .update(photos)
        .set({ failureReason: reason, processingAttempts: sql`${photos.processingAttempts} + 1`, updatedAt: Date.now() })
        .where(eq(photos.id, photoId));
      message.retry({ delaySeconds: Math.min(300, 10 * 2 ** (message.attempts - 1)) });
      logLine("error", "job", { ...log, outcome: "retry", reason, ms: Date.now() - started });
    }
  }
}
