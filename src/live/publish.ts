/**
 * Publishing to an event's live channel (live/event-hub.ts). Live updates are a courtesy: a
 * failure is logged and never fails the upload, the job or the moderation that caused it.
 */
import { eq } from "drizzle-orm";
import { ApiError } from "../core/errors";
import { database } from "../db/client";
import { photos } from "../db/schema";
import { errorFields, logLine } from "../lib/log";
import type { AdminCredential } from "../admin/auth";
import { isWebSocketUpgrade, listenerHeader, type Listener, type LiveUpdate } from "./event-hub";

/** Publishes and answers how many dashboards are listening (0 when publishing failed). */
export async function publishLive(env: Env, eventId: string, update: LiveUpdate): Promise<number> {
  try {
    return await eventHub(env, eventId).publish(update);
  } catch (error) {
    logLine("warn", "live_publish_failed", { event_id: eventId, kind: update.kind, ...errorFields(error) });
    return 0;
  }
}

export const eventHub = (env: Pick<Env, "EVENT_HUBS">, eventId: string) => env.EVENT_HUBS.get(env.EVENT_HUBS.idFromName(eventId));

export function requireWebSocket(request: Request): void {
  if (!isWebSocketUpgrade(request)) {
    throw new ApiError({ status: 426, code: "websocket_required", message: "Connect with a WebSocket (browsers: POST …/live for a ticket URL)." });
  }
}

/** Connects a WebSocket request, authorised by `credential`, to the event's live channel. */
export function connectLive(env: Env, eventId: string, request: Request, publicOrigin: string, credential: AdminCredential): Promise<Response> {
  requireWebSocket(request);
  // A request of our own: nothing the client sent can pose as the listener's identity.
  const listener: Listener = { eventId, origin: publicOrigin, credential };
  const headers = new Headers({ upgrade: "websocket", [listenerHeader]: JSON.stringify(listener) });
  return eventHub(env, eventId).fetch(new Request(request.url, { headers }));
}

/** Publishes a photo's current state (after it was created, processed or moderated). */
export async function announcePhoto(env: Env, photoId: string): Promise<void> {
  const photo = await database(env).select().from(photos).where(eq(photos.id, photoId)).get();
  if (photo) await publishLive(env, photo.eventId, { kind: "photo", photo });
}
