import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

/** One drizzle instance per binding: making one walks the whole schema, which showed in profiles of every request. */
const instances = new WeakMap<D1Database, ReturnType<typeof make>>();

const make = (db: D1Database) => drizzle(db, { schema });

export function database(env: Pick<Env, "DB">) {
  let instance = instances.get(env.DB);
  if (!instance) instances.set(env.DB, (instance = make(env.DB)));
  return instance;
}
export type Database = ReturnType<typeof database>;
