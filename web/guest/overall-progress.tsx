import type { UploadEngine } from "../engine/index.ts";
import { formatSize, t } from "./i18n.ts";
import { PauseButton } from "./pause-button.tsx";
import type { UploadSummary } from "./summary.ts";

/** "37 of 100 photos, 212 MB of 480 MB", a bar, a pause button, and what the guest should know about the whole selection. */
export function OverallProgress({ summary, engine }: { summary: UploadSummary; engine: UploadEngine }) {
  const { arrived, total, sentBytes, bytes, refused, failed, pending, pausedBy } = summary;
  const setbacks = [refused > 0 && t.refusedCount(refused), failed > 0 && t.failedCount(failed)].filter(Boolean).join(" · ");
  return (
    <div class="overall">
      {total > 0 && (
        <>
          <p id="overall-count" class="overall-count">
            <strong>{t.filesProgress(arrived, total)}</strong>, {t.bytesProgress(formatSize(sentBytes), formatSize(bytes))}
          </p>
          <progress class="overall-progress" max={bytes || 1} value={sentBytes} aria-labelledby="overall-count" />
        </>
      )}
      {setbacks && <p class="small tone-danger">{setbacks}</p>}
      {pending > 0 && <PauseButton engine={engine} pausedByGuest={pausedBy === "user"} />}
      {pausedBy === "user" && pending > 0 && <p class="notice notice-warn">{t.pausedByYou}</p>}
      {pausedBy === "offline" && pending > 0 && <p class="notice notice-warn">{t.pausedOffline}</p>}
      {pending === 0 && arrived > 0 && <p class="notice notice-ok">{t.allArrived}</p>}
    </div>
  );
}
