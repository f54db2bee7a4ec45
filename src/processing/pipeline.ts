/**
 * Turns a completed upload into a photo: sniff, inspect (hash, dimensions, polyglots), extract
 * metadata, link duplicates, write the scrubbed copy and thumbnails, record it all. Idempotent:
 * every object has a key derived from the photo, and the row only moves out of `processing`
 * once, so a redelivered message or a re-drive ends in the same rows and objects.
 */
import { and, eq, exists, inArray, ne, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { releaseObjects } from "../core/photos";
import { database } from "../db/client";
import { events, photos, type PhotoRow } from "../db/schema";
import { r2Keys } from "../storage/keys";
import { concatFixedLength } from "../storage/streams";
import { hexOf } from "../lib/crypto";
import { extensionOf, imageFormatNames, isVideoType, mediaTypes, sameFamily, videoFormatNames, type VideoType } from "../lib/media-types";
import { inspect, sniffMedia, TooManyPixelsError, NotAnImageError, type Inspection, type ScrubPiece, endsWithZip, ZIP_TAIL_BYTES } from "./inspect";
import { inspectVideo, NotAVideoError, r2Source } from "./video";
import type { PhotoMetadata } from "./metadata";
import { dHash, hammingDistance, PREVIEW_MISMATCH_BITS } from "./phash";
import { ThumbnailUnavailableError, thumbnailPath, thumbnailsWithImages, thumbnailsWithPhoton, THUMBNAIL_SIZES, type Thumbnails } from "./thumbnails";

/** Pixels above which an image is refused before anything decodes it (a decompression bomb). */
export const MAX_PIXELS = 50_000_000;
/** Header bytes read for sniffing (HEIF brands included); metadata is found by the inspection, wherever it is. */
const SNIFF_BYTES = 4096;

/** A failure that retrying cannot fix: the photo is marked failed at once. */
export class PhotoRejected extends Error {}

export interface ProcessOutcome {
  photoId: string;
  outcome: "ready" | "duplicate" | "skipped";
  bytes?: number;
  thumbnailPath?: Thumbnails["path"] | "unavailable";
  /** Where the time went: reading and inspecting the original, the scrubbed copy, thumbnails. */
  inspectMs?: number;
  scrubMs?: number;
  thumbnailsMs?: number;
  /** Bits between the guest's preview and the original's thumbnail; null when they could not be compared. */
  previewDistance?: number | null;
}

export async function processPhoto(env: Env, photoId: string): Promise<ProcessOutcome> {
  const db = database(env);
  const photo = await db.select().from(photos).where(eq(photos.id, photoId)).get();
  if (!photo || photo.status !== "processing") return { photoId, outcome: "skipped" };
  const event = await db
    .select({ keepGps: events.keepGps, moderationMode: events.moderationMode, videosAllowed: events.videosAllowed, maxVideoDurationSeconds: events.maxVideoDurationSeconds })
    .from(events)
    .where(eq(events.id, photo.eventId))
    .get();
  // In auto mode a photo is approved as it becomes ready; in review mode it keeps what an organiser
  // decided (its preview may have been approved already).
  const approvedAt = () => (event?.moderationMode === "auto" ? Date.now() : sql`${photos.approvedAt}`);
  const bucket = env.PHOTOS;
  const get = async (range?: R2Range) => {
    const object = await bucket.get(photo.originalKey, range ? { range } : {});
    if (!object) throw new PhotoRejected("the uploaded original is missing");
    return object;
  };
  const open = async (range?: R2Range) => (await get(range)).body;
  const read = async (range: R2Range) => new Uint8Array(await (await get(range)).arrayBuffer());

  const started = Date.now();
  const [head, tail] = await Promise.all([read({ offset: 0, length: SNIFF_BYTES }), read({ suffix: Math.min(ZIP_TAIL_BYTES, photo.size) })]);
  const type = sniffMedia(head);
  const videosAllowed = event?.videosAllowed ?? false;
  if (!type) throw new PhotoRejected(`the file is not a ${imageFormatNames()} image${videosAllowed ? ` or ${videoFormatNames()} video` : ""}`);
  if (isVideoType(type) && !videosAllowed) throw new PhotoRejected("the file is a video, and this event does not take videos");
  if (!sameFamily(type, photo.declaredContentType)) {
    throw new PhotoRejected(`the file was declared ${photo.declaredContentType} but its bytes are ${type}`);
  }
  if (isVideoType(type)) {
    const maxSeconds = event?.maxVideoDurationSeconds ?? 0;
    return processVideo(env, photo, type, { keepGps: event?.keepGps ?? false, maxSeconds, approvedAt, started });
  }
  let inspection: Inspection;
  try {
    // The object's own size (not the upload's record) bounds every length the file claims.
    const original = await get();
    inspection = await inspect(original.body, type, { maxPixels: MAX_PIXELS, size: original.size });
  } catch (error) {
    if (error instanceof TooManyPixelsError || error instanceof NotAnImageError) throw new PhotoRejected(error.message);
    throw error;
  }
  if (endsWithZip(tail)) inspection.threats.push("a ZIP archive is appended");
  if (inspection.threats.length) throw new PhotoRejected(`the file is not a plain image: ${inspection.threats.join("; ")}`);
  // A truncated file stays truncated: retrying cannot help.
  if (inspection.truncated) throw new PhotoRejected(inspection.truncated);
  if (photo.declaredSha256 && photo.declaredSha256 !== inspection.sha256) {
    throw new PhotoRejected("the stored bytes do not match the SHA-256 the guest declared");
  }
  const metadata = inspection.metadata;
  const inspectMs = Date.now() - started;
  const recorded = recordedFields(inspection, metadata, event?.keepGps ?? false);
  const autoApprove = event?.moderationMode === "auto";
  const original = await db
    .select()
    .from(photos)
    .where(
      and(
        eq(photos.eventId, photo.eventId),
        eq(photos.sha256, inspection.sha256),
        inArray(photos.status, ["ready", "hidden"]),
        ne(photos.id, photo.id),
      ),
    )
    .orderBy(photos.createdAt)
    .get();
  if (original) {
    const thumbnail = photo.previewPhash !== null && original.thumbSmallKey ? await bucket.get(original.thumbSmallKey) : null;
    const checked = comparePreview(photo, thumbnail ? new Uint8Array(await thumbnail.arrayBuffer()) : null, autoApprove);
    if (await finish(env, photo, { ...recorded, ...checked.fields, ...sharedObjects(original), duplicateOf: original.duplicateOf ?? original.id }, original.id)) {
      if (original.originalKey !== photo.originalKey) await bucket.delete(photo.originalKey);
      if (photo.previewKey && thumbnail) await bucket.delete(photo.previewKey);
      return { photoId, outcome: "duplicate", bytes: inspection.size, inspectMs, previewDistance: checked.distance };
    }
  }
  // Not linked (the earlier photo was deleted meanwhile): a photo of its own.

  const scrubbedKey = inspection.scrub ? r2Keys.scrubbed(photo.eventId, photo.id, extensionOf(type)) : null;
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const begun = Date.now();
    return [await work(), Date.now() - begun];
  };
  const makeThumbnails = async (): Promise<Thumbnails | null> => {
    try {
      if (thumbnailPath(type, inspection.width, inspection.height) === "images-binding") return await thumbnailsWithImages(env.IMAGES, () => open());
      const original = new Uint8Array(await (await get()).arrayBuffer());
      try {
        return thumbnailsWithPhoton(original, metadata.orientation);
      } catch (error) {
        // Decoding is deterministic: bytes photon cannot decode now, it never will.
        throw new PhotoRejected(`the image data cannot be decoded: ${error instanceof Error ? error.message : String(error)}`);
      }
    } catch (error) {
      // HEIC/HEIF (not for photon) may have no decoder in the Images binding either: the photo is kept, without thumbnails.
      if (error instanceof ThumbnailUnavailableError || !mediaTypes[type].photonDecodes) return null;
      throw error;
    }
  };
  const thumbKeys = {
    thumbLargeKey: r2Keys.thumbnail(photo.eventId, photo.id, THUMBNAIL_SIZES.large),
    thumbSmallKey: r2Keys.thumbnail(photo.eventId, photo.id, THUMBNAIL_SIZES.small),
  };
  let finished = false;
  try {
    // Independent: the scrubbed copy streams ranges of the original while thumbnails are made.
    const [[scrubbedSize, scrubMs], [thumbnails, thumbnailsMs]] = await settled([
      timed(async () => (scrubbedKey && inspection.scrub ? writeScrubbed(bucket, photo.originalKey, scrubbedKey, inspection.scrub) : null)),
      timed(makeThumbnails),
    ]);
    if (thumbnails) {
      const webp = { httpMetadata: { contentType: "image/webp" } };
      await settled([bucket.put(thumbKeys.thumbLargeKey, thumbnails.large, webp), bucket.put(thumbKeys.thumbSmallKey, thumbnails.small, webp)]);
    }
    const checked = comparePreview(photo, thumbnails?.small ?? null, autoApprove);
    finished = await finish(env, photo, {
      ...recorded,
      ...checked.fields,
      scrubbedKey,
      ...(thumbnails ? thumbKeys : { thumbLargeKey: null, thumbSmallKey: null }),
      thumbnailState: thumbnails ? "ready" : "unavailable",
      scrubbedSize,
      thumbnailsSize: thumbnails ? thumbnails.large.byteLength + thumbnails.small.byteLength : null,
    });
    if (!finished) return { photoId, outcome: "skipped" };
    // The server's own thumbnails replace the preview from here on; without any, the preview stays the photo's image.
    if (photo.previewKey && thumbnails) await bucket.delete(photo.previewKey);
    return {
      photoId,
      outcome: "ready",
      bytes: inspection.size,
      thumbnailPath: thumbnails?.path ?? "unavailable",
      inspectMs,
      scrubMs,
      thumbnailsMs,
      previewDistance: checked.distance,
    };
  } catch (error) {
    // A photo rejected while its thumbnails were made (undecodable pixels) keeps no scrubbed copy.
    if (error instanceof PhotoRejected && scrubbedKey) await bucket.delete(scrubbedKey);
    throw error;
  } finally {
    // Taken back while it was processed: nothing this run wrote may stay behind.
    if (!finished) await discardIfDeleted(env, photo.id, [scrubbedKey, thumbKeys.thumbLargeKey, thumbKeys.thumbSmallKey]);
  }
}

type Insert = typeof photos.$inferInsert;
type Recorded = { [K in keyof Insert]?: Insert[K] | SQL };

/**
 * The approval and preview fields of a photo becoming ready. In auto mode a photo is approved as
 * it becomes ready; in review mode it keeps the approval an organiser gave (its preview may have
 * been approved). A photo whose preview does not look like its original (a dHash distance over
 * PREVIEW_MISMATCH_BITS, or no thumbnail to compare with) is flagged and not approved: what was
 * approved or shown was the preview, not this original.
 */
function comparePreview(photo: PhotoRow, thumbnail: Uint8Array | null, autoApprove: boolean): { fields: Recorded; distance?: number | null } {
  const approved = autoApprove ? Date.now() : sql`${photos.approvedAt}`;
  if (photo.previewPhash === null) return { fields: { approvedAt: approved } };
  let distance: number | null = null;
  try {
    if (thumbnail) distance = hammingDistance(photo.previewPhash, dHash(thumbnail));
  } catch {
    // A thumbnail photon cannot decode cannot vouch for the preview: flagged below.
  }
  const flagged = distance === null || distance > PREVIEW_MISMATCH_BITS;
  // Kept (unverified, so flagged) where no thumbnail replaces it: better than a neutral tile for the organiser.
  return { fields: { ...(thumbnail ? { previewKey: null } : {}), previewFlagged: flagged, approvedAt: flagged ? null : approved }, distance };
}

/**
 * Links the photo to an earlier ready or hidden one of the event with the same bytes (sharing
 * its objects) and removes its own original; false if there is none (or it went meanwhile).
 */
async function linkedToEarlierCopy(env: Env, photo: PhotoRow, recorded: Recorded & { sha256: string }): Promise<boolean> {
  const original = await database(env)
    .select()
    .from(photos)
    .where(and(eq(photos.eventId, photo.eventId), eq(photos.sha256, recorded.sha256), inArray(photos.status, ["ready", "hidden"]), ne(photos.id, photo.id)))
    .orderBy(photos.createdAt)
    .get();
  if (!original || !(await finish(env, photo, { ...recorded, ...sharedObjects(original), duplicateOf: original.duplicateOf ?? original.id }, original.id))) return false;
  if (original.originalKey !== photo.originalKey) await env.PHOTOS.delete(photo.originalKey);
  return true;
}

interface VideoRules {
  keepGps: boolean;
  /** The event's duration cap (max_video_duration_s). */
  maxSeconds: number;
  approvedAt: () => number | SQL;
  started: number;
}

/**
 * A video: its container's metadata (video.ts: a few ranged reads, never the media), the
 * event's duration cap, and its hash from one streaming pass. No server thumbnails: it is
 * `thumbnail_state: unavailable` until a poster arrives (the guest's browser makes one and sends
 * it as the video's preview; production could make one here instead, with Cloudflare's media
 * transformations, writing the thumbnail keys as photos do). There is no stored guests' copy:
 * guests get the original with its location blanked in place as it is served (downloads/location.ts).
 */
async function processVideo(env: Env, photo: PhotoRow, type: VideoType, rules: VideoRules): Promise<ProcessOutcome> {
  const bucket = env.PHOTOS;
  const stored = await bucket.head(photo.originalKey);
  if (!stored) throw new PhotoRejected("the uploaded original is missing");
  let inspection;
  try {
    inspection = await inspectVideo(r2Source(bucket, photo.originalKey, stored.size), type, { maxPixels: MAX_PIXELS });
  } catch (error) {
    if (error instanceof NotAVideoError) throw new PhotoRejected(`the video cannot be read: ${error.message}`);
    throw error;
  }
  if (inspection.threats.length) throw new PhotoRejected(`the file is not a plain video: ${inspection.threats.join("; ")}`);
  if (inspection.truncated) throw new PhotoRejected(inspection.truncated);
  if (inspection.durationSeconds > rules.maxSeconds) {
    throw new PhotoRejected(`the video is ${Math.ceil(inspection.durationSeconds)} s long, over this event's limit of ${rules.maxSeconds} s`);
  }
  const body = await bucket.get(photo.originalKey);
  if (!body) throw new PhotoRejected("the uploaded original is missing");
  const digest = new crypto.DigestStream("SHA-256");
  await body.body.pipeTo(digest);
  const sha256 = hexOf(await digest.digest);
  if (photo.declaredSha256 && photo.declaredSha256 !== sha256) throw new PhotoRejected("the stored bytes do not match the SHA-256 the guest declared");
  const inspectMs = Date.now() - rules.started;
  const turned = inspection.rotation === 90 || inspection.rotation === 270;
  const recorded = {
    contentType: type,
    mediaKind: "video" as const,
    durationSeconds: inspection.durationSeconds,
    sha256,
    // As it is shown (players apply the track's rotation).
    width: turned ? inspection.height : inspection.width,
    height: turned ? inspection.width : inspection.height,
    takenAt: inspection.createdAt,
    gpsLatitude: rules.keepGps ? (inspection.gps?.latitude ?? null) : null,
    gpsLongitude: rules.keepGps ? (inspection.gps?.longitude ?? null) : null,
    approvedAt: rules.approvedAt(),
  };
  if (await linkedToEarlierCopy(env, photo, recorded)) return { photoId: photo.id, outcome: "duplicate", bytes: inspection.size, inspectMs };
  const finished = await finish(env, photo, { ...recorded, scrubbedKey: null, thumbLargeKey: null, thumbSmallKey: null, thumbnailState: "unavailable", scrubbedSize: null, thumbnailsSize: null });
  if (!finished) return { photoId: photo.id, outcome: "skipped" };
  return { photoId: photo.id, outcome: "ready", bytes: inspection.size, thumbnailPath: "unavailable", inspectMs };
}

function recordedFields(inspection: Inspection, metadata: PhotoMetadata, keepGps: boolean): Recorded & { sha256: string } {
  return {
    contentType: inspection.type,
    sha256: inspection.sha256,
    width: inspection.width,
    height: inspection.height,
    orientation: metadata.orientation,
    takenAt: metadata.takenAt,
    cameraMake: metadata.cameraMake,
    cameraModel: metadata.cameraModel,
    gpsLatitude: keepGps ? (metadata.gps?.latitude ?? null) : null,
    gpsLongitude: keepGps ? (metadata.gps?.longitude ?? null) : null,
  };
}

const sharedObjects = (original: PhotoRow): Recorded => ({
  originalKey: original.originalKey,
  scrubbedKey: original.scrubbedKey,
  thumbLargeKey: original.thumbLargeKey,
  thumbSmallKey: original.thumbSmallKey,
  thumbnailState: original.thumbnailState,
  scrubbedSize: original.scrubbedSize,
  thumbnailsSize: original.thumbnailsSize,
});

/**
 * Moves the photo to ready, unless moderation, a take-back or a parallel run changed it
 * meanwhile; false if it did not. A duplicate sharing the objects of `sharesWith` is linked in
 * the same statement only while that photo is live, so a delete of it that has begun (and may be
 * removing its files) can never leave this one pointing at them (core/photos.ts releaseObjects).
 */
async function finish(env: Env, photo: PhotoRow, fields: Recorded, sharesWith?: string): Promise<boolean> {
  const db = database(env);
  const now = Date.now();
  const source = sharesWith
    ? exists(db.select({ id: sharedPhoto.id }).from(sharedPhoto).where(and(eq(sharedPhoto.id, sharesWith), inArray(sharedPhoto.status, ["ready", "hidden"]))))
    : undefined;
  const result = await db
    .update(photos)
    .set({ ...fields, status: "ready", failureReason: null, processedAt: now, updatedAt: now })
    .where(and(eq(photos.id, photo.id), eq(photos.status, "processing"), source));
  return result.meta.changes > 0;
}

const sharedPhoto = alias(photos, "shared_photo");

/** Removes the objects a run wrote for a photo that was deleted meanwhile (keeping any a live photo uses). */
async function discardIfDeleted(env: Env, photoId: string, keys: Array<string | null>): Promise<void> {
  const db = database(env);
  const row = await db.select({ status: photos.status }).from(photos).where(eq(photos.id, photoId)).get();
  if (!row || row.status === "deleted") await releaseObjects(db, env.PHOTOS, keys.filter((key): key is string => key !== null));
}

/** Like Promise.all, but rejects only once every promise has settled, so nothing is still writing then. */
async function settled<T extends readonly unknown[]>(promises: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Marks a photo failed with a reason a person can read (only while it is still processing); true if it did. */
export async function failPhoto(env: Env, photoId: string, reason: string): Promise<boolean> {
  const result = await database(env)
    .update(photos)
    .set({ status: "failed", failureReason: reason, updatedAt: Date.now() })
    .where(and(eq(photos.id, photoId), eq(photos.status, "processing")));
  return result.meta.changes > 0;
}

/** Writes the scrubbed copy by streaming the kept ranges of the original, in order; returns its size. */
async function writeScrubbed(bucket: R2Bucket, originalKey: string, key: string, pieces: ScrubPiece[]): Promise<number> {
  const length = pieces.reduce((sum, piece) => sum + ("bytes" in piece ? piece.bytes.byteLength : piece.end - piece.start), 0);
  const sources = pieces.map((piece) => async () => {
    if ("bytes" in piece) return new Blob([piece.bytes]).stream();
    const object = await bucket.get(originalKey, { range: { offset: piece.start, length: piece.end - piece.start } });
    if (!object) throw new Error("the original disappeared while scrubbing");
    return object.body;
  });
  const { readable, copied } = concatFixedLength(length, sources);
  await Promise.all([bucket.put(key, readable), copied]);
  return length;
}
