/**
 * Issue 12: "no URL carrying a join token or an upload key reaches a log line". The
 * production environment turns Workers Logs on, whose invocation logs record every request's URL
 * (and headers) by themselves: join tokens (/api/v1/events/{token}/…), tus and IETF upload URLs
 * ({uploadId}.{uploadKey}) and live tickets (&ticket=…) would all be stored, whatever
 * lib/log.ts leaves out. `[env.production.observability.logs] invocation_logs = false` keeps the
 * Worker's own structured lines and drops the automatic ones.
 */
import { describe, expect, it } from "vitest";
import wranglerToml from "../../wrangler.toml?raw";

/** The key/value lines of one `[table]` of a TOML file (enough for wrangler.toml's flat tables). */
function table(toml: string, name: string): Record<string, string> {
  const lines = toml.split("\n");
  const start = lines.findIndex((line) => line.trim() === `[${name}]`);
  if (start < 0) return {};
  const values: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    if (/^\s*\[/.test(line)) break;
    const match = line.match(/^\s*([\w-]+)\s*=\s*(.+?)\s*$/);
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}

describe("capability URLs in the platform's own request logs", () => {
  it("production observability does not record request URLs (invocation logs off)", () => {
    const observability = table(wranglerToml, "env.production.observability");
    expect(observability.enabled).toBe("true"); // logs are on in production
    const logs = table(wranglerToml, "env.production.observability.logs");
    expect(logs.invocation_logs).toBe("false");
  });
});
