/**
 * How webhook endpoints and their deliveries look in the admin API (the zod schemas are the
 * contract, http/openapi.ts). An endpoint's secret appears only in CreatedWebhook: the answer
 * to creating the endpoint or rotating its secret.
 */
import { z } from "@hono/zod-openapi";
import { desc, eq, inArray, lt, and } from "drizzle-orm";
import type { Database } from "../db/client";
import { webhookAttempts, webhookDeliveries, webhookDeliveryStatuses, webhookEventTypes, type WebhookAttemptRow, type WebhookDeliveryRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { isoOrNull } from "../lib/time";

const instant = z.string().openapi({ format: "date-time", example: "2026-06-20T14:00:00.000Z" });
const messageTypes = [...webhookEventTypes, "webhook.test"] as const;

export const WebhookView = z
  .object({
    webhook_id: z.string(),
    event_id: z.string().nullable().openapi({ description: "null for a global endpoint (every event)" }),
    url: z.string().openapi({ example: "https://hooks.example.com/photos" }),
    description: z.string().nullable(),
    event_types: z.array(z.enum(webhookEventTypes)),
    enabled: z.boolean(),
    created_at: instant,
    updated_at: instant,
  })
  .openapi("WebhookView");

export const CreatedWebhook = WebhookView.extend({
  secret: z.string().openapi({ description: "The signing secret (Standard Webhooks `whsec_…`), shown only now", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("CreatedWebhook");

export const WebhookAttemptView = z
  .object({
    attempt: z.number().int(),
    status_code: z.number().int().nullable().openapi({ description: "The receiver's HTTP status; null when none came" }),
    duration_ms: z.number().int(),
    error: z.string().nullable(),
    at: instant,
  })
  .openapi("WebhookAttemptView");

export const WebhookDeliveryView = z
  .object({
    delivery_id: z.string().openapi({ description: "The `webhook-id` header, the same on every attempt" }),
    type: z.enum(messageTypes),
    photo_id: z.string().nullable(),
    status: z.enum(webhookDeliveryStatuses),
    next_attempt_at: instant.nullable(),
    created_at: instant,
    updated_at: instant,
    attempts: z.array(WebhookAttemptView),
  })
  .openapi("WebhookDeliveryView");

const attemptView = (row: WebhookAttemptRow) => ({
  attempt: row.attempt,
  status_code: row.statusCode,
  duration_ms: row.durationMs,
  error: row.error,
  at: isoOrNull(row.createdAt)!,
});

export const deliveryView = (row: WebhookDeliveryRow, attempts: WebhookAttemptRow[]) => ({
  delivery_id: row.id,
  type: row.type,
  photo_id: row.photoId,
  status: row.status,
  next_attempt_at: isoOrNull(row.nextAttemptAt),
  created_at: isoOrNull(row.createdAt)!,
  updated_at: isoOrNull(row.updatedAt)!,
  attempts: attempts.map(attemptView),
});

const badCursor = () => new ApiError({ status: 400, code: "invalid_cursor", message: "The cursor is not one this API gave out." });

/** An endpoint's deliveries, newest first, each with its attempts (keyset pages by emission order). */
export async function listDeliveries(db: Database, endpointId: string, page: { limit: number; cursor?: string | undefined }) {
  const before = page.cursor === undefined ? undefined : Number(page.cursor);
  if (before !== undefined && !Number.isSafeInteger(before)) throw badCursor();
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.endpointId, endpointId), before === undefined ? undefined : lt(webhookDeliveries.seq, before)))
    .orderBy(desc(webhookDeliveries.seq))
    .limit(page.limit + 1);
  const pageRows = rows.slice(0, page.limit);
  const attempts = pageRows.length
    ? await db
        .select()
        .from(webhookAttempts)
        .where(inArray(webhookAttempts.deliveryId, pageRows.map((row) => row.id)))
        .orderBy(webhookAttempts.attempt)
    : [];
  return {
    deliveries: pageRows.map((row) => deliveryView(row, attempts.filter((attempt) => attempt.deliveryId === row.id))),
    next_cursor: rows.length > page.limit ? String(pageRows.at(-1)!.seq) : null,
  };
}
