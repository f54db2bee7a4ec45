/**
 * Keyset pages, newest first by (created_at, id): the cursor is the last row's key, so rows
 * added while someone pages never cause repeats or gaps.
 */
import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { ApiError } from "../core/errors";

interface Key {
  createdAt: number;
  id: string;
}

export const encodeCursor = (row: Key) => btoa(JSON.stringify([row.createdAt, row.id])).replaceAll("=", "");

function decodeCursor(cursor: string): Key {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor)) as [unknown, unknown];
    if (typeof createdAt === "number" && typeof id === "string") return { createdAt, id };
  } catch {}
  throw new ApiError({ status: 400, code: "invalid_cursor", message: "The cursor is not one this API gave out." });
}

/** The condition for rows after `cursor` (none without one). */
export function afterCursor(createdAt: SQLiteColumn, id: SQLiteColumn, cursor: string | undefined): SQL | undefined {
  if (!cursor) return undefined;
  const after = decodeCursor(cursor);
  return or(lt(createdAt, after.createdAt), and(eq(createdAt, after.createdAt), lt(id, after.id)));
}

/** Rows fetched with `limit + 1` as one page and the cursor for the next, if any. */
export function toPage<T extends Key>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!) : null };
}
