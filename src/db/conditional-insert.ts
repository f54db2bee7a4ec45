/**
 * Inserts that happen only if a condition holds when they run, so a limit check and the insert
 * are one atomic statement (D1 has no interactive transactions).
 */
import { SQL, getTableColumns, is, sql } from "drizzle-orm";
import { SQLiteAsyncDialect, type SQLiteTable } from "drizzle-orm/sqlite-core";

/** A row to insert, where any value may be an SQL expression (a subquery, say). */
type InsertRow<T extends SQLiteTable> = { [K in keyof T["$inferInsert"]]: T["$inferInsert"][K] | SQL };

/**
 * `insert into table (...) select <rows> where condition`, as one statement (mind D1's 100 bound
 * parameters). Columns are those the first row sets; every row sets the same ones.
 */
export function insertWhere<T extends SQLiteTable>(table: T, rows: InsertRow<T> | Array<InsertRow<T>>, condition: SQL): SQL {
  const list = Array.isArray(rows) ? rows : [rows];
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const first = list[0] as Record<string, unknown>;
  const names = Object.keys(first).filter((name) => first[name] !== undefined);
  const values = list.map((row) => sql`(${sql.join(names.map((name) => sql`${(row as Record<string, unknown>)[name]}`), sql`, `)})`);
  const selected = names.map((_, i) => sql.raw(`column${i + 1}`));
  return sql`insert into ${table} (${sql.join(names.map((name) => sql.identifier(columns[name]!.name)), sql`, `)})
    select ${sql.join(selected, sql`, `)} from (values ${sql.join(values, sql`, `)}) where ${condition}`;
}

const dialect = new SQLiteAsyncDialect();

/** A D1 statement from a drizzle query, for `D1Database.batch` (drizzle's batch cannot run raw SQL with parameters). */
export function d1Statement(d1: D1Database, query: SQL | { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = is(query, SQL) ? dialect.sqlToQuery(query) : query.toSQL();
  return d1.prepare(text).bind(...params);
}
