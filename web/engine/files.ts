/** What the engine knows about a picked file before the server sees it: identity, type, digest. */

/** The photo and video formats guests upload, by file extension (lower case, no dot). */
export const mediaTypesByExtension: Readonly<Record<string, string>> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  // Phones and cameras write these on their cards (MP4 and QuickTime, H.264 or HEVC).
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
};

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/** True when the name ends in a photo or video extension the engine knows. */
export function hasMediaExtension(name: string): boolean {
  return extensionOf(name) in mediaTypesByExtension;
}

/**
 * The content type to declare: the browser's when it knows one, else from the extension
 * (some phones hand HEIC files over with an empty type).
 */
export function contentTypeOf(file: { name: string; type: string }): string {
  return file.type || mediaTypesByExtension[extensionOf(file.name)] || "application/octet-stream";
}

/** Same name, size and modification time: the same file picked again. */
export function fingerprintOf(file: { name: string; size: number; lastModified: number }): string {
  return `${file.name}\u0000${file.size}\u0000${file.lastModified}`;
}

/**
 * Hex SHA-256 of the whole file, or null where the digest is not available: crypto.subtle exists
 * only in secure contexts (a phone on http://192.168.x.y has none), and digests a buffer, not a
 * stream, so files over `maxBytes` are not read whole into memory for it.
 */
export async function sha256Hex(file: Blob, maxBytes: number): Promise<string | null> {
  // Typed as always there, but undefined outside secure contexts.
  const subtle = crypto.subtle as SubtleCrypto | undefined;
  if (!subtle || file.size > maxBytes) return null;
  const digest = new Uint8Array(await subtle.digest("SHA-256", await file.arrayBuffer()));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A random id (32 hex digits); getRandomValues works in insecure contexts, randomUUID does not. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
