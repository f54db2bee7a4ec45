/** Resolving a guest's join token to its event (the admin side of events is in admin/events.ts). */
import { eq } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { events, joinTokens, type EventRow, type JoinTokenRow } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { isVideoType, mediaType, videoTypes } from "../lib/media-types";
import { ApiError, refusals, type Refusal } from "./errors";
import { isoOrNull } from "../lib/time";
import { uploaderLimits } from "./limits";

export interface JoinedEvent {
  event: EventRow;
  joinToken: JoinTokenRow;
  tokenHash: string;
}

/** A join token looks like a 256-bit base64url secret; anything else is not worth a query. */
export const joinTokenPattern = /^[A-Za-z0-9_-]{16,128}$/;

const eventNotFound = (): Refusal => ({ status: 404, code: "event_not_found", message: "This event link is not valid." });

/** Finds the event a guest's join token opens, refusing unknown, revoked and expired tokens. */
export async function resolveJoinToken(db: Database, token: string, now = Date.now()): Promise<JoinedEvent> {
  if (!joinTokenPattern.test(token)) throw new ApiError(eventNotFound());
  const tokenHash = await sha256Hex(token);
  const found = await findJoinToken(db, tokenHash);
  rememberJoinedEvent(tokenHash, found, now);
  const refusal = joinTokenRefusal(found, now);
  if (refusal) throw new ApiError(refusal);
  return { ...found!, tokenHash };
}

/**
 * The join link with this hash and its event as this isolate last read them, however long ago,
 * or undefined: for a statement that checks them unchanged as it runs (core/admission.ts).
 */
export function rememberedJoinedEvent(tokenHash: string): JoinedEvent | undefined {
  const found = joinedEvents.get(tokenHash)?.found;
  return found && { ...found, tokenHash };
}

/** The join token with this hash and its event, or null. */
export function findJoinToken(db: Database, tokenHash: string): Promise<Omit<JoinedEvent, "tokenHash"> | undefined> {
  return db
    .select({ event: events, joinToken: joinTokens })
    .from(joinTokens)
    .innerJoin(events, eq(events.id, joinTokens.eventId))
    .where(eq(joinTokens.tokenHash, tokenHash))
    .get();
}

function joinTokenRefusal(found: Omit<JoinedEvent, "tokenHash"> | undefined, now: number): Refusal | null {
  if (!found) return eventNotFound();
  if (found.joinToken.revokedAt !== null || (found.joinToken.expiresAt !== null && found.joinToken.expiresAt <= now)) {
    return { status: 410, code: "join_link_expired", message: "This event link is no longer valid." };
  }
  return null;
}

/**
 * Why uploads through this join token are refused now, as a new create would be refused (unknown
 * or revoked link, closed or archived event, outside the upload window), or null if they are taken.
 */
export function uploadAdmissionRefusal(found: Omit<JoinedEvent, "tokenHash"> | undefined, now = Date.now()): Refusal | null {
  return joinTokenRefusal(found, now) ?? uploadsClosedRefusal(found!.event, now);
}

/**
 * How long an isolate reuses what it read about a join link and its event when checking an
 * upload's next bytes (UPLOAD_RECHECK_MS, default 5 s): revoking a link or closing an event
 * stops uploads in flight within this long. Times (link expiry, upload window) are always exact.
 */
export function uploadRecheckMs(env: Pick<Env, "UPLOAD_RECHECK_MS">): number {
  const configured = Number(env.UPLOAD_RECHECK_MS);
  return Number.isFinite(configured) && configured >= 0 ? Math.min(configured, 60_000) : 5_000;
}

/** What this isolate last read of each join link and its event (by token hash), the newest last. */
const joinedEvents = new Map<string, { readAt: number; found: Omit<JoinedEvent, "tokenHash"> }>();
const JOINED_EVENTS_KEPT = 1000;

function rememberJoinedEvent(tokenHash: string, found: Omit<JoinedEvent, "tokenHash"> | undefined, readAt: number) {
  // Links are never deleted, so an unknown one is a stranger's guess: it must not push real ones out.
  if (!found) return;
  joinedEvents.delete(tokenHash);
  if (joinedEvents.size >= JOINED_EVENTS_KEPT) joinedEvents.delete(joinedEvents.keys().next().value!);
  joinedEvents.set(tokenHash, { readAt, found });
}

/**
 * Refuses more bytes for an upload made through `joinToken` when a new create would be refused
 * now (the link revoked or expired, the event closed, archived or outside its window), with the
 * same refusal. Reads D1 at most once per UPLOAD_RECHECK_MS per join token and isolate.
 */
export async function assertUploadsAdmitted(env: Env, joinToken: string, now = Date.now()): Promise<void> {
  const tokenHash = await sha256Hex(joinToken);
  const cached = joinedEvents.get(tokenHash);
  let found = cached?.found;
  if (!cached || now - cached.readAt >= uploadRecheckMs(env)) {
    found = await findJoinToken(database(env), tokenHash);
    rememberJoinedEvent(tokenHash, found, now);
  }
  const refusal = uploadAdmissionRefusal(found, now);
  if (refusal) throw new ApiError(refusal);
}

/** Why an event takes no uploads now (closed, or outside its upload window), or null if it does. */
export function uploadsClosedRefusal(event: EventRow, now = Date.now()): Refusal | null {
  if (event.status !== "open") return refusals.eventClosed();
  if (event.uploadsOpenAt !== null && now < event.uploadsOpenAt) {
    const opens = new Date(event.uploadsOpenAt).toISOString();
    return refusals.eventClosed(`Uploads open at ${opens}.`, { uploads_open_at: opens });
  }
  if (event.uploadsCloseAt !== null && now >= event.uploadsCloseAt) return refusals.eventClosed("Uploads for this event have closed.");
  return null;
}

/** The types an event takes: its image types, and the video types while it allows videos. */
export function acceptedTypes(event: Pick<EventRow, "allowedContentTypes" | "videosAllowed">): string[] {
  return event.videosAllowed ? [...event.allowedContentTypes, ...videoTypes] : event.allowedContentTypes;
}

/** The largest file the event takes of this type; of any type it takes when the type is not known yet (a tus partial). */
export function maxSizeFor(event: Pick<EventRow, "maxFileSize" | "maxVideoSize" | "videosAllowed">, contentType: string | null): number {
  if (contentType === null) return event.videosAllowed ? Math.max(event.maxFileSize, event.maxVideoSize) : event.maxFileSize;
  return isVideoType(mediaType(contentType)) ? event.maxVideoSize : event.maxFileSize;
}

/**
 * Why the event refuses a file of this size and type (type unchecked when null), or null if it
 * takes it. The type is the client's claim here; processing sniffs the bytes.
 */
export function fileRefusal(event: EventRow, size: number, contentType: string | null): Refusal | null {
  const type = contentType === null ? null : mediaType(contentType);
  const accepted = acceptedTypes(event);
  if (type !== null && !accepted.includes(type)) {
    const videosOff = isVideoType(type) && !event.videosAllowed;
    return {
      status: 415,
      code: "unsupported_type",
      message: videosOff ? "This event does not take videos." : `Only ${accepted.join(", ")} can be uploaded.`,
      details: { allowed: accepted, ...(videosOff ? { videos_allowed: false } : {}) },
    };
  }
  const limit = maxSizeFor(event, type);
  if (size > limit) {
    const video = type !== null && isVideoType(type);
    return {
      status: 413,
      code: "upload_limit",
      message: `${video ? "Videos" : "Files"} may be at most ${limit} bytes; this one is ${size}.`,
      details: video ? { limit: "max_video_size", max_video_size: limit } : { limit: "max_file_size", max_file_size: limit },
    };
  }
  return null;
}

/**
 * Whether guests see the event's photos now: its gallery is on, it is not archived, and its reveal
 * time (if any) has come. Decided at request time, so the reveal needs no deploy and no cron.
 */
export function galleryOpen(event: EventRow, now = Date.now()): boolean {
  return event.galleryEnabled && event.status !== "archived" && (event.galleryOpensAt === null || now >= event.galleryOpensAt);
}

/** What a guest's app shows before uploading: the event, whether it takes uploads, the limits. */
export async function guestEventInfo(env: Env, token: string) {
  const { event } = await resolveJoinToken(database(env), token);
  const anonymous = uploaderLimits(env, event, true);
  return {
    name: event.name,
    status: event.status,
    accepting_uploads: uploadsClosedRefusal(event) === null,
    starts_at: isoOrNull(event.startsAt),
    ends_at: isoOrNull(event.endsAt),
    uploads_open_at: isoOrNull(event.uploadsOpenAt),
    uploads_close_at: isoOrNull(event.uploadsCloseAt),
    gallery_enabled: event.galleryEnabled,
    gallery_opens_at: isoOrNull(event.galleryOpensAt),
    gallery_open: galleryOpen(event),
    limits: {
      max_file_size: event.maxFileSize,
      chunk_size: event.chunkSize,
      allowed_content_types: acceptedTypes(event),
      videos_allowed: event.videosAllowed,
      max_video_size: event.maxVideoSize,
      max_video_duration_s: event.maxVideoDurationSeconds,
      max_concurrent_uploads_per_device: event.maxConcurrentPerDevice,
      daily_upload_cap_per_device: event.dailyCapPerDevice,
      // What all uploads without a device id from one IP address share (tus / IETF clients that send none).
      max_concurrent_anonymous_uploads_per_address: anonymous.maxConcurrent,
      daily_anonymous_upload_cap_per_address: anonymous.dailyCap,
      max_photos_per_guest: event.maxPhotosPerGuest,
    },
  };
}
