/**
 * One polite live region for the whole app: screen readers hear what changed (photos added,
 * paused, back online, all arrived, a photo taken back) and, now and then, how far the uploads
 * are; never every byte.
 */
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import type { PauseReason } from "../engine/index.ts";
import { t } from "./i18n.ts";
import type { UploadSummary } from "./summary.ts";

/** Progress is read out at most this often; changes of state are read out at once. */
const PROGRESS_EVERY_MS = 20_000;

type Announce = (text: string) => void;

const AnnounceContext = createContext<Announce>(() => {});

export function useAnnounce(): Announce {
  return useContext(AnnounceContext);
}

export function AnnouncerProvider({ children }: { children: ComponentChildren }) {
  const [message, setMessage] = useState("");
  // The same words twice in a row would not be read again: a trailing no-break space tells them apart.
  const announce = useCallback((text: string) => setMessage((previous) => (previous === text ? `${text}\u00a0` : text)), []);
  return (
    <AnnounceContext.Provider value={announce}>
      {children}
      <div class="visually-hidden" role="status" aria-live="polite">
        {message}
      </div>
    </AnnounceContext.Provider>
  );
}

/** Reads out how the uploads go: pausing and resuming, the end, and the count every so often. */
export function useProgressAnnouncements(summary: UploadSummary): void {
  const announce = useAnnounce();
  // The summary last seen, and when and at what count progress was last read out.
  const last = useRef<{ summary: UploadSummary; at: number; arrived: number } | null>(null);
  useEffect(() => {
    const now = Date.now();
    const previous = last.current;
    last.current = { summary, at: previous?.at ?? now, arrived: previous?.arrived ?? summary.arrived };
    if (!previous) return;
    let text: string | null = null;
    if (summary.pausedBy !== previous.summary.pausedBy) {
      text = pauseNews(summary.pausedBy, previous.summary.pausedBy);
    } else if (summary.pending === 0 && previous.summary.pending > 0 && summary.arrived > 0) {
      text = t.announceAllArrived(summary.arrived);
    } else if (summary.arrived !== previous.arrived && now - previous.at >= PROGRESS_EVERY_MS) {
      text = t.announceProgress(summary.arrived, summary.total);
    }
    if (text === null) return;
    announce(text);
    last.current = { summary, at: now, arrived: summary.arrived };
  }, [summary, announce]);
}

/** What changed in who holds the uploads, in the words of whoever let go or took hold. */
function pauseNews(now: PauseReason | null, before: PauseReason | null): string {
  if (now === "user") return t.announcePausedByYou;
  if (now === "offline") return t.announcePaused;
  return before === "user" ? t.announceResumedByYou : t.announceResumed;
}
