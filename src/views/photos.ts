/**
 * How photos and uploads look to organisers, in the admin API and on the live channel (and the
 * pieces the guest API shares): one shape each, from the D1 rows, with the zod schemas that
 * state them for the API's contract (http/openapi.ts).
 */
import { z } from "@hono/zod-openapi";
import { mediaKinds, photoStatuses, thumbnailStates, uploadStatuses, type PhotoRow, type UploadSessionRow } from "../db/schema";
import type { PhotoUrls as SignedPhotoUrls } from "../downloads/photo-files";
import { downloadName } from "../core/filenames";
import { isoOrNull } from "../lib/time";

export const exampleId = (example: string) => z.string().openapi({ example });
export const instant = z.string().openapi({ format: "date-time", example: "2026-06-20T14:00:00.000Z" });

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
    media_kind: photo.mediaKind,
    duration_s: photo.durationSeconds,
    size: photo.size,
    width: photo.width,
    height: photo.height,
    taken_at: isoOrNull(photo.takenAt),
    camera: [photo.cameraMake, photo.cameraModel].filter(Boolean).join(" ") || null,
    gps: photo.gpsLatitude !== null && photo.gpsLongitude !== null ? { latitude: photo.gpsLatitude, longitude: photo.gpsLongitude } : null,
    device_id: photo.deviceId,
    display_name: photo.displayName,
    uploaded_at: isoOrNull(photo.createdAt),
    thumbnail_state: photo.thumbnailState,
    duplicate_of: photo.duplicateOf,
    failure_reason: photo.failureReason,
    /** Its preview did not look like its original (or could not be compared): for an organiser's review, not approved automatically. */
    preview_flagged: photo.previewFlagged,
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
    photo_id: exampleId("0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"),
    status: z.enum(photoStatuses),
    approved: z.boolean(),
    filename: z.string(),
    download_name: z.string(),
    content_type: z.string(),
    /** `video`: MP4 or QuickTime, with its duration in seconds (null for images). */
    media_kind: z.enum(mediaKinds),
    duration_s: z.number().nullable(),
    size: z.number().int(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    taken_at: instant.nullable(),
    camera: z.string().nullable(),
    gps: z.object({ latitude: z.number(), longitude: z.number() }).nullable(),
    device_id: z.string(),
    display_name: z.string().nullable().openapi({ description: "The name its guest gave, if any" }),
    uploaded_at: instant.nullable(),
    thumbnail_state: z.enum(thumbnailStates).nullable(),
    duplicate_of: z.string().nullable(),
    failure_reason: z.string().nullable(),
    preview_flagged: z.boolean().openapi({ description: "The guest's preview did not look like the original (or could not be compared with it): held for review" }),
    urls: PhotoUrls,
  })
  .openapi("PhotoView");

export const UploadView = z
  .object({
    upload_id: exampleId("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"),
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
