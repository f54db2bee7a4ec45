/**
 * Structured logs: one JSON object per line, which is what operators read in `wrangler tail`.
 * Callers pass identifiers and measurements only, never secrets (keys, tokens), GPS, or a URL
 * that carries a capability (join tokens and tus/IETF upload URLs do).
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function logLine(level: "info" | "warn" | "error", msg: string, fields: LogFields): void {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }, withoutBoundValues);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * A database error's message ends with the statement's bound values (drizzle: "Failed query: …
 * \nparams: …"), which can be anything a user sent. Wherever such a message ends up in a field,
 * the values are cut off.
 */
const BOUND_VALUES = /\nparams: [\s\S]*/;
function withoutBoundValues(_key: string, value: unknown): unknown {
  return typeof value === "string" ? value.replace(BOUND_VALUES, "\nparams: (not logged)") : value;
}

const DB_CODE = /\b(?:SQLITE_[A-Z_]+|D1_[A-Z_]+)\b/;

/**
 * What an unexpected error may tell a log line: the classes along its cause chain, the database's
 * code (SQLITE_… or D1_…) when it is a database error, and the stack's frames — never a
 * message, which may carry bound values, URLs or secrets.
 */
export function errorFields(error: unknown): LogFields {
  const classes: string[] = [];
  let dbCode: string | undefined;
  let current = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    classes.push(current instanceof Error ? current.name.slice(0, 64) : typeof current);
    // SQLITE_ codes are more precise than D1's; the innermost cause carries them.
    const message = current instanceof Error ? current.message : "";
    const found = message.match(DB_CODE)?.[0];
    if (found && (!dbCode || found.startsWith("SQLITE_"))) dbCode = found;
    current = current instanceof Error ? current.cause : undefined;
  }
  return { error_class: classes.join(" < "), db_code: dbCode, stack: stackFrames(error) };
}

/** The stack without its first lines, which repeat the message (and so whatever a value put in it). */
function stackFrames(error: unknown): string | undefined {
  if (!(error instanceof Error) || !error.stack) return undefined;
  const header = error.message ? `${error.name}: ${error.message}` : error.name;
  if (!error.stack.startsWith(header)) return undefined;
  const frames = error.stack.slice(header.length).split("\n").filter((line) => /^\s+at /.test(line));
  return frames.slice(0, 10).map((line) => line.trim()).join("\n") || undefined;
}
