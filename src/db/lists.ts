import { sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/**
 * `column IN (values)` with the whole list bound as ONE parameter (a JSON array read by
 * json_each): D1 refuses statements with more than 100 bound parameters, and `inArray` binds one
 * per value, so a list whose length comes from a request or a stored row must not use it.
 */
export function inList(column: SQLiteColumn, values: readonly string[]): SQL {
  return sql`${column} in (select value from json_each(${JSON.stringify(values)}))`;
}
