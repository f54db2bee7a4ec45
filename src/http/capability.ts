/**
 * What the standard-protocol adapters (tus, IETF resumable uploads) share: the upload URL as a
 * capability (`{uploadId}.{uploadKey}`), header parsing, and the identity used for per-device
 * limits when a stock client sends none.
 */
import { displayNameField } from "../core/words";
import { ANONYMOUS_DEVICE_PREFIX } from "../core/limits";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError, refusals, type ErrorCode, type Refusal } from "../core/errors";
import type { CreatedUpload } from "../core/admission";
import type { UploadRef } from "../core/session-client";
import type { SessionView } from "../core/upload-session";
import { sha256Hex } from "../lib/crypto";
import { responseHeader } from "./openapi";
import { annotate, type AppContext } from "./context";
import { issuedIdPattern } from "./validation";

export function refuse(status: ContentfulStatusCode, code: ErrorCode, message: string, headers?: Record<string, string>): never {
  throw new ApiError({ status, code, message, ...(headers ? { headers } : {}) });
}

/** The path segment that names an upload and carries its key. */
export const capabilitySegment = (created: Pick<CreatedUpload, "upload_id" | "upload_key">) =>
  `${created.upload_id}.${created.upload_key}`;

/** An upload named by its capability segment, or null if `segment` is not one. */
export function capabilityOf(joinToken: string, segment: string): UploadRef | null {
  const [uploadId, uploadKey, ...rest] = segment.split(".");
  if (rest.length || !issuedIdPattern.test(uploadId!) || !/^[A-Za-z0-9_-]{16,128}$/.test(uploadKey ?? "")) return null;
  return { joinToken, uploadId: uploadId!, uploadKey };
}

export function capabilityRef(c: AppContext): UploadRef {
  const ref = capabilityOf(c.req.param("token")!, c.req.param("upload") ?? "");
  if (!ref) refuse(404, "upload_not_found", "No such upload for this event.");
  annotate(c, { upload_id: ref.uploadId });
  return ref;
}

/**
 * Runs a core call for a capability URL: a wrong key is an unknown upload (the key is part of
 * the URL), and a failed upload is gone.
 */
export async function viaCapability<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const refusal: Refusal = { status: error.status, code: error.code, message: error.message, details: error.details, headers: error.headers };
    if (error.code === "invalid_upload_key") throw new ApiError({ ...refusal, status: 404, code: "upload_not_found", message: "No such upload for this event." });
    if (error.code === "upload_failed") throw new ApiError({ ...refusal, status: 410 });
    throw error;
  }
}

/**
 * Refuses an offset request for an upload that has ended, with the code the guest API answers
 * for the same state (an expired upload is `session_expired` everywhere); `status` is the
 * protocol's (tus: 410 Gone, IETF: 404).
 */
export function refuseEnded(view: Pick<SessionView, "status">, status: ContentfulStatusCode): void {
  const ended =
    view.status === "expired" ? refusals.sessionExpired() :
    view.status === "cancelled" ? refusals.uploadCancelled() :
    view.status === "failed" ? refusals.uploadFailed(null) : null;
  if (ended) throw new ApiError({ ...ended, status });
}

export function nonNegativeInteger(value: string | undefined, header: string): number {
  if (value === undefined || !/^\d{1,16}$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    refuse(400, "invalid_request", `${header} must be a non-negative integer.`);
  }
  return Number(value);
}

/** The Content-Length a request declared, if any (a hint for streamed appends). */
export function declaredLength(c: AppContext): number | null {
  const header = c.req.header("content-length");
  return header === undefined ? null : nonNegativeInteger(header, "Content-Length");
}

/**
 * Whom a create counts against: the device id a client gave, if well-formed; otherwise (stock tus
 * and IETF clients send none) its IP address, as an anonymous uploader with a larger allowance
 * (core/limits.ts, `uploaderLimits`). The address is hashed with a secret, so the id organisers
 * see does not reveal it.
 */
export async function uploaderFor(c: AppContext, given: string | undefined): Promise<{ deviceId: string; anonymous: boolean }> {
  if (given && /^[A-Za-z0-9._:-]{8,128}$/.test(given)) return { deviceId: given, anonymous: false };
  const address = await sha256Hex(`${c.env.SIGNING_SECRET}\nanonymous uploader\n${c.req.header("cf-connecting-ip") ?? ""}`);
  return { deviceId: `${ANONYMOUS_DEVICE_PREFIX}${address.slice(0, 24)}`, anonymous: true };
}

/** A client's own id for a file (tus metadata `client_id`, IETF `X-Client-Id`), when it sent one. */
export function clientIdFrom(value: string | undefined): string | undefined {
  if (value !== undefined && (value.length < 1 || value.length > 128)) refuse(400, "invalid_request", "A client id has 1 to 128 characters.");
  return value;
}

/**
 * A guest's display name (normalised, core/words.ts), when the client sent one: tus metadata
 * `display_name` (refused as `invalid_metadata`), the IETF adapter's `X-Display-Name` header,
 * percent-encoded UTF-8 (refused as `invalid_request`).
 */
export function displayNameFrom(value: string | undefined, code: "invalid_metadata" | "invalid_request"): string | undefined {
  if (value === undefined) return undefined;
  const parsed = displayNameField.safeParse(value);
  if (!parsed.success) refuse(400, code, `The display name ${parsed.error.issues[0]?.message ?? "is not valid"}.`);
  return parsed.data;
}

export const httpDate = (iso: string) => new Date(iso).toUTCString();

/**
 * Tells a tus or IETF client the chunk size to send: the upload's R2 part size, the size at which
 * a chunk costs one R2 write and no stored tail. Neither protocol has a header for it, so this is
 * our own `Upload-Chunk-Size` (as proposed for tus as `Tus-Min-Chunk-Size`, and as getsentry/relay
 * sends it); a client that ignores it may send any size.
 */
export function recommendChunkSize(c: AppContext, bytes: number): void {
  c.header("Upload-Chunk-Size", String(bytes));
}
export const chunkSizeHeader = { "Upload-Chunk-Size": responseHeader("The chunk size to send, in bytes: the upload's R2 part size (any size is accepted)") };
