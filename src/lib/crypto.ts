/** Secrets: generation, hashing for storage, and constant-time comparison. */

const encoder = new TextEncoder();

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A URL-safe secret with `bits` bits of randomness (default 256). */
export function randomSecret(bits = 256): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bits / 8)));
}

/** A random, unguessable identifier (UUID v4: 122 random bits). */
export function newId(): string {
  return crypto.randomUUID();
}

/** Bytes (a digest) as lowercase hex. */
export const hexOf = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

export async function sha256Hex(value: string): Promise<string> {
  return hexOf(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Compares two equal-length hex digests without leaking where they differ. */
export function digestsEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}

/** Hashes `presented` and compares it with a stored hash in constant time. */
export async function secretMatches(presented: string | undefined | null, storedHash: string): Promise<boolean> {
  if (!presented) return false;
  return digestsEqual(await sha256Hex(presented), storedHash);
}
