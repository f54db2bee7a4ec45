/** Organisers' side of events and their join links. */
import { and, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { renderSVG } from "uqr";
import type { Database } from "../db/client";
import { inList } from "../db/lists";
import { events, joinTokens, photos, type EventRow, type JoinTokenRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { eventDefaults } from "../core/limits";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import type { AdminPrincipal } from "./auth";
import { isoOrNull } from "../lib/time";

export type EventSettings = Partial<Omit<EventRow, "id" | "createdAt" | "updatedAt">>;

const withoutUndefined = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;

/** Creates an event with the default limits overridden by `settings`, and its first join link. */
export async function createEvent(db: Database, name: string, settings: EventSettings, origin: string) {
  const now = Date.now();
  const event: EventRow = {
    id: newId(),
    name,
    status: "open",
    ...eventDefaults,
    allowedContentTypes: [...eventDefaults.allowedContentTypes],
    startsAt: null,
    endsAt: null,
    uploadsOpenAt: null,
    uploadsCloseAt: null,
    ...withoutUndefined(settings),
    createdAt: now,
    updatedAt: now,
  };
  await db.insert(events).values(event);
  const link = await createJoinLink(db, event.id, { label: "default", expiresAt: null }, origin);
  return { event, link };
}

export async function listEvents(db: Database, principal: AdminPrincipal, includeArchived: boolean): Promise<EventRow[]> {
  const filters: SQL[] = [];
  if (principal.eventIds !== null) filters.push(inList(events.id, principal.eventIds));
  if (!includeArchived) filters.push(inArray(events.status, ["open", "closed"]));
  return db.select().from(events).where(and(...filters)).orderBy(desc(events.createdAt)).limit(500);
}

export async function getEvent(db: Database, eventId: string): Promise<EventRow> {
  const event = await db.select().from(events).where(eq(events.id, eventId)).get();
  if (!event) throw new ApiError({ status: 404, code: "event_not_found", message: "No such event." });
  return event;
}

/** Applies `settings`; answers the event as it was and as it now is. */
export async function updateEvent(db: Database, eventId: string, settings: EventSettings): Promise<{ before: EventRow; after: EventRow }> {
  const current = await getEvent(db, eventId);
  if (current.status === "archived" && settings.status !== undefined && settings.status !== "archived") {
    throw new ApiError({ status: 409, code: "event_archived", message: "An archived event cannot be reopened." });
  }
  const changes = withoutUndefined(settings);
  const next = { ...current, ...changes };
  if (next.uploadsOpenAt !== null && next.uploadsCloseAt !== null && next.uploadsOpenAt >= next.uploadsCloseAt) {
    throw new ApiError({ status: 400, code: "invalid_request", message: "The upload window must open before it closes." });
  }
  // updated_at moves on with every change, even two in one millisecond: a guest's create checks
  // the event unchanged since it was read by it (core/admission.ts).
  const updatedAt = sql`max(${Date.now()}, ${events.updatedAt} + 1)`;
  const update = db.update(events).set({ ...changes, updatedAt }).where(eq(events.id, eventId));
  if (changes.keepGps === false) {
    // Not keeping locations means forgetting those recorded while the event kept them.
    await db.batch([update, db.update(photos).set({ gpsLatitude: null, gpsLongitude: null }).where(eq(photos.eventId, eventId))]);
  } else {
    await update;
  }
  return { before: current, after: await getEvent(db, eventId) };
}

/** A join link as organisers see it; the token itself appears only when the link is created. */
export interface JoinLinkView {
  id: string;
  label: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

export interface CreatedJoinLink extends JoinLinkView {
  join_token: string;
  join_url: string;
  /** The join URL as a QR code (SVG), for printing on table cards. */
  qr_svg: string;
}


function linkView(row: JoinTokenRow): JoinLinkView {
  return { id: row.id, label: row.label, expires_at: isoOrNull(row.expiresAt), revoked_at: isoOrNull(row.revokedAt), created_at: isoOrNull(row.createdAt)! };
}

/** Where a guest lands: the guest app at the join link (the web app reads the token from it). */
export const joinUrl = (origin: string, token: string) => `${origin}/join/${token}`;

export async function createJoinLink(
  db: Database,
  eventId: string,
  options: { label: string | null; expiresAt: number | null },
  origin: string,
): Promise<CreatedJoinLink> {
  const token = randomSecret();
  const row: JoinTokenRow = {
    id: newId(),
    eventId,
    tokenHash: await sha256Hex(token),
    label: options.label,
    expiresAt: options.expiresAt,
    revokedAt: null,
    createdAt: Date.now(),
  };
  await db.insert(joinTokens).values(row);
  const url = joinUrl(origin, token);
  return { ...linkView(row), join_token: token, join_url: url, qr_svg: renderSVG(url, { ecc: "M", border: 2 }) };
}

export async function listJoinLinks(db: Database, eventId: string): Promise<JoinLinkView[]> {
  const rows = await db.select().from(joinTokens).where(eq(joinTokens.eventId, eventId)).orderBy(desc(joinTokens.createdAt));
  return rows.map(linkView);
}

export async function revokeJoinLink(db: Database, eventId: string, linkId: string): Promise<JoinLinkView> {
  const row = await db.select().from(joinTokens).where(and(eq(joinTokens.id, linkId), eq(joinTokens.eventId, eventId))).get();
  if (!row) throw new ApiError({ status: 404, code: "join_link_not_found", message: "No such join link for this event." });
  if (row.revokedAt === null) {
    row.revokedAt = Date.now();
    await db.update(joinTokens).set({ revokedAt: row.revokedAt }).where(eq(joinTokens.id, linkId));
  }
  return linkView(row);
}
