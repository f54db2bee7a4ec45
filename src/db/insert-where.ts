import { SQL, getTableColumns, is, sql } from "drizzle-orm";
import { SQLiteAsyncDialect, type SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * `INSERT INTO table (...) SELECT ... WHERE condition`: one statement, so a check and the insert
 * it guards are atomic in D1 (which has no interactive transactions).
 */
export function insertWhere<T extends SQLiteTable>(table: T, row: T["$inferInsert"], condition: SQL): SQL {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const names = Object.keys(row).filter((name) => (row as Record<string, unknown>)[name] !== undefined);
  return sql`insert into ${table} (${sql.join(
    names.map((name) => sql.identifier(columns[name]!.name)),
    sql`, `,
  )}) select ${sql.join(
    names.map((name) => sql`${(row as Record<string, unknown>)[name]}`),
    sql`, `,
  )} where ${condition}`;
}

const dialect = new SQLiteAsyncDialect();

/** A D1 statement from a drizzle query, for `D1Database.batch` (drizzle's batch cannot run raw SQL with parameters). */
export function d1Statement(d1: D1Database, query: SQL | { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = is(query, SQL) ? dialect.sqlToQuery(query) : query.toSQL();
  return d1.prepare(text).bind(...params);
}
