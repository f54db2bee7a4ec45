/**
 * The guestbook: guests' messages, their moderation, and their export. What a join link can make
 * D1 hold is bounded: a device may leave a few messages per event and an event holds at most a
 * fixed number (the quota check and the insert are one statement); each message is at most
 * 1,000 characters (core/words.ts). Messages follow the event's moderation mode like photos:
 * approved at once in `auto` events, by an organiser in `review` ones.
 */
import { and, asc, count, desc, eq, isNotNull, isNull, sql, type SQL } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { insertWhere } from "../db/conditional-insert";
import { afterCursor, toPage } from "../db/pagination";
import { messages, messageStatuses, type MessageRow } from "../db/schema";
import { newId } from "../lib/crypto";
import { isoOrNull } from "../lib/time";
import { ApiError, refusals } from "./errors";
import { resolveJoinToken } from "./events";

/** How many messages a device may leave in an event, and an event may hold. */
export const messageQuotas = { perDevice: 20, perEvent: 5000 };
export type MessageQuotas = typeof messageQuotas;

export interface NewMessage {
  deviceId: string;
  displayName: string | undefined;
  /** Already normalised (words.ts `messageField`). */
  body: string;
}

export async function postMessage(env: Env, joinToken: string, input: NewMessage, quotas: MessageQuotas = messageQuotas): Promise<MessageRow> {
  const db = database(env);
  const now = Date.now();
  const { event, joinToken: token } = await resolveJoinToken(db, joinToken, now);
  if (event.status !== "open") throw new ApiError(refusals.eventClosed("This event is not taking messages."));
  const row: MessageRow = {
    id: newId(),
    eventId: event.id,
    joinTokenId: token.id,
    deviceId: input.deviceId,
    displayName: input.displayName ?? null,
    body: input.body,
    status: "visible",
    approvedAt: event.moderationMode === "auto" ? now : null,
    createdAt: now,
    updatedAt: now,
  };
  const ofDevice = countOf(db, and(eq(messages.eventId, event.id), eq(messages.deviceId, input.deviceId)));
  const ofEvent = countOf(db, eq(messages.eventId, event.id));
  const insert = insertWhere(messages, row, sql`(${ofDevice}) < ${quotas.perDevice} and (${ofEvent}) < ${quotas.perEvent}`);
  if ((await db.run(insert)).meta.changes !== 1) {
    const [device] = await ofDevice;
    const perDevice = (device?.n ?? 0) >= quotas.perDevice;
    throw new ApiError({
      status: 429,
      code: "message_limit",
      message: perDevice ? `A device may leave at most ${quotas.perDevice} messages in this event.` : "This event's guestbook is full.",
      details: perDevice ? { limit: "messages_per_device", max_messages_per_device: quotas.perDevice } : { limit: "messages_per_event", max_messages_per_event: quotas.perEvent },
    });
  }
  return row;
}

const countOf = (db: Database, where: SQL | undefined) => db.select({ n: count() }).from(messages).where(where);

export interface MessageFilters {
  status?: (typeof messageStatuses)[number] | undefined;
  approved?: boolean | undefined;
}

/** An event's messages, newest first, in keyset pages. */
export async function listMessages(db: Database, eventId: string, filters: MessageFilters, page: { limit: number; cursor?: string | undefined }) {
  const rows = await db
    .select()
    .from(messages)
    .where(and(...messageConditions(eventId, filters), afterCursor(messages.createdAt, messages.id, page.cursor)))
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(page.limit + 1);
  const { rows: pageRows, nextCursor } = toPage(rows, page.limit);
  return { messages: pageRows, nextCursor };
}

function messageConditions(eventId: string, filters: MessageFilters): Array<SQL | undefined> {
  return [
    eq(messages.eventId, eventId),
    filters.status ? eq(messages.status, filters.status) : undefined,
    filters.approved === undefined ? undefined : filters.approved ? isNotNull(messages.approvedAt) : isNull(messages.approvedAt),
  ];
}

/** All of an event's messages matching `filters`, oldest first (an event holds at most `messageQuotas.perEvent`). */
export function allMessages(db: Database, eventId: string, filters: MessageFilters): Promise<MessageRow[]> {
  return db
    .select()
    .from(messages)
    .where(and(...messageConditions(eventId, filters)))
    .orderBy(asc(messages.createdAt), asc(messages.id));
}

export type MessageAction = "approve" | "hide" | "unhide";

export async function moderateMessage(db: Database, eventId: string, messageId: string, action: MessageAction): Promise<MessageRow> {
  const message = await db.select().from(messages).where(and(eq(messages.id, messageId), eq(messages.eventId, eventId))).get();
  if (!message) throw new ApiError({ status: 404, code: "message_not_found", message: "No such message in this event." });
  const now = Date.now();
  const changes: Partial<MessageRow> =
    action === "approve" ? { status: "visible", approvedAt: message.approvedAt ?? now } : { status: action === "hide" ? "hidden" : "visible" };
  await db.update(messages).set({ ...changes, updatedAt: now }).where(eq(messages.id, messageId));
  return { ...message, ...changes, updatedAt: now };
}

/** A message as organisers see it. */
export function messageView(message: MessageRow) {
  return {
    message_id: message.id,
    display_name: message.displayName,
    body: message.body,
    status: message.status,
    approved: message.approvedAt !== null,
    device_id: message.deviceId,
    created_at: isoOrNull(message.createdAt)!,
  };
}

/**
 * A CSV cell: always quoted (quotes doubled), and text a spreadsheet would run as a formula
 * (starting with = + - @, a tab or a carriage return) is prefixed with an apostrophe.
 */
export function csvCell(value: string): string {
  const inert = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${inert.replaceAll('"', '""')}"`;
}

/** Messages as CSV (RFC 4180, CRLF line ends, UTF-8 with a BOM so spreadsheets read the names right). */
export function messagesCsv(rows: MessageRow[]): string {
  const header = ["created_at", "display_name", "message", "status", "approved"];
  const lines = rows.map((row) =>
    [isoOrNull(row.createdAt) ?? "", row.displayName ?? "", row.body, row.status, row.approvedAt !== null ? "yes" : "no"].map(csvCell).join(","),
  );
  return `\ufeff${[header.join(","), ...lines].join("\r\n")}\r\n`;
}
