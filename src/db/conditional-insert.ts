/**
 * Inserts that happen only if a condition holds when they run, so a limit check and the insert
 * are one atomic statement (D1 has no interactive transactions).
 */
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { SQLiteAsyncDialect, type SQLiteTable } from "drizzle-orm/sqlite-core";

/** `insert into table (...) select <rows> where condition`, as one statement (mind D1's 100 bound parameters). */
export function insertWhere<T extends SQLiteTable>(table: T, rows: Array<T["$inferInsert"]>, condition: SQL): SQL {
  const columns = getTableColumns(table);
  const names = Object.keys(rows[0]!) as Array<keyof typeof columns & string>;
  const values = rows.map((row) => sql`(${sql.join(names.map((name) => sql`${(row as Record<string, unknown>)[name]}`), sql`, `)})`);
  const selected = names.map((_, i) => sql.raw(`column${i + 1}`));
  return sql`insert into ${table} (${sql.join(names.map((name) => sql.identifier(columns[name]!.name)), sql`, `)})
    select ${sql.join(selected, sql`, `)} from (values ${sql.join(values, sql`, `)}) where ${condition}`;
}

const dialect = new SQLiteAsyncDialect();

/** A raw statement as a D1 prepared statement, for `D1Database.batch` (drizzle's batch cannot run raw SQL). */
export function prepared(d1: D1Database, query: SQL): D1PreparedStatement {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return d1.prepare(text).bind(...params);
}
