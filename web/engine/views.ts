/** What the UI renders: each file's state in words a guest understands, and the totals. */
import type { ErrorInfo } from "./api.ts";
import type { PauseReason } from "./control.ts";
import type { Activity } from "./file-upload.ts";
import type { StoredFile } from "./store.ts";

export type FileState =
  | "waiting"
  | "hashing"
  | "uploading"
  | "paused"
  | "retrying"
  | "processing"
  | "done"
  | "refused"
  | "failed"
  | "cancelled";

export const fileStates: readonly FileState[] = [
  "waiting", "hashing", "uploading", "paused", "retrying", "processing", "done", "refused", "failed", "cancelled",
];

/** True once nothing more will happen to the file (unless it is retried or added again). */
export function isSettled(state: FileState): boolean {
  return state === "done" || state === "refused" || state === "failed" || state === "cancelled";
}

export interface FileView {
  id: string;
  name: string;
  size: number;
  type: string;
  /** The picked file, for a preview; null when it can no longer be read. */
  file: File | null;
  state: FileState;
  /** Bytes the server has confirmed. */
  sentBytes: number;
  /** Why it was refused or failed; while retrying, what went wrong last. */
  error: ErrorInfo | null;
  /** While retrying: when the next attempt is due (the engine clock's milliseconds). */
  nextAttemptAt: number | null;
  photoId: string | null;
  /** Set when the same bytes had already arrived as that file, so this one was not sent. */
  duplicateOf: string | null;
}

export interface Totals {
  files: number;
  byState: Record<FileState, number>;
  /** Bytes of the files that arrived or are on their way (refused, failed and cancelled ones left out). */
  bytes: number;
  sentBytes: number;
}

export interface EngineSnapshot {
  files: FileView[];
  totals: Totals;
  pausedBy: PauseReason | null;
}

export function fileView(record: StoredFile, activity: Activity | undefined, pausedBy: PauseReason | null): FileView {
  const state = stateOf(record, activity, pausedBy);
  const arrived = record.state === "processing" || record.state === "done";
  return {
    id: record.id,
    name: record.name,
    size: record.size,
    type: record.type,
    file: record.file,
    state,
    sentBytes: arrived ? record.size : activity && "sentBytes" in activity ? activity.sentBytes : 0,
    error: activity?.kind === "retrying" ? activity.error : (record.error ?? null),
    nextAttemptAt: state === "retrying" && activity?.kind === "retrying" ? activity.nextAttemptAt : null,
    photoId: record.photoId ?? null,
    duplicateOf: record.duplicateOf ?? null,
  };
}

function stateOf(record: StoredFile, activity: Activity | undefined, pausedBy: PauseReason | null): FileState {
  if (record.state !== "queued") return record.state;
  if (pausedBy) return "paused";
  switch (activity?.kind) {
    case "hashing":
    case "uploading":
    case "retrying":
      return activity.kind;
    default:
      return "waiting";
  }
}

export function totalsOf(files: readonly FileView[]): Totals {
  const byState = Object.fromEntries(fileStates.map((state) => [state, 0])) as Record<FileState, number>;
  let bytes = 0;
  let sentBytes = 0;
  for (const file of files) {
    byState[file.state] += 1;
    if (file.state === "refused" || file.state === "failed" || file.state === "cancelled") continue;
    bytes += file.size;
    sentBytes += Math.min(file.sentBytes, file.size);
  }
  return { files: files.length, byState, bytes, sentBytes };
}
