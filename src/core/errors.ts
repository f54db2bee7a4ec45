import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every code an error body can carry: stable, documented (README), and the enum of the
 * OpenAPI document's ErrorBody, so a client can switch on them.
 */
export const errorCodes = [
  "admin_token_not_found", "assembly_failed", "batch_device_mismatch", "batch_file_has_upload", "batch_file_refused", "batch_file_withdrawn", "batch_not_found",
  "beyond_upload_length", "body_too_large", "checksum_mismatch", "chunk_interrupted", "chunk_out_of_order",
  "chunk_too_small", "claim_needs_device_id", "claim_not_found", "claim_revoked", "event_archived", "event_closed", "event_not_found", "file_not_found", "final_upload",
  "forbidden", "gallery_disabled", "gallery_not_open", "inconsistent_upload_length", "internal_error", "invalid_batch_key",
  "invalid_claim_code", "invalid_cursor", "invalid_json", "invalid_metadata", "invalid_request", "invalid_signature",
  "invalid_upload_key", "invalid_webhook_url", "join_link_expired", "join_link_not_found", "length_required", "link_expired",
  "location_unremovable", "message_limit", "message_not_found", "method_not_allowed", "not_found", "origin_not_allowed", "partial_not_complete",
  "photo_limit", "photo_not_found", "photo_not_hidden", "photo_not_ready", "range_mismatch", "rate_limited", "server_busy", "session_expired",
  "ticket_used", "unauthorized", "unsupported_checksum", "unsupported_interop_version", "unsupported_media_type",
  "unsupported_tus_version", "unsupported_type", "upload_cancelled", "upload_completed", "upload_failed",
  "upload_incomplete", "upload_is_partial", "upload_limit", "upload_not_found", "upload_not_partial",
  "webhook_limit", "webhook_not_found", "websocket_required",
  // Previews (core/previews.ts).
  "invalid_preview", "preview_dimensions_too_large", "preview_too_large",
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** Detail values stay flat so the RPC types can map them. */
type JsonValue = string | number | boolean | null | string[];

/** A refusal as plain data, so it can cross Durable Object RPC unchanged. */
export interface Refusal {
  status: ContentfulStatusCode;
  code: ErrorCode;
  message: string;
  details?: Record<string, JsonValue>;
  headers?: Record<string, string>;
}

/**
 * Every error the API answers with: a stable machine-readable code, a human message, and an
 * HTTP status. Serialised as `{"error": {"code", "message", "request_id", ...details}}`.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly details: Record<string, JsonValue>;
  readonly headers: Record<string, string>;

  constructor(refusal: Refusal) {
    super(refusal.message);
    this.status = refusal.status;
    this.code = refusal.code;
    this.details = refusal.details ?? {};
    this.headers = refusal.headers ?? {};
  }
}

/** The refusals of the upload core, named once so every adapter answers alike. */
export const refusals = {
  fileNotFound: (): Refusal => ({ status: 404, code: "file_not_found", message: "No such file." }),
  eventClosed: (message = "This event is not accepting uploads.", details?: Refusal["details"]): Refusal => ({
    status: 403,
    code: "event_closed",
    message,
    ...(details ? { details } : {}),
  }),
  uploadNotFound: (): Refusal => ({ status: 404, code: "upload_not_found", message: "No such upload for this event." }),
  invalidUploadKey: (): Refusal => ({
    status: 401,
    code: "invalid_upload_key",
    message: "The Upload-Key header is missing or does not match this upload.",
  }),
  chunkOutOfOrder: (expectedOffset: number, why: string): Refusal => ({
    status: 409,
    code: "chunk_out_of_order",
    message: `${why} The next chunk must start at byte ${expectedOffset}.`,
    details: { expected_offset: expectedOffset },
    headers: { "Upload-Offset": String(expectedOffset) },
  }),
  rangeMismatch: (message: string): Refusal => ({ status: 400, code: "range_mismatch", message }),
  checksumMismatch: (): Refusal => ({
    status: 460 as ContentfulStatusCode,
    code: "checksum_mismatch",
    message: "The body does not match its Upload-Checksum; nothing of it was kept.",
  }),
  beyondEnd: (totalSize: number): Refusal => ({
    status: 413,
    code: "beyond_upload_length",
    message: `These bytes would go past the end of the ${totalSize}-byte upload.`,
  }),
  sessionExpired: (): Refusal => ({
    status: 410,
    code: "session_expired",
    message: "This upload session has expired; start the upload again.",
  }),
  uploadCancelled: (): Refusal => ({ status: 410, code: "upload_cancelled", message: "This upload was cancelled." }),
  uploadFailed: (reason: string | null): Refusal => ({
    status: 409,
    code: "upload_failed",
    message: `This upload failed${reason ? `: ${reason}` : "."}`,
  }),
  uploadCompleted: (): Refusal => ({
    status: 409,
    code: "upload_completed",
    message: "This upload already has all its bytes; no more can be added or removed.",
  }),
  uploadIncomplete: (received: number, total: number): Refusal => ({
    status: 409,
    code: "upload_incomplete",
    message: `Only ${received} of ${total} bytes have arrived.`,
    details: { received_bytes: received, total_size: total },
    headers: { "Upload-Offset": String(received) },
  }),
  // The isolate holds as many request bytes as its memory budget allows (storage/memory-budget.ts).
  serverBusy: (): Refusal => ({
    status: 503,
    code: "server_busy",
    message: "The server is holding as many uploads in memory as it can; send this chunk again shortly.",
    headers: { "Retry-After": "2" },
  }),
  // The admin API's and live channel's defences against cross-site requests (http/cross-site.ts).
  originNotAllowed: (): Refusal => ({ status: 403, code: "origin_not_allowed", message: "This request must come from the dashboard's origin." }),
  jsonRequired: (): Refusal => ({ status: 415, code: "unsupported_media_type", message: "Request bodies must be sent as Content-Type: application/json." }),
  ticketUsed: (): Refusal => ({ status: 410, code: "ticket_used", message: "This live ticket was used already or is not one we issued; get a new one." }),
  locationUnremovable: (): Refusal => ({
    status: 422,
    code: "location_unremovable",
    message: "This event does not keep photos' locations, and where this file keeps its location cannot be told for certain, so it is not served.",
  }),
};
