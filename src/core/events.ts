/** Resolving a guest's join token to its event (the admin side of events is in admin/events.ts). */
import { eq } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { events, joinTokens, type EventRow, type JoinTokenRow } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { ApiError } from "./errors";

export interface JoinedEvent {
  event: EventRow;
  joinToken: JoinTokenRow;
  tokenHash: string;
}

/** A join token looks like a 256-bit base64url secret; anything else is not worth a query. */
export const joinTokenPattern = /^[A-Za-z0-9_-]{16,128}$/;

/** Finds the event a guest's join token opens, refusing unknown, revoked and expired tokens. */
export async function resolveJoinToken(db: Database, token: string, now = Date.now()): Promise<JoinedEvent> {
  const notFound = new ApiError({ status: 404, code: "event_not_found", message: "This event link is not valid." });
  if (!joinTokenPattern.test(token)) throw notFound;
  const tokenHash = await sha256Hex(token);
  const found = await db
    .select({ event: events, joinToken: joinTokens })
    .from(joinTokens)
    .innerJoin(events, eq(events.id, joinTokens.eventId))
    .where(eq(joinTokens.tokenHash, tokenHash))
    .get();
  if (!found) throw notFound;
  if (found.joinToken.revokedAt !== null || (found.joinToken.expiresAt !== null && found.joinToken.expiresAt <= now)) {
    throw new ApiError({ status: 410, code: "join_link_expired", message: "This event link is no longer valid." });
  }
  return { ...found, tokenHash };
}

/** Whether an event takes uploads now (open, and inside its upload window if it has one). */
export function acceptingUploads(event: EventRow, now = Date.now()): boolean {
  return (
    event.status === "open" &&
    (event.uploadsOpenAt === null || now >= event.uploadsOpenAt) &&
    (event.uploadsCloseAt === null || now < event.uploadsCloseAt)
  );
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What a guest's app shows before uploading: the event, whether it takes uploads, the limits. */
export async function guestEventInfo(env: Env, token: string) {
  const { event } = await resolveJoinToken(database(env), token);
  return {
    name: event.name,
    status: event.status,
    accepting_uploads: acceptingUploads(event),
    starts_at: iso(event.startsAt),
    ends_at: iso(event.endsAt),
    uploads_open_at: iso(event.uploadsOpenAt),
    uploads_close_at: iso(event.uploadsCloseAt),
    gallery_enabled: event.galleryEnabled,
    limits: {
      max_file_size: event.maxFileSize,
      chunk_size: event.chunkSize,
      allowed_content_types: event.allowedContentTypes,
      max_concurrent_uploads_per_device: event.maxConcurrentPerDevice,
      daily_upload_cap_per_device: event.dailyCapPerDevice,
    },
  };
}
