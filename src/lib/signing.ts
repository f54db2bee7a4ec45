/**
 * Short-lived signed URLs: `path?exp=<unix seconds>&sig=<HMAC-SHA256(path, exp)>`, keyed by the
 * SIGNING_SECRET binding. Whoever holds such a URL may GET that one path until it expires, which
 * is how browsers download photos and ZIPs and open WebSockets without sending credentials.
 */

import { base64url } from "./crypto";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

const message = (path: string, expires: number) => encoder.encode(`${path}\n${expires}`);

function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/") + "="), (char) => char.charCodeAt(0));
}

/**
 * When a URL signed now for `ttlMs` expires: rounded up to the next `windowMs` boundary, so the
 * same resource signed twice within a window gets the same URL and stays in the browser's cache.
 */
export function expiryFor(ttlMs: number, windowMs: number, now = Date.now()): number {
  return Math.ceil((now + ttlMs) / windowMs) * windowMs;
}

/** HMAC-SHA-256 of `text` keyed by `secret`, as hex: how short capabilities (claim codes) are stored. */
export async function hmacHex(secret: string, text: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The path with its expiry and signature appended (`path` must not have a query). */
export async function signPath(secret: string, path: string, expiresAtMs: number): Promise<string> {
  const expires = Math.floor(expiresAtMs / 1000);
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret), message(path, expires));
  return `${path}?exp=${expires}&sig=${base64url(new Uint8Array(signature))}`;
}

export type SignatureCheck = "valid" | "expired" | "invalid";

/** Checks a signed URL's path, expiry and signature (the signature in constant time). */
export async function checkSignedUrl(secret: string, url: URL, now = Date.now()): Promise<SignatureCheck> {
  const expiresText = url.searchParams.get("exp") ?? "";
  const signature = fromBase64url(url.searchParams.get("sig") ?? "");
  if (!/^\d{1,12}$/.test(expiresText) || !signature) return "invalid";
  const expires = Number(expiresText);
  const authentic = await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, message(url.pathname, expires));
  if (!authentic) return "invalid";
  return expires * 1000 > now ? "valid" : "expired";
}
