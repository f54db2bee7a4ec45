/**
 * The guest API (DESIGN.md, "Seed API contract"): a thin HTTP adapter over the upload core (core/admission.ts, append.ts, session-client.ts).
 * Mounted at /api/v1/events.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, refusals } from "../core/errors";
import { hardLimits } from "../core/limits";
import { batchFileStates, batchSnapshot, registerBatch, withdrawBatchFile } from "../core/batches";
import { guestEventInfo } from "../core/events";
import { listGallery, takeBackPhoto } from "../core/photos";
import { deviceAllowance } from "../core/allowance";
import { createClaim, listClaimedPhotos, takeBackClaimedPhoto } from "../core/claims";
import { postMessage } from "../core/guestbook";
import { emitMessageCreated } from "../webhooks/emit";
import { displayNameField, messageField } from "../core/words";
import { announcePhoto } from "../live/publish";
import { createUpload } from "../core/admission";
import { acceptPreview } from "../core/previews";
import { appendChunk } from "../core/append";
import { abortUpload, completeUpload, uploadStatus, type UploadRef } from "../core/session-client";
import type { SessionView } from "../core/upload-session";
import { annotate, backgroundOf, type AppContext } from "./context";
import { enforceGuestRateLimits } from "./rate-limit";
import { issuedIdPattern, uploadBody } from "./validation";
import { PhotoUrls, exampleId, instant } from "../views/photos";
import { batchFileWithdrawals, mediaKinds, photoStatuses, uploadStatuses } from "../db/schema";
import { binary, contractRouter, errors, json, jsonBody, jsonRequest, pathParams, security } from "./openapi";

const deviceId = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "may contain only letters, digits and . _ : -");
const clientId = z.string().min(1).max(128);
const fileFields = {
  filename: z.string().min(1).max(4096),
  size: z.number().int().min(1).max(hardLimits.maxFileSize),
  content_type: z.string().min(1).max(255),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
    .transform((hex) => hex.toLowerCase())
    .optional(),
};
const createUploadBody = z.object({
  ...fileFields,
  device_id: deviceId,
  /** The batch file this upload carries (with the batch's key in `Batch-Key`). */
  batch_id: z.uuid().optional(),
  batch_file_id: z.uuid().optional(),
  /** The client's own id for the file: creating it again (after a lost answer) ends the earlier session. */
  client_id: clientId.optional(),
  display_name: displayNameField.optional(),
}).openapi("CreateUploadBody", {
  example: { filename: "IMG_0001.jpg", size: 2_400_000, content_type: "image/jpeg", device_id: "guest-phone-0001", client_id: "file-1", display_name: "Ana" },
});
export const MAX_BATCH_FILES = 500;
/** A batch lists up to 500 files, so its body may be larger than other JSON bodies. */
const MAX_BATCH_BODY_BYTES = 512 * 1024;
const createBatchBody = z.object({
  device_id: deviceId,
  /** The guest's name, which the batch's uploads carry unless they give their own. */
  display_name: displayNameField.optional(),
  files: z
    .array(z.object({ client_id: clientId.max(64), ...fileFields }))
    .min(1)
    .max(MAX_BATCH_FILES),
}).openapi("CreateBatchBody", {
  example: {
    device_id: "guest-phone-0001",
    files: [
      { client_id: "file-1", filename: "IMG_0001.jpg", size: 2_400_000, content_type: "image/jpeg" },
      { client_id: "file-2", filename: "notes.txt", size: 120, content_type: "text/plain" },
    ],
  },
});
const createMessageBody = z
  .object({ device_id: deviceId, display_name: displayNameField.optional(), message: messageField })
  .strict()
  .openapi("CreateMessageBody", { example: { device_id: "guest-phone-0001", display_name: "Ana", message: "Congratulations, you two!" } });
const galleryQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().max(500).optional() })
  .strict();

/** The upload a request names; ids that cannot exist are refused without touching storage. */
function uploadRef(c: AppContext): UploadRef {
  const uploadId = c.req.param("id")!;
  if (!issuedIdPattern.test(uploadId)) throw new ApiError(refusals.uploadNotFound());
  annotate(c, { upload_id: uploadId });
  return { joinToken: c.req.param("token")!, uploadId, uploadKey: c.req.header("upload-key") };
}

interface ChunkRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, exclusive. */
  end: number;
  total: number;
}

const contentRangePattern = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16})$/;

/** Parses `Content-Range: bytes a-b/total` (b inclusive) and checks it against Content-Length. */
export function parseChunkRange(contentRange: string | undefined, contentLength: string | undefined): ChunkRange {
  const match = contentRange?.trim().match(contentRangePattern);
  if (!match) {
    throw new ApiError(refusals.rangeMismatch("Content-Range must look like 'bytes 0-1048575/5242880'."));
  }
  const [first, last, total] = match.slice(1).map(Number) as [number, number, number];
  if (![first, last, total].every(Number.isSafeInteger) || first > last || last >= total) {
    throw new ApiError(refusals.rangeMismatch(`Content-Range ${match[0]} is not a range inside the file.`));
  }
  if (contentLength === undefined) {
    throw new ApiError({ status: 411, code: "length_required", message: "Chunks need a Content-Length header." });
  }
  if (!/^\d{1,16}$/.test(contentLength) || Number(contentLength) !== last - first + 1) {
    throw new ApiError(
      refusals.rangeMismatch(`Content-Length ${contentLength} does not match the ${last - first + 1} bytes of the range.`),
    );
  }
  return { start: first, end: last + 1, total };
}

const count = z.number().int();
/** A refusal of one file, as batch and bulk results carry it. */
const FileError = z.object({ code: z.string(), message: z.string() }).openapi("FileError");

const EventInfo = z
  .object({
    name: z.string(),
    status: z.enum(["open", "closed", "archived"]),
    accepting_uploads: z.boolean(),
    starts_at: instant.nullable(),
    ends_at: instant.nullable(),
    uploads_open_at: instant.nullable(),
    uploads_close_at: instant.nullable(),
    gallery_enabled: z.boolean(),
    /** Reveal later: until then guests see only their own uploads (null: no wait). */
    gallery_opens_at: instant.nullable(),
    /** Whether the gallery shows the event's photos now (enabled, and its opening time has come). */
    gallery_open: z.boolean(),
    limits: z.object({
      max_file_size: count,
      chunk_size: count,
      allowed_content_types: z.array(z.string()),
      videos_allowed: z.boolean(),
      /** Videos have their own caps: bytes, and seconds (a longer one fails in processing). */
      max_video_size: count,
      max_video_duration_s: count,
      max_concurrent_uploads_per_device: count,
      daily_upload_cap_per_device: count,
      /** What all uploads without a device id from one IP address share (tus / IETF clients that send none). */
      max_concurrent_anonymous_uploads_per_address: count,
      daily_anonymous_upload_cap_per_address: count,
      /** Photos one device may upload to the whole event; null: no such limit. */
      max_photos_per_guest: count.nullable(),
    }),
  })
  .openapi("EventInfo");

const CreatedUpload = z
  .object({ upload_id: exampleId("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b"), upload_key: z.string(), chunk_size: count, expires_at: instant, event_id: z.string() })
  .openapi("CreatedUpload");

const UploadStatus = z
  .object({
    upload_id: z.string(),
    status: z.enum(uploadStatuses),
    received_bytes: count,
    total_size: count,
    chunk_size: count,
    expires_at: instant,
    photo_id: z.string().nullable(),
    /** A tus concatenation partial (never for guest API uploads). */
    partial: z.boolean(),
  })
  .openapi("UploadStatus");

export const PhotoReceipt = z
  .object({ photo_id: z.string(), file_path: z.string(), thumbnail_path: z.string().nullable(), status: z.literal("processing") })
  .openapi("PhotoReceipt");

const CreatedBatch = z
  .object({
    batch_id: z.string(),
    batch_key: z.string(),
    event_id: z.string(),
    files: z.array(z.object({ client_id: z.string(), file_id: z.string(), state: z.enum(["waiting", "refused"]), error: FileError.nullable() })),
  })
  .openapi("CreatedBatch");

const BatchFileView = z
  .object({
    file_id: z.string(),
    client_id: z.string(),
    filename: z.string(),
    size: count,
    /** `skipped`: its guest's app withdrew it as a duplicate of bytes the device sent before; `cancelled` also when withdrawn before it had a session. */
    state: z.enum(batchFileStates),
    upload_id: z.string().nullable(),
    received_bytes: count,
    photo_id: z.string().nullable(),
    error: FileError.nullable(),
  })
  .openapi("BatchFile");

const BatchSnapshot = z
  .object({
    batch_id: z.string(),
    created_at: instant,
    counts: z.object({ total: count, ...Object.fromEntries(batchFileStates.map((state) => [state, count])) as Record<(typeof batchFileStates)[number], typeof count> }),
    files: z.array(BatchFileView),
  })
  .openapi("BatchSnapshot");

// Strict: the app knows which earlier photo a duplicate matched, but the server takes no photo id
// from it, so a batch key can never be used to link a photo to a device.
const withdrawBatchFileBody = z
  .object({ reason: z.enum(batchFileWithdrawals) })
  .strict()
  .openapi("WithdrawBatchFileBody", { example: { reason: "duplicate" } });

const GalleryPage = z
  .object({
    photos: z.array(
      z.object({
        photo_id: z.string(),
        /** A video plays its `scrubbed` URL: the original with its location blanked. */
        media_kind: z.enum(mediaKinds),
        duration_s: z.number().nullable(),
        width: count.nullable(),
        height: count.nullable(),
        taken_at: instant.nullable(),
        uploaded_at: instant.nullable(),
        urls: PhotoUrls,
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi("GalleryPage");

const guest = { tags: ["guest"] };
const tokenParams = pathParams("token");
const uploadParams = pathParams("token", "id");
const offsetHeader = z.object({ "Upload-Offset": z.string().openapi({ description: "The upload's offset: bytes received so far", example: "1048576" }) });

export const guestRoutes = contractRouter();

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}",
    summary: "The event a join link opens: name, open or closed, limits",
    request: { params: tokenParams },
    responses: { 200: json(EventInfo, "Event info"), ...errors(404, 410) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await guestEventInfo(c.env, c.req.param("token")), 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/uploads",
    summary: "Create an upload session",
    description: "With `batch_id` and `batch_file_id`, the batch's key goes in `Batch-Key`.",
    middleware: [jsonRequest()],
    request: { params: tokenParams, body: jsonBody(createUploadBody) },
    responses: { 201: json(CreatedUpload, "The session: its id, key, chunk size and expiry"), ...errors(400, 401, 403, 404, 409, 410, 413, 415, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    await enforceGuestRateLimits(c, `device:${body.device_id}`);
    if ((body.batch_id === undefined) !== (body.batch_file_id === undefined)) {
      throw new ApiError({ status: 400, code: "invalid_request", message: "batch_id and batch_file_id go together." });
    }
    const created = await createUpload(c.env, c.req.param("token"), {
      filename: body.filename,
      size: body.size,
      contentType: body.content_type,
      deviceId: body.device_id,
      sha256: body.sha256,
      clientId: body.client_id,
      displayName: body.display_name,
      batch: body.batch_id
        ? { batchId: body.batch_id, fileId: body.batch_file_id!, batchKey: c.req.header("batch-key"), deviceId: body.device_id }
        : undefined,
    });
    annotate(c, { event_id: created.event_id, upload_id: created.upload_id, bytes: body.size });
    return c.json(created, 201);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "put",
    path: "/{token}/uploads/{id}/chunk",
    summary: "Send a chunk (`Content-Range`, `Content-Length`); the last one may complete the upload (`Upload-Complete: ?1`)",
    description:
      "With `Upload-Complete: ?1`, allowed only on the chunk that ends the file, the upload is completed in the same request and the " +
      "answer is `complete`'s: the photo. Sent again after a lost answer, it answers the same photo (200).",
    security: security.uploadKey,
    request: {
      params: uploadParams,
      headers: z.object({
        "content-range": z.string().optional().openapi({ description: "`bytes first-last/total`, last inclusive", example: "bytes 0-1048575/5242880" }),
        "upload-complete": z
          .enum(["?1", "?0"])
          .optional()
          .openapi({ description: "`?1`: complete the upload once this chunk, the file's last, is in (saves the `complete` request)", example: "?1" }),
      }),
      body: { content: { "application/octet-stream": { schema: binary } } },
    },
    responses: {
      204: { description: "Accepted (or an identical replay); the new offset is in `Upload-Offset`", headers: offsetHeader },
      201: { ...json(PhotoReceipt, "With `Upload-Complete: ?1`: the upload is complete, the photo now processing"), headers: offsetHeader },
      200: { ...json(PhotoReceipt, "With `Upload-Complete: ?1`: the photo, when completed before"), headers: offsetHeader },
      ...errors(400, 401, 403, 404, 409, 410, 411, 413, 422, 429, 503),
    },
  }),
  async (c) => {
    const ref = uploadRef(c);
    await enforceGuestRateLimits(c, `upload:${ref.uploadId}`);
    const range = parseChunkRange(c.req.header("content-range"), c.req.header("content-length"));
    if (range.end < range.total && range.end - range.start < hardLimits.minChunkSize) {
      throw new ApiError({
        status: 400,
        code: "chunk_too_small",
        message: `Every chunk but the last must be at least ${hardLimits.minChunkSize} bytes.`,
      });
    }
    const completes = c.req.valid("header")["upload-complete"] === "?1";
    if (completes && range.end !== range.total) {
      throw new ApiError({ status: 400, code: "invalid_request", message: "Upload-Complete: ?1 goes only with the chunk that ends the file." });
    }
    const view = await appendChunk(c.env, ref, range.start, range.end - range.start, uploadBody(c), { acceptReplay: true, total: range.total, completes }, backgroundOf(c)).catch(
      async (error: unknown) => {
        // The last chunk sent again after its answer was lost, refused now (the event closed
        // since, say): an upload that completed, or is completing, answers with its photo, as
        // `complete` would.
        const taken = completes && error instanceof ApiError ? await lastChunkTaken(c.env, ref, range.total) : null;
        if (taken) return { ...taken, replayed: true };
        throw error;
      },
    );
    annotate(c, { bytes: view.replayed ? 0 : range.end - range.start, offset: view.received_bytes, replayed: view.replayed });
    c.header("Upload-Offset", String(view.received_bytes));
    if (!completes) return c.body(null, 204);
    const { created, photo } = await completeUpload(c.env, ref);
    annotate(c, { photo_id: photo.photo_id, repeated: !created });
    return created ? c.json(photo, 201) : c.json(photo, 200);
  },
);

/**
 * The upload, if its last chunk was taken already (it is completed, or being completed: its
 * photo is coming) and it is a file of `total` bytes: only a chunk that states the file's own
 * size is a retry of its last chunk (null too when the caller may not see it).
 */
async function lastChunkTaken(env: Env, ref: UploadRef, total: number): Promise<SessionView | null> {
  return uploadStatus(env, ref).then(
    (view) => ((view.status === "completed" || view.status === "assembling") && view.total_size === total ? view : null),
    () => null,
  );
}

const PreviewReceipt = z.object({ photo_id: z.string(), status: z.literal("preview") }).openapi("PreviewReceipt");

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "put",
    path: "/{token}/uploads/{id}/preview",
    summary: "Send the upload's preview before its original (`Content-Length`, at most 256 KiB)",
    description:
      "A WebP or JPEG of at most 2048 px a side, sent before the original's bytes: the photo is recorded at once as `preview` and shown " +
      "(where the event's moderation allows) until its original is processed. Sending it again replaces it while the photo is still a preview.",
    security: security.uploadKey,
    request: {
      params: uploadParams,
      body: { content: { "image/webp": { schema: binary }, "image/jpeg": { schema: binary } } },
    },
    responses: {
      201: json(PreviewReceipt, "The photo, now a preview"),
      200: json(PreviewReceipt, "The photo's preview, replaced"),
      ...errors(400, 401, 403, 404, 409, 410, 411, 413, 415, 422, 429),
    },
  }),
  async (c) => {
    const ref = uploadRef(c);
    await enforceGuestRateLimits(c, `upload:${ref.uploadId}`);
    const { created, receipt } = await acceptPreview(c.env, c.executionCtx, ref, {
      declaredLength: c.req.header("content-length"),
      declaredType: c.req.header("content-type"),
      body: c.req.raw.body,
    });
    annotate(c, { photo_id: receipt.photo_id, bytes: Number(c.req.header("content-length")), repeated: !created });
    return created ? c.json(receipt, 201) : c.json(receipt, 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}/uploads/{id}",
    summary: "Upload status and offset",
    security: security.uploadKey,
    request: { params: uploadParams },
    responses: { 200: { ...json(UploadStatus, "Where the upload stands"), headers: offsetHeader }, ...errors(401, 404, 410) },
  }),
  async (c) => {
    const view = await uploadStatus(c.env, uploadRef(c));
    c.header("Upload-Offset", String(view.received_bytes));
    c.header("Cache-Control", "no-store");
    return c.json(view, 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/uploads/{id}/complete",
    summary: "Complete the upload (idempotent)",
    security: security.uploadKey,
    request: { params: uploadParams },
    responses: { 201: json(PhotoReceipt, "The photo, now processing"), 200: json(PhotoReceipt, "The photo, when completed before"), ...errors(401, 403, 404, 409, 410, 422) },
  }),
  async (c) => {
    const { created, photo } = await completeUpload(c.env, uploadRef(c));
    annotate(c, { photo_id: photo.photo_id, repeated: !created });
    return created ? c.json(photo, 201) : c.json(photo, 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "delete",
    path: "/{token}/uploads/{id}",
    summary: "Abort the upload (idempotent)",
    security: security.uploadKey,
    request: { params: uploadParams },
    responses: { 204: { description: "Aborted" }, ...errors(401, 404, 409) },
  }),
  async (c) => {
    await abortUpload(c.env, uploadRef(c));
    return c.body(null, 204);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "delete",
    path: "/{token}/uploads/{id}/photo",
    summary: "Take back the photo made from this upload (deleted)",
    security: security.uploadKey,
    request: { params: uploadParams },
    responses: { 204: { description: "Deleted" }, ...errors(401, 404, 409) },
  }),
  async (c) => {
    const photo = await takeBackPhoto(c.env, uploadRef(c));
    if (photo) {
      annotate(c, { event_id: photo.eventId, photo_id: photo.id });
      c.executionCtx.waitUntil(announcePhoto(c.env, photo.id));
    }
    return c.body(null, 204);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/batches",
    summary: "Register a selection of files; per-file refusals",
    middleware: [jsonRequest(MAX_BATCH_BODY_BYTES)],
    request: { params: tokenParams, body: jsonBody(createBatchBody) },
    responses: { 201: json(CreatedBatch, "The batch, its key, and each file's state"), ...errors(400, 403, 404, 409, 410, 413, 415, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    await enforceGuestRateLimits(c, `device:${body.device_id}`);
    const batch = await registerBatch(
      c.env,
      c.req.param("token"),
      body.device_id,
      body.files.map((file) => ({ clientId: file.client_id, filename: file.filename, size: file.size, contentType: file.content_type })),
      body.display_name,
    );
    annotate(c, { event_id: batch.event_id, batch_id: batch.batch_id, files: body.files.length });
    return c.json(batch, 201);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}/batches/{batchId}",
    summary: "Where each file of a batch stands",
    security: security.batchKey,
    request: { params: pathParams("token", "batchId") },
    responses: { 200: json(BatchSnapshot, "The batch's counts and files"), ...errors(401, 404, 410) },
  }),
  async (c) => {
    const batchId = c.req.param("batchId");
    if (!issuedIdPattern.test(batchId)) throw new ApiError({ status: 404, code: "batch_not_found", message: "No such batch for this event." });
    annotate(c, { batch_id: batchId });
    c.header("Cache-Control", "no-store");
    return c.json(await batchSnapshot(c.env, c.req.param("token"), batchId, c.req.header("batch-key")), 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/batches/{batchId}/files/{fileId}/withdraw",
    summary: "Withdraw a batch file: skipped as a duplicate, or cancelled (idempotent)",
    description:
      "The file shows `skipped` (reason `duplicate`) or `cancelled` in the batch's snapshot from then on, and a create naming it is refused " +
      "(`batch_file_withdrawn`): a file taken up again is registered anew. Cancelled, a file's session that is not yet being assembled is " +
      "ended too (one whose create's answer was lost: its key never reached the app). Otherwise a file with an upload session is refused " +
      "(`batch_file_has_upload`).",
    security: security.batchKey,
    middleware: [jsonRequest()],
    request: { params: pathParams("token", "batchId", "fileId"), body: jsonBody(withdrawBatchFileBody) },
    responses: { 200: json(BatchFileView, "The file, withdrawn"), ...errors(400, 401, 404, 409, 410, 413, 415, 429) },
  }),
  async (c) => {
    const { batchId, fileId } = c.req.param();
    if (!issuedIdPattern.test(batchId) || !issuedIdPattern.test(fileId)) {
      throw new ApiError({ status: 404, code: "batch_not_found", message: "No such batch or batch file for this event." });
    }
    annotate(c, { batch_id: batchId, batch_file_id: fileId });
    await enforceGuestRateLimits(c, `batch:${batchId}`);
    const { reason } = c.req.valid("json");
    const file = await withdrawBatchFile(c.env, c.req.param("token"), batchId, fileId, c.req.header("batch-key"), reason);
    annotate(c, { reason });
    return c.json(file, 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}/photos",
    summary: "The event's approved photos (when its gallery is on)",
    request: { params: tokenParams, query: galleryQuery },
    responses: { 200: json(GalleryPage, "A page of photos, with signed URLs"), ...errors(400, 403, 404, 410) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await listGallery(c.env, c.req.param("token"), new URL(c.req.url).origin, c.req.valid("query")), 200);
  },
);

const CreatedMessage = z
  .object({ message_id: z.string(), approved: z.boolean().openapi({ description: "False while an organiser has yet to approve it (events in review mode)" }), created_at: instant })
  .openapi("CreatedMessage");

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/messages",
    summary: "Leave a guestbook message (quota'd per device and per event)",
    middleware: [jsonRequest()],
    request: { params: tokenParams, body: jsonBody(createMessageBody) },
    responses: { 201: json(CreatedMessage, "The message, approved or waiting for an organiser"), ...errors(400, 403, 404, 410, 413, 415, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    await enforceGuestRateLimits(c, `device:${body.device_id}`);
    const message = await postMessage(c.env, c.req.param("token"), { deviceId: body.device_id, displayName: body.display_name, body: body.message });
    annotate(c, { event_id: message.eventId, message_id: message.id });
    // Never awaited by the guest: a receiver's trouble is the delivery queue's, not this request's.
    c.executionCtx.waitUntil(
      emitMessageCreated(c.env, {
        id: message.id,
        eventId: message.eventId,
        text: message.body,
        authorName: message.displayName,
        photoIds: [],
        visible: message.status === "visible" && message.approvedAt !== null,
        createdAt: message.createdAt,
      }),
    );
    return c.json({ message_id: message.id, approved: message.approvedAt !== null, created_at: new Date(message.createdAt).toISOString() }, 201);
  },
);

const DeviceAllowance = z
  .object({
    max_photos_per_guest: count.nullable(),
    photos_used: count,
    /** What the guest app shows as "17 of 24 left"; null when the event sets no allowance. */
    photos_left: count.nullable(),
  })
  .openapi("DeviceAllowance");

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}/devices/{deviceId}/allowance",
    summary: "A device's photo allowance for the event: used and left",
    request: { params: z.object({ token: z.string(), deviceId }) },
    responses: { 200: json(DeviceAllowance, "Photos used and left"), ...errors(400, 404, 410) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await deviceAllowance(c.env, c.req.param("token"), c.req.valid("param").deviceId), 200);
  },
);

const createClaimBody = z
  .object({ upload_id: z.string().regex(issuedIdPattern) })
  .strict()
  .openapi("CreateClaimBody", { example: { upload_id: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b" } });
const CreatedClaim = z
  .object({
    claim_id: z.string(),
    /** Shown once: 8 characters from 23456789ABCDEFGHJKMNPQRSTUVWXYZ (any case, dashes and spaces ignored when presented). */
    code: z.string().openapi({ example: "K7M2QX9D" }),
    event_id: z.string(),
    created_at: instant,
  })
  .openapi("CreatedClaim");
const ClaimedPhotos = z
  .object({
    claim_id: z.string(),
    photos: z.array(
      z.object({
        photo_id: z.string(),
        filename: z.string(),
        status: z.enum(photoStatuses.filter((status) => status !== "deleted") as ["preview", "processing", "ready", "failed", "hidden"]),
        width: count.nullable(),
        height: count.nullable(),
        taken_at: instant.nullable(),
        uploaded_at: instant.nullable(),
        /** Signed URLs of the scrubbed copy and thumbnails, once the photo is ready. */
        urls: PhotoUrls.nullable(),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi("ClaimedPhotos");

/** The address claim-code guesses are counted against. */
const clientAddress = (c: AppContext) => c.req.header("cf-connecting-ip") ?? "unknown";

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "post",
    path: "/{token}/claims",
    summary: "Make a code that opens this device's uploads on another device (replaces its earlier code)",
    description: "Proven by one of the device's uploads: its id in the body, its key in `Upload-Key`.",
    security: security.uploadKey,
    middleware: [jsonRequest()],
    request: { params: tokenParams, body: jsonBody(createClaimBody) },
    responses: { 201: json(CreatedClaim, "The claim and its code (shown this once)"), ...errors(400, 401, 404, 409, 410, 415, 429) },
  }),
  async (c) => {
    const { upload_id } = c.req.valid("json");
    await enforceGuestRateLimits(c, `upload:${upload_id}`);
    const claim = await createClaim(c.env, c.req.param("token"), upload_id, c.req.header("upload-key"));
    annotate(c, { event_id: claim.event_id, upload_id, claim_id: claim.claim_id });
    return c.json(claim, 201);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "get",
    path: "/{token}/claims/photos",
    summary: "The photos of the device a claim code opens",
    security: security.claimCode,
    request: { params: tokenParams, query: galleryQuery },
    responses: { 200: json(ClaimedPhotos, "A page of the device's photos, newest first"), ...errors(400, 401, 404, 410, 429) },
  }),
  async (c) => {
    c.header("Cache-Control", "no-store");
    const page = await listClaimedPhotos(c.env, c.req.param("token"), c.req.header("claim-code"), clientAddress(c), new URL(c.req.url).origin, c.req.valid("query"));
    annotate(c, { claim_id: page.claim_id });
    return c.json(page, 200);
  },
);

guestRoutes.openapi(
  createRoute({
    ...guest,
    method: "delete",
    path: "/{token}/claims/photos/{photoId}",
    summary: "Take back (delete) a photo of the device a claim code opens",
    security: security.claimCode,
    request: { params: pathParams("token", "photoId") },
    responses: { 204: { description: "Deleted (also when repeated)" }, ...errors(401, 404, 410, 429) },
  }),
  async (c) => {
    const photoId = c.req.param("photoId");
    if (!issuedIdPattern.test(photoId)) throw new ApiError({ status: 404, code: "photo_not_found", message: "No such photo among this device's uploads." });
    const photo = await takeBackClaimedPhoto(c.env, c.req.param("token"), c.req.header("claim-code"), clientAddress(c), photoId);
    annotate(c, { photo_id: photoId });
    if (photo) c.executionCtx.waitUntil(announcePhoto(c.env, photo.id));
    return c.body(null, 204);
  },
);
