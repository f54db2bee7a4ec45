/** Events and join tokens: resolving a guest's join token, and creating events (admin). */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, joinTokens, type EventRow, type JoinTokenRow } from "../db/schema";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import { ApiError } from "./errors";
import { eventDefaults } from "./limits";

export interface JoinedEvent {
  event: EventRow;
  joinToken: JoinTokenRow;
  tokenHash: string;
}

/** A join token looks like a 256-bit base64url secret; anything else is not worth a query. */
export const joinTokenPattern = /^[A-Za-z0-9_-]{16,128}$/;

/** Finds the event a guest's join token opens, refusing unknown, revoked and expired tokens. */
export async function resolveJoinToken(db: Database, token: string, now = Date.now()): Promise<JoinedEvent> {
  const notFound = new ApiError({ status: 404, code: "event_not_found", message: "This event link is not valid." });
  if (!joinTokenPattern.test(token)) throw notFound;
  const tokenHash = await sha256Hex(token);
  const found = await db
    .select({ event: events, joinToken: joinTokens })
    .from(joinTokens)
    .innerJoin(events, eq(events.id, joinTokens.eventId))
    .where(eq(joinTokens.tokenHash, tokenHash))
    .get();
  if (!found) throw notFound;
  if (found.joinToken.revokedAt !== null || (found.joinToken.expiresAt !== null && found.joinToken.expiresAt <= now)) {
    throw new ApiError({ status: 410, code: "join_link_expired", message: "This event link is no longer valid." });
  }
  return { ...found, tokenHash };
}

export type EventSettings = Partial<
  Pick<
    EventRow,
    | "status"
    | "maxFileSize"
    | "chunkSize"
    | "sessionTtlSeconds"
    | "maxConcurrentPerDevice"
    | "dailyCapPerDevice"
    | "allowedContentTypes"
    | "keepGps"
  >
>;

/** Creates an event with the default limits overridden by `settings`, and its first join token. */
export async function createEvent(
  db: Database,
  name: string,
  settings: EventSettings,
): Promise<{ event: EventRow; joinToken: string }> {
  const now = Date.now();
  const event: EventRow = {
    id: newId(),
    name,
    status: "open",
    ...eventDefaults,
    allowedContentTypes: [...eventDefaults.allowedContentTypes],
    ...Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)),
    createdAt: now,
    updatedAt: now,
  };
  const joinToken = randomSecret();
  await db.batch([
    db.insert(events).values(event),
    db.insert(joinTokens).values({
      id: newId(),
      eventId: event.id,
      tokenHash: await sha256Hex(joinToken),
      label: "default",
      createdAt: now,
    }),
  ]);
  return { event, joinToken };
}
