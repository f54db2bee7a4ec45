/**
 * The admin API, mounted at /api/v1/admin: a thin adapter over admin/. Every route passes the
 * authentication middleware (deny by default); routes under /events/:eventId also check the
 * principal's event scope, and a few routes are for global admins only.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { database } from "../db/client";
import { photoStatuses, uploadStatuses, type PhotoRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { hardLimits } from "../core/limits";
import { imageTypes } from "../lib/media-types";
import { authenticateAdmin, requireEvent, requireGlobal, type AdminPrincipal } from "../admin/auth";
import { createEvent, createJoinLink, getEvent, listEvents, listJoinLinks, revokeJoinLink, updateEvent, type EventSettings } from "../admin/events";
import { getPhoto, listDisplayNames, listPhotos, moderate, type ModerationAction } from "../admin/photos";
import { allMessages, listMessages, messagesCsv, messageView, moderateMessage } from "../core/guestbook";
import { cleanDisplayName } from "../core/words";
import { messageStatuses } from "../db/schema";
import { redriveFailedPhotos } from "../admin/processing";
import { createAdminToken, listAdminTokens, revokeAdminToken } from "../admin/tokens";
import { eventStats, listUploads } from "../admin/uploads";
import { listClaims, revokeClaim } from "../core/claims";
import {
  AdminTokenView,
  ClaimView,
  CreatedAdminToken,
  CreatedEvent,
  CreatedJoinLink,
  EventStats,
  EventView,
  JoinLinkView,
  RedriveResult,
  SignedUrl,
  ZipDownload,
  eventView,
} from "../admin/views";
import { PhotoView, UploadView, photoView, uploadView } from "../views/photos";
import { archiveContents } from "../downloads/archive";
import { webhookEventTypes } from "../db/schema";
import { emitEventClosed, emitModerated, sendTest } from "../webhooks/emit";
import { createEndpoint, deleteEndpoint, endpointView, getEndpoint, listEndpoints, rotateSecret, updateEndpoint, type WebhookScope } from "../webhooks/endpoints";
import { CreatedWebhook, WebhookDeliveryView, WebhookView, deliveryView, listDeliveries } from "../webhooks/views";
import { photoUrls } from "../downloads/photo-files";
import { announcePhoto, connectLive } from "../live/publish";
import { archiveUrl, liveTicket } from "./files";
import { annotate, type AppEnv } from "./context";
import { jsonBodiesOnly, sameSiteOnly } from "./cross-site";
import { ErrorBody, contractRouter, errors, json, jsonBody, jsonRequest, pathParams, security } from "./openapi";

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
  allowed_content_types: z.array(z.enum(imageTypes)).min(1),
  keep_gps: z.boolean(),
  starts_at: instant.nullable(),
  ends_at: instant.nullable(),
  uploads_open_at: instant.nullable(),
  uploads_close_at: instant.nullable(),
  moderation_mode: z.enum(["auto", "review"]),
  gallery_enabled: z.boolean(),
  /** The slideshow shows approved guestbook messages between photos. */
  slideshow_messages: z.boolean(),
  gallery_opens_at: instant.nullable(),
  max_photos_per_guest: z.number().int().min(1).max(100_000).nullable(),
  videos_allowed: z.boolean(),
  max_video_size: z.number().int().min(1).max(hardLimits.maxFileSize),
  max_video_duration_s: z.number().int().min(1).max(hardLimits.maxVideoDurationSeconds),
};
const createEventBody = z
  .object(settingsFields)
  .partial()
  .required({ name: true })
  .strict()
  .openapi("CreateEventBody", { example: { name: "Ana & Ben's wedding", moderation_mode: "review", gallery_enabled: true } });
const updateEventBody = z
  .object(settingsFields)
  .partial()
  .strict()
  .openapi("UpdateEventBody", { example: { status: "closed", keep_gps: false } });

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
    slideshowMessages: body.slideshow_messages,
    galleryOpensAt: body.gallery_opens_at,
    maxPhotosPerGuest: body.max_photos_per_guest,
    videosAllowed: body.videos_allowed,
    maxVideoSize: body.max_video_size,
    maxVideoDurationSeconds: body.max_video_duration_s,
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
    /** The guest's name, exactly; empty for photos without one. */
    display_name: z
      .string()
      .max(240)
      .transform((name) => cleanDisplayName(name) || null)
      .optional()
      .openapi({ description: "The guest's name, exactly (empty: photos without a name)" }),
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

const bulkBody = z
  .object({ action: z.enum(moderationActions), photo_ids: z.array(z.string().min(1).max(64)).min(1).max(100) })
  .strict()
  .openapi("BulkModerationBody", { example: { action: "approve", photo_ids: ["0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"] } });

const redriveBody = z
  .object({ photo_ids: z.array(z.string().min(1).max(64)).min(1).max(90).optional() })
  .strict()
  .openapi("RedriveBody", { example: {} });
const createLinkBody = z
  .object({ label: z.string().trim().min(1).max(100).optional(), expires_at: instant.optional() })
  .strict()
  .openapi("CreateJoinLinkBody", { example: { label: "Table cards", expires_at: "2030-06-21T06:00:00Z" } });
const createTokenBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    event_ids: z.array(z.uuid()).min(1).max(100).optional(),
    expires_in_days: z.number().int().min(1).max(3650).optional(),
  })
  .strict()
  .openapi("CreateAdminTokenBody", { example: { name: "Photo booth", expires_in_days: 30 } });
const origin = (url: string) => new URL(url).origin;

/** A photo as organisers see it, with signed URLs of its files. */
const organiserView = async (c: AdminContext, photo: PhotoRow) => photoView(photo, await photoUrls(c.env, origin(c.req.url), photo, "organiser"));

/** Moderates and tells the event's dashboards. */
async function moderated(c: AdminContext, photo: PhotoRow, action: ModerationAction): Promise<PhotoRow> {
  const result = await moderate(database(c.env), c.env.PHOTOS, photo, action);
  c.executionCtx.waitUntil(announcePhoto(c.env, photo.id));
  await emitModerated(c.env, result, action);
  return result;
}

/** Updates the event; when that stops its uploads (closed or archived while open), webhooks hear of it. */
async function updateAndAnnounce(c: AdminContext, settings: EventSettings) {
  const { before, after } = await updateEvent(database(c.env), c.req.param("eventId")!, settings);
  if (before.status === "open" && after.status !== "open") await emitEventClosed(c.env, after);
  return after;
}

/** What every admin route may answer besides its own: bad input, no or wrong credentials, another site, not JSON, not yours. */
const adminErrors = (...more: number[]) => errors(400, 401, 403, 404, 415, ...more);

/** What every admin route declares: its tag and the admin credentials. */
const admin = { tags: ["admin"], security: security.admin };

const eventParams = pathParams("eventId");
const photoParams = pathParams("eventId", "photoId");
const moderationParams = z.object({
  eventId: z.string(),
  photoId: z.string(),
  action: z.enum(["approve", "hide", "unhide"]).openapi({ param: { name: "action", in: "path" } }),
});
const withBody = (maxBytes?: number) => [jsonRequest(maxBytes)];

export const adminRoutes = contractRouter<AdminEnv>();
// Before authentication, so the refusal is the same whatever credential comes along.
adminRoutes.use("*", sameSiteOnly);
adminRoutes.use("*", jsonBodiesOnly);
adminRoutes.use("*", authenticate);
adminRoutes.use("/events/:eventId", scopedToEvent);
adminRoutes.use("/events/:eventId/*", scopedToEvent);
adminRoutes.use("/tokens", globalOnly);
adminRoutes.use("/tokens/*", globalOnly);
adminRoutes.use("/processing/*", globalOnly);
adminRoutes.use("/webhooks", globalOnly);
adminRoutes.use("/webhooks/*", globalOnly);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events",
    summary: "List events (`include_archived=true` for all)",
    request: { query: z.object({ include_archived: z.enum(["true", "false"]).optional() }) },
    responses: { 200: json(z.object({ events: z.array(EventView) }), "The events this credential may see"), ...adminErrors() },
  }),
  async (c) => {
    const events = await listEvents(database(c.env), c.get("principal"), c.req.valid("query").include_archived === "true");
    return c.json({ events: events.map(eventView) }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events",
    summary: "Create an event (global admins)",
    middleware: [globalOnly, ...withBody()] as const,
    request: { body: jsonBody(createEventBody) },
    responses: { 201: json(CreatedEvent, "The event, with its first join link and QR code"), ...adminErrors() },
  }),
  async (c) => {
    const body = c.req.valid("json");
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
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "get", path: "/events/{eventId}", summary: "Read an event", request: { params: eventParams }, responses: { 200: json(EventView, "The event"), ...adminErrors() } }),
  async (c) => c.json(eventView(await getEvent(database(c.env), c.req.param("eventId"))), 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "patch",
    path: "/events/{eventId}",
    summary: "Update an event's settings",
    middleware: withBody(),
    request: { params: eventParams, body: jsonBody(updateEventBody) },
    responses: { 200: json(EventView, "The event"), ...adminErrors() },
  }),
  async (c) => c.json(eventView(await updateAndAnnounce(c, toSettings(c.req.valid("json")))), 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "post", path: "/events/{eventId}/archive", summary: "Archive an event", request: { params: eventParams }, responses: { 200: json(EventView, "The event"), ...adminErrors() } }),
  async (c) => c.json(eventView(await updateAndAnnounce(c, { status: "archived" })), 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/join-links",
    summary: "List join links",
    request: { params: eventParams },
    responses: { 200: json(z.object({ join_links: z.array(JoinLinkView) }), "The event's join links, newest first"), ...adminErrors() },
  }),
  async (c) => {
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    await getEvent(db, eventId);
    return c.json({ join_links: await listJoinLinks(db, eventId) }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/join-links",
    summary: "Create a join link (its token and QR SVG are shown once)",
    middleware: withBody(),
    request: { params: eventParams, body: jsonBody(createLinkBody) },
    responses: { 201: json(CreatedJoinLink, "The link"), ...adminErrors() },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    await getEvent(db, eventId);
    const link = await createJoinLink(db, eventId, { label: body.label ?? null, expiresAt: body.expires_at ?? null }, origin(c.req.url));
    return c.json(link, 201);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "delete",
    path: "/events/{eventId}/join-links/{linkId}",
    summary: "Revoke a join link",
    request: { params: pathParams("eventId", "linkId") },
    responses: { 200: json(JoinLinkView, "The link"), ...adminErrors() },
  }),
  async (c) => c.json(await revokeJoinLink(database(c.env), c.req.param("eventId"), c.req.param("linkId")), 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/claims",
    summary: "The codes guests made to open their uploads on another device (never the codes themselves)",
    request: { params: eventParams },
    responses: { 200: json(z.object({ claims: z.array(ClaimView) }), "The event's claims, newest first"), ...adminErrors() },
  }),
  async (c) => {
    const db = database(c.env);
    const eventId = c.req.param("eventId");
    await getEvent(db, eventId);
    return c.json({ claims: await listClaims(db, eventId) }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "delete",
    path: "/events/{eventId}/claims/{claimId}",
    summary: "Revoke a claim: its code opens nothing from now on",
    request: { params: pathParams("eventId", "claimId") },
    responses: { 200: json(ClaimView, "The claim"), ...adminErrors() },
  }),
  async (c) => {
    annotate(c, { claim_id: c.req.param("claimId") });
    return c.json(await revokeClaim(database(c.env), c.req.param("eventId"), c.req.param("claimId")), 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/uploads",
    summary: "Upload sessions: in flight, failed, expired (keyset pages)",
    request: { params: eventParams, query: uploadQuery },
    responses: { 200: json(z.object({ uploads: z.array(UploadView), next_cursor: z.string().nullable() }), "A page of upload sessions"), ...adminErrors() },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await listUploads(database(c.env), c.req.param("eventId"), { statuses: query.status, deviceId: query.device_id }, { limit: query.limit, cursor: query.cursor });
    return c.json({ uploads: page.uploads.map(uploadView), next_cursor: page.nextCursor }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "get", path: "/events/{eventId}/stats", summary: "Per-event stats", request: { params: eventParams }, responses: { 200: json(EventStats, "Counts, bytes, devices, failure rates, uploads over time"), ...adminErrors() } }),
  async (c) => {
    const db = database(c.env);
    await getEvent(db, c.req.param("eventId"));
    return c.json(await eventStats(db, c.req.param("eventId")), 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/photos",
    summary: "Photos with filters (keyset pages)",
    request: { params: eventParams, query: photoQuery },
    responses: { 200: json(z.object({ photos: z.array(PhotoView), next_cursor: z.string().nullable() }), "A page of photos, with signed URLs"), ...adminErrors() },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const page = await listPhotos(
      database(c.env),
      c.req.param("eventId"),
      {
        status: query.status,
        approved: query.approved,
        deviceId: query.device_id,
        displayName: query.display_name,
        takenFrom: query.taken_from,
        takenTo: query.taken_to,
        uploadedFrom: query.uploaded_from,
        uploadedTo: query.uploaded_to,
      },
      { limit: query.limit, cursor: query.cursor },
    );
    return c.json({ photos: await Promise.all(page.photos.map((photo) => organiserView(c, photo))), next_cursor: page.nextCursor }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "get", path: "/events/{eventId}/photos/{photoId}", summary: "Read a photo", request: { params: photoParams }, responses: { 200: json(PhotoView, "The photo, with signed URLs"), ...adminErrors() } }),
  async (c) => c.json(await organiserView(c, await getPhoto(database(c.env), c.req.param("eventId"), c.req.param("photoId"))), 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/photos/bulk",
    summary: "Moderate many photos; each gets its own outcome",
    middleware: withBody(),
    request: { params: eventParams, body: jsonBody(bulkBody) },
    responses: {
      200: json(
        z.object({
          results: z.array(
            z.object({
              photo_id: z.string(),
              ok: z.boolean(),
              photo: PhotoView.optional(),
              error: ErrorBody.shape.error.pick({ code: true, message: true }).optional(),
            }),
          ),
        }),
        "One outcome per photo, in the order asked",
      ), ...adminErrors() },
  }),
  async (c) => {
    const body = c.req.valid("json");
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
    return c.json({ results }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/photos/{photoId}/{action}",
    summary: "Approve, hide or unhide a photo",
    request: { params: moderationParams },
    responses: { 200: json(PhotoView, "The photo"), ...adminErrors() },
  }),
  async (c) => {
    const db = database(c.env);
    const photo = await getPhoto(db, c.req.param("eventId"), c.req.param("photoId"));
    annotate(c, { photo_id: photo.id });
    return c.json(await organiserView(c, await moderated(c, photo, c.req.valid("param").action)), 200);
  },
  // Another action is another route, which does not exist.
  (result) => {
    if (!result.success) throw new ApiError({ status: 404, code: "not_found", message: "No such route." });
    return undefined;
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "delete", path: "/events/{eventId}/photos/{photoId}", summary: "Delete a photo and its files", request: { params: photoParams }, responses: { 200: json(PhotoView, "The photo"), ...adminErrors() } }),
  async (c) => {
    const db = database(c.env);
    const photo = await getPhoto(db, c.req.param("eventId"), c.req.param("photoId"));
    annotate(c, { photo_id: photo.id });
    return c.json(await organiserView(c, await moderated(c, photo, "delete")), 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/photos/redrive",
    summary: "Re-drive photos the dead-letter queue failed (all, or `photo_ids`)",
    middleware: withBody(),
    request: { params: eventParams, body: jsonBody(redriveBody) },
    responses: { 200: json(RedriveResult, "What was requeued"), ...adminErrors() },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return c.json(await redriveFailedPhotos(c.env, database(c.env), { eventIds: [eventId], photoIds: body.photo_ids }), 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/processing/redrive",
    summary: "Re-drive every photo the dead-letter queue failed, in all events (global admins)",
    responses: { 200: json(RedriveResult, "What was requeued; call again while `requeued` is 500"), ...adminErrors() },
  }),
  async (c) => {
    // Everything the dead-letter queue failed, in every event (operators, after a fix).
    const result = await redriveFailedPhotos(c.env, database(c.env), { eventIds: null });
    annotate(c, { requeued: result.requeued });
    return c.json(result, 200);
  },
);

// --- Guests' names and guestbook messages (core/words.ts, core/guestbook.ts) ---

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/names",
    summary: "The names guests gave with their photos, with a count each (null: photos without one)",
    request: { params: eventParams },
    responses: { 200: json(z.object({ names: z.array(z.object({ display_name: z.string().nullable(), photos: z.number().int() })) }), "The names, in order"), ...adminErrors() },
  }),
  async (c) => {
    const db = database(c.env);
    await getEvent(db, c.req.param("eventId"));
    return c.json({ names: await listDisplayNames(db, c.req.param("eventId")) }, 200);
  },
);

const MessageView = z
  .object({
    message_id: z.string(),
    display_name: z.string().nullable(),
    body: z.string(),
    status: z.enum(messageStatuses),
    approved: z.boolean(),
    device_id: z.string(),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("MessageView");
const messageFilters = {
  status: z.enum(messageStatuses).optional(),
  approved: z.enum(["true", "false"]).transform((value) => value === "true").optional(),
};
const messageQuery = z
  .object({ ...messageFilters, limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(500).optional() })
  .strict();

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/messages",
    summary: "Guestbook messages, newest first (keyset pages)",
    request: { params: eventParams, query: messageQuery },
    responses: { 200: json(z.object({ messages: z.array(MessageView), next_cursor: z.string().nullable() }), "A page of messages"), ...adminErrors() },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const db = database(c.env);
    await getEvent(db, c.req.param("eventId"));
    const page = await listMessages(db, c.req.param("eventId"), query, { limit: query.limit, cursor: query.cursor });
    return c.json({ messages: page.messages.map(messageView), next_cursor: page.nextCursor }, 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/messages.csv",
    summary: "Guestbook messages as CSV, oldest first (cells that would be formulas are made inert)",
    request: { params: eventParams, query: z.object(messageFilters).strict() },
    responses: { 200: { description: "The CSV", content: { "text/csv": { schema: z.string() } } }, ...adminErrors() },
  }),
  async (c) => {
    const db = database(c.env);
    const event = await getEvent(db, c.req.param("eventId"));
    const csv = messagesCsv(await allMessages(db, event.id, c.req.valid("query")));
    return c.body(csv, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="messages.csv"`,
      "Cache-Control": "no-store",
    });
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/messages/{messageId}/{action}",
    summary: "Approve, hide or show again a guestbook message",
    request: {
      params: z.object({ eventId: z.string(), messageId: z.string(), action: z.enum(["approve", "hide", "unhide"]).openapi({ param: { name: "action", in: "path" } }) }),
    },
    responses: { 200: json(MessageView, "The message"), ...adminErrors() },
  }),
  async (c) => {
    const { eventId, messageId, action } = c.req.valid("param");
    annotate(c, { message_id: messageId });
    return c.json(messageView(await moderateMessage(database(c.env), eventId, messageId, action)), 200);
  },
  (result) => {
    if (!result.success) throw new ApiError({ status: 404, code: "not_found", message: "No such route." });
    return undefined;
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/download",
    summary: "A signed link to the ZIP of the approved photos (and approved messages, as messages.csv)",
    request: {
      params: eventParams,
      query: z.object({
        folders: z.enum(["none", "names"]).default("none").openapi({ description: "`names`: each guest's photos in a folder of their name (\"Unnamed\" for photos without one)" }),
      }),
    },
    responses: { 200: json(ZipDownload, "The link (valid minutes), with what the ZIP will hold"), ...adminErrors() },
  }),
  async (c) => {
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    const layout = c.req.valid("query").folders;
    const contents = await archiveContents(c.env, eventId, layout);
    return c.json(
      {
        ...(await archiveUrl(c.env, origin(c.req.url), eventId, layout)),
        photo_count: contents.length,
        bytes: contents.reduce((sum, entry) => sum + entry.size, 0),
      },
      200,
    );
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/events/{eventId}/live",
    summary: "A single-use signed ticket URL for the live WebSocket (valid a minute)",
    request: { params: eventParams },
    responses: { 200: json(SignedUrl, "The ws(s):// URL"), ...adminErrors() },
  }),
  async (c) => {
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return c.json(await liveTicket(c.env, origin(c.req.url), eventId, c.get("principal").credential), 200);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "get",
    path: "/events/{eventId}/live",
    summary: "The live WebSocket, for clients that send credentials",
    request: { params: eventParams },
    responses: { 101: { description: "Switching protocols; JSON messages `hello`, `upload`, `photo`" }, ...adminErrors(), ...errors(426) },
  }),
  async (c) => {
    // For scripts that can send credentials with the upgrade; browsers use a ticket (POST).
    const eventId = c.req.param("eventId");
    await getEvent(database(c.env), eventId);
    return connectLive(c.env, eventId, c.req.raw, origin(c.req.url), c.get("principal").credential);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "get", path: "/tokens", summary: "List admin tokens (global admins)", responses: { 200: json(z.object({ tokens: z.array(AdminTokenView) }), "The tokens"), ...adminErrors() } }),
  async (c) => c.json({ tokens: await listAdminTokens(database(c.env)) }, 200),
);

adminRoutes.openapi(
  createRoute({
    ...admin,
    method: "post",
    path: "/tokens",
    summary: "Create an admin token, optionally scoped to events (shown once)",
    middleware: withBody(),
    request: { body: jsonBody(createTokenBody) },
    responses: { 201: json(CreatedAdminToken, "The token"), ...adminErrors() },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const expiresAt = body.expires_in_days ? Date.now() + body.expires_in_days * 86_400_000 : null;
    return c.json(await createAdminToken(database(c.env), { name: body.name, eventIds: body.event_ids ?? null, expiresAt }), 201);
  },
);

adminRoutes.openapi(
  createRoute({
    ...admin, method: "delete", path: "/tokens/{tokenId}", summary: "Revoke an admin token", request: { params: pathParams("tokenId") }, responses: { 200: json(AdminTokenView, "The token"), ...adminErrors() } }),
  async (c) => c.json(await revokeAdminToken(database(c.env), c.req.param("tokenId")), 200),
);

const webhookFields = {
  url: z.string().max(4096).openapi({ description: "https (plain http only to hosts in WEBHOOK_INSECURE_HOSTS, for local receivers); no credentials in it" }),
  description: z.string().trim().max(200).nullable(),
  event_types: z.array(z.enum(webhookEventTypes)).min(1).max(webhookEventTypes.length),
  enabled: z.boolean(),
};
const createWebhookBody = z
  .object(webhookFields)
  .partial({ description: true, enabled: true })
  .strict()
  .openapi("CreateWebhookBody", { example: { url: "https://hooks.example.com/photos", event_types: ["photo.ready", "event.closed"] } });
const updateWebhookBody = z.object(webhookFields).partial().strict().openapi("UpdateWebhookBody", { example: { enabled: false } });
const deliveryQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(50).default(20), cursor: z.string().max(32).optional() })
  .strict();

/**
 * The same webhook routes for one event's endpoints (organisers, scoped tokens included) and
 * for global ones (every event's; global admins only, by the middleware on /webhooks).
 */
function webhookRoutes(base: "/events/{eventId}/webhooks" | "/webhooks") {
  const scoped = base.startsWith("/events/");
  const scopeParams = scoped ? (["eventId"] as const) : ([] as const);
  const listParams = pathParams(...scopeParams);
  const itemParams = pathParams(...scopeParams, "webhookId");
  const where = scoped ? "this event's" : "global (every event's)";
  /** The endpoints' scope, after checking the event exists. */
  const scopeOf = async (c: AdminContext): Promise<WebhookScope> => {
    if (!scoped) return null;
    const eventId = c.req.param("eventId")!;
    await getEvent(database(c.env), eventId);
    return eventId;
  };
  const endpointOf = async (c: AdminContext) => {
    const endpoint = await getEndpoint(database(c.env), await scopeOf(c), c.req.param("webhookId")!);
    annotate(c, { webhook_id: endpoint.id });
    return endpoint;
  };

  adminRoutes.openapi(
    createRoute({ ...admin, method: "get", path: base, summary: `List ${where} webhook endpoints`, request: { params: listParams }, responses: { 200: json(z.object({ webhooks: z.array(WebhookView) }), "The endpoints, newest first (never their secrets)"), ...adminErrors() } }),
    async (c) => c.json({ webhooks: (await listEndpoints(database(c.env), await scopeOf(c))).map(endpointView) }, 200),
  );

  adminRoutes.openapi(
    createRoute({
      ...admin,
      method: "post",
      path: base,
      summary: `Add a ${scoped ? "" : "global "}webhook endpoint (its signing secret is shown once)`,
      middleware: withBody(),
      request: { params: listParams, body: jsonBody(createWebhookBody) },
      responses: { 201: json(CreatedWebhook, "The endpoint, with its secret"), ...adminErrors(409) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const created = await createEndpoint(database(c.env), c.env, await scopeOf(c), {
        url: body.url,
        description: body.description ?? null,
        eventTypes: body.event_types,
        enabled: body.enabled ?? true,
      });
      annotate(c, { webhook_id: created.webhook_id });
      return c.json(created, 201);
    },
  );

  adminRoutes.openapi(
    createRoute({
      ...admin,
      method: "patch",
      path: `${base}/{webhookId}`,
      summary: "Change a webhook endpoint (URL, event types, description, enabled)",
      middleware: withBody(),
      request: { params: itemParams, body: jsonBody(updateWebhookBody) },
      responses: { 200: json(WebhookView, "The endpoint"), ...adminErrors() },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const endpoint = await endpointOf(c);
      const updated = await updateEndpoint(database(c.env), c.env, endpoint.eventId, endpoint.id, {
        url: body.url,
        description: body.description,
        eventTypes: body.event_types,
        enabled: body.enabled,
      });
      return c.json(endpointView(updated), 200);
    },
  );

  adminRoutes.openapi(
    createRoute({ ...admin, method: "delete", path: `${base}/{webhookId}`, summary: "Delete a webhook endpoint and its delivery log", request: { params: itemParams }, responses: { 200: json(WebhookView, "The deleted endpoint"), ...adminErrors() } }),
    async (c) => {
      const endpoint = await endpointOf(c);
      return c.json(endpointView(await deleteEndpoint(database(c.env), endpoint.eventId, endpoint.id)), 200);
    },
  );

  adminRoutes.openapi(
    createRoute({
      ...admin,
      method: "post",
      path: `${base}/{webhookId}/rotate-secret`,
      summary: "Replace a webhook endpoint's signing secret (the new one is shown once; for 24 hours deliveries also carry the old one's signature)",
      request: { params: itemParams },
      responses: { 200: json(CreatedWebhook, "The endpoint, with its new secret"), ...adminErrors() },
    }),
    async (c) => {
      const endpoint = await endpointOf(c);
      return c.json(await rotateSecret(database(c.env), endpoint.eventId, endpoint.id), 200);
    },
  );

  adminRoutes.openapi(
    createRoute({
      ...admin,
      method: "post",
      path: `${base}/{webhookId}/test`,
      summary: "Queue a signed `webhook.test` delivery to the endpoint (also while it is disabled)",
      request: { params: itemParams },
      responses: { 202: json(WebhookDeliveryView, "The queued delivery; its attempts appear in the delivery log"), ...adminErrors() },
    }),
    async (c) => {
      const endpoint = await endpointOf(c);
      return c.json(deliveryView(await sendTest(c.env, endpoint), []), 202);
    },
  );

  adminRoutes.openapi(
    createRoute({
      ...admin,
      method: "get",
      path: `${base}/{webhookId}/deliveries`,
      summary: "The delivery log: deliveries newest first, each with every attempt (keyset pages)",
      request: { params: itemParams, query: deliveryQuery },
      responses: { 200: json(z.object({ deliveries: z.array(WebhookDeliveryView), next_cursor: z.string().nullable() }), "A page of deliveries"), ...adminErrors() },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const endpoint = await endpointOf(c);
      return c.json(await listDeliveries(database(c.env), endpoint.id, { limit: query.limit, cursor: query.cursor }), 200);
    },
  );
}

webhookRoutes("/events/{eventId}/webhooks");
webhookRoutes("/webhooks");
