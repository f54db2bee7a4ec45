/**
 * What a failed call means for one file's upload. The decision table of the engine: which
 * errors are worth retrying, which ask for a new session, and which are the server's final word.
 */
import type { ApiFailure } from "./api.ts";

export type Disposition =
  /** Transient (no answer, 5xx, 408, 429 rate_limited, a cut-off chunk): back off and try again. */
  | { kind: "retry"; retryAfterMs: number | null }
  /** The server's offset differs from ours: carry on from `offset` (null: ask for it). */
  | { kind: "resync"; offset: number | null }
  /** The device has as many uploads in flight as the event allows: wait for one to end. */
  | { kind: "wait_for_slot" }
  /** The session is gone (expired, unknown, key no longer valid): start a new one for the file. */
  | { kind: "new_session" }
  /** The file's batch entry is gone (let go while it waited, for the event's batch quota) or was withdrawn: register the file again. */
  | { kind: "register_again" }
  /** Every byte is already there: complete. */
  | { kind: "complete" }
  /** The server will not take this file (too large, wrong type, daily cap, event closed). */
  | { kind: "refused" }
  | { kind: "cancelled" }
  /** Anything else: a fault retrying will not fix. */
  | { kind: "failed" };

/** Codes of refusals by the event's rules: shown to the guest as the reason, never retried. */
const refusalCodes = new Set([
  "upload_limit",
  // The device's photos for the whole event are used up (max_photos_per_guest).
  "photo_limit",
  "unsupported_type",
  "event_closed",
  "event_not_found",
  "join_link_expired",
  // Refused when its batch was registered; only a stale client would still try to create it.
  "batch_file_refused",
]);

/**
 * `chunkStart` is where the chunk that failed began, if it was a chunk: a 409 that names that
 * same offset means another request of this upload still holds the turn (a dropped
 * connection's chunk the server is still winding up), which passes with time.
 */
export function classify(failure: ApiFailure, chunkStart: number | null = null): Disposition {
  const { status, code } = failure;
  if (status === 0 || status === 408 || status >= 500 || code === "rate_limited" || code === "chunk_interrupted") {
    return { kind: "retry", retryAfterMs: failure.retryAfterMs };
  }
  if (code === "upload_limit" && failure.details.limit === "concurrent_uploads") return { kind: "wait_for_slot" };
  if (refusalCodes.has(code)) return { kind: "refused" };
  switch (code) {
    case "chunk_out_of_order":
      return failure.uploadOffset !== null && failure.uploadOffset === chunkStart
        ? { kind: "retry", retryAfterMs: failure.retryAfterMs }
        : { kind: "resync", offset: failure.uploadOffset };
    case "upload_incomplete":
      return { kind: "resync", offset: failure.uploadOffset ?? numberOrNull(failure.details.received_bytes) };
    case "session_expired":
    case "upload_not_found":
    case "invalid_upload_key":
      return { kind: "new_session" };
    case "batch_not_found":
    // Withdrawn (skipped or cancelled) by this device, yet queued here again: only a new entry takes a session.
    case "batch_file_withdrawn":
      return { kind: "register_again" };
    case "upload_completed":
      return { kind: "complete" };
    case "upload_cancelled":
      return { kind: "cancelled" };
    default:
      return { kind: "failed" };
  }
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}
