/**
 * The admin API, mounted at /api/v1/admin: a thin adapter over admin/. Every route passes the
 * authentication middleware (deny by default); routes under /events/:eventId also check the
 * principal's event scope, and a few routes are for global admins only.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { database } from "../db/client";
import { photoStatuses, uploadStatuses, type PhotoRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { hardLimits } from "../core/limits";
import { authenticateAdmin, requireEvent, requireGlobal, type AdminPrincipal } from "../admin/auth";
import { createEvent, createJoinLink, getEvent, listEvents, listJoinLinks, revokeJoinLink, updateEvent, type EventSettings } from "../admin/events";
import { getPhoto, listPhotos, moderate, type ModerationAction } from "../admin/photos";
import { redriveFailedPhotos } from "../admin/processing";
import { createAdminToken, listAdminTokens, revokeAdminToken } from "../admin/tokens";
import { eventStats, listUploads } from "../admin/uploads";
import { eventView, photoView, uploadView } from "../admin/views";
import { archiveContents } from "../downloads/archive";
import { photoUrls } from "../downloads/photo-files";
import { announcePhoto, connectLive } from "../live/publish";
import { archiveUrl, liveTicket } from "./files";
import { annotate, type AppEnv } from "./context";
import { jsonBodiesOnly, sameSiteOnly } from "./cross-site";
import { jsonBody, validated } from "./validation";

type AdminEnv = AppEnv & { Variables: AppEnv["Variables"] & { principal: AdminPrincipal } };
type AdminContext = Context<AdminEnv, any>;

const authenticate: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const principal = await authenticateAdmin(c.env, c.req.raw.headers);
  c.set("principal", principal);
  annotate(c, { admin: principal.subject });
  await next();
};

/** For routes under /events/:eventId: others' events are not found. */
const scopedToEvent: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const eventId = c.req.param("eventId")!;
  requireEvent(c.get("principal"), eventId);
  annotate(c, { event_id: eventId });
  await next();
};

const globalOnly: MiddlewareHandler<AdminEnv> = async (c, next) => {
  requireGlobal(c.get("principal"));
  await next();
};

const instant = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value));
const settingsFields = {
  name: z.string().trim().min(1).max(200),
  status: z.enum(["open", "closed"]),
  max_file_size: z.number().int().min(1).max(hardLimits.maxFileSize),
  chunk_size: z.number().int().min(hardLimits.minChunkSize).max(hardLimits.maxChunkSize),
  session_ttl_seconds: z.number().int().min(60).max(hardLimits.maxSessionTtlSeconds),
  max_concurrent_uploads_per_device: z.number().int().min(1).max(100),
  daily_upload_cap_per_device: z.number().int().min(1).max(100_000),
  allowed_content_types: z.array(z.enum(["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"])).min(1),
  keep_gps: z.boolean(),
  starts_at: instant.nullable(),
  ends_at: instant.nullable(),
  uploads_open_at: instant.nullable(),
  uploads_close_at: instant.nullable(),
  moderation_mode: z.enum(["auto", "review"]),
  gallery_enabled: z.boolean(),
};
const createEventBody = z.object(settingsFields).partial().required({ name: true }).strict();
const updateEventBody = z.object(settingsFields).partial().strict();

function toSettings(body: z.infer<typeof updateEventBody>): EventSettings {
  return {
    name: body.name,
    status: body.status,
    maxFileSize: body.max_file_size,
    chunkSize: body.chunk_size,
    sessionTtlSeconds: body.session_ttl_seconds,
    maxConcurrentPerDevice: body.max_concurrent_uploads_per_device,
    dailyCapPerDevice: body.daily_upload_cap_per_device,
    allowedContentTypes: body.allowed_content_types,
    keepGps: body.keep_gps,
    startsAt: body.starts_at,
    endsAt: body.ends_at,
    uploadsOpenAt: body.uploads_open_at,
    uploadsCloseAt: body.uploads_close_at,
    moderationMode: body.moderation_mode,
    galleryEnabled: body.gallery_enabled,
  };
}



/** A comma-separated filter, each value once (repeats would only add bound parameters). */
const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((value) => [...new Set(value.split(",").filter(Boolean))])
    .pipe(z.array(item).min(1));
const photoQuery = z
  .object({
    status: commaList(z.enum(photoStatuses)).optional(),
    approved: z.enum(["true", "false"]).transform((value) => value === "true").optional(),
    device_id: z.string().max(128).optional(),
    taken_from: instant.optional(),
    taken_to: instant.optional(),
    uploaded_from: instant.optional(),
    uploaded_to: instant.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional(),
  })
  .strict();
const moderationActions = ["approve", "hide", "unhide", "delete"] as const;
const uploadQuery = z
  .object({
    status: commaList(z.enum(uploadStatuses)).optional(),
    device_id: z.string().max(128).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional(),
  })
  .strict();

const bulkBody = z.object({ action: z.enum(moderationActions), photo_ids: z.array(z.string().min(1).max(64)).min(1).max(100) }).strict();

const redriveBody = z.object({ photo_ids: z.array(z.string().min(1).max(64)).min(1).max(90).optional() }).strict();
const createLinkBody = z.object({ label: z.string().trim().min(1).max(100).optional(), expires_at: instant.optional() }).strict();
const createTokenBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    event_ids: z.array(z.uuid()).min(1).max(100).optional(),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
const origin = (url: string) => new URL(url).origin;

/** A photo as organisers see it, with signed URLs of its files. */
const organiserView = async (c: AdminContext, photo: PhotoRow) => photoView(photo, await photoUrls(c.env, origin(c.req.url), photo, "organiser"));

/** Moderates and tells the event's dashboards. */
async function moderated(c: AdminContext, photo: PhotoRow, action: ModerationAction): Promise<PhotoRow> {
  const result = await moderate(database(c.env), c.env.PHOTOS, photo, action);
  c.executionCtx.waitUntil(announcePhoto(c.env, photo.id));
  return result;
}

/** The request schemas, for the OpenAPI document (http/openapi.ts). */
export const adminSchemas = { createEventBody, updateEventBody, photoQuery, uploadQuery, bulkBody, redriveBody, createLinkBody, createTokenBody };

export const adminRoutes = new Hono<AdminEnv>()
  // Before authentication, so the refusal is the same whatever credential comes along.
  .use("*", sameSiteOnly)
  .use("*", jsonBodiesOnly)
  .use("*", authenticate)
  .use("/events/:eventId", scopedToEvent)
  .use("/events/:eventId/*", scopedToEvent)
  .use("/tokens", globalOnly)
  .use("/tokens/*", globalOnly)
  .use("/processing/*", globalOnly)
  .get("/events", async (c) => {
    const events = await listEvents(database(c.env), c.get("principal"), c.req.query("include_archived") === "true");
    return c.json({ events: events.map(eventView) });
  })
  .post("/events", globalOnly, async (c) => {
    const body = await jsonBody(c, createEventBody);
    const { event, link } = await createEvent(database(c.env), body.name, toSettings(body), origin(c.req.url));
    annotate(c, { event_id: event.id });
    return c.json(
      {
        ...eventView(event),
        join_token: link.join_token,
        join_url: link.join_url,
        join_link: link,
        upload_url: `${origin(c.req.url)}/api/v1/events/${link.join_token}/uploads`,
      },
      201,
    );
  })
  .get("/events/:eventId", async (c) => c.json(eventView(await getEvent(database(c.env), c.req.param("eventId")))))
  .patch("/events/:eventId", async (c) => {
    const body = await jsonBody(c, updateEventBody);
    return c.json(eventView(await updateEvent(database(c.env), c.req.param("eventId"), toSettings(body))));
  })
  .post("/events/:eventId/archive", async (c) => {
    return c.json(eventView(await updateEvent(database(c.env), c.req.param("eventId"), { status: "archived" })));
  })
  .get("/events/:eventId/join-links", async (c) => {
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    await getEvent(db, eventId);
    return c.json({ join_links: await listJoinLinks(db, eventId) });
  })
  .post("/events/:eventId/join-links", async (c) => {
    const body = await jsonBody(c, createLinkBody);
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    await getEvent(db, eventId);
    const link = await createJoinLink(db, eventId, { label: body.label ?? null, expiresAt: body.expires_at ?? null }, origin(c.req.url));
    return c.json(link, 201);
  })
  .delete("/events/:eventId/join-links/:linkId", async (c) => {
    return c.json(await revokeJoinLink(database(c.env), c.req.param("eventId"), c.req.param("linkId")));
  })
  .get("/events/:eventId/uploads", async (c) => {
    const query = validated(uploadQuery, c.req.query());
    const page = await listUploads(database(c.env), c.req.param("eventId"), { statuses: query.status, deviceId: query.device_id }, { limit: query.limit, cursor: query.cursor });
    return c.json({ uploads: page.uploads.map(uploadView), next_cursor: page.nextCursor });
  })
  .get("/events/:eventId/stats", async (c) => {
    const db = database(c.env);
    await getEvent(db, c.req.param("eventId"));
    return c.json(await eventStats(db, c.req.param("eventId")));
  })
  .get("/events/:eventId/photos", async (c) => {
    const query = validated(photoQuery, c.req.query());
    const page = await listPhotos(
      database(c.env),
      c.req.param("eventId"),
      {
        status: query.status,
        approved: query.approved,
        deviceId: query.device_id,
        takenFrom: query.taken_from,
        takenTo: query.taken_to,
        uploadedFrom: query.uploaded_from,
        uploadedTo: query.uploaded_to,
      },
      { limit: query.limit, cursor: query.cursor },
    );
    return c.json({ photos: await Promise.all(page.photos.map((photo) => organiserView(c, photo))), next_cursor: page.nextCursor });
  })
  .get("/events/:eventId/photos/:photoId", async (c) =>
    c.json(await organiserView(c, await getPhoto(database(c.env), c.req.param("eventId"), c.req.param("photoId")))),
  )
  .post("/events/:eventId/photos/bulk", async (c) => {
    const body = await jsonBody(c, bulkBody);
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    // One photo's refusal does not stop the others; each gets its own outcome.
    const results = [];
    for (const photoId of body.photo_ids) {
      try {
        results.push({ photo_id: photoId, ok: true, photo: await organiserView(c, await moderated(c, await getPhoto(db, eventId, photoId), body.action)) });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        results.push({ photo_id: photoId, ok: false, error: { code: error.code, message: error.message } });
      }
    }
    return c.json({ results });
  })
  .post("/events/:eventId/photos/:photoId/:action{approve|hide|unhide}", async (c) => {
    const db = database(c.env);
    const photo = await getPhoto(db, c.req.param("eventId"), c.req.param("photoId"));
    annotate(c, { photo_id: photo.id });
    return c.json(await organiserView(c, await moderated(c, photo, c.req.param("action") as ModerationAction)));
  })
  .delete("/events/:eventId/photos/:photoId", async (c) => {
    const db = database(c.env);
    const photo = await getPhoto(db, c.req.param("eventId"), c.req.param("photoId"));
    annotate(c, { photo_id: photo.id });
    return c.json(await organiserView(c, await moderated(c, photo, "delete")));
  })
  .post("/events/:eventId/photos/redrive", async (c) => {
    const body = await jsonBody(c, redriveBody);
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return c.json(await redriveFailedPhotos(c.env, database(c.env), { eventIds: [eventId], photoIds: body.photo_ids }));
  })
  .post("/processing/redrive", async (c) => {
    // Everything the dead-letter queue failed, in every event (operators, after a fix).
    const result = await redriveFailedPhotos(c.env, database(c.env), { eventIds: null });
    annotate(c, { requeued: result.requeued });
    return c.json(result);
  })
  .post("/events/:eventId/download", async (c) => {
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    const contents = await archiveContents(c.env, eventId);
    return c.json({
      ...(await archiveUrl(c.env, origin(c.req.url), eventId)),
      photo_count: contents.length,
      bytes: contents.reduce((sum, entry) => sum + entry.size, 0),
    });
  })
  .post("/events/:eventId/live", async (c) => {
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return c.json(await liveTicket(c.env, origin(c.req.url), eventId, c.get("principal").credential));
  })
  .get("/events/:eventId/live", async (c) => {
    // For scripts that can send credentials with the upgrade; browsers use a ticket (POST).
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return connectLive(c.env, eventId, c.req.raw, origin(c.req.url), c.get("principal").credential);
  })
  .get("/tokens", async (c) => c.json({ tokens: await listAdminTokens(database(c.env)) }))
  .post("/tokens", async (c) => {
    const body = await jsonBody(c, createTokenBody);
    const expiresAt = body.expires_in_days ? Date.now() + body.expires_in_days * 86_400_000 : null;
    return c.json(await createAdminToken(database(c.env), { name: body.name, eventIds: body.event_ids ?? null, expiresAt }), 201);
  })
  .delete("/tokens/:tokenId", async (c) => c.json(await revokeAdminToken(database(c.env), c.req.param("tokenId"))));

