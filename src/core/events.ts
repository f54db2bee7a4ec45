/** Resolving a guest's join token to its event (the admin side of events is in admin/events.ts). */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, joinTokens, type EventRow, type JoinTokenRow } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { ApiError } from "./errors";

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
