/**
 * Who may download which file of a photo, as signed URLs. Organisers get every variant,
 * originals included; guests get the scrubbed copy and thumbnails, only of approved photos and
 * only while the event's gallery is open (on, and past its reveal time); a claim's holder gets
 * them of the claimed device's own processed photos. Checked again when the URL is used, so
 * hiding a photo, closing the gallery or revoking a claim takes effect at once, not when old URLs
 * expire.
 */
import { and, eq, isNull } from "drizzle-orm";
import { database } from "../db/client";
import { claims, events, photos, type PhotoRow } from "../db/schema";
import { expiryFor, signPath } from "../lib/signing";
import { downloadName } from "../core/filenames";
import { ApiError, refusals } from "../core/errors";
import { galleryOpen } from "../core/events";
import { LocationUnremovableError, locationPatches, type Patch } from "./location";
import { serveObject } from "./serve-object";

export const variants = ["original", "scrubbed", "thumb-1024", "thumb-256", "preview"] as const;
export type Variant = (typeof variants)[number];
export const guestVariants = ["scrubbed", "thumb-1024", "thumb-256", "preview"] as const satisfies Variant[];
/** `owner`: the device that uploaded the photo, through a claim (core/claims.ts): its own photos once processed, approved or not. */
export type Audience = "organiser" | "guest" | "owner";
/** Photos guests may see once approved: processed ones, and previews (whose original is on its way). */
export const guestVisibleStatuses: PhotoRow["status"][] = ["ready", "preview", "processing"];

/**
 * Signed file URLs last FILE_URL_TTL_MS (default an hour), rounded up to a sixth of that, at most
 * 10 minutes, so repeated listings reuse cached images. The guest gallery renews them before
 * they expire (web/guest/use-gallery.ts); a short TTL lets tests see that happen.
 */
export function fileUrlExpiry(env: Pick<Env, "FILE_URL_TTL_MS">, now = Date.now()): number {
  const configured = Number(env.FILE_URL_TTL_MS);
  const ttlMs = Number.isFinite(configured) && configured >= 10_000 ? configured : 60 * 60 * 1000;
  return expiryFor(ttlMs, Math.min(ttlMs / 6, 10 * 60 * 1000), now);
}

const pathPrefix: Record<Audience, string> = { organiser: "/api/v1/files/photos", guest: "/api/v1/files/gallery", owner: "/api/v1/files/own" };

/**
 * Until processing has made the photo's thumbnails (or where it could make none: HEIC without a
 * decoder), its thumbnails are the guest's preview (core/previews.ts).
 */
const showsPreview = (photo: PhotoRow) => photo.previewKey !== null && (photo.status === "preview" || photo.status === "processing" || photo.thumbSmallKey === null);

function objectKey(photo: PhotoRow, variant: Variant): string | null {
  switch (variant) {
    case "preview":
      return showsPreview(photo) ? photo.previewKey : null;
    case "original":
      return photo.originalKey;
    case "scrubbed":
      // A video's guests' copy is its original, served with its location blanked in place (servePhotoFile).
      return photo.mediaKind === "video" ? photo.originalKey : photo.scrubbedKey;
    case "thumb-1024":
      return photo.thumbLargeKey;
    case "thumb-256":
      return photo.thumbSmallKey;
  }
}

export type PhotoUrls = Partial<Record<"original" | "scrubbed" | "thumb_1024" | "thumb_256", string | null>>;

/** Absolute signed URLs of the variants `audience` may see (null where the variant does not exist). */
export async function photoUrls(env: Env, origin: string, photo: PhotoRow, audience: Audience, now = Date.now()): Promise<PhotoUrls> {
  const expires = fileUrlExpiry(env, now);
  const allowed = (audience === "organiser" ? variants : guestVariants).filter((variant) => variant !== "preview");
  const entries = await Promise.all(
    allowed.map(async (variant) => {
      // Its own URL, so a browser that cached the preview still fetches the thumbnails that replace it.
      const served: Variant = variant.startsWith("thumb-") && showsPreview(photo) ? "preview" : variant;
      const url = objectKey(photo, served) ? origin + (await signPath(env.SIGNING_SECRET, `${pathPrefix[audience]}/${photo.id}/${served}`, expires)) : null;
      return [variant.replace("-", "_"), url] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** The name a downloaded variant is saved under (see core/filenames.ts): thumbnails are WebP. */
export function variantDownloadName(photo: PhotoRow, variant: Variant): string {
  if (variant === "preview") return downloadName(photo.filename, variantContentType(photo, variant), "-preview");
  if (variant.startsWith("thumb-")) return downloadName(photo.filename, "image/webp", `-${variant.slice("thumb-".length)}`);
  return downloadName(photo.filename, photo.contentType);
}

/** What a download says it is: the type sniffed from its bytes, never the one the guest declared. */
function variantContentType(photo: PhotoRow, variant: Variant): string {
  if (variant === "preview") return photo.previewKey?.endsWith(".jpg") ? "image/jpeg" : "image/webp";
  return variant.startsWith("thumb-") ? "image/webp" : (photo.contentType ?? "application/octet-stream");
}

/** Serves a variant of a photo to the holder of a (verified) signed URL, if `audience` may still see it. */
export async function servePhotoFile(env: Env, request: Request, audience: Audience, photoId: string, variant: Variant, expiresAtMs: number): Promise<Response | null> {
  const found = await database(env)
    .select({ photo: photos, event: events })
    .from(photos)
    .innerJoin(events, eq(events.id, photos.eventId))
    .where(eq(photos.id, photoId))
    .get();
  if (!found || found.photo.status === "deleted") return null;
  const visibleToGuests = galleryOpen(found.event) && guestVisibleStatuses.includes(found.photo.status) && found.photo.approvedAt !== null;
  const visibleToOwner = found.photo.status === "ready" && found.event.status !== "archived" && (audience !== "owner" || (await hasLiveClaim(env, found.photo)));
  if (audience !== "organiser" && (variant === "original" || !(audience === "guest" ? visibleToGuests : visibleToOwner))) return null;
  const key = objectKey(found.photo, variant);
  if (!key) return null;
  return serveObject(env.PHOTOS, key, request, {
    contentType: variantContentType(found.photo, variant),
    filename: variantDownloadName(found.photo, variant),
    disposition: variant === "original" ? "attachment" : "inline",
    maxAgeSeconds: (expiresAtMs - Date.now()) / 1000,
    // The scrubbed copy and thumbnails have no location; the original keeps it only if the event does.
    patches: blankedAsServed(found.photo, variant, found.event.keepGps) ? await originalWithoutLocation(env.PHOTOS, found.photo) : [],
  });
}

/** Whether the variant is the original's bytes served without their location: a video's guests' copy always, an original unless the event keeps GPS. */
const blankedAsServed = (photo: PhotoRow, variant: Variant, keepGps: boolean) =>
  (variant === "scrubbed" && photo.mediaKind === "video") || (variant === "original" && !keepGps);

/** Whether the photo's device still has a claim the organiser has not revoked (nor a newer code replaced). */
async function hasLiveClaim(env: Env, photo: Pick<PhotoRow, "eventId" | "deviceId">): Promise<boolean> {
  const live = await database(env)
    .select({ id: claims.id })
    .from(claims)
    .where(and(eq(claims.eventId, photo.eventId), eq(claims.deviceId, photo.deviceId), isNull(claims.revokedAt)))
    .limit(1)
    .get();
  return live !== undefined;
}

/** The patches that take the location out of a photo's original (location.ts); refused if that cannot be done for certain. */
async function originalWithoutLocation(bucket: R2Bucket, photo: Pick<PhotoRow, "originalKey" | "contentType">): Promise<Patch[]> {
  try {
    return await locationPatches(bucket, photo.originalKey, photo.contentType);
  } catch (error) {
    if (error instanceof LocationUnremovableError) throw new ApiError(refusals.locationUnremovable());
    throw error;
  }
}
