import { useEffect, useState } from "preact/hooks";
import { MemoryStore, UploadEngine, type EngineOptions, type EngineSnapshot } from "../engine/index.ts";
import { IdbStore } from "../engine/idb-store.ts";
import { makePreview } from "../engine/previews.ts";
import { webLocks } from "../engine/web-locks.ts";

export interface EngineView {
  engine: UploadEngine;
  snapshot: EngineSnapshot;
}

/**
 * The upload engine for this event, opened on the device's IndexedDB so a reloaded or reopened
 * page carries on with every unfinished file, and told about the browser's connectivity so
 * going offline pauses and coming back resumes with no tap. The guest's own pause is remembered
 * too: a reloaded or reopened page stays paused until they resume. Every picked photo's preview
 * (a video's poster) goes before any original's bytes. Null until it is open.
 *
 * `concurrency` is read when the engine opens; it does not reopen when the event's limits change.
 * `displayName`, the guest's name, goes with what the engine creates from then on.
 */
export function useUploadEngine(joinToken: string, concurrency: number, displayName: string): EngineView | null {
  const [view, setView] = useState<EngineView | null>(null);
  const engine = view?.engine;
  useEffect(() => engine?.setDisplayName(displayName), [engine, displayName]);

  useEffect(() => {
    let engine: UploadEngine | null = null;
    let closed = false;
    let frame = 0;
    let unsubscribe = () => {};
    const onConnectivity = () => engine?.setOnline(navigator.onLine);
    // As stored; kept in step with the engine's snapshots, so storage is written only when it changes.
    let pausedByGuest = guestPaused(joinToken);

    void openEngine({ origin: location.origin, joinToken, concurrency, lock: webLocks() ?? undefined, paused: pausedByGuest, displayName: displayName.trim() || undefined, previews: makePreview }).then((opened) => {
      if (closed) return void opened.stop();
      engine = opened;
      onConnectivity();
      unsubscribe = opened.subscribe((snapshot) => {
        if ((snapshot.pausedBy === "user") !== pausedByGuest) {
          pausedByGuest = !pausedByGuest;
          rememberGuestPause(joinToken, pausedByGuest);
        }
        // Progress can change many times a frame with a hundred files: render the latest once per frame.
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(() => setView({ engine: opened, snapshot }));
      });
    });
    window.addEventListener("online", onConnectivity);
    window.addEventListener("offline", onConnectivity);
    return () => {
      closed = true;
      window.removeEventListener("online", onConnectivity);
      window.removeEventListener("offline", onConnectivity);
      cancelAnimationFrame(frame);
      unsubscribe();
      void engine?.stop();
    };
  }, [joinToken]);

  return view;
}

/** On IndexedDB; where the browser has none to give (some private modes), in memory, without resume. */
async function openEngine(options: EngineOptions): Promise<UploadEngine> {
  try {
    return await UploadEngine.open({ ...options, store: new IdbStore(options.joinToken) });
  } catch {
    return UploadEngine.open({ ...options, store: new MemoryStore() });
  }
}

const pauseKey = (joinToken: string) => `edge-photo-uploads:paused:${joinToken}`;

function guestPaused(joinToken: string): boolean {
  try {
    return localStorage.getItem(pauseKey(joinToken)) !== null;
  } catch {
    return false;
  }
}

function rememberGuestPause(joinToken: string, paused: boolean): void {
  try {
    if (paused) localStorage.setItem(pauseKey(joinToken), "1");
    else localStorage.removeItem(pauseKey(joinToken));
  } catch {
    // Without storage (private modes) a reload resumes: the pause lasts as long as the page.
  }
}
