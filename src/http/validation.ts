/**
 * What the HTTP adapters read from requests, in one place: ids in paths, the media type, bodies
 * (JSON capped and parsed; upload bytes as a stream), and how a failed validation is answered.
 */
import type { z } from "zod";
import { ApiError } from "../core/errors";
import { mediaType } from "../lib/media-types";
import type { AppContext } from "./context";

/** The ids the service issues (uploads, batches) are UUIDs: anything else names nothing, unread. */
export const issuedIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A request's media type (lowercase, no parameters), or null when it sends no Content-Type. */
export function requestMediaType(request: Request): string | null {
  const header = request.headers.get("content-type");
  return header === null ? null : mediaType(header);
}

const JSON_MEDIA_TYPE = /^application\/([a-z.-]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** `application/json` or a `+json` type, with well-formed parameters: the one test of a JSON body's type. */
export const isJsonRequest = (request: Request) => JSON_MEDIA_TYPE.test(request.headers.get("content-type") ?? "");

/** A body is declared by a non-zero Content-Length, or by a stream without one (chunked). */
export function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  return length !== null ? Number(length) !== 0 : request.body !== null;
}

/** An upload request's bytes, as a stream (empty when it sent none). */
export const uploadBody = (c: Pick<AppContext, "req">) => c.req.raw.body ?? new Blob([]).stream();

/** JSON bodies of control calls are small; anything bigger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

/** Reads and parses a JSON body of at most `maxBytes`. */
export async function readJson(c: Pick<AppContext, "req">, maxBytes = MAX_JSON_BYTES): Promise<unknown> {
  const tooLarge = new ApiError({
    status: 413,
    code: "body_too_large",
    message: `Request bodies may be at most ${maxBytes} bytes.`,
  });
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge;
  const text = await readCapped(c.req.raw.body, maxBytes);
  if (text === null) throw tooLarge;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError({ status: 400, code: "invalid_json", message: "The request body is not valid JSON." });
  }
}

/** A failed validation as the API answers it: 400 `invalid_request`, one "field: problem" each. */
export function issuesOf(error: z.ZodError): ApiError {
  const issues = error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
  return new ApiError({ status: 400, code: "invalid_request", message: issues.join("; "), details: { issues } });
}

/** The body as text, or null once it passes `maxBytes` (a chunked body may not declare its size). */
async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string | null> {
  if (!body) return "";
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) return null; // leaving the loop cancels the rest of the body
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}
