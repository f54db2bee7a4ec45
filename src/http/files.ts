/**
 * Routes reached by signed URLs (lib/signing.ts) rather than credentials: photo files, an
 * event's ZIP, and the live channel's WebSocket. Admin and guest routes hand the URLs out.
 *   /api/v1/files/photos/:photoId/:variant     organisers (any variant, originals included)
 *   /api/v1/files/gallery/:photoId/:variant    guests (scrubbed copy, thumbnails; approved photos of gallery events)
 *   /api/v1/files/events/:eventId/photos.zip   organisers: the approved photos, streamed
 *   /api/v1/live/events/:eventId               organisers: WebSocket to the event's live channel
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ApiError, refusals } from "../core/errors";
import { serveArchive } from "../downloads/archive";
import { servePhotoFile, variants, type Audience, type Variant } from "../downloads/photo-files";
import { checkSignedUrl, expiryFor, signPath } from "../lib/signing";
import { connectLive } from "../live/publish";
import { annotate, type AppEnv } from "./context";
import { sameSiteOnly } from "./cross-site";

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
  return async (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => {
    const variant = c.req.param("variant") as Variant;
    if (!variants.includes(variant)) throw fileNotFound();
    annotate(c, { photo_id: c.req.param("photoId"), variant });
    const response = await servePhotoFile(c.env, c.req.raw, audience, c.req.param("photoId")!, variant, expiresOf(c.req.url));
    if (!response) throw fileNotFound();
    return response;
  };
}

export const fileRoutes = new Hono<AppEnv>()
  .use("*", signed)
  .get("/photos/:photoId/:variant", photoFile("organiser"))
  .get("/gallery/:photoId/:variant", photoFile("guest"))
  .get("/events/:eventId/photos.zip", async (c) => {
    annotate(c, { event_id: c.req.param("eventId") });
    const response = await serveArchive(c.env, c.req.param("eventId"));
    if (!response) throw fileNotFound();
    return response;
  });

export const liveRoutes = new Hono<AppEnv>().use("*", sameSiteOnly).use("*", signed).get("/events/:eventId", (c) => {
  annotate(c, { event_id: c.req.param("eventId") });
  return connectLive(c.env, c.req.param("eventId"), c.req.raw, new URL(c.req.url).origin);
});

/** Signed-URL lifetimes: an archive link is for starting a download now; a live ticket for connecting now. */
const ARCHIVE_URL_TTL_MS = 15 * 60 * 1000;
const LIVE_TICKET_TTL_MS = 60 * 1000;

export async function archiveUrl(env: Env, origin: string, eventId: string) {
  const expires = expiryFor(ARCHIVE_URL_TTL_MS, 1000);
  return { url: origin + (await signPath(env.SIGNING_SECRET, `/api/v1/files/events/${eventId}/photos.zip`, expires)), expires_at: new Date(expires).toISOString() };
}

export async function liveTicket(env: Env, origin: string, eventId: string) {
  const expires = expiryFor(LIVE_TICKET_TTL_MS, 1000);
  const path = await signPath(env.SIGNING_SECRET, `/api/v1/live/events/${eventId}`, expires);
  return { url: origin.replace(/^http/, "ws") + path, expires_at: new Date(expires).toISOString() };
}
