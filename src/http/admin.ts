/** The admin API (for now: creating events). Mounted at /api/v1/admin; deny by default. */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { database } from "../db/client";
import { ApiError } from "../core/errors";
import { createEvent } from "../core/events";
import { hardLimits } from "../core/limits";
import { digestsEqual, sha256Hex } from "../lib/crypto";
import { annotate, type AppEnv } from "./context";
import { jsonBody } from "./validation";

/** Requires `Authorization: Bearer <ADMIN_TOKEN>`; with no ADMIN_TOKEN configured, nobody passes. */
const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const presented = c.req.header("authorization")?.match(/^Bearer (\S+)$/)?.[1];
  const configured = c.env.ADMIN_TOKEN;
  const [presentedHash, configuredHash] = await Promise.all([sha256Hex(presented ?? ""), sha256Hex(configured ?? "")]);
  if (!presented || !configured || !digestsEqual(presentedHash, configuredHash)) {
    throw new ApiError({
      status: 401,
      code: "unauthorized",
      message: "An admin token is required (Authorization: Bearer <token>).",
      headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
    });
  }
  await next();
};

const createEventBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    status: z.enum(["open", "closed"]).optional(),
    max_file_size: z.number().int().min(1).max(hardLimits.maxFileSize).optional(),
    chunk_size: z.number().int().min(hardLimits.minChunkSize).max(hardLimits.maxChunkSize).optional(),
    session_ttl_seconds: z.number().int().min(60).max(hardLimits.maxSessionTtlSeconds).optional(),
    max_concurrent_uploads_per_device: z.number().int().min(1).max(100).optional(),
    daily_upload_cap_per_device: z.number().int().min(1).max(100_000).optional(),
    allowed_content_types: z
      .array(z.enum(["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]))
      .min(1)
      .optional(),
    keep_gps: z.boolean().optional(),
  })
  .strict();

export const adminRoutes = new Hono<AppEnv>().use("*", requireAdmin).post("/events", async (c) => {
  const body = await jsonBody(c, createEventBody);
  const { event, joinToken } = await createEvent(database(c.env), body.name, {
    status: body.status,
    maxFileSize: body.max_file_size,
    chunkSize: body.chunk_size,
    sessionTtlSeconds: body.session_ttl_seconds,
    maxConcurrentPerDevice: body.max_concurrent_uploads_per_device,
    dailyCapPerDevice: body.daily_upload_cap_per_device,
    allowedContentTypes: body.allowed_content_types,
    keepGps: body.keep_gps,
  });
  annotate(c, { event_id: event.id });
  const origin = new URL(c.req.url).origin;
  return c.json(
    {
      event_id: event.id,
      name: event.name,
      status: event.status,
      join_token: joinToken,
      upload_url: `${origin}/api/v1/events/${joinToken}/uploads`,
      max_file_size: event.maxFileSize,
      chunk_size: event.chunkSize,
      session_ttl_seconds: event.sessionTtlSeconds,
      max_concurrent_uploads_per_device: event.maxConcurrentPerDevice,
      daily_upload_cap_per_device: event.dailyCapPerDevice,
      allowed_content_types: event.allowedContentTypes,
      keep_gps: event.keepGps,
    },
    201,
  );
});
