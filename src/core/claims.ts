/**
 * "My uploads on any phone": a device that uploaded to an event makes a claim, a short code it
 * shows its guest once; another device presenting the code (typed, or from the claim link's
 * fragment, which never reaches the server) sees and takes back that device's photos.
 *
 * The code is a capability like the Upload-Key: 8 characters from an alphabet without look-alikes
 * (31^8 ≈ 8.5·10^11), stored as an HMAC keyed by SIGNING_SECRET (a stolen database alone does not
 * give the codes back), presented in the `Claim-Code` header (never in a URL, so never in a log
 * line), revocable by the organiser. Wrong codes are counted per address and per event, and past
 * either limit every code is refused for a while, so guessing one is hopeless.
 */
import { and, desc, eq, getTableName, isNull, lt, ne, sql } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { afterCursor, toPage } from "../db/pagination";
import { claimGuesses, claims, photos, uploadSessions, type ClaimRow, type EventRow, type PhotoRow } from "../db/schema";
import { photoUrls } from "../downloads/photo-files";
import { newId, secretMatches } from "../lib/crypto";
import { hmacHex } from "../lib/signing";
import { isoOrNull } from "../lib/time";
import { ApiError, refusals, type Refusal } from "./errors";
import { resolveJoinToken } from "./events";
import { isAnonymousDevice } from "./limits";
import { deletePhoto } from "./photos";

/** No 0/O, 1/I/L: a code read off one screen and typed on another survives it. */
export const CLAIM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export const CLAIM_CODE_LENGTH = 8;

/** Wrong codes allowed per window: from one address (all events), and at one event (all addresses). */
export const CLAIM_GUESS_LIMITS = { perAddress: 10, perEvent: 60, windowMs: 15 * 60 * 1000 } as const;

/** A fresh code, each character uniform over the alphabet (bytes past the last whole multiple are drawn again). */
export function newClaimCode(): string {
  const ceiling = 256 - (256 % CLAIM_ALPHABET.length);
  let code = "";
  while (code.length < CLAIM_CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(CLAIM_CODE_LENGTH * 2))) {
      if (byte < ceiling && code.length < CLAIM_CODE_LENGTH) code += CLAIM_ALPHABET[byte % CLAIM_ALPHABET.length];
    }
  }
  return code;
}

/** The code as typed (any case, spaces or dashes between groups), or null if it cannot be one. */
export function normaliseClaimCode(typed: string | undefined): string | null {
  const code = (typed ?? "").toUpperCase().replace(/[\s-]/g, "");
  return code.length === CLAIM_CODE_LENGTH && [...code].every((char) => CLAIM_ALPHABET.includes(char)) ? code : null;
}

const codeHash = (env: Env, eventId: string, code: string) => hmacHex(env.SIGNING_SECRET, `claim\n${eventId}\n${code}`);

const invalidCode = (): Refusal => ({ status: 401, code: "invalid_claim_code", message: "The Claim-Code header is missing or is not a code for this event." });
const claimNotFound = (): Refusal => ({ status: 404, code: "claim_not_found", message: "No such claim for this event." });

/**
 * Makes a claim on the uploads of the device that made `uploadId`, proven by that upload's key
 * (so only a device that uploaded as that device id can make one). A device has one claim at a
 * time: a new one revokes its earlier ones. The code is in the answer only.
 */
export async function createClaim(env: Env, joinToken: string, uploadId: string, uploadKey: string | undefined) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const upload = await db
    .select({ deviceId: uploadSessions.deviceId, keyHash: uploadSessions.uploadKeyHash, partial: uploadSessions.partial })
    .from(uploadSessions)
    .where(and(eq(uploadSessions.id, uploadId), eq(uploadSessions.eventId, event.id)))
    .get();
  if (!upload || upload.partial) throw new ApiError(refusals.uploadNotFound());
  if (!(await secretMatches(uploadKey, upload.keyHash))) throw new ApiError(refusals.invalidUploadKey());
  // An anonymous id stands for every device behind one address (a venue's wifi): a claim on it
  // would open other guests' photos.
  if (isAnonymousDevice(upload.deviceId)) {
    throw new ApiError({
      status: 409,
      code: "claim_needs_device_id",
      message: "This upload was made without a device id, so it cannot be told from other uploads from its network; no claim can be made on it.",
    });
  }

  const code = newClaimCode();
  const now = Date.now();
  const row = { id: newId(), eventId: event.id, deviceId: upload.deviceId, codeHash: await codeHash(env, event.id, code), createdAt: now };
  await db.batch([
    db.update(claims).set({ revokedAt: now }).where(and(eq(claims.eventId, event.id), eq(claims.deviceId, upload.deviceId), isNull(claims.revokedAt))),
    db.insert(claims).values(row),
  ]);
  return { claim_id: row.id, code, event_id: event.id, created_at: new Date(now).toISOString() };
}

/**
 * The live claim a presented code opens, counting the attempt against the guessing limits: the
 * attempt is recorded (if both limits have room, in the same statement that checks them) and
 * forgotten again when the code is right, so only wrong codes count.
 */
async function openClaim(env: Env, event: EventRow, presented: string | undefined, address: string): Promise<ClaimRow> {
  const code = normaliseClaimCode(presented);
  if (!code) throw new ApiError(invalidCode());
  const db = database(env);
  const now = Date.now();
  const since = now - CLAIM_GUESS_LIMITS.windowMs;
  // Keyed, as a plain hash of an IPv4 address is undone by trying all 2^32.
  const addressHash = await hmacHex(env.SIGNING_SECRET, `claim guesses\n${address}`);
  const guessesFrom = (scope: ReturnType<typeof eq>) => sql`(select count(*) from ${claimGuesses} where ${scope} and ${claimGuesses.at} > ${since})`;
  const attempt = { id: newId(), eventId: event.id, addressHash, at: now };
  const [, recorded] = await env.DB.batch([
    // Rows past the window count for nothing: each event's are let go as it is guessed at.
    d1Statement(env.DB, db.delete(claimGuesses).where(and(eq(claimGuesses.eventId, event.id), lt(claimGuesses.at, since)))),
    d1Statement(
      env.DB,
      insertWhere(
        claimGuesses,
        attempt,
        sql`${guessesFrom(eq(claimGuesses.addressHash, addressHash))} < ${CLAIM_GUESS_LIMITS.perAddress}
          and ${guessesFrom(eq(claimGuesses.eventId, event.id))} < ${CLAIM_GUESS_LIMITS.perEvent}`,
      ),
    ),
  ]);
  if (recorded!.meta.changes !== 1) {
    const seconds = Math.ceil(CLAIM_GUESS_LIMITS.windowMs / 1000);
    throw new ApiError({
      status: 429,
      code: "rate_limited",
      message: `Too many wrong claim codes; try again in ${seconds / 60} minutes.`,
      headers: { "Retry-After": String(seconds) },
    });
  }
  const claim = await db.select().from(claims).where(and(eq(claims.eventId, event.id), eq(claims.codeHash, await codeHash(env, event.id, code)))).get();
  if (!claim) throw new ApiError(invalidCode());
  await db.batch([db.delete(claimGuesses).where(eq(claimGuesses.id, attempt.id)), db.update(claims).set({ lastUsedAt: now }).where(eq(claims.id, claim.id))]);
  if (claim.revokedAt !== null) {
    throw new ApiError({ status: 410, code: "claim_revoked", message: "This code was withdrawn (by the organiser, or a newer code replaced it)." });
  }
  return claim;
}

const claimedPhotos = (claim: ClaimRow) => and(eq(photos.eventId, claim.eventId), eq(photos.deviceId, claim.deviceId), ne(photos.status, "deleted"));

/** The photos of the claimed device, newest first, in keyset pages; files (scrubbed copy, thumbnails) once processed. */
export async function listClaimedPhotos(
  env: Env,
  joinToken: string,
  presented: string | undefined,
  address: string,
  origin: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const claim = await openClaim(env, event, presented, address);
  const rows = await db
    .select()
    .from(photos)
    .where(and(claimedPhotos(claim), afterCursor(photos.createdAt, photos.id, page.cursor)))
    .orderBy(desc(photos.createdAt), desc(photos.id))
    .limit(page.limit + 1);
  const { rows: pageRows, nextCursor } = toPage(rows, page.limit);
  return {
    claim_id: claim.id,
    photos: await Promise.all(
      pageRows.map(async (photo) => ({
        photo_id: photo.id,
        filename: photo.filename,
        status: photo.status as Exclude<PhotoRow["status"], "deleted">,
        width: photo.width,
        height: photo.height,
        taken_at: isoOrNull(photo.takenAt),
        uploaded_at: isoOrNull(photo.createdAt),
        urls: photo.status === "ready" ? await photoUrls(env, origin, photo, "owner") : null,
      })),
    ),
    next_cursor: nextCursor,
  };
}

/** Takes back (deletes) a photo of the claimed device. Returns it, or null when it was already gone. */
export async function takeBackClaimedPhoto(env: Env, joinToken: string, presented: string | undefined, address: string, photoId: string): Promise<PhotoRow | null> {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const claim = await openClaim(env, event, presented, address);
  const photo = await db
    .select()
    .from(photos)
    .where(and(eq(photos.id, photoId), eq(photos.eventId, claim.eventId), eq(photos.deviceId, claim.deviceId)))
    .get();
  if (!photo) throw new ApiError({ status: 404, code: "photo_not_found", message: "No such photo among this device's uploads." });
  return (await deletePhoto(db, env.PHOTOS, photo.id)) ? photo : null;
}

/** A claim as organisers see it: never its code. */
function claimView(row: ClaimRow, photoCount: number) {
  return {
    id: row.id,
    device_id: row.deviceId,
    photos: photoCount,
    created_at: isoOrNull(row.createdAt)!,
    last_used_at: isoOrNull(row.lastUsedAt),
    revoked_at: isoOrNull(row.revokedAt),
  };
}

// Qualified by hand: drizzle writes bare column names, which inside the subquery would all mean photos'.
const photoCountOf = sql<number>`(select count(*) from ${photos} as counted
  where counted.event_id = ${sql.identifier(getTableName(claims))}.event_id and counted.device_id = ${sql.identifier(getTableName(claims))}.device_id and counted.status != 'deleted')`;

/** The event's claims, newest first (at most 500). */
export async function listClaims(db: Database, eventId: string) {
  const rows = await db.select({ claim: claims, photos: photoCountOf }).from(claims).where(eq(claims.eventId, eventId)).orderBy(desc(claims.createdAt)).limit(500);
  return rows.map((row) => claimView(row.claim, row.photos));
}

/** Revokes a claim (repeating it answers the same). */
export async function revokeClaim(db: Database, eventId: string, claimId: string) {
  const now = Date.now();
  await db.update(claims).set({ revokedAt: now }).where(and(eq(claims.id, claimId), eq(claims.eventId, eventId), isNull(claims.revokedAt)));
  const row = await db.select({ claim: claims, photos: photoCountOf }).from(claims).where(and(eq(claims.id, claimId), eq(claims.eventId, eventId))).get();
  if (!row) throw new ApiError(claimNotFound());
  return claimView(row.claim, row.photos);
}
