/**
 * tus 1.0.0 (https://tus.io/protocols/resumable-upload) as a thin adapter over the upload
 * core: core, creation, creation-with-upload, termination, expiration, checksum and
 * concatenation (partials are streamed into the final upload by the byte engine). Mounted per
 * event at /api/v1/events/:token/tus. The upload URL `.../tus/{uploadId}.{uploadKey}` is the
 * capability: it carries the upload key, so clients need no extra header.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { maxSizeFor, resolveJoinToken } from "../core/events";
import { createUpload } from "../core/admission";
import { appendChunk, appendStream, type AppendOptions, type AppendResult } from "../core/append";
import { createConcatenated } from "../core/concatenation";
import { abortUpload, assemblePartial, completeUpload, uploadStatus, type UploadRef } from "../core/session-client";
import { database } from "../db/client";
import {
  capabilityOf,
  capabilityRef,
  capabilitySegment,
  clientIdFrom,
  displayNameFrom,
  declaredLength,
  httpDate,
  nonNegativeInteger,
  refuse,
  refuseEnded,
  uploaderFor,
  viaCapability,
  recommendChunkSize,
  chunkSizeHeader,
} from "./capability";
import { annotate, backgroundOf, type AppContext } from "./context";
import { binary, contractRouter, errors, header, pathParams, responseHeader } from "./openapi";
import { enforceGuestRateLimits } from "./rate-limit";
import { requestMediaType, uploadBody } from "./validation";

export const TUS_VERSION = "1.0.0";
const EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum,concatenation";
const CHECKSUM_ALGORITHMS = { sha1: "SHA-1", sha256: "SHA-256", md5: "MD5" } as const;
const OFFSET_OCTET_STREAM = "application/offset+octet-stream";

/** Parses `Upload-Metadata`: comma-separated `key base64value` pairs (the value is optional). */
export function parseMetadata(header: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (!header) return metadata;
  for (const pair of header.split(",")) {
    const [key, value, extra] = pair.trim().split(" ");
    if (!key || extra !== undefined || key in metadata) refuse(400, "invalid_metadata", "Upload-Metadata is malformed.");
    try {
      metadata[key] = value ? new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0))) : "";
    } catch {
      refuse(400, "invalid_metadata", `Upload-Metadata value for '${key}' is not base64 of UTF-8 text.`);
    }
  }
  return metadata;
}

/** Appends a PATCH (or creation-with-upload) body: atomically when checksummed, else streamed. */
async function appendBody(c: AppContext, ref: UploadRef, offset: number): Promise<AppendResult> {
  const background = backgroundOf(c);
  const body = uploadBody(c);
  const length = declaredLength(c);
  const checksumHeader = c.req.header("upload-checksum");
  if (checksumHeader !== undefined) {
    const [name, digest] = checksumHeader.trim().split(" ");
    const algorithm = CHECKSUM_ALGORITHMS[name as keyof typeof CHECKSUM_ALGORITHMS];
    if (!algorithm || !digest) {
      refuse(400, "unsupported_checksum", `Upload-Checksum must name one of ${Object.keys(CHECKSUM_ALGORITHMS).join(", ")}.`);
    }
    if (length === null) refuse(411, "length_required", "A checksummed PATCH needs a Content-Length.");
    let expected: string;
    try {
      expected = [...atob(digest)].map((ch) => ch.charCodeAt(0).toString(16).padStart(2, "0")).join("");
    } catch {
      refuse(400, "unsupported_checksum", "The Upload-Checksum digest is not base64.");
    }
    const options: AppendOptions = { acceptReplay: false, total: null, checksum: { algorithm, expected } };
    return viaCapability(() => appendChunk(c.env, ref, offset, length, body, options, background));
  }
  return viaCapability(() => appendStream(c.env, ref, offset, length, body, background));
}

/**
 * After the last byte lands, the upload goes through the same completion as the guest API; a
 * concatenation partial is only assembled, to become part of a final upload.
 */
async function completeIfDone(c: AppContext, ref: UploadRef, result: AppendResult): Promise<void> {
  if (result.received_bytes !== result.total_size) return;
  if (result.partial) {
    await viaCapability(() => assemblePartial(c.env, ref));
    return;
  }
  const { photo } = await viaCapability(() => completeUpload(c.env, ref));
  annotate(c, { photo_id: photo.photo_id });
}

/** `final;<url> <url> …`: the partial uploads' capability URLs, which must be this event's. */
function partialRefs(c: AppContext, concat: string): UploadRef[] {
  const token = c.req.param("token")!;
  const prefix = `/api/v1/events/${token}/tus/`;
  const urls = concat.slice("final;".length).trim().split(/\s+/).filter(Boolean);
  if (urls.length === 0 || urls.length > 100) refuse(400, "invalid_request", "Upload-Concat: final needs 1 to 100 partial upload URLs.");
  return urls.map((url) => {
    const path = new URL(url, c.req.url).pathname;
    const ref = path.startsWith(prefix) ? capabilityOf(token, path.slice(prefix.length)) : null;
    if (!ref) refuse(400, "partial_not_complete", `${url} is not a partial upload of this event.`);
    return ref;
  });
}

function tusHeaders(c: Context, result: Pick<AppendResult, "received_bytes" | "expires_at" | "status">) {
  c.header("Upload-Offset", String(result.received_bytes));
  if (result.status !== "completed") c.header("Upload-Expires", httpDate(result.expires_at));
}

async function patch(c: AppContext) {
  const ref = capabilityRef(c);
  await enforceGuestRateLimits(c, `upload:${ref.uploadId}`);
  if (requestMediaType(c.req.raw) !== OFFSET_OCTET_STREAM) {
    refuse(415, "unsupported_media_type", `PATCH bodies must be ${OFFSET_OCTET_STREAM}.`);
  }
  const offset = nonNegativeInteger(c.req.header("upload-offset"), "Upload-Offset");
  const result = await appendBody(c, ref, offset);
  annotate(c, { bytes: result.received_bytes - offset, offset: result.received_bytes });
  await completeIfDone(c, ref, result);
  tusHeaders(c, result);
  return c.body(null, 204);
}

async function terminate(c: AppContext) {
  await viaCapability(() => abortUpload(c.env, capabilityRef(c)));
  return c.body(null, 204);
}

const tusResumable = header("The protocol version: `1.0.0`", TUS_VERSION);
const offsetHeaders = z.object({
  "Tus-Resumable": responseHeader("`1.0.0`"),
  "Upload-Offset": responseHeader("The upload's offset after this request"),
  "Upload-Expires": responseHeader("When an unfinished upload expires (HTTP date)"),
});
const uploadParams = pathParams("token", "upload");
const appendRequest = {
  params: uploadParams,
  headers: z.object({
    "tus-resumable": tusResumable,
    "upload-offset": header("Where these bytes start", "0"),
    "upload-checksum": header("`sha1|sha256|md5 <base64 digest>` of this body: kept only if it matches"),
  }),
  body: { content: { [OFFSET_OCTET_STREAM]: { schema: binary } } },
};
/** What every tus request may be refused with. */
const tusErrors = errors(400, 404, 410, 412, 429);
const tus = { tags: ["tus"] };

export const tusRoutes = contractRouter();
tusRoutes.use("*", async (c, next) => {
  c.header("Tus-Resumable", TUS_VERSION);
  if (c.req.method !== "OPTIONS" && c.req.header("tus-resumable") !== TUS_VERSION) {
    refuse(412, "unsupported_tus_version", `Only tus ${TUS_VERSION} is supported.`, { "Tus-Version": TUS_VERSION });
  }
  await next();
});

/** Discovery: on the endpoint and on an upload's URL alike. */
async function discovery(c: AppContext) {
  c.header("Tus-Version", TUS_VERSION);
  c.header("Tus-Extension", EXTENSIONS);
  c.header("Tus-Checksum-Algorithm", Object.keys(CHECKSUM_ALGORITHMS).join(","));
  const { event } = await resolveJoinToken(database(c.env), c.req.param("token")!);
  c.header("Tus-Max-Size", String(maxSizeFor(event, null)));
  recommendChunkSize(c, event.chunkSize);
  return c.body(null, 204);
}
const discoveryResponses = {
  204: {
    description: "What this server speaks",
    headers: z.object({
      "Tus-Version": responseHeader("`1.0.0`"),
      "Tus-Extension": responseHeader(EXTENSIONS),
      "Tus-Max-Size": responseHeader("The event's largest file, in bytes"),
      "Tus-Checksum-Algorithm": responseHeader(Object.keys(CHECKSUM_ALGORITHMS).join(",")),
      ...chunkSizeHeader,
    }),
  },
  ...errors(404, 410),
};
tusRoutes.openapi(
  createRoute({ ...tus, method: "options", path: "/", summary: "tus discovery: versions, extensions, max size", request: { params: pathParams("token") }, responses: discoveryResponses }),
  discovery,
);
tusRoutes.openapi(
  createRoute({ ...tus, method: "options", path: "/{upload}", summary: "tus discovery, on an upload's URL", request: { params: uploadParams }, responses: discoveryResponses }),
  discovery,
);

tusRoutes.openapi(
  createRoute({
    ...tus,
    method: "post",
    path: "/",
    summary: "tus creation (and creation-with-upload; `Upload-Concat`)",
    request: {
      params: pathParams("token"),
      headers: z.object({
        "tus-resumable": tusResumable,
        "upload-length": header("The file's size in bytes (not with `Upload-Concat: final;…`)", "2400000"),
        "upload-metadata": header("`key base64value` pairs: filename, filetype, device_id, client_id, display_name"),
        "upload-concat": header("`partial`, or `final;<partial upload URLs>`"),
      }),
      body: { content: { [OFFSET_OCTET_STREAM]: { schema: binary } } },
    },
    responses: {
      201: {
        description: "Created; `Location` is the upload's capability URL (`…/tus/{upload_id}.{upload_key}`)",
        headers: offsetHeaders.partial().extend({ Location: responseHeader("The upload's URL"), ...chunkSizeHeader }),
      },
      ...tusErrors,
      ...errors(403, 409, 413, 415, 460, 503),
    },
  }),
  async (c) => {
    const concat = c.req.header("upload-concat")?.trim();
    const metadata = parseMetadata(c.req.header("upload-metadata"));
    const token = c.req.param("token")!;
    const uploader = await uploaderFor(c, metadata.device_id);
    await enforceGuestRateLimits(c, `device:${uploader.deviceId}`);
    const upload = {
      filename: metadata.filename ?? metadata.name ?? "upload",
      contentType: metadata.filetype ?? metadata.type ?? "application/octet-stream",
      clientId: clientIdFrom(metadata.client_id),
      displayName: displayNameFrom(metadata.display_name, "invalid_metadata"),
      ...uploader,
    };
    const locate = (created: { upload_id: string; upload_key: string }) =>
      `${new URL(c.req.url).origin}/api/v1/events/${token}/tus/${capabilitySegment(created)}`;
    if (concat?.startsWith("final;")) {
      if (c.req.header("upload-length") !== undefined) refuse(400, "invalid_request", "A final upload takes its length from its partials.");
      const { created, photo, size } = await viaCapability(() => createConcatenated(c.env, token, upload, partialRefs(c, concat), backgroundOf(c)));
      annotate(c, { event_id: created.event_id, upload_id: created.upload_id, photo_id: photo.photo_id, size });
      c.header("Location", locate(created));
      return c.body(null, 201);
    }
    if (concat !== undefined && concat !== "partial") refuse(400, "invalid_request", "Upload-Concat must be partial or final;<urls>.");
    if (c.req.header("upload-defer-length") !== undefined) {
      refuse(400, "invalid_request", "Upload-Defer-Length is not supported: send Upload-Length.");
    }
    const size = nonNegativeInteger(c.req.header("upload-length"), "Upload-Length");
    if (size === 0) refuse(400, "invalid_request", "An upload needs at least one byte.");
    const created = await createUpload(c.env, token, { ...upload, size, partial: concat === "partial" });
    annotate(c, { event_id: created.event_id, upload_id: created.upload_id, size });
    c.header("Location", locate(created));
    c.header("Upload-Expires", httpDate(created.expires_at));
    recommendChunkSize(c, created.chunk_size);
    const hasBody = requestMediaType(c.req.raw) === OFFSET_OCTET_STREAM;
    if (hasBody) {
      const ref: UploadRef = { joinToken: token, uploadId: created.upload_id, uploadKey: created.upload_key };
      const result = await appendBody(c, ref, 0);
      await completeIfDone(c, ref, result);
      tusHeaders(c, result);
    }
    return c.body(null, 201);
  },
);

// Hono answers HEAD through the GET route (and drops the body).
tusRoutes.openapi(
  createRoute({
    ...tus,
    method: "get",
    path: "/{upload}",
    summary: "tus offset (HEAD)",
    request: { params: uploadParams, headers: z.object({ "tus-resumable": tusResumable }) },
    responses: {
      200: {
        description: "Where the upload stands (no body)",
        headers: offsetHeaders.extend({ "Upload-Length": responseHeader("The file's size"), "Upload-Concat": responseHeader("`partial`, for a partial upload").optional(), ...chunkSizeHeader }),
      },
      ...tusErrors,
    },
  }),
  async (c) => {
    const view = await viaCapability(() => uploadStatus(c.env, capabilityRef(c)));
    refuseEnded(view, 410);
    c.header("Cache-Control", "no-store");
    c.header("Upload-Length", String(view.total_size));
    if (view.partial) c.header("Upload-Concat", "partial");
    recommendChunkSize(c, view.chunk_size);
    tusHeaders(c, view);
    return c.body(null, 200);
  },
);

const appendResponses = { 204: { description: "Appended", headers: offsetHeaders }, ...tusErrors, ...errors(409, 411, 413, 415, 460, 503) };
tusRoutes.openapi(
  createRoute({ ...tus, method: "patch", path: "/{upload}", summary: "tus append (`application/offset+octet-stream`)", request: appendRequest, responses: appendResponses }),
  patch,
);
tusRoutes.openapi(
  createRoute({ ...tus, method: "delete", path: "/{upload}", summary: "tus termination", request: { params: uploadParams, headers: z.object({ "tus-resumable": tusResumable }) }, responses: { 204: { description: "Terminated" }, ...tusErrors, ...errors(409) } }),
  terminate,
);
// Clients behind proxies that drop PATCH/DELETE tunnel them through POST (tus-js-client's overridePatchMethod).
tusRoutes.openapi(
  createRoute({
    ...tus,
    method: "post",
    path: "/{upload}",
    summary: "tus `X-HTTP-Method-Override` tunnel: PATCH or DELETE through POST",
    request: { ...appendRequest, headers: appendRequest.headers.extend({ "x-http-method-override": header("`PATCH` or `DELETE`", "PATCH") }) },
    responses: { ...appendResponses, ...errors(405) },
  }),
  async (c) => {
    const method = c.req.header("x-http-method-override")?.toUpperCase();
    if (method === "PATCH") return patch(c);
    if (method === "DELETE") return terminate(c);
    return refuse(405, "method_not_allowed", "Use PATCH to append to an upload.");
  },
);
