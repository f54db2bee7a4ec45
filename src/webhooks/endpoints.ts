/**
 * Organisers' webhook endpoints: one event's, or global (every event's). The URL is checked
 * here, where the deployment's settings are known; the secret is generated here, returned once
 * (at creation and at rotation) and otherwise never leaves D1 but as signatures.
 */
import { and, count, desc, eq, inArray, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { webhookAttempts, webhookDeliveries, webhookEndpoints, type WebhookEndpointRow, type WebhookEventType } from "../db/schema";
import { ApiError } from "../core/errors";
import { newId } from "../lib/crypto";
import { isoOrNull } from "../lib/time";
import { isNonPublicHost } from "./public-hosts";

/** Endpoints per event, and global ones: a cap on the deliveries one emission fans out to. */
export const MAX_ENDPOINTS_PER_SCOPE = 10;
export const MAX_URL_LENGTH = 2048;

/** Where an endpoint belongs: an event, or (null) every event. */
export type WebhookScope = string | null;

export interface EndpointFields {
  url: string;
  description: string | null;
  eventTypes: WebhookEventType[];
  enabled: boolean;
}

const invalidUrl = (message: string) => new ApiError({ status: 400, code: "invalid_webhook_url", message });

/** Hosts a deployment lets endpoints reach over plain http (WEBHOOK_INSECURE_HOSTS; local receivers only). */
function insecureHosts(env: Pick<Env, "WEBHOOK_INSECURE_HOSTS">): string[] {
  return (env.WEBHOOK_INSECURE_HOSTS as string)
    .split(",")
    .map((host) => host.trim().toLowerCase())
    .filter(Boolean);
}

/** The URL as it will be called: https to a public host (or http to a listed dev host), no credentials in it. */
function checkEndpointUrl(env: Pick<Env, "WEBHOOK_INSECURE_HOSTS">, raw: string): string {
  if (raw.length > MAX_URL_LENGTH) throw invalidUrl(`The URL is longer than ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidUrl("The URL is not an absolute URL.");
  }
  if (url.username || url.password) throw invalidUrl("The URL must not carry a user name or password; the signature authenticates each delivery.");
  const listed = insecureHosts(env).includes(url.hostname.toLowerCase());
  if (url.protocol !== "https:" && !(url.protocol === "http:" && listed)) throw invalidUrl("The URL must use https.");
  if (!listed && isNonPublicHost(url.hostname)) throw invalidUrl("The URL must name a public host, not localhost or a private, link-local or reserved address.");
  if (url.hash) throw invalidUrl("The URL must not have a fragment.");
  return url.href;
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export function endpointView(row: WebhookEndpointRow) {
  return {
    webhook_id: row.id,
    event_id: row.eventId,
    url: row.url,
    description: row.description,
    event_types: row.eventTypes,
    enabled: row.enabled,
    created_at: isoOrNull(row.createdAt)!,
    updated_at: isoOrNull(row.updatedAt)!,
  };
}

const inScope = (scope: WebhookScope) => (scope === null ? isNull(webhookEndpoints.eventId) : eq(webhookEndpoints.eventId, scope));

export async function listEndpoints(db: Database, scope: WebhookScope): Promise<WebhookEndpointRow[]> {
  return db.select().from(webhookEndpoints).where(inScope(scope)).orderBy(desc(webhookEndpoints.createdAt));
}

export async function getEndpoint(db: Database, scope: WebhookScope, id: string): Promise<WebhookEndpointRow> {
  const row = await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, id), inScope(scope))).get();
  if (!row) throw new ApiError({ status: 404, code: "webhook_not_found", message: "No such webhook endpoint here." });
  return row;
}

export async function createEndpoint(db: Database, env: Pick<Env, "WEBHOOK_INSECURE_HOSTS">, scope: WebhookScope, fields: EndpointFields) {
  const url = checkEndpointUrl(env, fields.url);
  const existing = (await db.select({ n: count() }).from(webhookEndpoints).where(inScope(scope)).get())!.n;
  if (existing >= MAX_ENDPOINTS_PER_SCOPE) {
    throw new ApiError({
      status: 409,
      code: "webhook_limit",
      message: `At most ${MAX_ENDPOINTS_PER_SCOPE} webhook endpoints ${scope === null ? "are global" : "per event"}; delete one first.`,
    });
  }
  const now = Date.now();
  const row: WebhookEndpointRow = {
    id: newId(),
    eventId: scope,
    url,
    description: fields.description,
    eventTypes: [...new Set(fields.eventTypes)],
    enabled: fields.enabled,
    secret: newSecret(),
    previousSecret: null,
    previousSecretUntil: null,
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(webhookEndpoints).values(row);
  return { ...endpointView(row), secret: row.secret };
}

export async function updateEndpoint(
  db: Database,
  env: Pick<Env, "WEBHOOK_INSECURE_HOSTS">,
  scope: WebhookScope,
  id: string,
  changes: Partial<EndpointFields>,
): Promise<WebhookEndpointRow> {
  const current = await getEndpoint(db, scope, id);
  const next: WebhookEndpointRow = {
    ...current,
    ...(changes.url !== undefined && { url: checkEndpointUrl(env, changes.url) }),
    ...(changes.description !== undefined && { description: changes.description }),
    ...(changes.eventTypes !== undefined && { eventTypes: [...new Set(changes.eventTypes)] }),
    ...(changes.enabled !== undefined && { enabled: changes.enabled }),
    updatedAt: Date.now(),
  };
  await db
    .update(webhookEndpoints)
    .set({ url: next.url, description: next.description, eventTypes: next.eventTypes, enabled: next.enabled, updatedAt: next.updatedAt })
    .where(eq(webhookEndpoints.id, id));
  return next;
}

/** How long deliveries still carry the old secret's signature after a rotation, so a receiver can switch without losing any. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** A new secret, signing every attempt from now on; the old one's signature goes along for ROTATION_OVERLAP_MS. */
export async function rotateSecret(db: Database, scope: WebhookScope, id: string) {
  const current = await getEndpoint(db, scope, id);
  const now = Date.now();
  const changes = { secret: newSecret(), previousSecret: current.secret, previousSecretUntil: now + ROTATION_OVERLAP_MS, updatedAt: now };
  await db.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, id));
  return { ...endpointView({ ...current, ...changes }), secret: changes.secret };
}

/** Deletes the endpoint with its deliveries and their log; a queued delivery then finds nothing to send. */
export async function deleteEndpoint(db: Database, scope: WebhookScope, id: string): Promise<WebhookEndpointRow> {
  const row = await getEndpoint(db, scope, id);
  const deliveryIds = db.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
  await db.batch([
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id)),
    db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)),
  ]);
  return row;
}
