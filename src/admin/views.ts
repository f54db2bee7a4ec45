/**
 * How events, photos and uploads look in the admin API and on the live channel: one shape each,
 * from the D1 rows.
 */
import type { EventRow, PhotoRow, UploadSessionRow } from "../db/schema";
import type { PhotoUrls } from "../downloads/photo-files";
import { downloadName } from "../core/filenames";
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
    allowed_content_types: event.allowedContentTypes,
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
export function photoView(photo: PhotoRow, urls: PhotoUrls) {
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
