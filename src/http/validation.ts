import type { z } from "zod";
import { ApiError } from "../core/errors";
import type { AppContext } from "./context";

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
