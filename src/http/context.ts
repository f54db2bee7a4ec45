import type { Context } from "hono";
import type { LogFields } from "../lib/log";

/** What every route handler can see: bindings, and the request's id and log fields. */
export interface AppEnv {
  Bindings: Env;
  Variables: { requestId: string; logFields: LogFields };
}

export type AppContext = Context<AppEnv>;

/** Work a request leaves running after its answer (kept alive past a client disconnect). */
export const backgroundOf = (c: Pick<AppContext, "executionCtx">) => (work: Promise<unknown>) => c.executionCtx.waitUntil(work);

/** Adds identifiers and measurements to this request's log line. */
export function annotate(c: Pick<Context<AppEnv>, "get">, fields: LogFields): void {
  Object.assign(c.get("logFields"), fields);
}
