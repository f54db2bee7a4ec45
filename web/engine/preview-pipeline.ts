/**
 * How previews are made and paced for speed (issue 15: a picked photo viewable within seconds).
 * Previews are made ahead of their sends, two at a time, so a file's preview is usually ready
 * when its turn to send comes; each preview's size is chosen when its making starts, from what
 * the preview sends so far measured of the link ("smaller first when the link is slow"). A
 * preview that takes too long is given up on, so its original is not held up.
 */
import type { Clock } from "./clock.ts";
import { previewSizes, type PreviewSize } from "./preview-sizes.ts";

/** Makes a picked file's preview of `size`: a small upright WebP or JPEG, or null where none can be made. */
export type PreviewMaker = (file: File, size: PreviewSize) => Promise<Blob | null>;

/** Previews made at once: each 12-megapixel decode holds about 48 MB. */
const MAKERS = 2;
/** Previews made but not yet taken, at most: any further ahead and their sizes would be chosen before the link is known. */
const AHEAD = 4;
/** How long a send waits for its file's preview before giving up on it (the original then goes on). */
export const PREVIEW_WAIT_MS = 5_000;
/** Below this aggregate rate of the preview sends, the link is slow: 25 KB previews instead of 50 KB. */
export const SLOW_LINK_BYTES_PER_SECOND = 500_000;
/** The most recent sends the rate is measured over. */
const MEASURED_SENDS = 4;

interface Send {
  bytes: number;
  startedAt: number;
  endedAt: number;
}

/** What the browser says of its connection, where it says anything (navigator.connection, Chromium). */
interface ConnectionHint {
  effectiveType?: string;
  downlink?: number;
  saveData?: boolean;
}

/** True when the browser reports a slow or data-saving connection; undefined when it reports nothing. */
export function connectionLooksSlow(connection: ConnectionHint | undefined = (globalThis as { navigator?: { connection?: ConnectionHint } }).navigator?.connection): boolean | undefined {
  if (!connection) return undefined;
  if (connection.saveData) return true;
  if (connection.effectiveType && connection.effectiveType !== "4g") return true;
  // Downlink (Mbit/s) is the download side; uploads are rarely faster.
  if (connection.downlink !== undefined && connection.downlink > 0) return (connection.downlink * 1_000_000) / 8 < SLOW_LINK_BYTES_PER_SECOND;
  return undefined;
}

/** The link as the preview sends measured it; before any, the browser's hint; without one, a usual link. */
export class PreviewLink {
  private readonly sends: Send[] = [];
  private readonly hint: boolean | undefined;

  constructor(hint: boolean | undefined = connectionLooksSlow()) {
    this.hint = hint;
  }

  /** Records a preview send of `bytes` that ran from `startedAt` to `endedAt` (ms). */
  sent(bytes: number, startedAt: number, endedAt: number): void {
    this.sends.push({ bytes, startedAt, endedAt });
    if (this.sends.length > MEASURED_SENDS) this.sends.shift();
  }

  /** Bytes a second over the recent sends, together: they share the link, so their overlap counts once. */
  bytesPerSecond(): number | undefined {
    if (this.sends.length === 0) return undefined;
    const bytes = this.sends.reduce((sum, send) => sum + send.bytes, 0);
    const from = Math.min(...this.sends.map((send) => send.startedAt));
    const to = Math.max(...this.sends.map((send) => send.endedAt));
    return (bytes * 1000) / Math.max(1, to - from);
  }

  isSlow(): boolean {
    const measured = this.bytesPerSecond();
    return measured === undefined ? this.hint === true : measured < SLOW_LINK_BYTES_PER_SECOND;
  }

  previewSize(): PreviewSize {
    return this.isSlow() ? previewSizes.slow : previewSizes.normal;
  }
}

/** Previews of the files awaiting theirs, made a few ahead in the order asked, sized for the link. */
export class PreviewPipeline {
  readonly link: PreviewLink;
  private readonly make: PreviewMaker;
  private readonly clock: Clock;
  private readonly made = new Map<string, Promise<Blob | null>>();
  private readonly queued = new Map<string, File>();
  private making = 0;

  constructor(make: PreviewMaker, clock: Clock, link: PreviewLink = new PreviewLink()) {
    this.make = make;
    this.clock = clock;
    this.link = link;
  }

  /** Queues the making of `id`'s preview, unless it is queued or made already. */
  prepare(id: string, file: File): void {
    if (this.made.has(id) || this.queued.has(id)) return;
    this.queued.set(id, file);
    this.pump();
  }

  /**
   * `id`'s preview (made now, ahead of the queue, if it was not under way), or null when none
   * could be made or it took longer than PREVIEW_WAIT_MS. Either way it is then forgotten.
   */
  async take(id: string, file: File, signal: AbortSignal): Promise<Blob | null> {
    if (!this.made.has(id)) this.start(id, file);
    const made = this.made.get(id)!;
    try {
      const late = this.clock.sleep(PREVIEW_WAIT_MS, signal).then(() => null);
      return await Promise.race([made, late]);
    } finally {
      this.forget(id);
    }
  }

  /** Drops `id`'s preview, made or queued (its file was cancelled, or it went without one). */
  forget(id: string): void {
    this.queued.delete(id);
    this.made.delete(id);
    this.pump();
  }

  private pump(): void {
    for (const [id, file] of this.queued) {
      if (this.making >= MAKERS || this.made.size >= AHEAD) return;
      this.start(id, file);
    }
  }

  private start(id: string, file: File): void {
    this.queued.delete(id);
    this.making++;
    const made = this.make(file, this.link.previewSize())
      .catch(() => null)
      .finally(() => {
        this.making--;
        this.pump();
      });
    this.made.set(id, made);
  }
}
