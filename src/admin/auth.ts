/**
 * Who may use the admin API. Deny by default; three ways in, checked in this order:
 * 1. Cloudflare Access (production): the `Cf-Access-Jwt-Assertion` JWT, verified against the
 *    team's JWKS, audience and expiry (jose) — when ACCESS_TEAM_DOMAIN and ACCESS_AUD are set;
 * 2. the bootstrap ADMIN_TOKEN secret (local runs, first set-up);
 * 3. admin API tokens stored hashed in D1, global or scoped to some events (scripts,
 *    photographers), created and revoked through the API (`npm run admin:token`).
 */
import { eq } from "drizzle-orm";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { database } from "../db/client";
import { adminTokens, type AdminTokenRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { digestsEqual, sha256Hex } from "../lib/crypto";

export interface AdminPrincipal {
  /** An Access identity's email, an admin token's name, or "bootstrap". */
  subject: string;
  /** The events this principal may act on; null for every event (a global admin). */
  eventIds: string[] | null;
  /** What it authenticated with, so a live socket it opens can be closed once that ends. */
  credential: AdminCredential;
}

/** A credential as it can be checked again later, without the secret itself. */
export type AdminCredential =
  | { kind: "access"; subject: string; expiresAt: number }
  | { kind: "bootstrap"; tokenHash: string }
  | { kind: "admin_token"; tokenId: string };

export type CredentialStanding = "valid" | "revoked" | "expired";

const unauthorized = (message: string) =>
  new ApiError({ status: 401, code: "unauthorized", message, headers: { "WWW-Authenticate": 'Bearer realm="admin"' } });

export const forbidden = (message: string) => new ApiError({ status: 403, code: "forbidden", message });

/** JWKS fetchers are cached per isolate; jose caches the keys and refetches on rotation. */
const jwks = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

async function accessPrincipal(env: Env, assertion: string): Promise<AdminPrincipal> {
  const teamDomain = env.ACCESS_TEAM_DOMAIN.replace(/\/+$/, "");
  let keys = jwks.get(teamDomain);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(`${teamDomain}/cdn-cgi/access/certs`));
    jwks.set(teamDomain, keys);
  }
  try {
    const { payload } = await jwtVerify(assertion, keys, { issuer: teamDomain, audience: env.ACCESS_AUD, algorithms: ["RS256"], requiredClaims: ["exp"] });
    const subject = typeof payload.email === "string" ? payload.email : String(payload.sub ?? "access");
    return { subject, eventIds: null, credential: { kind: "access", subject, expiresAt: payload.exp! * 1000 } };
  } catch {
    throw unauthorized("The Cloudflare Access assertion is invalid or expired.");
  }
}

/** The bootstrap token's hash, computed once per isolate (per token value, so a rotation applies). */
let bootstrap: { token: string; hash: Promise<string> } | null = null;
function bootstrapHash(token: string): Promise<string> {
  if (bootstrap?.token !== token) bootstrap = { token, hash: sha256Hex(token) };
  return bootstrap.hash;
}

export async function authenticateAdmin(env: Env, headers: Headers, now = Date.now()): Promise<AdminPrincipal> {
  const assertion = headers.get("cf-access-jwt-assertion");
  if (assertion && env.ACCESS_TEAM_DOMAIN && env.ACCESS_AUD) return accessPrincipal(env, assertion);

  const presented = headers.get("authorization")?.match(/^Bearer ([A-Za-z0-9._~+/=-]{8,512})$/)?.[1];
  if (!presented) throw unauthorized("An admin token is required (Authorization: Bearer <token>).");
  const presentedHash = await sha256Hex(presented);
  if (await isBootstrapHash(env, presentedHash)) {
    return { subject: "bootstrap", eventIds: null, credential: { kind: "bootstrap", tokenHash: presentedHash } };
  }
  const db = database(env);
  // Looked up by hash: the index finds it, and no token is ever compared in the clear.
  const token = await db.select().from(adminTokens).where(eq(adminTokens.tokenHash, presentedHash)).get();
  if (!token) throw credentialEnded("revoked");
  const standing = tokenStanding(token, now);
  if (standing !== "valid") throw credentialEnded(standing);
  if (token.lastUsedAt === null || now - token.lastUsedAt > 60_000) {
    await db.update(adminTokens).set({ lastUsedAt: now }).where(eq(adminTokens.id, token.id));
  }
  return { subject: token.name, eventIds: token.eventIds, credential: { kind: "admin_token", tokenId: token.id } };
}

const isBootstrapHash = async (env: Env, hash: string) => Boolean(env.ADMIN_TOKEN) && digestsEqual(hash, await bootstrapHash(env.ADMIN_TOKEN));

function tokenStanding(token: Pick<AdminTokenRow, "revokedAt" | "expiresAt">, now: number): CredentialStanding {
  if (token.revokedAt !== null) return "revoked";
  return token.expiresAt !== null && token.expiresAt <= now ? "expired" : "valid";
}

/** The refusal for a credential that no longer admits anyone. */
export const credentialEnded = (standing: Exclude<CredentialStanding, "valid">) =>
  unauthorized(standing === "expired" ? "This admin credential has expired." : "This admin credential is not valid.");

/**
 * Whether a credential that authenticated earlier still would: an admin token not revoked or
 * expired since, the bootstrap token not rotated, an Access JWT not past its expiry.
 */
export async function credentialStanding(env: Env, credential: AdminCredential, now = Date.now()): Promise<CredentialStanding> {
  switch (credential.kind) {
    case "access":
      return credential.expiresAt > now ? "valid" : "expired";
    case "bootstrap":
      return (await isBootstrapHash(env, credential.tokenHash)) ? "valid" : "revoked";
    case "admin_token": {
      const token = await database(env)
        .select({ revokedAt: adminTokens.revokedAt, expiresAt: adminTokens.expiresAt })
        .from(adminTokens)
        .where(eq(adminTokens.id, credential.tokenId))
        .get();
      return token ? tokenStanding(token, now) : "revoked";
    }
  }
}

/** Whether the principal may see or change `eventId`. Others' events are simply not found. */
export function requireEvent(principal: AdminPrincipal, eventId: string): void {
  if (principal.eventIds !== null && !principal.eventIds.includes(eventId)) {
    throw new ApiError({ status: 404, code: "event_not_found", message: "No such event." });
  }
}

export function requireGlobal(principal: AdminPrincipal): void {
  if (principal.eventIds !== null) throw forbidden("Only a global admin may do this.");
}
