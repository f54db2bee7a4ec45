/**
 * The guest API (README, "The guest API") as typed calls. Every failure becomes an ApiFailure:
 * the server's error code and details, or `network_error` / `timeout` (status 0) when no
 * answer came back. A request aborted through the caller's signal rethrows the AbortError.
 */
import { parseRetryAfter } from "./backoff.ts";
import { contentRange, type ByteRange } from "./chunks.ts";
import { linkSignals } from "./control.ts";
import type { Clock } from "./clock.ts";
import type { components } from "../shared/api-types.ts";

/** What the server says about a refusal or an error, as the UI shows it. */
export interface ErrorInfo {
  code: string;
  message: string;
}

/** The API's shapes, generated from its OpenAPI document (web/shared/api-types.ts). */
type Schemas = components["schemas"];
export type EventInfo = Schemas["EventInfo"];
export type BatchFileRequest = Schemas["CreateBatchBody"]["files"][number];
export type CreatedBatch = Schemas["CreatedBatch"];
export type BatchSnapshot = Schemas["BatchSnapshot"];
export type BatchFileState = BatchSnapshot["files"][number]["state"];
/** Why a batch file will get no session: skipped as a duplicate, or cancelled. */
export type WithdrawReason = Schemas["WithdrawBatchFileBody"]["reason"];
/** The capability for one file of a registered batch. */
export interface BatchFileRef {
  batchId: string;
  batchKey: string;
  fileId: string;
}
export type UploadRequest = Schemas["CreateUploadBody"];
export type MessageRequest = Schemas["CreateMessageBody"];
export type CreatedMessage = Schemas["CreatedMessage"];
export type CreatedUpload = Schemas["CreatedUpload"];
export type UploadStatus = Schemas["UploadStatus"];
export type UploadStatusName = UploadStatus["status"];
export type PhotoReceipt = Schemas["PhotoReceipt"];
export type GalleryPage = Schemas["GalleryPage"];
export type DeviceAllowance = Schemas["DeviceAllowance"];
export type CreatedClaim = Schemas["CreatedClaim"];
export type ClaimedPhotos = Schemas["ClaimedPhotos"];

/** The capability for one upload session. */
export interface SessionRef {
  uploadId: string;
  uploadKey: string;
}

/** A call that did not succeed: the server's refusal, or no usable answer at all (status 0). */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryAfterMs: number | null;
  /** The server's offset, from an `Upload-Offset` header or an `expected_offset` detail. */
  readonly uploadOffset: number | null;

  constructor(status: number, info: ErrorInfo, details: Record<string, unknown> = {}, retryAfterMs: number | null = null, uploadOffset: number | null = null) {
    super(info.message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = info.code;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
    this.uploadOffset = uploadOffset;
  }

  get info(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

export interface GuestApiOptions {
  /** The API's origin, e.g. `https://photos.example.com`. */
  origin: string;
  joinToken: string;
  fetch: typeof fetch;
  clock: Clock;
  /**
   * A request (body sent, answer read) that takes longer is abandoned as a `timeout`; one with
   * a body gets more time, as if it went at MIN_BYTES_PER_SECOND.
   */
  requestTimeoutMs: number;
}

/** Slower than this, a request body counts as stalled (venue Wi-Fi at its worst still does better). */
const MIN_BYTES_PER_SECOND = 16 * 1024;

interface CallOptions {
  headers?: Record<string, string>;
  body?: BodyInit;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

export class GuestApi {
  private readonly base: string;
  private readonly options: GuestApiOptions;

  constructor(options: GuestApiOptions) {
    this.options = options;
    this.base = `${options.origin.replace(/\/+$/, "")}/api/v1/events/${encodeURIComponent(options.joinToken)}`;
  }

  async eventInfo(signal?: AbortSignal): Promise<EventInfo> {
    return (await this.call("GET", "", { signal })).json as EventInfo;
  }

  async createBatch(deviceId: string, files: BatchFileRequest[], signal?: AbortSignal, displayName?: string): Promise<CreatedBatch> {
    return (await this.call("POST", "/batches", jsonCall({ device_id: deviceId, files, ...(displayName ? { display_name: displayName } : {}) }, signal))).json as CreatedBatch;
  }

  /** Leaves a guestbook message (the server normalises it and may hold it for the organisers' approval). */
  async postMessage(request: MessageRequest, signal?: AbortSignal): Promise<CreatedMessage> {
    return (await this.call("POST", "/messages", jsonCall(request, signal))).json as CreatedMessage;
  }

  async batch(batchId: string, batchKey: string, signal?: AbortSignal): Promise<BatchSnapshot> {
    return (await this.call("GET", `/batches/${encodeURIComponent(batchId)}`, { headers: { "Batch-Key": batchKey }, signal })).json as BatchSnapshot;
  }

  /** Tells the server a batch file will get no session, so its snapshot settles (`skipped` or `cancelled`) rather than stays `waiting`. */
  async withdrawBatchFile(file: BatchFileRef, reason: WithdrawReason, signal?: AbortSignal): Promise<void> {
    const call = jsonCall({ reason }, signal);
    const path = `/batches/${encodeURIComponent(file.batchId)}/files/${encodeURIComponent(file.fileId)}/withdraw`;
    await this.call("POST", path, { ...call, headers: { ...call.headers, "Batch-Key": file.batchKey } });
  }

  async createUpload(request: UploadRequest, batchKey: string | null, signal?: AbortSignal): Promise<CreatedUpload> {
    const call = jsonCall(request, signal);
    if (batchKey) call.headers["Batch-Key"] = batchKey;
    return (await this.call("POST", "/uploads", call)).json as CreatedUpload;
  }

  /**
   * Sends bytes `range` of `file`; resolves with the server's new offset. The file's last chunk
   * asks the server to complete the upload with it, saving a request: its answer carries the
   * photo (`receipt`), unless the server predates that and answered only the offset.
   */
  async putChunk(session: SessionRef, file: Blob, range: ByteRange, signal?: AbortSignal): Promise<{ offset: number; receipt: PhotoReceipt | null }> {
    const completes = range.end === file.size;
    const answer = await this.call("PUT", `${uploadPath(session)}/chunk`, {
      // Content-Length comes from the Blob body (browsers refuse to let scripts set it).
      headers: { ...keyHeader(session), "Content-Range": contentRange(range, file.size), ...(completes ? { "Upload-Complete": "?1" } : {}) },
      body: file.slice(range.start, range.end),
      signal,
    });
    const offset = headerNumber(answer.headers, "upload-offset") ?? range.end;
    return { offset, receipt: completes && answer.status !== 204 ? (answer.json as PhotoReceipt) : null };
  }

  /** Sends the file's preview ahead of its bytes (issue 15): its photo is viewable before the original arrives. */
  async putPreview(session: SessionRef, preview: Blob, signal?: AbortSignal): Promise<void> {
    await this.call("PUT", `${uploadPath(session)}/preview`, { headers: { ...keyHeader(session), "Content-Type": preview.type }, body: preview, signal });
  }

  async uploadStatus(session: SessionRef, signal?: AbortSignal): Promise<UploadStatus> {
    return (await this.call("GET", uploadPath(session), { headers: keyHeader(session), signal })).json as UploadStatus;
  }

  async complete(session: SessionRef, signal?: AbortSignal): Promise<PhotoReceipt> {
    return (await this.call("POST", `${uploadPath(session)}/complete`, { headers: keyHeader(session), signal })).json as PhotoReceipt;
  }

  async abort(session: SessionRef, signal?: AbortSignal): Promise<void> {
    await this.call("DELETE", uploadPath(session), { headers: keyHeader(session), signal });
  }

  /** Takes back (deletes) the photo made from this upload. */
  async takeBackPhoto(session: SessionRef, signal?: AbortSignal): Promise<void> {
    await this.call("DELETE", `${uploadPath(session)}/photo`, { headers: keyHeader(session), signal });
  }

  /**
   * One page of the event's approved photos (when its gallery is on), with the server's clock at
   * the answer (its Date header; null without one), to read the signed URLs' expiry against.
   */
  async gallery(cursor: string | null, limit: number, signal?: AbortSignal): Promise<GalleryPage & { servedAt: number | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const answer = await this.call("GET", `/photos?${query}`, { signal });
    const servedAt = Date.parse(answer.headers.get("date") ?? "");
    return { ...(answer.json as GalleryPage), servedAt: Number.isNaN(servedAt) ? null : servedAt };
  }

  /** How many photos this device has used of the event's per-guest allowance, and has left. */
  async allowance(deviceId: string, signal?: AbortSignal): Promise<DeviceAllowance> {
    return (await this.call("GET", `/devices/${encodeURIComponent(deviceId)}/allowance`, { signal })).json as DeviceAllowance;
  }

  /** Makes a code that opens this device's uploads on another device, proven by one of its uploads. */
  async createClaim(session: SessionRef, signal?: AbortSignal): Promise<CreatedClaim> {
    const call = jsonCall({ upload_id: session.uploadId }, signal);
    return (await this.call("POST", "/claims", { ...call, headers: { ...call.headers, ...keyHeader(session) } })).json as CreatedClaim;
  }

  /** The photos of the device a claim code opens (the code goes in a header, never the URL). */
  async claimedPhotos(code: string, cursor: string | null, signal?: AbortSignal): Promise<ClaimedPhotos> {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    return (await this.call("GET", `/claims/photos?${query}`, { headers: { "Claim-Code": code }, signal })).json as ClaimedPhotos;
  }

  async takeBackClaimedPhoto(code: string, photoId: string, signal?: AbortSignal): Promise<void> {
    await this.call("DELETE", `/claims/photos/${encodeURIComponent(photoId)}`, { headers: { "Claim-Code": code }, signal });
  }

  private async call(method: string, path: string, call: CallOptions): Promise<Answer> {
    const { clock } = this.options;
    const bodyBytes = call.body instanceof Blob ? call.body.size : 0;
    const timeoutMs = this.options.requestTimeoutMs + (1000 * bodyBytes) / MIN_BYTES_PER_SECOND;
    const timeout = new AbortController();
    const stopTimer = new AbortController();
    void clock.sleep(timeoutMs, stopTimer.signal).then(() => {
      if (!stopTimer.signal.aborted) timeout.abort();
    });
    const link = linkSignals(call.signal ? [call.signal, timeout.signal] : [timeout.signal]);
    const signal = link.signal;
    try {
      // Reading the answer is inside the try: a connection can drop after the status line.
      const response = await this.options.fetch(this.base + path, { method, headers: call.headers, body: call.body, signal });
      const text = await response.text();
      const json = text ? parseJson(text) : null;
      if (!response.ok) throw failureFrom(response, json, clock.now());
      return { status: response.status, headers: response.headers, json };
    } catch (error) {
      if (error instanceof ApiFailure) throw error;
      if (call.signal?.aborted) throw call.signal.reason ?? error;
      if (timeout.signal.aborted) {
        throw new ApiFailure(0, { code: "timeout", message: `No answer within ${Math.round(timeoutMs / 1000)} s.` });
      }
      throw new ApiFailure(0, { code: "network_error", message: `The connection failed (${describe(error)}).` });
    } finally {
      stopTimer.abort();
      link.unlink();
    }
  }
}

function jsonCall(body: unknown, signal: AbortSignal | undefined): CallOptions & { headers: Record<string, string> } {
  return { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal };
}

function uploadPath(session: SessionRef): string {
  return `/uploads/${encodeURIComponent(session.uploadId)}`;
}

function keyHeader(session: SessionRef): Record<string, string> {
  return { "Upload-Key": session.uploadKey };
}

function headerNumber(headers: Headers, name: string): number | null {
  const value = headers.get(name);
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The `{"error": {code, message, ...details}}` body, or a description of whatever came instead. */
function failureFrom(response: Response, json: unknown, now: number): ApiFailure {
  const body = (json as { error?: Record<string, unknown> } | null)?.error;
  const code = typeof body?.code === "string" ? body.code : `http_${response.status}`;
  const message = typeof body?.message === "string" ? body.message : `The server answered ${response.status} ${response.statusText}.`;
  const details = body ?? {};
  const expected = typeof details.expected_offset === "number" ? details.expected_offset : null;
  return new ApiFailure(
    response.status,
    { code, message },
    details,
    parseRetryAfter(response.headers.get("retry-after"), now),
    headerNumber(response.headers, "upload-offset") ?? expected,
  );
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
