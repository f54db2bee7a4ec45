/** Resolving a guest's join token to its event (the admin side of events is in admin/events.ts). */
import { eq } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { events, joinTokens, type EventRow, type JoinTokenRow } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { ApiError, type Refusal } from "./errors";
import { isoOrNull } from "../lib/time";

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

/** Why an event takes no uploads now (closed, or outside its upload window), or null if it does. */
export function uploadsClosedRefusal(event: EventRow, now = Date.now()): Refusal | null {
  if (event.status !== "open") return { status: 403, code: "event_closed", message: "This event is not accepting uploads." };
  if (event.uploadsOpenAt !== null && now < event.uploadsOpenAt) {
    const opens = new Date(event.uploadsOpenAt).toISOString();
    return { status: 403, code: "event_closed", message: `Uploads open at ${opens}.`, details: { uploads_open_at: opens } };
  }
  if (event.uploadsCloseAt !== null && now >= event.uploadsCloseAt) {
    return { status: 403, code: "event_closed", message: "Uploads for this event have closed." };
  }
  return null;
}

/** A Content-Type as compared and stored: lowercase, without parameters. */
export const mediaType = (contentType: string) => contentType.toLowerCase().split(";")[0]!.trim();

/**
 * Why the event refuses a file of this size and type (type unchecked when null), or null if it
 * takes it. The type is the client's claim here; processing sniffs the bytes.
 */
export function fileRefusal(event: EventRow, size: number, contentType: string | null): Refusal | null {
  if (contentType !== null && !event.allowedContentTypes.includes(mediaType(contentType))) {
    return {
      status: 415,
      code: "unsupported_type",
      message: `Only ${event.allowedContentTypes.join(", ")} can be uploaded.`,
      details: { allowed: event.allowedContentTypes },
    };
  }
  if (size > event.maxFileSize) {
    return {
      status: 413,
      code: "upload_limit",
      message: `Files may be at most ${event.maxFileSize} bytes; this one is ${size}.`,
      details: { limit: "max_file_size", max_file_size: event.maxFileSize },
    };
  }
  return null;
}

/** What a guest's app shows before uploading: the event, whether it takes uploads, the limits. */
export async function guestEventInfo(env: Env, token: string) {
  const { event } = await resolveJoinToken(database(env), token);
  return {
    name: event.name,
    status: event.status,
    accepting_uploads: uploadsClosedRefusal(event) === null,
    starts_at: isoOrNull(event.startsAt),
    ends_at: isoOrNull(event.endsAt),
    uploads_open_at: isoOrNull(event.uploadsOpenAt),
    uploads_close_at: isoOrNull(event.uploadsCloseAt),
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
