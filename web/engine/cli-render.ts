/**
 * The uploader's output. A line for each thing a person wants to hear about a file (started,
 * retrying, done, refused, failed); on a terminal, also a progress bar redrawn in place below
 * them; otherwise a progress line at each tenth of the bytes, so logs stay readable.
 */
import { isSettled, totalsOf, type EngineSnapshot, type FileView } from "./views.ts";

export interface Output {
  write(text: string): void;
  isTTY: boolean;
}

const MB = 1_000_000;
const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export class ProgressRenderer {
  private readonly out: Output;
  /** Only these files are reported (the run's own, not everything the state file remembers). */
  private readonly ids: ReadonlySet<string>;
  private readonly now: () => number;
  private readonly lastStates = new Map<string, string>();
  private readonly started = new Set<string>();
  private barShown = false;
  private lastDrawn = 0;
  private lastTenth = -1;

  constructor(out: Output, ids: ReadonlySet<string>, now: () => number = Date.now) {
    this.out = out;
    this.ids = ids;
    this.now = now;
  }

  render(snapshot: EngineSnapshot): void {
    const files = snapshot.files.filter((file) => this.ids.has(file.id));
    const lines = files.flatMap((file) => this.newsAbout(file));
    if (this.out.isTTY) {
      if (lines.length === 0 && this.now() - this.lastDrawn < REDRAW_MS) return;
      this.out.write(`${this.barShown ? "\r\x1b[2K" : ""}${lines.map((line) => `${line}\n`).join("")}${progressBar(files)}`);
      this.barShown = true;
      this.lastDrawn = this.now();
      return;
    }
    const { bytes, sentBytes } = totalsOf(files);
    const tenth = bytes === 0 ? 10 : Math.floor((10 * sentBytes) / bytes);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      lines.push(progressLine(files));
    }
    for (const line of lines) this.out.write(`${line}\n`);
  }

  /** Ends the bar's line, so what follows starts on its own. */
  finish(): void {
    if (this.barShown) this.out.write("\n");
    this.barShown = false;
  }

  private newsAbout(file: FileView): string[] {
    const key = file.state === "retrying" ? `retrying ${file.error?.code}` : file.state;
    if (this.lastStates.get(file.id) === key) return [];
    this.lastStates.set(file.id, key);
    if (file.state === "uploading") {
      // Once per file: back to uploading after a retry or a wait for a slot is no news.
      if (this.started.has(file.id)) return [];
      this.started.add(file.id);
    }
    switch (file.state) {
      case "uploading":
        return [`uploading ${file.name} (${megabytes(file.size)} MB)`];
      case "retrying": {
        const seconds = Math.max(0, Math.round(((file.nextAttemptAt ?? this.now()) - this.now()) / 1000));
        return [`retrying ${file.name} in ${seconds} s: ${file.error?.message ?? "?"}`];
      }
      case "done":
        return [file.duplicateOf ? `done ${file.name} (already uploaded)` : `done ${file.name}`];
      case "refused":
      case "failed":
        return [`${file.state} ${file.name}: ${file.error?.message ?? "?"}`];
      case "cancelled":
        return [`cancelled ${file.name}`];
      default:
        return [];
    }
  }
}

function progressLine(files: FileView[]): string {
  const { bytes, sentBytes, byState } = totalsOf(files);
  const busy = byState.uploading + byState.retrying + byState.processing;
  return `${byState.done}/${files.length} files done · ${megabytes(sentBytes)}/${megabytes(bytes)} MB sent · ${busy} in progress`;
}

function progressBar(files: FileView[]): string {
  const { bytes, sentBytes } = totalsOf(files);
  const filled = bytes === 0 ? BAR_WIDTH : Math.round((BAR_WIDTH * sentBytes) / bytes);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${progressLine(files)}`;
}

function megabytes(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/** The closing account: how many arrived, and each refusal and failure with its reason. */
export function summary(snapshot: EngineSnapshot, ids: ReadonlySet<string>): { text: string; ok: boolean } {
  const files = snapshot.files.filter((file) => ids.has(file.id));
  const { byState } = totalsOf(files);
  const duplicates = files.filter((file) => file.duplicateOf).length;
  const unfinished = files.filter((file) => !isSettled(file.state)).length;
  const lines = [
    `${byState.done} of ${files.length} photos uploaded${duplicates ? ` (${duplicates} had already arrived)` : ""}` +
      `, ${byState.refused} refused, ${byState.failed} failed${unfinished ? `, ${unfinished} unfinished` : ""}.`,
    ...files.filter((file) => file.state === "refused" || file.state === "failed").map((file) => `  ${file.state} ${file.name}: ${file.error?.message ?? "?"}`),
  ];
  return { text: lines.join("\n"), ok: byState.done + byState.cancelled === files.length };
}
