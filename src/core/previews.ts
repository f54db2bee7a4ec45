/**
 * Preview first (issue 15): the guest's device sends a small preview of a photo before its
 * original, and the photo is recorded at once in state `preview`, announced live and, where the
 * event's moderation allows, shown to guests (served from the preview object until processing
 * has made the server's own thumbnails; downloads/photo-files.ts). When the original completes,
 * the same row moves on to `processing` (core/completion.ts); processing compares the two
 * perceptual hashes and flags a preview that did not show its original (processing/pipeline.ts).
 * A preview whose original never arrives ends with its session: the photo goes away (`deleted`,
 * with the reason kept in its row) and so does its preview object. There was never a photo to
 * process, so it is no processing failure; and a cancelled upload is one the guest withdrew.
 */
import { and, eq, sql } from "drizzle-orm";
import { database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { activeUploadStatuses, events, photos, uploadSessions } from "../db/schema";
import { extensionOf, isPreviewType, mediaType, mediaTypes, type ImageType } from "../lib/media-types";
import { inspect, NotAnImageError, sniffType, TooManyPixelsError, type ScrubPiece } from "../processing/inspect";
import { dHash } from "../processing/phash";
import { r2Keys } from "../storage/keys";
import { announcePhoto } from "../live/publish";
import { ApiError, refusals, type Refusal } from "./errors";
import { callerOf, sessionStub, unwrap, type UploadRef } from "./session-client";

/** A preview is a small image for a crowded link (about 50 KB is typical): bytes and pixels are capped. */
export const PREVIEW_MAX_BYTES = 256 * 1024;
export const PREVIEW_MAX_EDGE = 2048;

export interface PreviewReceipt {
  photo_id: string;
  status: "preview";
}

const previewFormats = () =>
  (Object.keys(mediaTypes) as Array<keyof typeof mediaTypes>)
    .filter(isPreviewType)
    .map((type) => mediaTypes[type].label)
    .join(" or ");

/**
 * Checks a preview (declared length within the cap, sniffed type, dimensions from the header,
 * decodable), stores it under the upload's photo and records the photo in `preview` (or replaces
 * the preview of a photo still in `preview`). `created` is false for a replacement.
 */
export async function acceptPreview(
  env: Env,
  ctx: Pick<ExecutionContext, "waitUntil">,
  ref: UploadRef,
  request: { declaredLength: string | undefined; declaredType: string | undefined; body: ReadableStream<Uint8Array> | null },
): Promise<{ created: boolean; receipt: PreviewReceipt }> {
  const length = previewLength(request.declaredLength);
  const caller = await callerOf(ref);
  const claim = unwrap(await sessionStub(env, ref.uploadId).claimPreview(caller));
  const { type, phash, bytes } = await checkPreview(await readExactly(request.body, length), request.declaredType);

  const db = database(env);
  const before = await db.select({ status: photos.status, previewKey: photos.previewKey }).from(photos).where(eq(photos.uploadId, claim.uploadId)).get();
  if (before && before.status !== "preview") throw new ApiError(previewTooLate(before.status));
  const key = r2Keys.preview(claim.eventId, claim.photoId, extensionOf(type));
  await env.PHOTOS.put(key, bytes, { httpMetadata: { contentType: type } });

  const now = Date.now();
  const insert = insertWhere(
    photos,
    {
      id: claim.photoId,
      eventId: claim.eventId,
      uploadId: claim.uploadId,
      deviceId: claim.deviceId,
      status: "preview",
      originalKey: claim.r2Key,
      size: claim.totalSize,
      filename: claim.filename,
      declaredContentType: claim.contentType,
      declaredSha256: claim.declaredSha256,
      previewKey: key,
      previewPhash: phash,
      updatedAt: now,
    },
    // Only for a session still taking bytes (one that ended has ended its preview too; see endPreview).
    sql`exists (select 1 from ${uploadSessions} where ${uploadSessions.id} = ${claim.uploadId}
          and ${uploadSessions.status} in ${activeUploadStatuses})
        and exists (select 1 from ${events} where ${events.id} = ${claim.eventId} and ${events.status} <> 'archived')`,
  );
  const [recorded] = await env.DB.batch([
    d1Statement(
      env.DB,
      sql`${insert} on conflict (${sql.identifier("upload_id")}) do update
        set ${sql.identifier("preview_key")} = excluded.${sql.identifier("preview_key")},
            ${sql.identifier("preview_phash")} = excluded.${sql.identifier("preview_phash")},
            ${sql.identifier("updated_at")} = excluded.${sql.identifier("updated_at")}
        where ${photos.status} = 'preview'`,
    ),
    // The photo carries the name its guest gave at create, from its first moment (as completion does).
    d1Statement(
      env.DB,
      db
        .update(photos)
        .set({ displayName: sql`(select ${uploadSessions.displayName} from ${uploadSessions} where ${uploadSessions.id} = ${claim.uploadId})` })
        .where(eq(photos.id, claim.photoId)),
    ),
    // In auto mode it is shown as soon as it exists, like a processed photo; in review mode, once approved.
    d1Statement(
      env.DB,
      sql`update ${photos} set ${sql.identifier("approved_at")} = ${now}
        where ${photos.id} = ${claim.photoId} and ${photos.approvedAt} is null and ${photos.status} = 'preview'
          and exists (select 1 from ${events} where ${events.id} = ${claim.eventId} and ${events.moderationMode} = 'auto')`,
    ),
  ]);
  if (recorded!.meta.changes === 0) {
    await env.PHOTOS.delete(key);
    const current = await db.select({ status: photos.status }).from(photos).where(eq(photos.uploadId, claim.uploadId)).get();
    if (current) throw new ApiError(previewTooLate(current.status));
    // The session ended (or its event closed) meanwhile: it answers why.
    unwrap(await sessionStub(env, ref.uploadId).claimPreview(caller));
    throw new ApiError(refusals.uploadCompleted());
  }
  // A replacement of another type leaves its earlier object behind otherwise.
  if (before?.previewKey && before.previewKey !== key) await env.PHOTOS.delete(before.previewKey);
  ctx.waitUntil(announcePhoto(env, claim.photoId));
  return { created: !before, receipt: { photo_id: claim.photoId, status: "preview" } };
}

/**
 * Ends the preview photo of a session that closed without its original (cancelled, expired,
 * failed): `deleted` (dashboards drop it), and its preview object deleted. Nothing for a photo past `preview`.
 */
export async function endPreview(env: Env, photoId: string, sessionStatus: string): Promise<void> {
  const db = database(env);
  const found = await db.select({ previewKey: photos.previewKey }).from(photos).where(and(eq(photos.id, photoId), eq(photos.status, "preview"))).get();
  if (!found) return;
  const ended = await db
    .update(photos)
    .set({ status: "deleted", failureReason: `the original never arrived (upload ${sessionStatus})`, previewKey: null, approvedAt: null, updatedAt: Date.now() })
    .where(and(eq(photos.id, photoId), eq(photos.status, "preview")));
  if (ended.meta.changes === 0) return;
  if (found.previewKey) await env.PHOTOS.delete(found.previewKey);
  await announcePhoto(env, photoId);
}

function previewTooLate(status: string): Refusal {
  return status === "deleted"
    ? { ...refusals.uploadCompleted(), message: "This upload's photo was deleted; it takes no preview." }
    : { ...refusals.uploadCompleted(), message: "The original of this photo has arrived; its preview is no longer needed." };
}

function previewLength(declared: string | undefined): number {
  if (declared === undefined) throw new ApiError({ status: 411, code: "length_required", message: "A preview needs a Content-Length header." });
  if (!/^\d{1,16}$/.test(declared) || Number(declared) === 0) {
    throw new ApiError({ status: 400, code: "invalid_request", message: "Content-Length must be a positive integer." });
  }
  const length = Number(declared);
  if (length > PREVIEW_MAX_BYTES) throw new ApiError(previewTooLarge());
  return length;
}

const previewTooLarge = (): Refusal => ({
  status: 413,
  code: "preview_too_large",
  message: `A preview may be at most ${PREVIEW_MAX_BYTES} bytes.`,
  details: { max_bytes: PREVIEW_MAX_BYTES },
});

/** The body, which must be exactly `length` bytes (read no further than that). */
async function readExactly(body: ReadableStream<Uint8Array> | null, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let received = 0;
  for await (const chunk of body ?? new Blob([]).stream()) {
    if (received + chunk.byteLength > length) throw new ApiError(previewTooLarge()); // leaving the loop cancels the rest
    bytes.set(chunk, received);
    received += chunk.byteLength;
  }
  if (received !== length) {
    throw new ApiError({ status: 400, code: "invalid_request", message: `The body has ${received} bytes, not the ${length} its Content-Length declares.` });
  }
  return bytes;
}

const invalidPreview = (why: string) => new ApiError({ status: 422, code: "invalid_preview", message: `The preview is not a usable image: ${why}.` });

/**
 * The preview's sniffed type, perceptual hash and bytes as they are kept: without personal
 * metadata (a browser's canvas writes none, but a client may send a JPEG with its GPS), since
 * guests may see it. Or a refusal.
 */
async function checkPreview(sent: Uint8Array, declaredType: string | undefined): Promise<{ type: ImageType; phash: string; bytes: Uint8Array }> {
  const type = sniffType(sent.subarray(0, 64));
  if (!type || !isPreviewType(type)) {
    throw new ApiError({ status: 415, code: "unsupported_type", message: `A preview must be a ${previewFormats()} image.` });
  }
  if (declaredType !== undefined && mediaType(declaredType) !== type) {
    throw new ApiError({ status: 415, code: "unsupported_type", message: `The preview was sent as ${declaredType} but its bytes are ${type}.` });
  }
  let bytes: Uint8Array;
  try {
    const inspection = await inspect(new Blob([sent]).stream(), type, { maxPixels: PREVIEW_MAX_EDGE * PREVIEW_MAX_EDGE, size: sent.byteLength });
    if (inspection.width > PREVIEW_MAX_EDGE || inspection.height > PREVIEW_MAX_EDGE) {
      throw new TooManyPixelsError(inspection.width, inspection.height, PREVIEW_MAX_EDGE * PREVIEW_MAX_EDGE);
    }
    if (inspection.threats.length) throw invalidPreview(inspection.threats.join("; "));
    if (inspection.truncated) throw invalidPreview(inspection.truncated);
    if (!inspection.scrub) throw invalidPreview("its metadata cannot be removed");
    bytes = scrubbed(sent, inspection.scrub);
  } catch (error) {
    if (error instanceof TooManyPixelsError) {
      throw new ApiError({
        status: 422,
        code: "preview_dimensions_too_large",
        message: `A preview may be at most ${PREVIEW_MAX_EDGE} pixels on each side; this one is ${error.width}×${error.height}.`,
        details: { max_edge: PREVIEW_MAX_EDGE },
      });
    }
    if (error instanceof NotAnImageError) throw invalidPreview(error.message);
    throw error;
  }
  try {
    // Decoding it is part of the check: a preview nobody can decode shows nothing.
    return { type, phash: dHash(bytes), bytes };
  } catch (error) {
    throw invalidPreview(`its image data cannot be decoded (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The scrubbed copy of bytes held in memory (a preview is small), from the inspection's plan. */
function scrubbed(bytes: Uint8Array, plan: ScrubPiece[]): Uint8Array {
  const pieces = plan.map((piece) => ("bytes" in piece ? piece.bytes : bytes.subarray(piece.start, piece.end)));
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.byteLength, 0));
  pieces.reduce((at, piece) => (out.set(piece, at), at + piece.byteLength), 0);
  return out;
}
