/**
 * Structured logs: one JSON object per line, which is what operators read in `wrangler tail`.
 * Callers pass identifiers and measurements only, never secrets (keys, tokens) or GPS.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function logLine(level: "info" | "warn" | "error", msg: string, fields: LogFields): void {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
