/** The admin API's route table and credentials of every kind, for tests that walk all routes. */
import { env } from "cloudflare:workers";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, vi } from "vitest";
import { app } from "../../src/http/app";

// Hono lists a route once per handler (middleware included): one entry per method and path.
export const adminRouteTable = [
  ...new Map(
    app.routes
      .filter((route) => route.path.startsWith("/api/v1/admin/") && route.method !== "ALL")
      .map((route) => [`${route.method} ${route.path}`, { method: route.method, path: route.path }]),
  ).values(),
];

/** A route's path with its parameters filled in (unknown photos and webhooks get a fresh id). */
export function routeUrl(path: string, ids: { eventId: string; linkId: string; tokenId: string }): string {
  return path
    .replace(":eventId", ids.eventId)
    .replace(":linkId", ids.linkId)
    .replace(":tokenId", ids.tokenId)
    .replace(":photoId", crypto.randomUUID())
    .replace(":webhookId", crypto.randomUUID())
    .replace(":messageId", crypto.randomUUID())
    .replace(":claimId", crypto.randomUUID())
    .replace(/:action\{[^}]+\}/, "approve");
}

// --- Cloudflare Access: tokens signed by a key whose JWKS the "team domain" serves ---------------
let signingKey: CryptoKey;

/** Serves the test key's JWKS at the Access team domain for the calling test file. */
export function serveAccessKeys(): void {
  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    signingKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === `${env.ACCESS_TEAM_DOMAIN}/cdn-cgi/access/certs`) return Response.json({ keys: [jwk] });
      return realFetch(input, init);
    });
  });
  afterAll(() => vi.restoreAllMocks());
}

export function accessJwt(options: { key?: CryptoKey; audience?: string; expiresIn?: string | number; issuer?: string } = {}) {
  return new SignJWT({ email: "organiser@example.com" })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(options.issuer ?? env.ACCESS_TEAM_DOMAIN)
    .setAudience(options.audience ?? env.ACCESS_AUD)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "5m")
    .sign(options.key ?? signingKey);
}
