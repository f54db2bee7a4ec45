/**
 * What the hostile-input tests (fuzz.test.ts, hostile-input.test.ts) share: a client that checks
 * every answer against the invariants that hold for any request whatsoever, the bodies a bad
 * network or a hostile client sends, and the model of an upload's accepted bytes.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { errorCodes } from "../../src/core/errors";
import { MiB, call, fileBytes, sha256Hex } from "./helpers";

/**
 * Every error code an answer may carry: the service's own list (src/core/errors.ts, also the
 * OpenAPI document's enum), so a code outside it is a contract change and fails the tests.
 * internal_error and assembly_failed are left out on purpose: they come with a 5xx, which is
 * itself a failure.
 */
export const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set(errorCodes.filter((code) => code !== "internal_error" && code !== "assembly_failed"));

export interface ApiErrorBody {
  code: string;
  message: string;
  request_id: string;
  [detail: string]: unknown;
}

export interface Answer {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  /** The parsed JSON body, if there was one. */
  json: unknown;
  /** The `error` object of a refusal (never set for HEAD, whose body is dropped). */
  error: ApiErrorBody | null;
}

/** The last requests and server error lines, so a failure says what led up to it. */
class Trail {
  readonly #lines: string[] = [];
  add(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > 40) this.#lines.shift();
  }
  toString(): string {
    return this.#lines.join("\n");
  }
}

/**
 * Sends requests as one client (its own address, so the per-IP limiter counts it alone and other
 * test files sharing the runtime are not starved) and checks what holds for every answer:
 * - no 5xx;
 * - every other non-2xx is `{error: {code, message, request_id}}`, with a code from
 *   KNOWN_ERROR_CODES and the request id of the `X-Request-Id` header;
 * - a 429 rate_limited says when to come back (`Retry-After`).
 */
export class CheckedClient {
  requests = 0;
  /** How often each kind of answer came, e.g. `PUT 409 chunk_out_of_order`: what the run exercised. */
  readonly tally = new Map<string, number>();
  readonly trail = new Trail();
  #ip: number;

  /** Addresses are `{network}.x.y.z`, counting up from `first`: give each test file its own network. */
  constructor(
    readonly network: number,
    first = 0,
  ) {
    this.#ip = first;
  }

  /** Moves to a fresh client address (a new phone on the venue's network). */
  newAddress(): void {
    this.#ip++;
  }

  get address(): string {
    const n = this.#ip;
    return `${this.network}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  }

  async send(path: string, init: RequestInit & { method: string }): Promise<Answer> {
    this.requests++;
    const headers = new Headers(init.headers);
    if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", this.address);
    let response: Response;
    try {
      response = await call(path, { ...init, headers });
    } catch (error) {
      throw new Error(`${init.method} ${path} got no answer: ${String(error)}\n${this.trail}`);
    }
    const text = init.method === "HEAD" ? "" : await response.text();
    let json: unknown = null;
    if (text !== "") {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const answer: Answer = { method: init.method, path, status: response.status, headers: response.headers, json, error: null };
    const code = (json as { error?: { code?: unknown } } | null)?.error?.code;
    const label = `${response.status}${typeof code === "string" ? ` ${code}` : ""}`;
    this.tally.set(`${init.method} ${label}`, (this.tally.get(`${init.method} ${label}`) ?? 0) + 1);
    this.trail.add(`${init.method} ${path} → ${label}`);
    const where = () => `${init.method} ${path} → ${response.status} ${text.slice(0, 300)}\nrecent requests:\n${this.trail}`;

    if (response.status >= 500) throw new Error(`5xx answer: ${where()}`);
    if (response.status >= 300 && init.method !== "HEAD") {
      const error = (json as { error?: ApiErrorBody } | null | undefined)?.error;
      if (!error || typeof error.code !== "string" || typeof error.message !== "string" || error.message === "") {
        throw new Error(`refusal not in the JSON error form: ${where()}`);
      }
      if (!KNOWN_ERROR_CODES.has(error.code)) throw new Error(`unknown error code ${error.code}: ${where()}`);
      if (typeof error.request_id !== "string" || error.request_id !== response.headers.get("x-request-id")) {
        throw new Error(`request_id missing or not the X-Request-Id: ${where()}`);
      }
      answer.error = error;
    }
    if (response.status === 429 && answer.error?.code === "rate_limited" && response.headers.get("retry-after") !== "60") {
      throw new Error(`rate_limited without Retry-After: 60: ${where()}`);
    }
    return answer;
  }
}

/** `status code` of an answer, for messages and comparisons. */
export const outcome = (answer: Answer) => `${answer.status}${answer.error ? ` ${answer.error.code}` : ""}`;

// --- bodies a client sends ---------------------------------------------------------------------

/** A body of unknown length: sent chunked, without Content-Length. */
export function chunkedBody(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return cutShortBody(bytes, bytes.byteLength);
}

/**
 * A body that stops after `delivered` of the bytes its Content-Length promised (send it with
 * that header): what a server reads when the client's connection drops mid-body.
 */
export function cutShortBody(bytes: Uint8Array, delivered: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (delivered > 0) controller.enqueue(bytes.slice(0, delivered));
      controller.close();
    },
  });
}

/** A body whose reading fails after `delivered` bytes, as a broken connection's does. */
export function failingBody(bytes: Uint8Array, delivered: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent && delivered > 0) {
        sent = true;
        controller.enqueue(bytes.slice(0, delivered));
      } else {
        controller.error(new Error("connection dropped"));
      }
    },
  });
}

// --- file contents ----------------------------------------------------------------------------

/** The largest upload the fuzzer makes: just past one 5 MiB R2 part, so parts and staged tails are both exercised. */
export const MAX_FUZZ_SIZE = 5 * MiB + 320 * 1024;
/** Room for each upload's own shift into the pool, and for bodies that run past an upload's end. */
const POOL_SLACK = 64 * 1024;

/**
 * Contents to send, in two versions: a client normally sends version 0 of its file, and
 * sometimes other bytes for the same range (version 1), so a replay or a stray write of the
 * wrong bytes shows in the stored object. Each upload reads the pool at its own shift, so one
 * upload's bytes landing in another's object shows too.
 */
export class ContentPool {
  readonly #versions = [fileBytes(MAX_FUZZ_SIZE + 2 * POOL_SLACK, 101), fileBytes(MAX_FUZZ_SIZE + 2 * POOL_SLACK, 202)];

  /** Bytes [start, end) of an upload's file; past MAX_FUZZ_SIZE + POOL_SLACK the body is cut short. */
  bytes(shift: number, version: 0 | 1, start: number, end: number): Uint8Array {
    const limit = MAX_FUZZ_SIZE + POOL_SLACK;
    const from = Math.min(start, limit);
    return this.#versions[version]!.slice(shift + from, shift + Math.max(from, Math.min(end, limit)));
  }

  static shiftFor(n: number): number {
    return (n * 7919) % POOL_SLACK;
  }
}

// --- the model --------------------------------------------------------------------------------

export type ModelStatus = "open" | "completed" | "cancelled" | "expired";

/** An upload as the client knows it, and the bytes the server said it accepted. */
export class UploadModel {
  readonly accepted: Uint8Array;
  offset = 0;
  status: ModelStatus = "open";
  photoId: string | null = null;
  /** The largest offset the server ever reported: it must never go back. */
  highestSeen = 0;
  /** The stored object's ETag once its bytes were checked, to see cheaply later that it never changed. */
  verifiedEtag: string | null = null;

  constructor(
    readonly name: string,
    readonly token: string,
    readonly id: string,
    readonly key: string,
    readonly size: number,
    readonly device: string,
    readonly shift: number,
  ) {
    this.accepted = new Uint8Array(size);
  }

  /** The server accepted `bytes` at the current offset. */
  accept(bytes: Uint8Array): void {
    this.accepted.set(bytes, this.offset);
    this.offset += bytes.byteLength;
  }

  get remaining(): number {
    return this.size - this.offset;
  }

  /** The upload still takes bytes and counts against its device's uploads in flight. */
  get open(): boolean {
    return this.status === "open";
  }

  /** `{id}.{key}`: the capability path segment of tus and IETF upload URLs. */
  get capability(): string {
    return `${this.id}.${this.key}`;
  }
}

/** The server's stored object for an upload (found through upload_sessions.r2_key), or null. */
export async function storedObject(uploadId: string): Promise<{ key: string; object: R2ObjectBody | null }> {
  const row = await env.DB.prepare("SELECT r2_key FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ r2_key: string }>();
  expect(row, `no upload_sessions row for ${uploadId}`).not.toBeNull();
  return { key: row!.r2_key, object: await env.PHOTOS.get(row!.r2_key) };
}

/**
 * Asserts the stored object is exactly the model's accepted bytes. Once checked, later calls only
 * compare the ETag: any rewrite of the object (a stray replay, an abort) changes it.
 */
export async function expectStoredEqualsAccepted(upload: UploadModel): Promise<void> {
  const { key, object } = await storedObject(upload.id);
  expect(key, "R2 keys come from ids only").toMatch(/^uploads\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
  expect(object, `${upload.name}: no stored object at ${key}`).not.toBeNull();
  expect(object!.size, `${upload.name}: stored size`).toBe(upload.size);
  if (upload.verifiedEtag !== null) {
    await object!.body.cancel();
    expect(object!.etag, `${upload.name}: stored object rewritten after completion`).toBe(upload.verifiedEtag);
    return;
  }
  expect(await sha256Hex(object!.body), `${upload.name}: stored bytes ≠ accepted bytes`).toBe(await sha256Hex(upload.accepted));
  upload.verifiedEtag = object!.etag;
}
