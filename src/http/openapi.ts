/**
 * The contract: every route is declared with createRoute (@hono/zod-openapi), carrying its
 * request and response zod schemas. The same objects validate requests, type-check what a
 * handler may answer, and generate the OpenAPI 3.1 document served at /api/openapi.json (from
 * which the clients' types are generated: web/shared/api-types.ts).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError, errorCodes, refusals } from "../core/errors";
import type { AppEnv } from "./context";
import { isJsonRequest, issuesOf, readJson } from "./validation";

/** The one error body: `{"error": {code, message, request_id, ...details}}`, with the stable codes as an enum. */
export const ErrorBody = z
  .object({
    error: z
      .object({
        code: z.enum(errorCodes),
        message: z.string(),
        request_id: z.string(),
        /** invalid_request: one "field: problem" each. */
        issues: z.array(z.string()).optional(),
      })
      .catchall(z.unknown()),
  })
  .openapi("ErrorBody", {
    example: { error: { code: "upload_not_found", message: "No such upload for this event.", request_id: "8f2c1d0e6a7b4c3d" } },
  });

const errorDescriptions: Record<number, string> = {
  400: "The request is malformed (`invalid_request` lists the problems in `issues`)",
  401: "Missing or wrong credentials",
  403: "Not allowed",
  404: "Not found (or not yours to see)",
  409: "In conflict with the resource's state",
  410: "Gone: expired, cancelled or used up",
  411: "A length is required",
  412: "Unsupported protocol version",
  413: "Too large",
  415: "Unsupported media type",
  422: "Refused for the photo's own sake",
  426: "Needs a WebSocket upgrade",
  429: "Rate limited; `Retry-After` says when to try again",
  460: "Checksum mismatch (tus)",
  500: "Something went wrong on our side",
  503: "Busy holding other uploads' bytes; `Retry-After` says when to send again",
};

const errorResponse = (status: number) => ({
  description: errorDescriptions[status] ?? "An error",
  content: { "application/json": { schema: ErrorBody } },
});

/** The error responses a route can give (and 500), each with the one ErrorBody. */
export function errors<S extends number>(...statuses: S[]): Record<S | 500, ReturnType<typeof errorResponse>> {
  return Object.fromEntries([...statuses, 500].map((status) => [status, errorResponse(status)])) as Record<S | 500, ReturnType<typeof errorResponse>>;
}

/** Bytes of a file, as request or response bodies (not validated: streamed to or from R2). */
export const binary = { type: "string", format: "binary" } as const;

/** A JSON response. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

/** A request header a route reads (optional), and one it answers with. */
export const header = (description: string, example?: string) => z.string().optional().openapi({ description, ...(example ? { example } : {}) });
export const responseHeader = (description: string) => z.string().openapi({ description });

/** A JSON request body; `jsonRequest` reads it (capped) before the route's validator checks it. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });

/** Path parameters, documented as strings; handlers check their form and answer with the resource's own not-found code. */
export const pathParams = <K extends string>(...names: K[]) =>
  z.object(Object.fromEntries(names.map((name) => [name, z.string().openapi({ param: { name, in: "path" } })])) as Record<K, z.ZodString>);

/** A validation failure is a 400 `invalid_request` listing each problem, whatever part of the request it was in. */
const defaultHook = (result: { success: boolean; error?: z.ZodError }) => {
  if (!result.success) throw issuesOf(result.error!);
};

/** A router whose routes are declared with their schemas. */
export const contractRouter = <E extends AppEnv = AppEnv>() => new OpenAPIHono<E>({ defaultHook, strict: false });

/**
 * Route middleware for JSON bodies: `application/json` only (415), at most `maxBytes` (413, also
 * when chunked), parsed (400 invalid_json). The parsed value is handed to the route's validator,
 * so the body is read once and never whole when too large.
 */
export function jsonRequest<E extends AppEnv>(maxBytes?: number): MiddlewareHandler<E> {
  return async (c, next) => {
    if (!isJsonRequest(c.req.raw)) throw new ApiError(refusals.jsonRequired());
    const parsed = await readJson(c, maxBytes);
    c.req.bodyCache.json = Promise.resolve(parsed);
    await next();
  };
}

export const securitySchemes = {
  adminToken: { type: "http", scheme: "bearer", description: "An admin API token (`npm run admin:token`) or the bootstrap ADMIN_TOKEN" },
  cloudflareAccess: { type: "apiKey", in: "header", name: "Cf-Access-Jwt-Assertion", description: "Set by Cloudflare Access in front of the admin API" },
  uploadKey: { type: "apiKey", in: "header", name: "Upload-Key", description: "The key returned when the upload was created" },
  batchKey: { type: "apiKey", in: "header", name: "Batch-Key", description: "The key returned when the batch was registered" },
  claimCode: { type: "apiKey", in: "header", name: "Claim-Code", description: "The code a device made for its uploads (shown to its guest once)" },
  signature: { type: "apiKey", in: "query", name: "sig", description: "HMAC of the path and `exp`, as handed out" },
} as const;

/** Who may call a route; tus and IETF routes need none: the upload's capability is in its URL (`{upload_id}.{upload_key}`). */
export const security: Record<"admin" | "uploadKey" | "batchKey" | "claimCode" | "signed", Array<Record<string, string[]>>> = {
  admin: [{ adminToken: [] }, { cloudflareAccess: [] }],
  uploadKey: [{ uploadKey: [] }],
  batchKey: [{ batchKey: [] }],
  claimCode: [{ claimCode: [] }],
  signed: [{ signature: [] }],
};

/** The document's frame around the routes' own declarations. */
export function documentConfig(origin: string) {
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
  };
}

/** The routes a Hono route table serves (handlers only, each method once), as `METHOD /path/{param}`. */
export function servedRoutes(routes: ReadonlyArray<{ method: string; path: string }>): string[] {
  const openApiPath = (path: string) =>
    path.replace(/\/\*$/, "/{path}").replace(/:(\w+)(\{[^}]*\})?/g, "{$1}").replace(/\/+$/, "") || "/";
  return [...new Set(routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${openApiPath(route.path)}`))];
}
