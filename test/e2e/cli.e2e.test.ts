/**
 * The command-line uploader (`node web/engine/cli.ts <join link> <files or folders>`) against a
 * real `wrangler dev`: a folder of photos arrives through runs that are interrupted (Ctrl-C,
 * then a kill) and resumed from the state file, nothing twice; refusals end in a non-zero exit
 * with the reasons.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, it } from "vitest";
import { root } from "../../scripts/lib/dev-server";
import { startE2e, type E2e } from "./helpers";
import { expectArrivedOnce, noiseJpeg, noisePhotos, uploadsOf } from "./lib/engine-fixtures";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-cli-");
});
afterAll(() => e2e?.stack.stop());

const RUN_LIMIT_MS = 60_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

/**
 * Runs the uploader (stdout is a pipe, so it prints plain lines); `interrupt` sends it a signal
 * once its output so far says so.
 */
function upload(args: string[], interrupt?: { when: (lines: string[]) => boolean; signal: NodeJS.Signals }): Promise<Run> {
  const child = spawn(process.execPath, ["web/engine/cli.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    if (interrupt?.when(lines)) child.kill(interrupt.signal);
  });
  // A run that hangs is killed, so the test fails with the run's output rather than a timeout.
  const watchdog = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MS);
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, lines });
    }),
  );
}

it("uploads a folder through a Ctrl-C and a kill, resuming from the state file, nothing twice", async () => {
  const folder = path.join(e2e.stack.dir, "card");
  mkdirSync(path.join(folder, "DCIM", "100"), { recursive: true });
  const photos = await noisePhotos(8, 1_000_000, 3_000_000);
  photos.forEach((photo, index) => writeFileSync(path.join(folder, ...(index < 4 ? [] : ["DCIM", "100"]), photo.name), photo.bytes));
  writeFileSync(path.join(folder, "NOTES.txt"), "not a photo: left alone");
  const event = await e2e.service.createEvent({ name: "photographer's card" });
  const args = [`${e2e.service.origin}/join/${event.join_token}`, folder, "--state", path.join(e2e.stack.dir, "card-state.json")];

  // Interrupted once a quarter of the bytes are sent, killed at three quarters.
  const sentShare = (lines: string[]) => {
    const [, sent, total] = lines.findLast((line) => / MB sent /.test(line))?.match(/ ([\d.]+)\/([\d.]+) MB sent /) ?? [];
    return sent ? Number(sent) / Number(total) : 0;
  };
  const stopped = await upload(args, { when: (lines) => sentShare(lines) >= 0.25, signal: "SIGINT" });
  expect(stopped.code, stopped.lines.join("\n")).toBe(130);
  expect(stopped.lines.at(-1)).toMatch(/Run the same command again/);

  const killed = await upload(args, { when: (lines) => sentShare(lines) >= 0.75, signal: "SIGKILL" });
  expect(killed.signal, killed.lines.join("\n")).toBe("SIGKILL");
  expect(killed.lines[0]).toMatch(/8 photos given, \d+ unfinished from before/);

  const finished = await upload(args);
  expect(finished.code, finished.lines.join("\n")).toBe(0);
  expect(finished.lines.at(-1)).toBe("8 of 8 photos uploaded, 0 refused, 0 failed.");
  await expectArrivedOnce(e2e, event.event_id, photos);
  expect(uploadsOf(e2e, event.event_id).filter((row) => row.status === "completed")).toHaveLength(8);
});

it("picks up a card's videos (.MP4 as cameras name them) beside its photos; they arrive as videos", async () => {
  const folder = path.join(e2e.stack.dir, "video-card");
  mkdirSync(path.join(folder, "DCIM", "101"), { recursive: true });
  const [photo] = await noisePhotos(1, 200_000, 300_000, "VID_");
  const clip = { name: "CLIP0001.MP4", bytes: readFileSync(path.join(root, "test/fixtures/poster-quadrant.mp4")) };
  writeFileSync(path.join(folder, photo!.name), photo!.bytes);
  writeFileSync(path.join(folder, "DCIM", "101", clip.name), clip.bytes);
  const event = await e2e.service.createEvent({ name: "videographer's card" });
  const run = await upload([`${e2e.service.origin}/join/${event.join_token}`, folder, "--state", path.join(e2e.stack.dir, "video-card-state.json")]);
  expect(run.code, run.lines.join("\n")).toBe(0);
  expect(run.lines.at(-1)).toBe("2 of 2 photos uploaded, 0 refused, 0 failed.");
  await expectArrivedOnce(e2e, event.event_id, [photo!, clip]);
  await expect
    .poll(() => e2e.stack.query<{ media_kind: string; status: string }>(`SELECT media_kind, status FROM photos WHERE event_id = '${event.event_id}' AND filename = '${clip.name}'`)[0], { timeout: 30_000 })
    .toEqual({ media_kind: "video", status: "ready" });
});

it("says which photos were refused and why, and exits non-zero", async () => {
  const folder = path.join(e2e.stack.dir, "mixed");
  mkdirSync(folder, { recursive: true });
  const [small] = await noisePhotos(1, 300_000, 300_000, "SMALL_");
  writeFileSync(path.join(folder, small!.name), small!.bytes);
  writeFileSync(path.join(folder, "HUGE.jpg"), await noiseJpeg(1_500_000));
  const event = await e2e.service.createEvent({ name: "strict limits", max_file_size: 1_000_000 });

  const run = await upload([`${e2e.service.origin}/join/${event.join_token}`, folder, "--state", path.join(e2e.stack.dir, "mixed-state.json")]);
  expect(run.code, run.lines.join("\n")).toBe(1);
  expect(run.lines).toContain(`done ${small!.name}`);
  expect(run.lines.at(-2)).toBe("1 of 2 photos uploaded, 1 refused, 0 failed.");
  expect(run.lines.at(-1)).toMatch(/^ {2}refused HUGE\.jpg: Files may be at most 1000000 bytes/);
});
