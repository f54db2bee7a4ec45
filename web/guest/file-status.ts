/** A file's state in words a guest understands, with the tone it is shown in. */
import type { ErrorInfo, EventInfo, FileView, PauseReason } from "../engine/index.ts";
import { formatSize, t } from "./i18n.ts";

type Tone = "quiet" | "active" | "warn" | "ok" | "danger";

interface FileStatus {
  text: string;
  tone: Tone;
}

export function fileStatus(file: FileView, pausedBy: PauseReason | null, limits: EventInfo["limits"], now: number): FileStatus {
  switch (file.state) {
    case "waiting":
      return { text: t.stateWaiting, tone: "quiet" };
    case "hashing":
      return { text: t.stateHashing, tone: "active" };
    case "uploading":
      return { text: t.stateUploading(percentSent(file)), tone: "active" };
    case "paused":
      return { text: pausedBy === "user" ? t.statePausedByYou : t.statePaused, tone: "warn" };
    case "retrying":
      return { text: t.stateRetrying(Math.max(0, Math.ceil(((file.nextAttemptAt ?? now) - now) / 1000))), tone: "warn" };
    case "processing":
      return { text: t.stateProcessing, tone: "active" };
    case "done":
      return { text: file.duplicateOf ? t.stateDuplicate : t.stateDone, tone: "ok" };
    case "refused":
      return { text: t.stateRefused(reasonFor(file.error, file, limits)), tone: "danger" };
    case "failed":
      return { text: t.stateFailed(reasonFor(file.error, file, limits)), tone: "danger" };
    case "cancelled":
      return { text: t.stateCancelled, tone: "quiet" };
  }
}

function percentSent(file: FileView): number {
  return file.size === 0 ? 100 : Math.floor((100 * file.sentBytes) / file.size);
}

/**
 * The server's refusal in the guest's words. `upload_limit` covers both the size cap and the
 * daily cap (the detail that tells them apart does not reach the engine's ErrorInfo), so the
 * file's size against the event's cap decides; a too-many-at-once limit never ends up here,
 * the engine waits for a free slot instead.
 */
function reasonFor(error: ErrorInfo | null, file: Pick<FileView, "size" | "type">, limits: EventInfo["limits"]): string {
  switch (error?.code) {
    case "upload_limit": {
      // Videos have their own cap.
      const cap = file.type.startsWith("video/") ? limits.max_video_size : limits.max_file_size;
      return file.size > cap ? t.reasonTooLarge(formatSize(cap)) : t.reasonDailyLimit(limits.daily_upload_cap_per_device);
    }
    case "photo_limit":
      return t.reasonPhotoLimit(limits.max_photos_per_guest ?? 0);
    case "unsupported_type":
      return t.reasonWrongType;
    case "event_closed":
      return t.reasonClosed;
    case "event_not_found":
    case "join_link_expired":
      return t.reasonLinkInvalid;
    case "empty_file":
      return t.reasonEmpty;
    case "file_unavailable":
    case "file_unreadable":
      return t.reasonUnreadable;
    default:
      // Anything rarer (a processing failure, a server fault) in the server's own words.
      return error?.message ?? "";
  }
}
