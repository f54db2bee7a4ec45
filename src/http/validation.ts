import type { z } from "zod";
import { ApiError } from "../core/errors";
import type { AppContext } from "./context";

/** JSON bodies of control calls are small; anything bigger is refused before it is read whole. */
export const MAX_JSON_BYTES = 16 * 1024;

/** Reads a JSON body of at most `maxBytes` and validates it against `schema`. */
export async function jsonBody<S extends z.ZodType>(c: Pick<AppContext, "req">, schema: S, maxBytes = MAX_JSON_BYTES): Promise<z.infer<S>> {
  const tooLarge = new ApiError({
    status: 413,
    code: "body_too_large",
    message: `Request bodies may be at most ${maxBytes} bytes.`,
  });
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge;
  const text = await readCapped(c.req.raw.body, maxBytes);
  if (text === null) throw tooLarge;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError({ status: 400, code: "invalid_json", message: "The request body is not valid JSON." });
  }
  return validated(schema, parsed);
}

export function validated<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
    throw new ApiError({ status: 400, code: "invalid_request", message: issues.join("; "), details: { issues } });
  }
  return result.data;
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
