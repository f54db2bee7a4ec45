/**
 * Routes reached by signed URLs (lib/signing.ts) rather than credentials: photo files, an
 * event's ZIP, and the live channel's WebSocket. Admin and guest routes hand the URLs out.
 *   /api/v1/files/photos/:photoId/:variant     organisers (any variant, originals included)
 *   /api/v1/files/gallery/:photoId/:variant    guests (scrubbed copy, thumbnails; approved photos of gallery events)
 *   /api/v1/files/own/:photoId/:variant        a claim's holder (scrubbed copy, thumbnails of the claimed device's photos)
 *   /api/v1/files/events/:eventId/photos.zip   organisers: the approved photos, streamed
 *   /api/v1/live/events/:eventId               organisers: WebSocket to the event's live channel (`&ticket=`: once)
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ApiError, refusals } from "../core/errors";
import { serveArchive, type ArchiveLayout } from "../downloads/archive";
import { servePhotoFile, variants, type Audience, type Variant } from "../downloads/photo-files";
import { checkSignedUrl, expiryFor, signPath } from "../lib/signing";
import { credentialEnded, credentialStanding, type AdminCredential } from "../admin/auth";
import { randomSecret, sha256Hex } from "../lib/crypto";
import { connectLive, eventHub, requireWebSocket } from "../live/publish";
import { annotate, type AppContext, type AppEnv } from "./context";
import { sameSiteOnly } from "./cross-site";
import { binary, contractRouter, errors, pathParams, security } from "./openapi";

/** Refuses a request whose URL is not one we signed, or whose signature has expired. */
const signed: MiddlewareHandler<AppEnv> = async (c, next) => {
  const check = await checkSignedUrl(c.env.SIGNING_SECRET, new URL(c.req.url));
  if (check === "invalid") throw new ApiError({ status: 403, code: "invalid_signature", message: "This link is not valid." });
  if (check === "expired") throw new ApiError({ status: 410, code: "link_expired", message: "This link has expired; get a new one." });
  await next();
};

const fileNotFound = () => new ApiError(refusals.fileNotFound());
const expiresOf = (url: string) => Number(new URL(url).searchParams.get("exp")) * 1000;

function photoFile(audience: Audience) {
  return async (c: AppContext) => {
    const variant = c.req.param("variant") as Variant;
    if (!variants.includes(variant)) throw fileNotFound();
    annotate(c, { photo_id: c.req.param("photoId"), variant });
    const response = await servePhotoFile(c.env, c.req.raw, audience, c.req.param("photoId")!, variant, expiresOf(c.req.url));
    if (!response) throw fileNotFound();
    return response;
  };
}

/** The query a signed URL carries. */
const signature = z.object({
  exp: z.string().openapi({ description: "Expiry, Unix seconds" }),
  sig: z.string().openapi({ description: "HMAC of the path and `exp`" }),
});
const signedErrors = errors(403, 404, 410);
const files = { tags: ["files"], security: security.signed };
const fileResponses = (summary: string) => ({
  200: { description: summary, content: { "image/*": { schema: binary } } },
  206: { description: "The `Range` asked for", content: { "image/*": { schema: binary } } },
  304: { description: "Not modified (`If-None-Match`)" },
  ...signedErrors,
  ...errors(422),
});

export const fileRoutes = contractRouter();
fileRoutes.use("*", signed);
fileRoutes.openapi(
  createRoute({
    ...files,
    method: "get",
    path: "/photos/{photoId}/{variant}",
    summary: "A photo file for organisers (original, scrubbed, thumb-1024, thumb-256, preview)",
    request: { params: pathParams("photoId", "variant"), query: signature },
    responses: fileResponses("The file"),
  }),
  photoFile("organiser"),
);
fileRoutes.openapi(
  createRoute({
    ...files,
    method: "get",
    path: "/gallery/{photoId}/{variant}",
    summary: "A photo file for guests (scrubbed, thumb-1024, thumb-256, preview)",
    request: { params: pathParams("photoId", "variant"), query: signature },
    responses: fileResponses("The file"),
  }),
  photoFile("guest"),
);
fileRoutes.openapi(
  createRoute({
    ...files,
    method: "get",
    path: "/own/{photoId}/{variant}",
    summary: "A guest's own photo file, through a claim (scrubbed, thumb-1024, thumb-256)",
    request: { params: pathParams("photoId", "variant"), query: signature },
    responses: fileResponses("The file"),
  }),
  photoFile("owner"),
);
/** Each ZIP layout has its own path, so the signature covers the layout. */
const archivePaths: Record<ArchiveLayout, string> = { none: "photos.zip", names: "photos-by-name.zip" };
for (const [layout, file] of Object.entries(archivePaths) as Array<[ArchiveLayout, string]>) {
  fileRoutes.openapi(
    createRoute({
      ...files,
      method: "get",
      path: `/events/{eventId}/${file}`,
      summary: `The event's approved photos${layout === "names" ? ", in a folder per guest's name," : ""} as a streamed ZIP (with messages.csv)`,
      request: { params: pathParams("eventId"), query: signature },
      responses: { 200: { description: "The ZIP", content: { "application/zip": { schema: binary } } }, ...signedErrors },
    }),
    async (c) => {
      annotate(c, { event_id: c.req.param("eventId") });
      const response = await serveArchive(c.env, c.req.param("eventId"), layout);
      if (!response) throw fileNotFound();
      return response;
    },
  );
}

export const liveRoutes = contractRouter();
liveRoutes.use("*", sameSiteOnly);
liveRoutes.use("*", signed);
liveRoutes.openapi(
  createRoute({
    ...files,
    method: "get",
    path: "/events/{eventId}",
    summary: "The event's live WebSocket (signed single-use ticket; closed with 4401 once the ticket's credential is revoked or expires)",
    request: { params: pathParams("eventId"), query: signature.extend({ ticket: z.string().optional().openapi({ description: "The single-use ticket" }) }) },
    responses: { 101: { description: "Switching protocols; JSON messages `hello`, `upload`, `photo`" }, ...signedErrors, ...errors(400, 401, 426) },
  }),
  async (c) => {
    const eventId = c.req.param("eventId");
    annotate(c, { event_id: eventId });
    requireWebSocket(c.req.raw); // before the ticket is spent
    const credential = await redeemLiveTicket(c.env, eventId, c.req.query("ticket"));
    return connectLive(c.env, eventId, c.req.raw, new URL(c.req.url).origin, credential);
  },
);

/** Signed-URL lifetimes: an archive link is for starting a download now; a live ticket for connecting now. */
const ARCHIVE_URL_TTL_MS = 15 * 60 * 1000;
const LIVE_TICKET_TTL_MS = 60 * 1000;

export async function archiveUrl(env: Env, origin: string, eventId: string, layout: ArchiveLayout) {
  const expires = expiryFor(ARCHIVE_URL_TTL_MS, 1000);
  const path = `/api/v1/files/events/${eventId}/${archivePaths[layout]}`;
  return { url: origin + (await signPath(env.SIGNING_SECRET, path, expires)), expires_at: new Date(expires).toISOString() };
}

/**
 * A live ticket: a signed URL for the event's WebSocket, good for one connection within a minute.
 * The event's hub keeps the ticket's hash with the credential that asked for it, so the socket
 * can be closed once that credential is revoked or expires.
 */
export async function liveTicket(env: Env, origin: string, eventId: string, credential: AdminCredential) {
  const expires = expiryFor(LIVE_TICKET_TTL_MS, 1000);
  const ticket = randomSecret();
  await eventHub(env, eventId).issueTicket(await sha256Hex(ticket), { credential, expiresAt: expires });
  const path = await signPath(env.SIGNING_SECRET, `/api/v1/live/events/${eventId}`, expires);
  return { url: `${origin.replace(/^http/, "ws")}${path}&ticket=${ticket}`, expires_at: new Date(expires).toISOString() };
}

/** The credential behind a ticket, once; a spent or unknown ticket, or one whose credential ended since, is refused. */
async function redeemLiveTicket(env: Env, eventId: string, ticket: string | undefined): Promise<AdminCredential> {
  const credential = ticket ? await eventHub(env, eventId).redeemTicket(await sha256Hex(ticket)) : null;
  if (!credential) throw new ApiError(refusals.ticketUsed());
  const standing = await credentialStanding(env, credential);
  if (standing !== "valid") throw credentialEnded(standing);
  return credential;
}
