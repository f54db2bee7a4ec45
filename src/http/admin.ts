/**
 * The admin API, mounted at /api/v1/admin: a thin adapter over admin/. Every route passes the
 * authentication middleware (deny by default); routes under /events/:eventId also check the
 * principal's event scope, and a few routes are for global admins only.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { database } from "../db/client";
import type { EventRow } from "../db/schema";
import { hardLimits } from "../core/limits";
import { authenticateAdmin, requireEvent, requireGlobal, type AdminPrincipal } from "../admin/auth";
import { createEvent, createJoinLink, getEvent, listEvents, listJoinLinks, revokeJoinLink, updateEvent, type EventSettings } from "../admin/events";
import { createAdminToken, listAdminTokens, revokeAdminToken } from "../admin/tokens";
import { annotate, type AppEnv } from "./context";
import { jsonBody } from "./validation";

type AdminEnv = AppEnv & { Variables: AppEnv["Variables"] & { principal: AdminPrincipal } };

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

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function eventView(event: EventRow) {
  return {
    event_id: event.id,
    name: event.name,
    status: event.status,
    max_file_size: event.maxFileSize,
    chunk_size: event.chunkSize,
    session_ttl_seconds: event.sessionTtlSeconds,
    max_concurrent_uploads_per_device: event.maxConcurrentPerDevice,
    daily_upload_cap_per_device: event.dailyCapPerDevice,
    allowed_content_types: event.allowedContentTypes,
    keep_gps: event.keepGps,
    starts_at: iso(event.startsAt),
    ends_at: iso(event.endsAt),
    uploads_open_at: iso(event.uploadsOpenAt),
    uploads_close_at: iso(event.uploadsCloseAt),
    moderation_mode: event.moderationMode,
    gallery_enabled: event.galleryEnabled,
    created_at: iso(event.createdAt),
    updated_at: iso(event.updatedAt),
  };
}

const createLinkBody = z.object({ label: z.string().trim().min(1).max(100).optional(), expires_at: instant.optional() }).strict();
const createTokenBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    event_ids: z.array(z.uuid()).min(1).max(100).optional(),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
const origin = (url: string) => new URL(url).origin;

export const adminRoutes = new Hono<AdminEnv>()
  .use("*", authenticate)
  .use("/events/:eventId", scopedToEvent)
  .use("/events/:eventId/*", scopedToEvent)
  .use("/tokens", globalOnly)
  .use("/tokens/*", globalOnly)
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
  .get("/tokens", async (c) => c.json({ tokens: await listAdminTokens(database(c.env)) }))
  .post("/tokens", async (c) => {
    const body = await jsonBody(c, createTokenBody);
    const expiresAt = body.expires_in_days ? Date.now() + body.expires_in_days * 86_400_000 : null;
    return c.json(await createAdminToken(database(c.env), { name: body.name, eventIds: body.event_ids ?? null, expiresAt }), 201);
  })
  .delete("/tokens/:tokenId", async (c) => c.json(await revokeAdminToken(database(c.env), c.req.param("tokenId"))));

