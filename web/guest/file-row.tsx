import type { EventInfo, FileView, PauseReason, UploadEngine } from "../engine/index.ts";
import { fileStatus } from "./file-status.ts";
import { formatSize, t } from "./i18n.ts";
import { Preview } from "./preview.tsx";
import { isStillToSend } from "./summary.ts";
import { TakeBackButton } from "./take-back-button.tsx";

interface FileRowProps {
  file: FileView;
  /** Who holds the uploads, for the words of a paused file. */
  pausedBy: PauseReason | null;
  engine: UploadEngine;
  limits: EventInfo["limits"];
  /** The time retry countdowns count to. */
  now: number;
  onTakenBack: () => void;
}

/** One picked file: preview, name (always as text), its state in words, and what can be done with it. */
export function FileRow({ file, pausedBy, engine, limits, now, onTakenBack }: FileRowProps) {
  const status = fileStatus(file, pausedBy, limits, now);
  const stillToSend = isStillToSend(file.state);
  return (
    <li class="file-row">
      <Preview file={file.file} />
      <div class="file-main">
        <p class="file-name breakable">{file.name}</p>
        <p class="file-state">
          <span class={`tone-${status.tone}`}>{status.text}</span>
          <span class="muted"> · {formatSize(file.size)}</span>
        </p>
        {/* The words above carry the percentage for screen readers; the bar is for the eyes. */}
        {stillToSend && (file.state === "uploading" || file.sentBytes > 0) && (
          <progress class="file-progress" max={file.size || 1} value={file.sentBytes} aria-hidden="true" />
        )}
      </div>
      <div class="file-actions">
        {stillToSend && (
          <button type="button" class="button button-small" aria-label={t.cancel(file.name)} onClick={() => void engine.cancel(file.id)}>
            {t.cancelShort}
          </button>
        )}
        {file.state === "failed" && !file.error?.code.startsWith("processing_") && (
          <button type="button" class="button button-small" aria-label={t.retry(file.name)} onClick={() => engine.retry(file.id)}>
            {t.retryShort}
          </button>
        )}
        {(file.state === "processing" || file.state === "done") && !file.duplicateOf && (
          <TakeBackButton engine={engine} fileId={file.id} label={t.takeBackFile(file.name)} onTakenBack={onTakenBack} />
        )}
      </div>
    </li>
  );
}
