/**
 * The guest API (DESIGN.md, "Seed API contract"): a thin HTTP adapter over core/uploads.ts.
 * Mounted at /api/v1/events.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError, refusals } from "../core/errors";
import { hardLimits } from "../core/limits";
import { batchSnapshot, registerBatch } from "../core/batches";
import { guestEventInfo } from "../core/events";
import { listGallery, takeBackPhoto } from "../core/photos";
import { announcePhoto } from "../live/publish";
import { abortUpload, appendChunk, completeUpload, createUpload, uploadStatus, type UploadRef } from "../core/uploads";
import { annotate, type AppContext, type AppEnv } from "./context";
import { enforceGuestRateLimits } from "./rate-limit";
import { jsonBody, validated } from "./validation";

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
});
export const MAX_BATCH_FILES = 500;
/** A batch lists up to 500 files, so its body may be larger than other JSON bodies. */
const MAX_BATCH_BODY_BYTES = 512 * 1024;
const createBatchBody = z.object({
  device_id: deviceId,
  files: z
    .array(z.object({ client_id: clientId.max(64), ...fileFields }))
    .min(1)
    .max(MAX_BATCH_FILES),
});
const galleryQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().max(500).optional() })
  .strict();

const uploadIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The upload a request names; ids that cannot exist are refused without touching storage. */
function uploadRef(c: AppContext): UploadRef {
  const uploadId = c.req.param("id")!;
  if (!uploadIdPattern.test(uploadId)) throw new ApiError(refusals.uploadNotFound());
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

/** The request schemas, for the OpenAPI document (http/openapi.ts). */
export const guestSchemas = { createUploadBody, createBatchBody, galleryQuery };

export const guestRoutes = new Hono<AppEnv>()
  .get("/:token", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await guestEventInfo(c.env, c.req.param("token")));
  })
  .post("/:token/uploads", async (c) => {
    const body = await jsonBody(c, createUploadBody);
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
      batch: body.batch_id
        ? { batchId: body.batch_id, fileId: body.batch_file_id!, batchKey: c.req.header("batch-key"), deviceId: body.device_id }
        : undefined,
    });
    annotate(c, { event_id: created.event_id, upload_id: created.upload_id, bytes: body.size });
    return c.json(created, 201);
  })
  .put("/:token/uploads/:id/chunk", async (c) => {
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
    const body = c.req.raw.body ?? new Blob([]).stream();
    const view = await appendChunk(c.env, ref, range.start, range.end - range.start, body, { acceptReplay: true, total: range.total }, (work) =>
      c.executionCtx.waitUntil(work),
    );
    annotate(c, { bytes: view.replayed ? 0 : range.end - range.start, offset: view.received_bytes, replayed: view.replayed });
    c.header("Upload-Offset", String(view.received_bytes));
    return c.body(null, 204);
  })
  .get("/:token/uploads/:id", async (c) => {
    const view = await uploadStatus(c.env, uploadRef(c));
    c.header("Upload-Offset", String(view.received_bytes));
    c.header("Cache-Control", "no-store");
    return c.json(view);
  })
  .post("/:token/uploads/:id/complete", async (c) => {
    const { created, photo } = await completeUpload(c.env, uploadRef(c));
    annotate(c, { photo_id: photo.photo_id, repeated: !created });
    return c.json(photo, created ? 201 : 200);
  })
  .delete("/:token/uploads/:id", async (c) => {
    await abortUpload(c.env, uploadRef(c));
    return c.body(null, 204);
  })
  .delete("/:token/uploads/:id/photo", async (c) => {
    const photo = await takeBackPhoto(c.env, uploadRef(c));
    if (photo) {
      annotate(c, { event_id: photo.eventId, photo_id: photo.id });
      c.executionCtx.waitUntil(announcePhoto(c.env, photo.id));
    }
    return c.body(null, 204);
  })
  .post("/:token/batches", async (c) => {
    const body = await jsonBody(c, createBatchBody, MAX_BATCH_BODY_BYTES);
    await enforceGuestRateLimits(c, `device:${body.device_id}`);
    const batch = await registerBatch(
      c.env,
      c.req.param("token"),
      body.device_id,
      body.files.map((file) => ({ clientId: file.client_id, filename: file.filename, size: file.size, contentType: file.content_type })),
    );
    annotate(c, { event_id: batch.event_id, batch_id: batch.batch_id, files: body.files.length });
    return c.json(batch, 201);
  })
  .get("/:token/batches/:batchId", async (c) => {
    const batchId = c.req.param("batchId");
    if (!uploadIdPattern.test(batchId)) throw new ApiError({ status: 404, code: "batch_not_found", message: "No such batch for this event." });
    annotate(c, { batch_id: batchId });
    c.header("Cache-Control", "no-store");
    return c.json(await batchSnapshot(c.env, c.req.param("token"), batchId, c.req.header("batch-key")));
  })
  .get("/:token/photos", async (c) => {
    const query = validated(galleryQuery, c.req.query());
    c.header("Cache-Control", "no-store");
    return c.json(await listGallery(c.env, c.req.param("token"), new URL(c.req.url).origin, query));
  });
