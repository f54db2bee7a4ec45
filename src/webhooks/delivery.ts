/**
 * Deliveries, from the webhook queue: each message names one delivery row; the consumer signs
 * its payload (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`, with
 * the `standardwebhooks` library) and POSTs it. A 2xx answer is success; anything else (another
 * status, a redirect, a timeout, no connection) is retried with backoff until MAX_ATTEMPTS, then
 * the delivery is failed for good. Each attempt is a row of the delivery log.
 *
 * Order per photo: a photo's delivery to an endpoint is not attempted while an earlier one for
 * the same photo and endpoint is still pending (in flight or waiting for its retry). It is
 * acknowledged and left pending; whichever earlier delivery finishes (delivered or given up)
 * queues the next one. Both sides write before they look, so one of them always sees the other.
 */
import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { webhookAttempts, webhookDeliveries, webhookEndpoints, type WebhookDeliveryRow, type WebhookEndpointRow } from "../db/schema";
import { newId } from "../lib/crypto";
import { errorFields, logLine } from "../lib/log";

export const WEBHOOK_QUEUE = "webhook-deliveries";

export interface WebhookJob {
  deliveryId: string;
}

/** Attempts before a delivery is failed for good (the queue's max_retries is higher, so it never drops one first). */
export const MAX_ATTEMPTS = 6;
/** How long a receiver has to answer. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** An attempt in flight holds its delivery this long; past it, a re-sent message may try again. */
const LEASE_MS = DELIVERY_TIMEOUT_MS + 20_000;

/** The wait after failed attempt `n` (1-based): 10 s, 30 s, 1.5 min, 4.5 min, 13.5 min. */
export const retryDelaySeconds = (attempt: number) => Math.min(3600, 10 * 3 ** (attempt - 1));

/** Queues takes at most 100 messages per sendBatch. */
const SEND_BATCH_LIMIT = 100;

export async function enqueueDeliveries(env: Env, deliveryIds: string[]): Promise<void> {
  for (let i = 0; i < deliveryIds.length; i += SEND_BATCH_LIMIT) {
    await env.WEBHOOK_QUEUE.sendBatch(deliveryIds.slice(i, i + SEND_BATCH_LIMIT).map((deliveryId) => ({ body: { deliveryId } satisfies WebhookJob })));
  }
}

/**
 * The headers of a delivery's attempt, signed now. Within a day of a rotation the signature
 * header lists the old secret's signature too (space-separated, as the spec allows), so a
 * receiver still holding the old secret keeps verifying until it switches.
 */
export function signedHeaders(endpoint: Pick<WebhookEndpointRow, "secret" | "previousSecret" | "previousSecretUntil">, delivery: Pick<WebhookDeliveryRow, "id" | "payload">, at: Date) {
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && (endpoint.previousSecretUntil ?? 0) > at.getTime()) secrets.push(endpoint.previousSecret);
  return {
    "content-type": "application/json",
    "user-agent": "edge-photo-uploads-webhooks/1",
    "webhook-id": delivery.id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(delivery.id, at, delivery.payload)).join(" "),
  };
}

type Outcome = { kind: "done" } | { kind: "retry"; delaySeconds: number };

export async function handleWebhookBatch(batch: MessageBatch<WebhookJob>, env: Env): Promise<void> {
  // Different photos' and endpoints' deliveries do not wait for one another's receivers.
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const outcome = await attemptDelivery(env, message.body.deliveryId);
        if (outcome.kind === "retry") message.retry({ delaySeconds: outcome.delaySeconds });
        else message.ack();
      } catch (error) {
        // Our own storage failed, not the receiver: try again soon, without counting an attempt.
        logLine("error", "webhook_delivery_error", { delivery_id: message.body.deliveryId, ...errorFields(error) });
        message.retry({ delaySeconds: 30 });
      }
    }),
  );
}

/** One attempt at a delivery, if it is due: not finished, not held by another attempt, not behind an earlier one for its photo. */
export async function attemptDelivery(env: Env, deliveryId: string, now = Date.now()): Promise<Outcome> {
  const db = database(env);
  const found = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId))
    .get();
  if (!found || found.delivery.status !== "pending") return { kind: "done" };
  const { delivery, endpoint } = found;

  if (!endpoint.enabled && delivery.type !== "webhook.test") {
    await finishWithoutAttempt(env, delivery, now);
    return { kind: "done" };
  }
  if (delivery.photoId !== null && (await earlierPending(env, delivery))) return { kind: "done" };

  const claimed = await db
    .update(webhookDeliveries)
    .set({ leaseUntil: now + LEASE_MS })
    .where(
      and(
        eq(webhookDeliveries.id, delivery.id),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, delivery.attempts),
        or(isNull(webhookDeliveries.leaseUntil), lte(webhookDeliveries.leaseUntil, now)),
      ),
    );
  if (claimed.meta.changes === 0) return { kind: "done" };

  const attempt = delivery.attempts + 1;
  const result = await send(endpoint, delivery);
  const succeeded = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const givenUp = !succeeded && attempt >= MAX_ATTEMPTS;
  const delaySeconds = retryDelaySeconds(attempt);
  const finishedAt = Date.now();
  const attemptRow = { id: newId(), deliveryId: delivery.id, attempt, statusCode: result.statusCode, durationMs: result.durationMs, error: result.error, createdAt: finishedAt };
  // Logged only while the delivery exists: its endpoint may have been deleted during the attempt.
  const stillThere = sql`exists (select 1 from ${webhookDeliveries} where ${webhookDeliveries.id} = ${delivery.id})`;
  const recorded = db
    .update(webhookDeliveries)
    .set({
      attempts: attempt,
      status: succeeded ? "succeeded" : givenUp ? "failed" : "pending",
      leaseUntil: null,
      nextAttemptAt: succeeded || givenUp ? null : finishedAt + delaySeconds * 1000,
      updatedAt: finishedAt,
    })
    .where(eq(webhookDeliveries.id, delivery.id));
  await env.DB.batch([d1Statement(env.DB, insertWhere(webhookAttempts, attemptRow, stillThere)), d1Statement(env.DB, recorded)]);
  logLine(succeeded ? "info" : "warn", "webhook_delivery", {
    delivery_id: delivery.id,
    webhook_id: endpoint.id,
    type: delivery.type,
    event_id: delivery.eventId,
    photo_id: delivery.photoId,
    attempt,
    status_code: result.statusCode,
    error: result.error,
    ms: result.durationMs,
    outcome: succeeded ? "delivered" : givenUp ? "failed" : "retry",
  });
  if (succeeded || givenUp) {
    await queueNextForPhoto(env, delivery);
    return { kind: "done" };
  }
  return { kind: "retry", delaySeconds };
}

/** Whether an earlier delivery for the same photo and endpoint is still pending. */
async function earlierPending(env: Env, delivery: WebhookDeliveryRow): Promise<boolean> {
  const earlier = await database(env)
    .select({ seq: webhookDeliveries.seq })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, delivery.endpointId),
        eq(webhookDeliveries.photoId, delivery.photoId!),
        eq(webhookDeliveries.status, "pending"),
        lt(webhookDeliveries.seq, delivery.seq),
      ),
    )
    .limit(1)
    .get();
  return earlier !== undefined;
}

/** After a photo's delivery finished: its next pending one for the same endpoint may go now. */
async function queueNextForPhoto(env: Env, delivery: WebhookDeliveryRow): Promise<void> {
  if (delivery.photoId === null) return;
  const next = await database(env)
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, delivery.endpointId), eq(webhookDeliveries.photoId, delivery.photoId), eq(webhookDeliveries.status, "pending")))
    .orderBy(asc(webhookDeliveries.seq))
    .limit(1)
    .get();
  if (next) await enqueueDeliveries(env, [next.id]);
}

/** A delivery to an endpoint disabled since it was emitted is not sent: it fails without an attempt. */
async function finishWithoutAttempt(env: Env, delivery: WebhookDeliveryRow, now: number): Promise<void> {
  await database(env)
    .update(webhookDeliveries)
    .set({ status: "failed", leaseUntil: null, nextAttemptAt: null, updatedAt: now })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, "pending")));
  await queueNextForPhoto(env, delivery);
}

interface SendResult {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

async function send(endpoint: WebhookEndpointRow, delivery: WebhookDeliveryRow): Promise<SendResult> {
  const started = Date.now();
  try {
    const response = await fetch(endpoint.url, {
      method: "POST",
      headers: signedHeaders(endpoint, delivery, new Date()),
      body: delivery.payload,
      // A redirect is not followed: it could lead anywhere the URL check would have refused.
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    // The body is not kept (it is the receiver's, and may be large); it is drained so the connection can be reused.
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 300;
    return {
      statusCode: response.status,
      durationMs: Date.now() - started,
      error: ok ? null : response.status >= 300 && response.status < 400 ? "redirects are not followed" : `the receiver answered ${response.status}`,
    };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { statusCode: null, durationMs: Date.now() - started, error: timedOut ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : "the receiver could not be reached" };
  }
}

/** Longer than a delivery's longest wait between attempts: a pending one idle this long lost its message. */
export const LOST_DELIVERY_MS = 2 * 60 * 60 * 1000;
/** How long finished deliveries and their attempts stay in the log. */
export const DELIVERY_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;
const SWEEP_LIMIT = 500;

/** For the cron sweeper: re-sends deliveries whose message was lost (the consumer skips any not due). */
export async function requeueLostDeliveries(env: Env, now: number): Promise<number> {
  const lost = await database(env)
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.updatedAt, now - LOST_DELIVERY_MS)))
    .limit(SWEEP_LIMIT);
  await enqueueDeliveries(env, lost.map((row) => row.id));
  // Touched, so the next sweep does not send them again while they wait.
  if (lost.length) {
    await database(env)
      .update(webhookDeliveries)
      .set({ updatedAt: now })
      .where(inArray(webhookDeliveries.id, sql`(select value from json_each(${JSON.stringify(lost.map((row) => row.id))}))`));
  }
  return lost.length;
}

/** For the cron sweeper: the delivery log is bounded; finished deliveries past retention go, attempts first. */
export async function pruneDeliveryLog(env: Env, now: number): Promise<number> {
  const db = database(env);
  const old = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(inArray(webhookDeliveries.status, ["succeeded", "failed"]), lt(webhookDeliveries.updatedAt, now - DELIVERY_RETENTION_MS)))
    .orderBy(asc(webhookDeliveries.seq))
    .limit(SWEEP_LIMIT);
  const [, deleted] = await db.batch([
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, old)),
    db.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, old)),
  ]);
  return deleted.meta.changes;
}
