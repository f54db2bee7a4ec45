/**
 * Previews of picked files, made on the guest's device so a photo can be seen within seconds,
 * long before its original arrives over venue Wi-Fi (issue 15): about 50 KB, upright, WebP where
 * the browser encodes it. Photos are decoded and encoded off the main thread, in two workers;
 * video posters need a <video> element, so they are drawn on the main thread, after a seek.
 * Either answers null for what the browser cannot decode or play: the file then has no preview.
 */
import { encodePreview, previewSizes, type PreviewSize } from "./preview-encoding.ts";
import type { PreviewAnswer, PreviewRequest } from "./preview-worker.ts";

export { previewSizes, type PreviewSize };

/** Longer than a 12-megapixel decode and encode takes on a slow phone; past it the worker is assumed stuck. */
const PHOTO_TIMEOUT_MS = 30_000;
/** How long a video may take to load its metadata, and then to seek. */
const VIDEO_STEP_TIMEOUT_MS = 10_000;
/** The poster frame: a tenth into the video, and no later than this (past a shaky start, before the scene changes). */
const POSTER_LATEST_S = 1;

/** Photos made at once, each in its own worker: each decode of a 12-megapixel photo holds about 48 MB. */
const PHOTO_WORKERS = 2;

let nextId = 0;
const waiting = new Map<number, (preview: Blob | null) => void>();
/** The workers, each with the ids it is working on; a slot is empty until first needed, or after its worker was dropped. */
const pool: Array<{ worker: Worker; ids: Set<number> } | null> = Array.from({ length: PHOTO_WORKERS }, () => null);
/** Each slot's queue: one photo at a time per worker. */
const queues: Array<Promise<unknown>> = Array.from({ length: PHOTO_WORKERS }, () => Promise.resolve());
let nextSlot = 0;

function previewWorker(slot: number) {
  let entry = pool[slot];
  if (!entry) {
    const started = new Worker(new URL("./preview-worker.ts", import.meta.url), { type: "module", name: "previews" });
    const made = { worker: started, ids: new Set<number>() };
    started.addEventListener("message", (event: MessageEvent<PreviewAnswer>) => answer(event.data.id, event.data.preview));
    // A worker that could not start (or crashed) answers nothing: everyone waiting on it gets none, and the next call starts afresh.
    started.addEventListener("error", () => dropWorker(slot, started));
    entry = pool[slot] = made;
  }
  return entry;
}

function answer(id: number, preview: Blob | null): void {
  waiting.get(id)?.(preview);
  waiting.delete(id);
  for (const entry of pool) entry?.ids.delete(id);
}

function dropWorker(slot: number, stuck: Worker): void {
  stuck.terminate();
  const entry = pool[slot];
  if (entry?.worker !== stuck) return;
  pool[slot] = null;
  for (const id of [...entry.ids]) answer(id, null);
}

/** Whether this browser can make photo previews off the main thread at all. */
export function canMakePhotoPreviews(): boolean {
  return typeof Worker !== "undefined" && typeof OffscreenCanvas !== "undefined" && typeof createImageBitmap !== "undefined";
}

/** A preview of a photo (orientation applied), or null where the browser cannot decode it (HEIC in most) or make previews. */
export function makePhotoPreview(file: Blob, size: PreviewSize = previewSizes.normal): Promise<Blob | null> {
  if (!canMakePhotoPreviews()) return Promise.resolve(null);
  const slot = nextSlot;
  nextSlot = (nextSlot + 1) % PHOTO_WORKERS;
  const made = queues[slot]!.then(
    () =>
      new Promise<Blob | null>((resolve) => {
        const id = nextId++;
        let entry: ReturnType<typeof previewWorker>;
        try {
          entry = previewWorker(slot);
        } catch {
          // No worker allowed here (a CSP without worker-src 'self', say).
          return resolve(null);
        }
        // A worker that does not answer in time is stuck on this file: a fresh one takes the next.
        const timer = setTimeout(() => dropWorker(slot, entry.worker), PHOTO_TIMEOUT_MS);
        entry.ids.add(id);
        waiting.set(id, (preview) => {
          clearTimeout(timer);
          resolve(preview);
        });
        try {
          entry.worker.postMessage({ id, file, size } satisfies PreviewRequest);
        } catch {
          answer(id, null);
        }
      }),
  );
  queues[slot] = made;
  return made;
}

/**
 * A poster frame of a video (a tenth into it, at most a second), or null where the browser
 * cannot play it. The page's CSP must allow blob: media (media-src).
 */
export async function makeVideoPoster(file: Blob, size: PreviewSize = previewSizes.normal): Promise<Blob | null> {
  if (typeof document === "undefined" || typeof OffscreenCanvas === "undefined") return null;
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.preload = "auto";
  const url = URL.createObjectURL(file);
  try {
    video.src = url;
    if (!(await settles(video, "loadeddata"))) return null;
    if (video.videoWidth === 0 || video.videoHeight === 0) return null;
    const moment = Number.isFinite(video.duration) ? Math.min(video.duration / 10, POSTER_LATEST_S) : 0;
    if (moment > 0) {
      video.currentTime = moment;
      if (!(await settles(video, "seeked"))) return null;
    }
    return await encodePreview(video, video.videoWidth, video.videoHeight, size);
  } catch {
    return null;
  } finally {
    video.removeAttribute("src");
    video.load();
    URL.revokeObjectURL(url);
  }
}

/** The preview a picked file gets ahead of its original (the engine's `previews`): a photo's preview, or a video's poster frame. */
export function makePreview(file: File, size: PreviewSize = previewSizes.normal): Promise<Blob | null> {
  return file.type.startsWith("video/") ? makeVideoPoster(file, size) : makePhotoPreview(file, size);
}

/** True once `video` fires `event`; false on an error or when it takes too long. */
function settles(video: HTMLVideoElement, event: "loadeddata" | "seeked"): Promise<boolean> {
  return new Promise((resolve) => {
    const done = new AbortController();
    const finish = (settled: boolean) => {
      done.abort();
      clearTimeout(timer);
      resolve(settled);
    };
    const timer = setTimeout(() => finish(false), VIDEO_STEP_TIMEOUT_MS);
    video.addEventListener(event, () => finish(true), { signal: done.signal });
    video.addEventListener("error", () => finish(false), { signal: done.signal });
  });
}
