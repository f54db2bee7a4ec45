/**
 * How events, photos and uploads look in the admin API and on the live channel: one shape each,
 * from the D1 rows. The zod schemas state them for the API's contract (http/openapi.ts): a
 * handler cannot answer a shape its route does not declare.
 */
import { z } from "@hono/zod-openapi";
import { eventStatuses, moderationModes, photoStatuses, thumbnailStates, uploadStatuses, type EventRow, type PhotoRow, type UploadSessionRow } from "../db/schema";
import type { PhotoUrls as SignedPhotoUrls } from "../downloads/photo-files";
import { downloadName } from "../core/filenames";
import { imageTypes, type ImageType } from "../lib/media-types";
import { isoOrNull } from "../lib/time";

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
    created_at: isoOrNull(event.createdAt),
    updated_at: isoOrNull(event.updatedAt),
  };
}

/** What organisers see of a photo (GPS only when the event keeps it). */
export function photoView(photo: PhotoRow, urls: SignedPhotoUrls) {
  return {
    photo_id: photo.id,
    status: photo.status,
    approved: photo.approvedAt !== null,
    filename: photo.filename,
    /** The name to save it under: never the guest's extension, always the sniffed type's. */
    download_name: downloadName(photo.filename, photo.contentType),
    content_type: photo.contentType ?? photo.declaredContentType,
    size: photo.size,
    width: photo.width,
    height: photo.height,
    taken_at: isoOrNull(photo.takenAt),
    camera: [photo.cameraMake, photo.cameraModel].filter(Boolean).join(" ") || null,
    gps: photo.gpsLatitude !== null && photo.gpsLongitude !== null ? { latitude: photo.gpsLatitude, longitude: photo.gpsLongitude } : null,
    device_id: photo.deviceId,
    uploaded_at: isoOrNull(photo.createdAt),
    thumbnail_state: photo.thumbnailState,
    duplicate_of: photo.duplicateOf,
    failure_reason: photo.failureReason,
    urls,
  };
}

/** The fields of an upload session that organisers see; the session's Durable Object has them too. */
export type UploadFacts = Pick<
  UploadSessionRow,
  "id" | "status" | "deviceId" | "filename" | "contentType" | "receivedBytes" | "totalSize" | "failureReason" | "photoId" | "updatedAt" | "expiresAt"
> & { createdAt: number | null };

/** An upload session as organisers see it: progress, and why it ended if it did not finish. */
export function uploadView(session: UploadFacts) {
  return {
    upload_id: session.id,
    status: session.status,
    device_id: session.deviceId,
    filename: session.filename,
    content_type: session.contentType,
    received_bytes: session.receivedBytes,
    total_size: session.totalSize,
    failure_reason: session.failureReason,
    photo_id: session.photoId,
    created_at: isoOrNull(session.createdAt),
    updated_at: isoOrNull(session.updatedAt),
    expires_at: isoOrNull(session.expiresAt),
  };
}

const id = (example: string) => z.string().openapi({ example });
export const instant = z.string().openapi({ format: "date-time", example: "2026-06-20T14:00:00.000Z" });

export const EventView = z
  .object({
    event_id: id("5b0f3f5e-8a44-4f5b-9a7e-0c1d2e3f4a5b"),
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
    created_at: instant.nullable(),
    updated_at: instant.nullable(),
  })
  .openapi("EventView");

/** Signed, absolute, short-lived URLs of a photo's files; null where a file does not exist, absent where the audience may not see it. */
export const PhotoUrls = z
  .object({
    original: z.string().nullable().optional(),
    scrubbed: z.string().nullable().optional(),
    thumb_1024: z.string().nullable().optional(),
    thumb_256: z.string().nullable().optional(),
  })
  .openapi("PhotoUrls");

export const PhotoView = z
  .object({
    photo_id: id("0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"),
    status: z.enum(photoStatuses),
    approved: z.boolean(),
    filename: z.string(),
    download_name: z.string(),
    content_type: z.string(),
    size: z.number().int(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    taken_at: instant.nullable(),
    camera: z.string().nullable(),
    gps: z.object({ latitude: z.number(), longitude: z.number() }).nullable(),
    device_id: z.string(),
    uploaded_at: instant.nullable(),
    thumbnail_state: z.enum(thumbnailStates).nullable(),
    duplicate_of: z.string().nullable(),
    failure_reason: z.string().nullable(),
    urls: PhotoUrls,
  })
  .openapi("PhotoView");

export const UploadView = z
  .object({
    upload_id: id("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"),
    status: z.enum(uploadStatuses),
    device_id: z.string(),
    filename: z.string(),
    content_type: z.string(),
    received_bytes: z.number().int(),
    total_size: z.number().int(),
    failure_reason: z.string().nullable(),
    photo_id: z.string().nullable(),
    created_at: instant.nullable(),
    updated_at: instant.nullable(),
    expires_at: instant.nullable(),
  })
  .openapi("UploadView");

export const JoinLinkView = z
  .object({ id: id("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"), label: z.string().nullable(), expires_at: instant.nullable(), revoked_at: instant.nullable(), created_at: instant })
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
    id: id("2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"),
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
    photos: z.object({ total: count, ready: count, processing: count, failed: count, hidden: count, bytes: count }),
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
