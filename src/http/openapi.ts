/**
 * The OpenAPI 3.1 document served at /api/openapi.json, generated from the app's own route
 * table (so every route is in it) and the zod schemas the routes validate with (so request
 * bodies and queries are described by the code that checks them). Each route needs an entry in
 * `operations`; a route without one fails the test that compares the two.
 */
import { z } from "zod";
import { adminSchemas } from "./admin";
import { guestSchemas } from "./guest";

type Security = "none" | "admin" | "uploadKey" | "batchKey" | "signed" | "tus";

interface Operation {
  summary: string;
  tag: "guest" | "tus" | "resumable" | "admin" | "files" | "meta";
  security: Security;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success status and what it carries. */
  success: [status: number, description: string];
}

const admin = (summary: string, success: Operation["success"], extra: Partial<Operation> = {}): Operation => ({ summary, tag: "admin", security: "admin", success, ...extra });
const ok = (description: string): Operation["success"] => [200, description];

/** Keyed by "METHOD path" in Hono's syntax, exactly as the route table lists them. */
export const operations: Record<string, Operation> = {
  "GET /api/v1/health": { summary: "Liveness check", tag: "meta", security: "none", success: ok("`{ok: true}`") },
  "GET /api/openapi.json": { summary: "This document", tag: "meta", security: "none", success: ok("OpenAPI 3.1") },

  "GET /api/v1/events/:token": { summary: "The event a join link opens: name, open or closed, limits", tag: "guest", security: "none", success: ok("Event info") },
  "POST /api/v1/events/:token/uploads": { summary: "Create an upload session", tag: "guest", security: "none", body: guestSchemas.createUploadBody, success: [201, "`{upload_id, upload_key, chunk_size, expires_at, event_id}`"] },
  "PUT /api/v1/events/:token/uploads/:id/chunk": { summary: "Send a chunk (`Content-Range`, `Content-Length`)", tag: "guest", security: "uploadKey", success: [204, "Accepted; the new offset is in `Upload-Offset`"] },
  "GET /api/v1/events/:token/uploads/:id": { summary: "Upload status and offset", tag: "guest", security: "uploadKey", success: ok("`{status, received_bytes, total_size, chunk_size, expires_at, photo_id}`") },
  "POST /api/v1/events/:token/uploads/:id/complete": { summary: "Complete the upload (idempotent)", tag: "guest", security: "uploadKey", success: [201, "`{photo_id, file_path, thumbnail_path, status}`; 200 when repeated"] },
  "DELETE /api/v1/events/:token/uploads/:id": { summary: "Abort the upload (idempotent)", tag: "guest", security: "uploadKey", success: [204, "Aborted"] },
  "DELETE /api/v1/events/:token/uploads/:id/photo": { summary: "Take back the photo made from this upload (deleted)", tag: "guest", security: "uploadKey", success: [204, "Deleted"] },
  "POST /api/v1/events/:token/batches": { summary: "Register a selection of files; per-file refusals", tag: "guest", security: "none", body: guestSchemas.createBatchBody, success: [201, "`{batch_id, batch_key, files}`"] },
  "GET /api/v1/events/:token/batches/:batchId": { summary: "Where each file of a batch stands", tag: "guest", security: "batchKey", success: ok("`{batch_id, counts, files}`") },
  "GET /api/v1/events/:token/photos": { summary: "The event's approved photos (when its gallery is on)", tag: "guest", security: "none", query: guestSchemas.galleryQuery, success: ok("`{photos, next_cursor}` with signed URLs") },

  "OPTIONS /api/v1/events/:token/tus/*": { summary: "tus discovery: versions, extensions, max size", tag: "tus", security: "none", success: [204, "`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`"] },
  "POST /api/v1/events/:token/tus": { summary: "tus creation (and creation-with-upload; `Upload-Concat`)", tag: "tus", security: "none", success: [201, "`Location` is the upload's capability URL"] },
  "GET /api/v1/events/:token/tus/:upload": { summary: "tus offset (HEAD)", tag: "tus", security: "tus", success: ok("`Upload-Offset`, `Upload-Length`") },
  "PATCH /api/v1/events/:token/tus/:upload": { summary: "tus append (`application/offset+octet-stream`)", tag: "tus", security: "tus", success: [204, "New `Upload-Offset`"] },
  "DELETE /api/v1/events/:token/tus/:upload": { summary: "tus termination", tag: "tus", security: "tus", success: [204, "Terminated"] },
  "POST /api/v1/events/:token/tus/:upload": { summary: "tus `X-HTTP-Method-Override` tunnel", tag: "tus", security: "tus", success: [204, "As the overridden method"] },

  "OPTIONS /api/v1/events/:token/resumable": { summary: "IETF resumable uploads: limits", tag: "resumable", security: "none", success: [204, "`Upload-Limit`"] },
  "POST /api/v1/events/:token/resumable": { summary: "IETF upload creation (interop 6 and 9)", tag: "resumable", security: "none", success: [201, "`Location`; 104-less"] },
  "GET /api/v1/events/:token/resumable/:upload": { summary: "IETF offset retrieval (HEAD; GET for v9)", tag: "resumable", security: "tus", success: [204, "`Upload-Offset`, `Upload-Complete`"] },
  "PATCH /api/v1/events/:token/resumable/:upload": { summary: "IETF append", tag: "resumable", security: "tus", success: [204, "New `Upload-Offset`"] },
  "DELETE /api/v1/events/:token/resumable/:upload": { summary: "IETF cancellation", tag: "resumable", security: "tus", success: [204, "Cancelled"] },

  "GET /api/v1/admin/events": admin("List events (`include_archived=true` for all)", ok("`{events}`")),
  "POST /api/v1/admin/events": admin("Create an event (global admins)", [201, "The event, with its first join link and QR code"], { body: adminSchemas.createEventBody }),
  "GET /api/v1/admin/events/:eventId": admin("Read an event", ok("The event")),
  "PATCH /api/v1/admin/events/:eventId": admin("Update an event's settings", ok("The event"), { body: adminSchemas.updateEventBody }),
  "POST /api/v1/admin/events/:eventId/archive": admin("Archive an event", ok("The event")),
  "GET /api/v1/admin/events/:eventId/join-links": admin("List join links", ok("`{join_links}`")),
  "POST /api/v1/admin/events/:eventId/join-links": admin("Create a join link (its token and QR SVG are shown once)", [201, "The link"], { body: adminSchemas.createLinkBody }),
  "DELETE /api/v1/admin/events/:eventId/join-links/:linkId": admin("Revoke a join link", ok("The link")),
  "GET /api/v1/admin/events/:eventId/uploads": admin("Upload sessions: in flight, failed, expired (keyset pages)", ok("`{uploads, next_cursor}`"), { query: adminSchemas.uploadQuery }),
  "GET /api/v1/admin/events/:eventId/stats": admin("Per-event stats", ok("Counts, bytes, devices, failure rate, uploads over time")),
  "GET /api/v1/admin/events/:eventId/photos": admin("Photos with filters (keyset pages)", ok("`{photos, next_cursor}` with signed URLs"), { query: adminSchemas.photoQuery }),
  "GET /api/v1/admin/events/:eventId/photos/:photoId": admin("Read a photo", ok("The photo with signed URLs")),
  "DELETE /api/v1/admin/events/:eventId/photos/:photoId": admin("Delete a photo and its files", ok("The photo")),
  "POST /api/v1/admin/events/:eventId/photos/bulk": admin("Moderate many photos; each gets its own outcome", ok("`{results}`"), { body: adminSchemas.bulkBody }),
  "POST /api/v1/admin/events/:eventId/photos/:photoId/:action{approve|hide|unhide}": admin("Approve, hide or unhide a photo", ok("The photo")),
  "POST /api/v1/admin/events/:eventId/photos/redrive": admin("Re-drive photos the dead-letter queue failed (all, or `photo_ids`)", ok("`{requeued, photo_ids}`"), { body: adminSchemas.redriveBody }),
  "POST /api/v1/admin/processing/redrive": admin("Re-drive every photo the dead-letter queue failed, in all events (global admins)", ok("`{requeued, photo_ids}`; call again while `requeued` is 500")),
  "POST /api/v1/admin/events/:eventId/download": admin("A signed link to the ZIP of the approved photos", ok("`{url, expires_at, photo_count, bytes}`")),
  "POST /api/v1/admin/events/:eventId/live": admin("A single-use signed ticket URL for the live WebSocket (valid a minute)", ok("`{url, expires_at}`")),
  "GET /api/v1/admin/events/:eventId/live": admin("The live WebSocket, for clients that send credentials", [101, "Switching protocols"]),
  "GET /api/v1/admin/tokens": admin("List admin tokens (global admins)", ok("`{tokens}`")),
  "POST /api/v1/admin/tokens": admin("Create an admin token, optionally scoped to events (shown once)", [201, "The token"], { body: adminSchemas.createTokenBody }),
  "DELETE /api/v1/admin/tokens/:tokenId": admin("Revoke an admin token", ok("The token")),

  "GET /api/v1/files/photos/:photoId/:variant": { summary: "A photo file for organisers (original, scrubbed, thumb-1024, thumb-256)", tag: "files", security: "signed", success: ok("The file; `Range` gives 206") },
  "GET /api/v1/files/gallery/:photoId/:variant": { summary: "A photo file for guests (scrubbed, thumb-1024, thumb-256)", tag: "files", security: "signed", success: ok("The file; `Range` gives 206") },
  "GET /api/v1/files/events/:eventId/photos.zip": { summary: "The event's approved photos as a streamed ZIP", tag: "files", security: "signed", success: ok("application/zip") },
  "GET /api/v1/live/events/:eventId": { summary: "The event's live WebSocket (signed single-use ticket; closed with 4401 once the ticket's credential is revoked or expires)", tag: "files", security: "signed", success: [101, "Switching protocols; JSON messages `hello`, `upload`, `photo`"] },
};

const securityRequirements: Record<Security, Array<Record<string, string[]>>> = {
  none: [],
  admin: [{ adminToken: [] }, { cloudflareAccess: [] }],
  uploadKey: [{ uploadKey: [] }],
  batchKey: [{ batchKey: [] }],
  signed: [{ signature: [] }],
  // The upload's capability is in its URL (`{upload_id}.{upload_key}`).
  tus: [],
};

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "request_id"],
      properties: { code: { type: "string" }, message: { type: "string" }, request_id: { type: "string" } },
      additionalProperties: true,
    },
  },
};

/** `/x/:id/:action{a|b}` and `/x/*` in Hono's syntax → `/x/{id}/{action}` and `/x/{path}`, with the parameters. */
export function openApiPath(honoPath: string): { path: string; parameters: Array<{ name: string; enum?: string[] }> } {
  const parameters: Array<{ name: string; enum?: string[] }> = [];
  const path = honoPath
    .split("/")
    .map((segment) => {
      if (segment === "*") {
        parameters.push({ name: "path" });
        return "{path}";
      }
      const match = segment.match(/^:(\w+)(?:\{(.+)\})?$/);
      if (!match) return segment;
      parameters.push({ name: match[1]!, ...(match[2] ? { enum: match[2].split("|") } : {}) });
      return `{${match[1]}}`;
    })
    .join("/");
  return { path: path.replace(/\/+$/, "") || "/", parameters };
}

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

/** The routes a Hono route table serves (handlers only, each method once). */
export function servedRoutes(routes: ReadonlyArray<{ method: string; path: string }>): string[] {
  return [...new Set(routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${route.path}`))];
}

export function openApiDocument(routes: ReadonlyArray<{ method: string; path: string }>, origin: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const key of servedRoutes(routes)) {
    const operation = operations[key];
    if (!operation) continue; // the test that compares the two makes this impossible to ship
    const [method, honoPath] = key.split(" ") as [string, string];
    const { path, parameters } = openApiPath(honoPath);
    const queryParameters = operation.query
      ? Object.entries((jsonSchema(operation.query) as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, schema]) => ({ name, in: "query", required: false, schema }))
      : [];
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = {
      operationId: `${method.toLowerCase()}${path.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase())}`,
      summary: operation.summary,
      tags: [operation.tag],
      security: securityRequirements[operation.security],
      parameters: [
        ...parameters.map(({ name, enum: values }) => ({ name, in: "path", required: true, schema: { type: "string", ...(values ? { enum: values } : {}) } })),
        ...queryParameters,
      ],
      ...(operation.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(operation.body) } } } } : {}),
      responses: {
        [String(operation.success[0])]: { description: operation.success[1] },
        default: { description: "An error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Edge photo uploads",
      version: "1.0.0",
      description: "Guests upload photos resumably (guest API, tus 1.0, IETF resumable uploads); organisers run events and moderate (admin API).",
    },
    servers: [{ url: origin }],
    tags: [
      { name: "guest", description: "Capability-based: the join token in the path, then each upload's key" },
      { name: "tus", description: "tus 1.0 with creation, creation-with-upload, termination, expiration, checksum, concatenation" },
      { name: "resumable", description: "draft-ietf-httpbis-resumable-upload, interop versions 6 and 9" },
      { name: "admin", description: "Cloudflare Access or an admin token; deny by default" },
      { name: "files", description: "Short-lived signed URLs handed out by the guest and admin APIs" },
      { name: "meta", description: "Health and this document" },
    ],
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        adminToken: { type: "http", scheme: "bearer", description: "An admin API token (`npm run admin:token`) or the bootstrap ADMIN_TOKEN" },
        cloudflareAccess: { type: "apiKey", in: "header", name: "Cf-Access-Jwt-Assertion", description: "Set by Cloudflare Access in front of the admin API" },
        uploadKey: { type: "apiKey", in: "header", name: "Upload-Key", description: "The key returned when the upload was created" },
        batchKey: { type: "apiKey", in: "header", name: "Batch-Key", description: "The key returned when the batch was registered" },
        signature: { type: "apiKey", in: "query", name: "sig", description: "HMAC of the path and `exp`, as handed out" },
      },
    },
  };
}
