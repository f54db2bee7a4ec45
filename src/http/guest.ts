/**
 * The guest API (DESIGN.md, "Seed API contract"): a thin HTTP adapter over core/uploads.ts.
 * Mounted at /api/v1/events.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError, refusals } from "../core/errors";
import { hardLimits } from "../core/limits";
import { guestEventInfo } from "../core/events";
import { abortUpload, appendChunk, completeUpload, createUpload, uploadStatus, type UploadRef } from "../core/uploads";
import { annotate, type AppContext, type AppEnv } from "./context";
import { enforceGuestRateLimits } from "./rate-limit";
import { jsonBody } from "./validation";

const createUploadBody = z.object({
  filename: z.string().min(1).max(4096),
  size: z.number().int().min(1).max(hardLimits.maxFileSize),
  content_type: z.string().min(1).max(255),
  device_id: z
    .string()
    .min(8)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, "may contain only letters, digits and . _ : -"),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
    .transform((hex) => hex.toLowerCase())
    .optional(),
});

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

export const guestRoutes = new Hono<AppEnv>()
  .get("/:token", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await guestEventInfo(c.env, c.req.param("token")));
  })
  .post("/:token/uploads", async (c) => {
    const body = await jsonBody(c, createUploadBody);
    await enforceGuestRateLimits(c, `device:${body.device_id}`);
    const created = await createUpload(c.env, c.req.param("token"), {
      filename: body.filename,
      size: body.size,
      contentType: body.content_type,
      deviceId: body.device_id,
      sha256: body.sha256,
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
  });
