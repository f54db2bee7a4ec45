/**
 * Emission: an event happened, so each enabled endpoint subscribed to its type (the event's own
 * and the global ones) gets a delivery row and a queue message. This runs inside processing,
 * moderation and event changes, so it never throws: a failure is logged and the work goes on (a
 * row without its message is re-sent by the sweeper). Nothing here waits for a receiver.
 */
import { and, eq, isNull, or } from "drizzle-orm";
import { database } from "../db/client";
import { photos, webhookDeliveries, webhookEndpoints, type EventRow, type PhotoRow, type WebhookDeliveryRow, type WebhookEndpointRow, type WebhookEventType, type WebhookMessageType } from "../db/schema";
import type { ModerationAction } from "../admin/photos";
import { newId } from "../lib/crypto";
import { errorFields, logLine } from "../lib/log";
import { enqueueDeliveries } from "./delivery";
import { eventClosedData, messageData, moderatedData, photoData, testData, type GuestbookMessage, type WebhookBody } from "./payloads";

interface Message {
  type: WebhookMessageType;
  /** Null only for a global endpoint's test message. */
  eventId: string | null;
  /** Deliveries about one photo reach each endpoint in the order they were emitted. */
  photoId: string | null;
  /** Built only when some endpoint listens; null when there is nothing to say any more (the photo is gone). */
  data: () => Promise<Record<string, unknown> | null>;
}

/** Something that happened in an event, for the endpoints subscribed to its type. */
interface Emission extends Message {
  type: WebhookEventType;
  eventId: string;
}

/** Writes one delivery of `emission` per endpoint, in one batch, and queues them. */
async function queueDeliveries(env: Env, emission: Message, endpointIds: string[]) {
  if (!endpointIds.length) return [];
  const data = await emission.data();
  if (data === null) return [];
  const db = database(env);
  const now = Date.now();
  const body: WebhookBody = { type: emission.type, timestamp: new Date(now).toISOString(), data };
  const rows = endpointIds.map((endpointId) => ({
    id: newId(),
    endpointId,
    eventId: emission.eventId,
    photoId: emission.photoId,
    type: emission.type,
    payload: JSON.stringify(body),
    createdAt: now,
    updatedAt: now,
  }));
  // One row per statement (D1 binds at most 100 values in one), all in one atomic batch.
  const [first, ...rest] = rows.map((row) => db.insert(webhookDeliveries).values(row).returning());
  const inserted = (await db.batch([first!, ...rest])).flat() as WebhookDeliveryRow[];
  await enqueueDeliveries(env, inserted.map((row) => row.id));
  return inserted;
}

async function emit(env: Env, emission: Emission): Promise<void> {
  try {
    const endpoints = await database(env)
      .select({ id: webhookEndpoints.id, eventTypes: webhookEndpoints.eventTypes })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.enabled, true), or(eq(webhookEndpoints.eventId, emission.eventId), isNull(webhookEndpoints.eventId))));
    const listening = endpoints.filter((endpoint) => endpoint.eventTypes.includes(emission.type)).map((endpoint) => endpoint.id);
    const queued = await queueDeliveries(env, emission, listening);
    if (queued.length) logLine("info", "webhook_emitted", { type: emission.type, event_id: emission.eventId, photo_id: emission.photoId, deliveries: queued.length });
  } catch (error) {
    logLine("error", "webhook_emit_failed", { type: emission.type, event_id: emission.eventId, photo_id: emission.photoId, ...errorFields(error) });
  }
}

const photoRow = (env: Env, photoId: string) => database(env).select().from(photos).where(eq(photos.id, photoId)).get();

/** Processing's outcome: `photo.ready` or `photo.failed`, with the photo as it now is. */
export function emitPhotoOutcome(env: Env, type: "photo.ready" | "photo.failed", eventId: string, photoId: string): Promise<void> {
  return emit(env, {
    type,
    eventId,
    photoId,
    data: async () => {
      const photo = await photoRow(env, photoId);
      return photo ? photoData(photo) : null;
    },
  });
}

/** An organiser approved, hid, showed again or deleted a photo. */
export function emitModerated(env: Env, photo: PhotoRow, action: ModerationAction): Promise<void> {
  return emit(env, { type: "photo.moderated", eventId: photo.eventId, photoId: photo.id, data: async () => moderatedData(photo, action) });
}

/** The event stopped taking uploads (closed or archived while open). */
export function emitEventClosed(env: Env, event: EventRow): Promise<void> {
  return emit(env, { type: "event.closed", eventId: event.id, photoId: null, data: async () => eventClosedData(event) });
}

/** For the guestbook: a guest left a message. */
export function emitMessageCreated(env: Env, message: GuestbookMessage): Promise<void> {
  return emit(env, { type: "message.created", eventId: message.eventId, photoId: null, data: async () => messageData(message) });
}

/** The "send test" button: a signed `webhook.test` message to this endpoint alone (enabled or not). */
export async function sendTest(env: Env, endpoint: WebhookEndpointRow): Promise<WebhookDeliveryRow> {
  const [delivery] = await queueDeliveries(env, { type: "webhook.test", eventId: endpoint.eventId, photoId: null, data: async () => testData(endpoint.eventId, endpoint.id) }, [endpoint.id]);
  return delivery!;
}
