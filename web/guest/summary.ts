/** The whole selection in a few numbers: what the overall line, the live region and the wake lock go by. */
import type { EngineSnapshot, FileState, PauseReason } from "../engine/index.ts";

/** The states of a file with bytes still to send, paused or not. */
const statesStillToSend: readonly FileState[] = ["waiting", "hashing", "uploading", "retrying", "paused"];

export function isStillToSend(state: FileState): boolean {
  return statesStillToSend.includes(state);
}

export interface UploadSummary {
  /** Files on their way or arrived (refused, failed and cancelled ones left out, as in the byte counts). */
  total: number;
  /** Of those, the ones whose bytes all arrived (processing or done). */
  arrived: number;
  bytes: number;
  sentBytes: number;
  refused: number;
  failed: number;
  /** Files with bytes still to send, paused or not. */
  pending: number;
  /** Who holds the uploads: the guest's own pause button, or being offline (the guest's pause shows first). */
  pausedBy: PauseReason | null;
}

export function summarize({ totals, pausedBy }: EngineSnapshot): UploadSummary {
  const { byState } = totals;
  const arrived = byState.processing + byState.done;
  const pending = statesStillToSend.reduce((sum, state) => sum + byState[state], 0);
  return {
    total: arrived + pending,
    arrived,
    bytes: totals.bytes,
    sentBytes: totals.sentBytes,
    refused: byState.refused,
    failed: byState.failed,
    pending,
    pausedBy,
  };
}
