/**
 * How events, join links and admin tokens look in the admin API: one shape each, from the D1
 * rows (photos and uploads: views/photos.ts). The zod schemas state them for the API's contract (http/openapi.ts): a
 * handler cannot answer a shape its route does not declare.
 */
import { z } from "@hono/zod-openapi";
import { eventStatuses, moderationModes, type EventRow } from "../db/schema";
import { imageTypes, type ImageType } from "../lib/media-types";
import { isoOrNull } from "../lib/time";
import { exampleId, instant } from "../views/photos";

export function eventView(event: EventRow) {
  return {
    event_id: event.id,
    name: event.name,
    status: event.status,
    max_file_size: event.maxFileSize,
    chunk_size: event.chunkSize,
    session_ttl_seconds: event.sessionTtlSeconds,
    max_concurrent_uploads_per_device: event.maxConcurrentPerDevice,
    daily_upload_cap_per_device: event.dailyCapPerDevice,
    // Written only through the settings schema, whose items are imageTypes.
    allowed_content_types: event.allowedContentTypes as ImageType[],
    keep_gps: event.keepGps,
    starts_at: isoOrNull(event.startsAt),
    ends_at: isoOrNull(event.endsAt),
    uploads_open_at: isoOrNull(event.uploadsOpenAt),
    uploads_close_at: isoOrNull(event.uploadsCloseAt),
    moderation_mode: event.moderationMode,
    gallery_enabled: event.galleryEnabled,
    slideshow_messages: event.slideshowMessages,
    gallery_opens_at: isoOrNull(event.galleryOpensAt),
    max_photos_per_guest: event.maxPhotosPerGuest,
    videos_allowed: event.videosAllowed,
    max_video_size: event.maxVideoSize,
    max_video_duration_s: event.maxVideoDurationSeconds,
    created_at: isoOrNull(event.createdAt),
    updated_at: isoOrNull(event.updatedAt),
  };
}

export const EventView = z
  .object({
    event_id: exampleId("5b0f3f5e-8a44-4f5b-9a7e-0c1d2e3f4a5b"),
    name: z.string().openapi({ example: "Ana & Ben's wedding" }),
    status: z.enum(eventStatuses),
    max_file_size: z.number().int(),
    chunk_size: z.number().int(),
    session_ttl_seconds: z.number().int(),
    max_concurrent_uploads_per_device: z.number().int(),
    daily_upload_cap_per_device: z.number().int(),
    allowed_content_types: z.array(z.enum(imageTypes)),
    keep_gps: z.boolean(),
    starts_at: instant.nullable(),
    ends_at: instant.nullable(),
    uploads_open_at: instant.nullable(),
    uploads_close_at: instant.nullable(),
    moderation_mode: z.enum(moderationModes),
    gallery_enabled: z.boolean(),
    slideshow_messages: z.boolean(),
    /** Reveal later: until then guests see only their own uploads (the slideshow is unaffected). */
    gallery_opens_at: instant.nullable(),
    /** Photos one device may upload to the whole event; null: no such limit. */
    max_photos_per_guest: z.number().int().nullable(),
    videos_allowed: z.boolean(),
    max_video_size: z.number().int(),
    max_video_duration_s: z.number().int(),
    created_at: instant.nullable(),
    updated_at: instant.nullable(),
  })
  .openapi("EventView");

export const JoinLinkView = z
  .object({ id: exampleId("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"), label: z.string().nullable(), expires_at: instant.nullable(), revoked_at: instant.nullable(), created_at: instant })
  .openapi("JoinLinkView");

/** A join link as it is created: the only time its token, URL and QR code (SVG) are shown. */
export const CreatedJoinLink = JoinLinkView.extend({ join_token: z.string(), join_url: z.string(), qr_svg: z.string() }).openapi("CreatedJoinLink");

export const CreatedEvent = EventView.extend({
  join_token: z.string(),
  join_url: z.string(),
  join_link: CreatedJoinLink,
  upload_url: z.string(),
}).openapi("CreatedEvent");

export const AdminTokenView = z
  .object({
    id: exampleId("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
    name: z.string(),
    event_ids: z.array(z.string()).nullable(),
    expires_at: instant.nullable(),
    revoked_at: instant.nullable(),
    last_used_at: instant.nullable(),
    created_at: instant,
  })
  .openapi("AdminTokenView");

/** An admin token as it is created: the only time the token itself is shown. */
export const CreatedAdminToken = AdminTokenView.extend({ token: z.string() }).openapi("CreatedAdminToken");

const count = z.number().int();
export const EventStats = z
  .object({
    photos: z.object({ total: count, preview: count, ready: count, processing: count, failed: count, hidden: count, bytes: count }),
    uploads: z.object({ in_flight: count, completed: count, failed: count, expired: count, cancelled: count }),
    devices: count,
    /** What the event holds in R2, each object once. */
    stored_bytes: z.object({ originals: count, scrubbed_copies: count, thumbnails: count, in_flight: count, total: count }),
    upload_failure_rate: z.number(),
    processing_failure_rate: z.number(),
    /** Uploads started per time bucket, oldest first; buckets without uploads are left out. */
    uploads_over_time: z.object({
      bucket_seconds: count,
      buckets: z.array(z.object({ start: instant, uploads: count, bytes: count })),
    }),
  })
  .openapi("EventStats");

export const RedriveResult = z.object({ requeued: count, photo_ids: z.array(z.string()) }).openapi("RedriveResult");

/** A short-lived URL: the event's ZIP download, or the live channel's WebSocket. */
export const SignedUrl = z.object({ url: z.string(), expires_at: instant }).openapi("SignedUrl");
export const ZipDownload = SignedUrl.extend({ photo_count: count, bytes: count }).openapi("ZipDownload");

/** A guest's claim on their device's uploads, as organisers see it (never its code). */
export const ClaimView = z
  .object({
    id: exampleId("9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f"),
    device_id: z.string(),
    /** The device's photos the claim opens (not deleted). */
    photos: z.number().int(),
    created_at: instant,
    last_used_at: instant.nullable(),
    revoked_at: instant.nullable(),
  })
  .openapi("ClaimView");
