/**
 * The command-line engine, for a photographer with a memory card:
 *
 *   npm run upload -- <join link> <files or folders>... [--state FILE] [--concurrency N]
 *
 * The same engine as the guest app, with a JSON state file: Ctrl-C (or a crash) leaves the
 * state, and the same command resumes every unfinished file from the server's offset. Exits
 * non-zero when any photo was refused or failed, after saying which and why.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { ApiFailure, GuestApi, type EventInfo } from "./api.ts";
import { parseCliArgs, usage } from "./cli-args.ts";
import { ProgressRenderer, summary } from "./cli-render.ts";
import { systemClock } from "./clock.ts";
import { UploadEngine } from "./engine.ts";
import { hasMediaExtension } from "./files.ts";
import { JsonFileStore } from "./node-store.ts";
import { isSettled } from "./views.ts";

/** Photos and videos under the given paths: folders searched recursively by extension, named files taken as they are. */
async function collectPhotos(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const given of paths) {
    const info = await stat(given).catch(() => null);
    if (!info) throw new Error(`${given}: no such file or folder`);
    if (!info.isDirectory()) {
      found.push(given);
      continue;
    }
    const entries = await readdir(given, { recursive: true, withFileTypes: true });
    const photos = entries.filter((entry) => entry.isFile() && hasMediaExtension(entry.name)).map((entry) => path.join(entry.parentPath, entry.name));
    found.push(...photos.sort());
  }
  return found;
}

async function main(): Promise<number> {
  const args = parseCliArgs(process.argv.slice(2));
  if (args === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const photos = await collectPhotos(args.paths);
  const store = await JsonFileStore.open(args.statePath);
  const log = (line: string) => process.stdout.write(`${line}\n`);

  const api = new GuestApi({ origin: args.origin, joinToken: args.joinToken, fetch, clock: systemClock, requestTimeoutMs: 30_000 });
  let event: EventInfo;
  try {
    event = await api.eventInfo();
  } catch (error) {
    log(error instanceof ApiFailure ? `${args.origin}: ${error.message}` : String(error));
    return 1;
  }
  if (!event.accepting_uploads) {
    log(`"${event.name}" is not accepting uploads right now.`);
    return 1;
  }

  const engine = await UploadEngine.open({
    origin: args.origin,
    joinToken: args.joinToken,
    store,
    concurrency: args.concurrency ?? event.limits.max_concurrent_uploads_per_device,
  });
  const resumed = engine.snapshot().files.filter((file) => !isSettled(file.state));
  log(`Uploading to "${event.name}": ${photos.length} photos given${resumed.length ? `, ${resumed.length} unfinished from before` : ""} (state: ${store.path})`);
  const added = await engine.add(await Promise.all(photos.map((photo) => store.openFile(photo))));
  const ids = new Set([...resumed, ...added].map((file) => file.id));

  const renderer = new ProgressRenderer({ write: (text) => process.stdout.write(text), isTTY: Boolean(process.stdout.isTTY) }, ids);
  engine.subscribe((snapshot) => renderer.render(snapshot));

  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    // A second Ctrl-C ends at once; the state file is whole either way (written by rename).
    process.once("SIGINT", () => process.exit(130));
    void engine.stop();
  });

  const final = await engine.settled();
  renderer.finish();
  if (interrupted) {
    log("Stopped. Run the same command again to carry on where it left off.");
    return 130;
  }
  const { text, ok } = summary(final, ids);
  log(text);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
