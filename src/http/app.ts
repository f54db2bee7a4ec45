/**
 * The Worker's HTTP surface. Where a request goes:
 *   /api/v1/events/:token/uploads/...  guest API   → http/guest.ts → core/ (admission, append, session-client)
 *   /api/v1/events/:token/tus/...      tus 1.0     → http/tus.ts   → core/ (admission, append, session-client)
 *   /api/v1/events/:token/resumable/...  IETF draft → http/resumable.ts → core/ (admission, append, session-client)
 *   /api/v1/events/:token/batches|photos  guest batches and gallery → http/guest.ts → core/batches.ts, core/photos.ts
 *   /api/v1/admin/...                  admin API   → http/admin.ts → admin/*.ts
 *   /api/v1/files/..., /api/v1/live/...  signed URLs: downloads, ZIP, live WebSocket → http/files.ts → downloads/, live/
 */
import { createRoute, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { ApiError } from "../core/errors";
import { newId } from "../lib/crypto";
import { errorFields, logLine } from "../lib/log";
import { recordMetric } from "../lib/metrics";
import { adminRoutes } from "./admin";
import { dashboardOrigins } from "./cross-site";
import { fileRoutes, liveRoutes } from "./files";
import { guestRoutes } from "./guest";
import { contractRouter, documentConfig, securitySchemes } from "./openapi";
import { resumableRoutes } from "./resumable";
import { tusRoutes } from "./tus";

// Not strict (contractRouter): tus clients use the endpoint as configured, with or without a trailing slash.
export const app = contractRouter();

/** One JSON log line per request, with the ids and figures handlers add through `annotate`. */
app.use("*", async (c, next) => {
  const started = Date.now();
  const requestId = c.req.header("cf-ray") ?? newId();
  c.set("requestId", requestId);
  c.set("logFields", {});
  await next();
  // A WebSocket handshake's headers are the Durable Object's and cannot be changed.
  if (c.res.status !== 101) c.res.headers.set("X-Request-Id", requestId);
  const fields = c.get("logFields");
  if (c.res.status >= 400) {
    recordMetric(c.env, "request_error", {
      eventId: typeof fields.event_id === "string" ? fields.event_id : undefined,
      code: String(fields.error_code ?? c.res.status),
      route: c.req.routePath,
    });
  }
  logLine(c.res.status >= 500 ? "error" : "info", "request", {
    request_id: requestId,
    method: c.req.method,
    route: c.req.routePath,
    status: c.res.status,
    outcome: c.res.status < 400 ? "ok" : String(fields.error_code ?? "error"),
    ms: Date.now() - started,
    ...fields,
  });
});

/**
 * Guest and tus routes are capability-based (no cookies), so any origin may call them. Browser
 * clients must be able to read the protocol headers. A plain OPTIONS (tus discovery) is left to
 * the route; only preflights are answered here.
 */
const guestCors = cors({
  origin: "*",
  allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
  allowHeaders: [
    "Content-Type", "Content-Range", "Upload-Key", "Upload-Length", "Upload-Offset", "Upload-Metadata",
    "Upload-Checksum", "Upload-Defer-Length", "Upload-Concat", "Upload-Complete", "Upload-Draft-Interop-Version",
    "Tus-Resumable", "X-HTTP-Method-Override", "X-Requested-With", "X-Request-Id", "Batch-Key", "X-Display-Name", "Claim-Code",
  ],
  exposeHeaders: [
    "Location", "Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata", "Upload-Complete", "Upload-Limit",
    "Upload-Draft-Interop-Version", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
    "Tus-Checksum-Algorithm", "Upload-Chunk-Size", "Retry-After", "X-Request-Id",
  ],
  maxAge: 86400,
});
app.use("/api/v1/events/*", async (c, next) => {
  if (c.req.method === "OPTIONS" && !c.req.header("access-control-request-method")) {
    await next();
    c.res.headers.set("Access-Control-Allow-Origin", "*");
    return;
  }
  return guestCors(c, next);
});

/**
 * The dashboard may be served from another origin (Cloudflare Pages): the admin API answers CORS
 * for the configured DASHBOARD_ORIGINS only, with credentials (Access's cookie) allowed.
 */
app.use("/api/v1/admin/*", async (c, next) => {
  const allowed = dashboardOrigins(c.env);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
    exposeHeaders: ["X-Request-Id", "Retry-After"],
    credentials: true,
    maxAge: 600,
  })(c, next);
});

app.openapi(
  createRoute({
    method: "get",
    path: "/api/v1/health",
    tags: ["meta"],
    summary: "Liveness check",
    responses: { 200: { description: "Up", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } } },
  }),
  (c) => c.json({ ok: true as const }, 200),
);
app.openapi(
  createRoute({
    method: "get",
    path: "/api/openapi.json",
    tags: ["meta"],
    summary: "This document",
    responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: z.object({ openapi: z.string() }).catchall(z.unknown()) } } } },
  }),
  (c) => {
    c.header("Access-Control-Allow-Origin", "*");
    return c.json(app.getOpenAPI31Document(documentConfig(new URL(c.req.url).origin)), 200);
  },
);
app.route("/api/v1/events/:token/tus", tusRoutes);
app.route("/api/v1/events/:token/resumable", resumableRoutes);
app.route("/api/v1/events", guestRoutes);
app.route("/api/v1/admin", adminRoutes);
app.route("/api/v1/files", fileRoutes);
app.route("/api/v1/live", liveRoutes);
for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent("securitySchemes", name, scheme);

app.notFound((c) =>
  c.json({ error: { code: "not_found", message: "No such route.", request_id: c.get("requestId") } }, 404),
);

app.onError((error, c) => {
  const requestId = c.get("requestId");
  if (error instanceof ApiError) {
    c.get("logFields").error_code = error.code;
    return c.json(
      { error: { code: error.code, message: error.message, request_id: requestId, ...error.details } },
      error.status,
      error.headers,
    );
  }
  c.get("logFields").error_code = "internal_error";
  logLine("error", "unhandled_error", { request_id: requestId, ...errorFields(error) });
  return c.json(
    { error: { code: "internal_error", message: "Something went wrong on our side; try again.", request_id: requestId } },
    500,
  );
});
