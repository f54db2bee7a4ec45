/**
 * Serves one R2 object to a browser the way a file server would: ETag and Last-Modified,
 * conditional requests (304/412), single byte ranges (206/416), a Content-Disposition with the
 * guest's filename made safe, and headers that stop the bytes from ever being run as a page.
 */

export interface ServeOptions {
  contentType: string;
  filename: string;
  disposition: "inline" | "attachment";
  /** How long the browser may keep it (the signed URL's remaining life). */
  maxAgeSeconds: number;
  /** Served in place of the stored bytes (location.ts): same length, its own ETag. */
  patches?: Patch[];
}

import { ApiError, refusals } from "../core/errors";
import { patchedBody, type Patch } from "./location";

/** The ETag of the patched bytes: the stored object's, marked, so caches never mix the two. */
const PATCHED_ETAG = /^(W\/)?"(.*)-patched"$/;
const patchedEtag = (etag: string) => `${etag.slice(0, -1)}-patched"`;

/** The request's preconditions as R2 must see them when the patched bytes are served. */
function storedPreconditions(headers: Headers): Headers {
  const stored = new Headers();
  for (const name of ["if-modified-since", "if-unmodified-since"]) {
    const value = headers.get(name);
    if (value !== null) stored.set(name, value);
  }
  for (const name of ["if-match", "if-none-match"]) {
    const value = headers.get(name);
    if (value === null) continue;
    const tags = value.split(",").flatMap((tag) => {
      const trimmed = tag.trim();
      if (trimmed === "*") return [trimmed];
      const match = trimmed.match(PATCHED_ETAG);
      return match ? [`${match[1] ?? ""}"${match[2]}"`] : [];
    });
    // A tag of the unpatched bytes matches nothing served here.
    if (tags.length) stored.set(name, tags.join(", "));
    else if (name === "if-match") stored.set(name, '"none"');
  }
  return stored;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges, other units) is ignored, as RFC 9110 allows. */
export function parseRange(header: string | null): R2Range | undefined {
  const match = header?.trim().match(/^bytes=(\d{0,15})-(\d{0,15})$/);
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  const [first, last] = [match[1]!, match[2]!];
  if (first === "") return { suffix: Number(last) };
  if (last === "") return { offset: Number(first) };
  if (Number(last) < Number(first)) return undefined;
  return { offset: Number(first), length: Number(last) - Number(first) + 1 };
}

/** `attachment; filename="IMG_1.jpg"; filename*=UTF-8''IMG_1.jpg`, with an ASCII fallback. */
export function contentDisposition(disposition: "inline" | "attachment", filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Headers every download carries, whatever it is. */
export function downloadHeaders(options: ServeOptions): Headers {
  return new Headers({
    "Content-Type": options.contentType,
    "Content-Disposition": contentDisposition(options.disposition, options.filename),
    "Cache-Control": `private, max-age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    "X-Content-Type-Options": "nosniff",
    // Should a browser ever render it as a document, it may do nothing.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    // The dashboard may live on another origin (Pages) and still show it.
    "Cross-Origin-Resource-Policy": "cross-origin",
  });
}

export async function serveObject(bucket: R2Bucket, key: string, request: Request, options: ServeOptions): Promise<Response> {
  const range = parseRange(request.headers.get("range"));
  const patches = options.patches ?? [];
  const headers = downloadHeaders(options);
  headers.set("Accept-Ranges", "bytes");
  let object: R2Object | R2ObjectBody | null;
  try {
    object = await bucket.get(key, { onlyIf: patches.length ? storedPreconditions(request.headers) : request.headers, ...(range ? { range } : {}) });
  } catch (error) {
    if (!range) throw error;
    // R2 refuses a range that starts past the end.
    const head = await bucket.head(key);
    if (!head) throw new ApiError(refusals.fileNotFound());
    headers.set("Content-Range", `bytes */${head.size}`);
    return new Response(null, { status: 416, headers });
  }
  if (!object) throw new ApiError(refusals.fileNotFound());
  headers.set("ETag", patches.length ? patchedEtag(object.httpEtag) : object.httpEtag);
  headers.set("Last-Modified", object.uploaded.toUTCString());
  if (!("body" in object)) {
    // A precondition failed: "not modified" for cache revalidation, otherwise 412.
    const revalidating = request.headers.has("if-none-match") || request.headers.has("if-modified-since");
    return new Response(null, { status: revalidating ? 304 : 412, headers });
  }
  if (!range) {
    headers.set("Content-Length", String(object.size));
    return new Response(request.method === "HEAD" ? null : patchedBody(object.body, object.size, patches), { status: 200, headers });
  }
  const { start, end } = servedRange(object.range, object.size);
  headers.set("Content-Range", `bytes ${start}-${end}/${object.size}`);
  headers.set("Content-Length", String(end - start + 1));
  return new Response(request.method === "HEAD" ? null : patchedBody(object.body, end - start + 1, patches, start), { status: 206, headers });
}

/** The inclusive byte range R2 returned, whichever form the request used. */
function servedRange(range: R2Range | undefined, size: number): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  if ("suffix" in range && range.suffix !== undefined) return { start: Math.max(0, size - range.suffix), end: size - 1 };
  const start = "offset" in range && range.offset !== undefined ? range.offset : 0;
  const length = "length" in range && range.length !== undefined ? range.length : size - start;
  return { start, end: Math.min(size, start + length) - 1 };
}
