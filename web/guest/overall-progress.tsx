import { formatSize, t } from "./i18n.ts";
import type { UploadSummary } from "./summary.ts";

/** "37 of 100 photos, 212 MB of 480 MB", a bar, and what the guest should know about the whole selection. */
export function OverallProgress({ summary }: { summary: UploadSummary }) {
  const { arrived, total, sentBytes, bytes, refused, failed, pending, pausedOffline } = summary;
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
      {pausedOffline && pending > 0 && <p class="notice notice-warn">{t.pausedOffline}</p>}
      {pending === 0 && arrived > 0 && <p class="notice notice-ok">{t.allArrived}</p>}
    </div>
  );
}
