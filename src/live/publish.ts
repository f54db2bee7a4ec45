/**
 * Publishing to an event's live channel (live/event-hub.ts). Live updates are a courtesy: a
 * failure is logged and never fails the upload, the job or the moderation that caused it.
 */
import { eq } from "drizzle-orm";
import { ApiError } from "../core/errors";
import { database } from "../db/client";
import { photos } from "../db/schema";
import { logLine } from "../lib/log";
import type { LiveUpdate } from "./event-hub";

/** Publishes and answers how many dashboards are listening (0 when publishing failed). */
export async function publishLive(env: Env, eventId: string, update: LiveUpdate): Promise<number> {
  try {
    return await env.EVENT_HUBS.get(env.EVENT_HUBS.idFromName(eventId)).publish(update);
  } catch (error) {
    logLine("warn", "live_publish_failed", { event_id: eventId, kind: update.kind, error: String(error) });
    return 0;
  }
}

/** Connects a WebSocket request (already authorised) to the event's live channel. */
export function connectLive(env: Env, eventId: string, request: Request, publicOrigin: string): Promise<Response> {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError({ status: 426, code: "websocket_required", message: "Connect with a WebSocket (browsers: POST …/live for a ticket URL)." });
  }
  const headers = new Headers(request.headers);
  headers.set("x-event-id", eventId);
  headers.set("x-public-origin", publicOrigin);
  return env.EVENT_HUBS.get(env.EVENT_HUBS.idFromName(eventId)).fetch(new Request(request.url, { headers }));
}

/** Publishes a photo's current state (after it was created, processed or moderated). */
export async function announcePhoto(env: Env, photoId: string): Promise<void> {
  const photo = await database(env).select().from(photos).where(eq(photos.id, photoId)).get();
  if (photo) await publishLive(env, photo.eventId, { kind: "photo", photo });
}
