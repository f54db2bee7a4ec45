/**
 * Guests' words: display names and guestbook messages. Both are plain text, stored normalised so
 * every place that shows them (dashboard, slideshow, CSV, ZIP folders) gets the same safe string:
 * Unicode NFC; no control, bidi-override, invisible or unpaired-surrogate characters; no floods of
 * combining marks; whitespace collapsed (messages keep single and double line breaks).
 */
import { z } from "@hono/zod-openapi";

export const MAX_DISPLAY_NAME_CHARS = 60;
export const MAX_MESSAGE_CHARS = 1000;
/** Raw input beyond this is refused before any normalising work (a name is never kilobytes). */
const MAX_RAW_NAME_CHARS = 240;
const MAX_RAW_MESSAGE_CHARS = 4000;

/**
 * Characters nothing a guest writes needs: C0/C1 controls (line breaks are handled before), bidi
 * embeddings, overrides, isolates and marks (which reorder what organisers read), zero-width and
 * invisible formatters (U+200D, the emoji joiner, is kept), the BOM, and unpaired surrogates.
 */
const INVISIBLE = /[\p{Cc}\p{Cs}\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/gu;
/** More than four combining marks on one letter only stack pixels over the neighbours ("Zalgo"). */
const MARK_FLOOD = /(\p{M}{4})\p{M}+/gu;
const LINE_BREAKS = /\r\n|[\r\n\u0085\u2028\u2029]/g;

/** Length as people count it (code points, so an emoji is not two). */
export const charCount = (text: string) => [...text].length;

function clean(raw: string, keepLineBreaks: boolean): string {
  const lines = raw
    .normalize("NFC")
    .replace(LINE_BREAKS, keepLineBreaks ? "\n" : " ")
    .split("\n")
    .map((line) => line.replace(/\s/g, " ").replace(INVISIBLE, "").replace(MARK_FLOOD, "$1").replace(/ {2,}/g, " ").trim());
  return lines.join("\n").replace(/\n{3,}/g, "\n\n").trim();
}

/** A display name as stored: one line of text, normalised; empty when nothing is left. */
export const cleanDisplayName = (raw: string) => clean(raw, false);

/** A guestbook message as stored: normalised text keeping paragraphs. */
export const cleanMessage = (raw: string) => clean(raw, true);

/** A guest's display name in a request: normalised, at most 60 characters; absent when blank. */
export const displayNameField = z
  .string()
  .max(MAX_RAW_NAME_CHARS)
  .transform(cleanDisplayName)
  .refine((name) => charCount(name) <= MAX_DISPLAY_NAME_CHARS, `must be at most ${MAX_DISPLAY_NAME_CHARS} characters`)
  .transform((name) => name || undefined)
  .openapi({ description: `The guest's name, text only (normalised; at most ${MAX_DISPLAY_NAME_CHARS} characters)`, example: "Ana" });

/** A guestbook message in a request: normalised, 1 to 1,000 characters. */
export const messageField = z
  .string()
  .max(MAX_RAW_MESSAGE_CHARS)
  .transform(cleanMessage)
  .refine((text) => text !== "", "must not be empty")
  .refine((text) => charCount(text) <= MAX_MESSAGE_CHARS, `must be at most ${MAX_MESSAGE_CHARS} characters`)
  .openapi({ description: `Text only, line breaks allowed (normalised; at most ${MAX_MESSAGE_CHARS} characters)`, example: "Congratulations!" });

/** Windows refuses these as file or folder names, whatever the extension. */
const RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** A display name as a ZIP folder: safe on every desktop OS; "Unnamed" when there is none. */
export function folderName(displayName: string | null): string {
  const safe = cleanDisplayName(displayName ?? "")
    .replace(/[<>:"/\\|?*]/g, "_")
    .replace(/^[. ]+|[. ]+$/g, "");
  if (safe === "") return "Unnamed";
  return RESERVED_NAMES.test(safe) ? `_${safe}` : safe;
}
