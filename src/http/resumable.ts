/**
 * Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload) as a thin adapter over the
 * upload core. Mounted per event at /api/v1/events/:token/resumable. Speaks interop version 6
 * (draft -04/-05: what tus-js-client, Apple's URLSession and tusd speak today) and 9 (draft -12),
 * chosen per request by `Upload-Draft-Interop-Version`.
 *
 * Workers cannot send 1xx responses, so no 104 (Upload Resumption Supported) is sent; the draft
 * makes it a SHOULD, and clients learn the upload URL from the final response instead.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../core/errors";
import { maxSizeFor, resolveJoinToken } from "../core/events";
import { createUpload } from "../core/admission";
import { appendStream, type AppendResult } from "../core/append";
import { abortUpload, completeUpload, uploadStatus, type UploadRef } from "../core/session-client";
import type { SessionView } from "../core/upload-session";
import { database } from "../db/client";
import { capabilityRef, capabilitySegment, chunkSizeHeader, clientIdFrom, declaredLength, displayNameFrom, nonNegativeInteger, recommendChunkSize, refuse, refuseEnded, uploaderFor, viaCapability } from "./capability";
import { annotate, backgroundOf, type AppContext } from "./context";
import { PhotoReceipt } from "./guest";
import { binary, contractRouter, errors, header, json, pathParams, responseHeader } from "./openapi";
import { enforceGuestRateLimits } from "./rate-limit";
import { requestMediaType, uploadBody } from "./validation";

export const INTEROP_VERSIONS = [6, 9] as const;
type InteropVersion = (typeof INTEROP_VERSIONS)[number];
const PARTIAL_UPLOAD = "application/partial-upload";
const PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types";

function interopVersion(c: AppContext): InteropVersion {
  const version = Number(c.req.header("upload-draft-interop-version"));
  if (!INTEROP_VERSIONS.includes(version as InteropVersion)) {
    refuse(400, "unsupported_interop_version", `Send Upload-Draft-Interop-Version: one of ${INTEROP_VERSIONS.join(", ")}.`);
  }
  c.header("Upload-Draft-Interop-Version", String(version));
  return version as InteropVersion;
}

/** `Upload-Complete` is a structured-field boolean: `?1` or `?0`. */
function uploadComplete(c: AppContext): boolean {
  const value = c.req.header("upload-complete")?.trim();
  if (value !== "?1" && value !== "?0") refuse(400, "invalid_request", "Upload-Complete must be ?1 or ?0.");
  return value === "?1";
}

/** The `Upload-Limit` dictionary; the expiry key was `expires` up to interop 6, `max-age` after. */
function uploadLimit(version: InteropVersion, maxSize: number, expiresAt?: string): string {
  const limits = [`max-size=${maxSize}`];
  if (expiresAt) {
    const seconds = Math.max(0, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000));
    limits.push(`${version === 6 ? "expires" : "max-age"}=${seconds}`);
  }
  return limits.join(", ");
}

function inconsistentLength(message: string): never {
  throw new ApiError({
    status: 400,
    code: "inconsistent_upload_length",
    message,
    details: { type: `${PROBLEM_TYPES}#inconsistent-upload-length` },
    headers: { "Upload-Complete": "?0" },
  });
}

/** Appends the request body, answering an offset mismatch the way the draft prescribes. */
async function append(c: AppContext, ref: UploadRef, offset: number): Promise<AppendResult> {
  const length = declaredLength(c);
  try {
    return await viaCapability(() => appendStream(c.env, ref, offset, length, uploadBody(c), backgroundOf(c)));
  } catch (error) {
    if (error instanceof ApiError && error.code === "chunk_out_of_order") {
      const expected = Number(error.details.expected_offset);
      throw new ApiError({
        status: 409,
        code: "chunk_out_of_order",
        message: error.message,
        details: { type: `${PROBLEM_TYPES}#mismatching-upload-offset`, "expected-offset": expected, "provided-offset": offset },
        headers: { "Upload-Offset": String(expected), "Upload-Complete": "?0" },
      });
    }
    throw error;
  }
}

/** The last request of an upload gets the target's own response: the photo, as the guest API's complete. */
async function finish(c: AppContext, ref: UploadRef, view: SessionView, complete: boolean) {
  c.header("Upload-Offset", String(view.received_bytes));
  if (!complete) {
    c.header("Upload-Complete", "?0");
    return null;
  }
  if (view.received_bytes !== view.total_size) {
    inconsistentLength(`Upload-Complete: ?1, but ${view.received_bytes} of ${view.total_size} bytes have arrived.`);
  }
  const { photo } = await viaCapability(() => completeUpload(c.env, ref));
  annotate(c, { photo_id: photo.photo_id });
  c.header("Upload-Complete", "?1");
  return photo;
}

/** A Content-Disposition filename, percent-decoded when it is valid percent-encoding, else as sent. */
/** A percent-encoded UTF-8 header value; one that is not is refused. */
function percentDecoded(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return refuse(400, "invalid_request", "X-Display-Name must be percent-encoded UTF-8.");
  }
}

function decodedFilename(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const interopHeader = header("The draft's interop version: `6` or `9`", "9");
const completeHeader = header("`?1` when this request carries the last byte, else `?0`", "?1");
const progressHeaders = z.object({
  "Upload-Offset": responseHeader("The upload's offset after this request"),
  "Upload-Complete": responseHeader("`?1` once every byte has arrived"),
  "Upload-Draft-Interop-Version": responseHeader("As sent"),
});
const uploadParams = pathParams("token", "upload");
const resumable = { tags: ["resumable"] };
/** What every IETF request may be refused with. */
const resumableErrors = errors(400, 404, 410, 429);

export const resumableRoutes = contractRouter();

resumableRoutes.openapi(
  createRoute({
    ...resumable,
    method: "options",
    path: "/",
    summary: "IETF resumable uploads: limits",
    request: { params: pathParams("token"), headers: z.object({ "upload-draft-interop-version": interopHeader }) },
    responses: { 204: { description: "The limits", headers: z.object({ "Upload-Limit": responseHeader("`min-size=0, max-size=<bytes>`"), ...chunkSizeHeader }) }, ...errors(400, 404, 410) },
  }),
  async (c) => {
    const version = interopVersion(c);
    const { event } = await resolveJoinToken(database(c.env), c.req.param("token")!);
    c.header("Upload-Limit", `min-size=0, ${uploadLimit(version, maxSizeFor(event, null))}`);
    recommendChunkSize(c, event.chunkSize);
    return c.body(null, 204);
  },
);

resumableRoutes.openapi(
  createRoute({
    ...resumable,
    method: "post",
    path: "/",
    summary: "IETF upload creation (interop 6 and 9)",
    description: "Workers cannot send 104 (Upload Resumption Supported): the upload URL is in the final response's `Location`.",
    request: {
      params: pathParams("token"),
      headers: z.object({
        "upload-draft-interop-version": interopHeader,
        "upload-complete": completeHeader,
        "upload-length": header("The file's size (or the whole file with `Upload-Complete: ?1` and Content-Length)", "2400000"),
        "content-disposition": header("`attachment; filename=\"…\"`: the file's name"),
        "x-device-id": header("The uploading device, for its limits"),
        "x-client-id": header("The client's own id for the file: creating it again ends the earlier session"),
        "x-display-name": header("The guest's name, percent-encoded UTF-8", "Zo%C3%AB"),
      }),
      body: { content: { "*/*": { schema: binary } } },
    },
    responses: {
      201: {
        ...json(PhotoReceipt, "Created; `Location` is the upload's URL. With `Upload-Complete: ?1` the body is the photo, otherwise empty"),
        headers: progressHeaders.extend({ Location: responseHeader("The upload's URL"), "Upload-Limit": responseHeader("`max-size=…, expires|max-age=…`"), ...chunkSizeHeader }),
      },
      ...resumableErrors,
      ...errors(403, 409, 413, 415, 503),
    },
  }),
  async (c) => {
    const version = interopVersion(c);
    const complete = uploadComplete(c);
    const lengthHeader = c.req.header("upload-length");
    const contentLength = c.req.header("content-length");
    const declared = lengthHeader === undefined ? null : nonNegativeInteger(lengthHeader, "Upload-Length");
    const bodyLength = contentLength === undefined ? null : nonNegativeInteger(contentLength, "Content-Length");
    if (complete && declared !== null && bodyLength !== null && declared !== bodyLength) {
      inconsistentLength(`Upload-Length ${declared} disagrees with the ${bodyLength}-byte complete body.`);
    }
    const size = declared ?? (complete ? bodyLength : null);
    if (size === null) refuse(400, "invalid_request", "Send Upload-Length (or the whole file with Upload-Complete: ?1 and Content-Length).");
    if (size === 0) refuse(400, "invalid_request", "An upload needs at least one byte.");
    const token = c.req.param("token")!;
    const filename = c.req.header("content-disposition")?.match(/filename="?([^";]+)"?/)?.[1];
    const contentType = c.req.header("content-type") ?? "application/octet-stream";
    const uploader = await uploaderFor(c, c.req.header("x-device-id"));
    await enforceGuestRateLimits(c, `device:${uploader.deviceId}`);
    const created = await createUpload(c.env, token, {
      filename: filename ? decodedFilename(filename) : "upload",
      size,
      contentType,
      clientId: clientIdFrom(c.req.header("x-client-id")),
      displayName: displayNameFrom(percentDecoded(c.req.header("x-display-name")), "invalid_request"),
      ...uploader,
    });
    annotate(c, { event_id: created.event_id, upload_id: created.upload_id, size });
    const location = `${new URL(c.req.url).origin}/api/v1/events/${token}/resumable/${capabilitySegment(created)}`;
    c.header("Location", location);
    const { event } = await resolveJoinToken(database(c.env), token);
    c.header("Upload-Limit", uploadLimit(version, maxSizeFor(event, contentType), created.expires_at));
    recommendChunkSize(c, created.chunk_size);
    const ref: UploadRef = { joinToken: token, uploadId: created.upload_id, uploadKey: created.upload_key };
    const result = await append(c, ref, 0);
    const photo = await finish(c, ref, result, complete);
    // Without the last byte the 201 has no body; OpenAPI cannot say "this body or none" for one status.
    return photo ? c.json(photo, 201) : (c.body(null, 201) as never);
  },
);

// Offset retrieval: HEAD (Hono answers it through this GET route), and GET since draft -12.
resumableRoutes.openapi(
  createRoute({
    ...resumable,
    method: "get",
    path: "/{upload}",
    summary: "IETF offset retrieval (HEAD; GET for v9)",
    request: { params: uploadParams, headers: z.object({ "upload-draft-interop-version": interopHeader }) },
    responses: {
      204: { description: "Where the upload stands", headers: progressHeaders.extend({ "Upload-Length": responseHeader("The file's size"), "Upload-Limit": responseHeader("Limits and expiry"), ...chunkSizeHeader }) },
      ...resumableErrors,
    },
  }),
  async (c) => {
    const version = interopVersion(c);
    const view = await viaCapability(() => uploadStatus(c.env, capabilityRef(c)));
    refuseEnded(view, 404);
    c.header("Upload-Offset", String(view.received_bytes));
    c.header("Upload-Complete", view.status === "completed" ? "?1" : "?0");
    c.header("Upload-Length", String(view.total_size));
    c.header("Upload-Limit", uploadLimit(version, view.total_size, view.status === "completed" ? undefined : view.expires_at));
    recommendChunkSize(c, view.chunk_size);
    c.header("Cache-Control", "no-store");
    return c.body(null, 204);
  },
);

resumableRoutes.openapi(
  createRoute({
    ...resumable,
    method: "patch",
    path: "/{upload}",
    summary: "IETF append",
    description: "`Upload-Complete: ?1` with a Content-Length that falls short of the upload's end is refused (`inconsistent_upload_length`) before any byte is appended.",
    request: {
      params: uploadParams,
      headers: z.object({ "upload-draft-interop-version": interopHeader, "upload-complete": completeHeader, "upload-offset": header("Where these bytes start", "0") }),
      body: { content: { [PARTIAL_UPLOAD]: { schema: binary } } },
    },
    responses: {
      204: { description: "Appended", headers: progressHeaders },
      201: { ...json(PhotoReceipt, "The last bytes: the photo"), headers: progressHeaders },
      ...resumableErrors,
      ...errors(409, 413, 415, 503),
    },
  }),
  async (c) => {
    interopVersion(c);
    const complete = uploadComplete(c);
    if (requestMediaType(c.req.raw) !== PARTIAL_UPLOAD) {
      refuse(415, "unsupported_media_type", `Appends must be ${PARTIAL_UPLOAD}.`);
    }
    const ref = capabilityRef(c);
    await enforceGuestRateLimits(c, `upload:${ref.uploadId}`);
    const offset = nonNegativeInteger(c.req.header("upload-offset"), "Upload-Offset");
    const lengthHeader = c.req.header("content-length");
    const length = lengthHeader === undefined ? null : nonNegativeInteger(lengthHeader, "Content-Length");
    const current = complete && length !== null ? await viaCapability(() => uploadStatus(c.env, ref)) : null;
    // A completing append that cannot reach the end is refused before any of its bytes is kept.
    if (current && (current.status === "pending" || current.status === "uploading") && offset === current.received_bytes && offset + length! < current.total_size) {
      inconsistentLength(`Upload-Complete: ?1, but ${offset} + ${length} bytes fall short of the ${current.total_size}-byte upload.`);
    }
    // An empty completing append to an upload that already has every byte replays the final response.
    const replay = current?.status === "completed" && length === 0 && offset === current.total_size;
    const result = replay ? current : await append(c, ref, offset);
    annotate(c, { bytes: result.received_bytes - offset, offset: result.received_bytes });
    const photo = await finish(c, ref, result, complete);
    return photo ? c.json(photo, 201) : c.body(null, 204);
  },
);

resumableRoutes.openapi(
  createRoute({
    ...resumable,
    method: "delete",
    path: "/{upload}",
    summary: "IETF cancellation",
    request: { params: uploadParams, headers: z.object({ "upload-draft-interop-version": interopHeader }) },
    responses: { 204: { description: "Cancelled" }, ...resumableErrors, ...errors(409) },
  }),
  async (c) => {
    interopVersion(c);
    await viaCapability(() => abortUpload(c.env, capabilityRef(c)));
    return c.body(null, 204);
  },
);
