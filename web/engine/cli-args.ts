/** The command line of the uploader, parsed: join link, photos, state file, concurrency. */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

export const usage = `Usage: npm run upload -- <join link> <files or folders>... [--state FILE] [--concurrency N]

Uploads photos (.jpg .jpeg .png .webp .heic .heif; folders are searched recursively) to the
event of the join link, e.g. http://127.0.0.1:8787/join/<token>. Interrupted runs resume where
they stopped: run the same command again.

  --state FILE       where to keep progress (default: ~/.local/state/edge-photo-uploads/…)
  --concurrency N    files uploading at once (default: the event's per-device limit)`;

export interface CliArgs {
  origin: string;
  joinToken: string;
  paths: string[];
  statePath: string;
  concurrency: number | null;
}

/** The API origin is the join link's origin; the token is its last path segment. */
export function parseJoinLink(link: string): { origin: string; joinToken: string } {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    throw new Error(`"${link}" is not a join link (expected something like http://127.0.0.1:8787/join/<token>)`);
  }
  const joinToken = url.pathname.split("/").filter(Boolean).pop();
  if (!joinToken || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new Error(`"${link}" has no join token (expected something like http://127.0.0.1:8787/join/<token>)`);
  }
  return { origin: url.origin, joinToken: decodeURIComponent(joinToken) };
}

/**
 * One state file per event, under XDG_STATE_HOME. Named by a digest of the link, so the token,
 * a capability, does not show in directory listings.
 */
export function defaultStatePath(origin: string, joinToken: string, env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_STATE_HOME || path.join(homedir(), ".local", "state");
  const digest = createHash("sha256").update(`${origin}/${joinToken}`).digest("hex").slice(0, 16);
  return path.join(base, "edge-photo-uploads", `${new URL(origin).host.replace(/[^A-Za-z0-9.-]/g, "_")}-${digest}.json`);
}

/** The run's arguments, or "help" when asked for the usage. */
export function parseCliArgs(argv: string[]): CliArgs | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { state: { type: "string" }, concurrency: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return "help";
  if (positionals.length < 2) throw new Error(usage);
  const [link, ...paths] = positionals as [string, ...string[]];
  const { origin, joinToken } = parseJoinLink(link);
  let concurrency: number | null = null;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a whole number of at least 1, not "${values.concurrency}"`);
  }
  return { origin, joinToken, paths, statePath: values.state ?? defaultStatePath(origin, joinToken), concurrency };
}
