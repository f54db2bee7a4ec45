/**
 * Admission: creating an upload session within its event's and its creator's limits (the
 * limit checks and the insert are one D1 statement), ending a session its creator replaced.
 */
import { and, count, eq, gt, inArray, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { d1Statement, insertWhere } from "../db/conditional-insert";
import { activeUploadStatuses, batchFiles, events, joinTokens, photos, uploadSessions, type EventRow } from "../db/schema";
import { partSizeFor } from "../storage/part-size";
import { r2Keys } from "../storage/keys";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import { mediaType } from "../lib/media-types";
import { recordMetric } from "../lib/metrics";
import { ApiError, type Refusal } from "./errors";
import { countedStatuses, photoLimitRefusal, photosUsed } from "./allowance";
import { authorizeBatchFile, batchDisplayName, batchFileClaimHolds, batchUploadLinks, batchUploadUnlinks, type BatchFileClaim } from "./batches";
import { fileRefusal, joinTokenPattern, rememberedJoinedEvent, resolveJoinToken, uploadsClosedRefusal, type JoinedEvent } from "./events";
import { cleanFilename } from "./filenames";
import { ANON_FIRST_BYTES_MS, uploaderLimits, type UploaderLimits } from "./limits";
import { cancelUnfinishedUpload, rememberCaller, sessionStub } from "./session-client";

export interface NewUpload {
  filename: string;
  size: number;
  contentType: string;
  deviceId: string;
  /** No device id was given: `deviceId` stands for the client's IP address (see `uploaderLimits`). */
  anonymous?: boolean;
  sha256?: string | undefined;
  /**
   * A tus concatenation partial: its type is checked on the final upload; it holds one of the
   * creator's partial slots until a final consumes it, and only the final counts as a photo.
   */
  partial?: boolean;
  /** A tus concatenation final: written from its partials only. */
  final?: boolean;
  /** The file of a guest's batch this upload carries. */
  batch?: BatchFileClaim | undefined;
  /** The client's own id for the file: a create with the same one ends the device's earlier session for it. */
  clientId?: string | undefined;
  /** The guest's name (normalised, core/words.ts); a batch file's upload carries its batch's when it gives none. */
  displayName?: string | undefined;
}

export interface CreatedUpload {
  upload_id: string;
  upload_key: string;
  chunk_size: number;
  expires_at: string;
  event_id: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Creates an upload session. Most creates take one D1 round trip and a session init: the join
 * link and event as this isolate last read them pass the checks made in code, and one statement
 * checks everything else as it inserts (the link unrevoked, the event unchanged since, the batch
 * file's claim, no earlier session of the same file in flight, the creator's limits). A create that
 * statement refuses is made again the careful way, from fresh reads, so that it is refused with
 * its reason or, once the sessions it replaces are ended, admitted; an insert refused there is
 * told by reading afresh once more (the link, event or batch file may have changed meanwhile).
 */
export async function createUpload(env: Env, joinToken: string, input: NewUpload): Promise<CreatedUpload> {
  const now = Date.now();
  const remembered = joinTokenPattern.test(joinToken) ? rememberedJoinedEvent(await sha256Hex(joinToken)) : undefined;
  if (remembered && !admissionRefusal(remembered, input, now)) {
    const created = await admit(env, remembered, input, now, { noEarlierSession: true });
    if (created) return created;
  }
  const db = database(env);
  let refusedWith: JoinedEvent | null = null;
  for (let attempt = 1; ; attempt++) {
    const joined = await resolveJoinToken(db, joinToken, now);
    const refusal = admissionRefusal(joined, input, now);
    if (refusal) throw new ApiError(refusal);
    if (input.batch) await authorizeBatchFile(db, joined.event, input.batch);
    // An insert refused with the link, event and batch file as they still are was refused by a
    // limit; one refused because the event changed since its read is tried with the event as it is.
    if (joined.event.updatedAt === refusedWith?.event.updatedAt || attempt > CREATE_ATTEMPTS) {
      throw new ApiError(await whichLimit(env, joined.event, input, now));
    }
    if (!refusedWith) await endReplacedSessions(env, joined.event.id, input);
    const created = await admit(env, joined, input, now, { noEarlierSession: false });
    if (created) return created;
    refusedWith = joined;
  }
}

/** How many inserts a create tries from fresh reads, while its event keeps changing between its read and its insert. */
const CREATE_ATTEMPTS = 3;

/** Why the event refuses this create, as far as the link and event as read tell. */
function admissionRefusal({ event }: JoinedEvent, input: NewUpload, now: number): Refusal | null {
  const partial = input.partial ?? false;
  // A partial's type is checked on its final upload.
  return uploadsClosedRefusal(event, now) ?? fileRefusal(event, input.size, partial ? null : mediaType(input.contentType));
}

/**
 * Inserts the session (with its batch file's link) in one D1 batch whose insert checks every
 * condition as it runs, then starts its Durable Object. Null when the insert was refused.
 */
async function admit(env: Env, joined: JoinedEvent, input: NewUpload, now: number, { noEarlierSession }: { noEarlierSession: boolean }): Promise<CreatedUpload | null> {
  const db = database(env);
  const { event, joinToken: token, tokenHash } = joined;
  const partial = input.partial ?? false;
  const anonymous = input.anonymous ?? false;
  const contentType = mediaType(input.contentType);
  const uploadId = newId();
  const uploadKey = randomSecret();
  const keyHash = await sha256Hex(uploadKey);
  const expiresAt = now + event.sessionTtlSeconds * 1000;
  const r2Key = r2Keys.upload(event.id, uploadId);
  const filename = cleanFilename(input.filename);
  const limits = uploaderLimits(env, event, anonymous);
  const sessions = deviceSessions(db, event.id, input, now);
  const linkUnchanged = db
    .select({ one: sql`1` })
    .from(joinTokens)
    .innerJoin(events, eq(events.id, joinTokens.eventId))
    .where(
      and(
        eq(joinTokens.id, token.id),
        isNull(joinTokens.revokedAt),
        or(isNull(joinTokens.expiresAt), gt(joinTokens.expiresAt, now)),
        // Every change to an event moves its updated_at on (admin/events.ts).
        eq(events.updatedAt, event.updatedAt),
      ),
    );
  const earlier = noEarlierSession ? earlierSessionsOfFile(db, event.id, input) : null;
  const conditions = [
    sql`exists ${linkUnchanged}`,
    input.batch ? batchFileClaimHolds(db, event.id, input.batch, await sha256Hex(input.batch.batchKey ?? "")) : undefined,
    earlier ? sql`not exists ${earlier}` : undefined,
    ...(partial
      ? [sql`(${sessions.count(sessions.inFlight, true)}) < ${limits.maxPartials}`]
      : [
          sql`(${sessions.count(sessions.inFlight)}) < ${limits.maxConcurrent}`,
          sql`(${sessions.count(and(inArray(uploadSessions.status, countedStatuses), gt(uploadSessions.createdAt, now - DAY_MS))!)}) < ${limits.dailyCap}`,
          limits.maxPhotos === null ? undefined : sql`(${sessions.count(inArray(uploadSessions.status, countedStatuses))}) < ${limits.maxPhotos}`,
        ]),
  ].filter((condition) => condition !== undefined);
  const insert = insertWhere(
    uploadSessions,
    {
      id: uploadId,
      eventId: event.id,
      joinTokenId: token.id,
      deviceId: input.deviceId,
      status: "pending",
      totalSize: input.size,
      receivedBytes: 0,
      chunkSize: event.chunkSize,
      expiresAt,
      r2Key,
      uploadKeyHash: keyHash,
      declaredSha256: input.sha256 ?? null,
      filename,
      contentType,
      // An anonymous uploader's id stands for a whole address, so its client ids could collide.
      clientId: anonymous ? null : (input.clientId ?? null),
      partial,
      displayName: input.displayName ?? (input.batch ? batchDisplayName(db, input.batch.batchId) : null),
      createdAt: now,
      updatedAt: now,
    },
    sql.join(conditions, sql` and `),
  );
  const links = input.batch ? batchUploadLinks(db, input.batch.fileId, uploadId) : [];
  // One batch, so the checks, the insert and the batch file's link are atomic in D1.
  const [inserted] = await env.DB.batch([insert, ...links].map((query) => d1Statement(env.DB, query)));
  if (inserted!.meta.changes !== 1) return null;

  try {
    await sessionStub(env, uploadId).init({
      uploadId,
      eventId: event.id,
      deviceId: input.deviceId,
      tokenHash,
      keyHash,
      totalSize: input.size,
      chunkSize: event.chunkSize,
      partSize: partSizeFor(input.size),
      expiresAt,
      r2Key,
      filename,
      contentType,
      declaredSha256: input.sha256 ?? null,
      partial,
      final: input.final ?? false,
      firstBytesBy: anonymous ? now + ANON_FIRST_BYTES_MS : null,
      createdAt: now,
    });
  } catch (error) {
    // Free the device's slot rather than hold it until the sweeper's expiry, and let the batch
    // file wait for the guest's next create as it did before this one.
    const failed = db
      .update(uploadSessions)
      .set({ status: "failed", failureReason: "session could not be started", updatedAt: Date.now() })
      .where(eq(uploadSessions.id, uploadId));
    await (input.batch ? db.batch([failed, ...batchUploadUnlinks(db, input.batch.fileId, uploadId)]) : failed);
    throw error;
  }
  rememberCaller(uploadId, keyHash);
  recordMetric(env, "upload_created", { eventId: event.id, bytes: input.size, code: partial ? "partial" : undefined });
  return {
    upload_id: uploadId,
    upload_key: uploadKey,
    chunk_size: event.chunkSize,
    expires_at: new Date(expiresAt).toISOString(),
    event_id: event.id,
  };
}

/** Counts of the creator's sessions in this event, for the limits; `inFlight`: those holding a slot. */
function deviceSessions(db: Database, eventId: string, input: NewUpload, now: number) {
  const anonymous = input.anonymous ?? false;
  const inFlight = and(
    inArray(uploadSessions.status, activeUploadStatuses),
    gt(uploadSessions.expiresAt, now),
    // An anonymous create never sent stops holding its address's slot soon (ANON_FIRST_BYTES_MS).
    anonymous ? or(ne(uploadSessions.status, "pending"), gt(uploadSessions.createdAt, now - ANON_FIRST_BYTES_MS)) : undefined,
    // A session that has sent its preview and no byte of its original yet holds no slot: a guest's
    // app sends every picked photo's preview first (core/previews.ts), then the originals a few at a time.
    sql`not (${uploadSessions.status} = 'pending' and exists (select 1 from ${photos} where ${photos.uploadId} = ${uploadSessions.id} and ${photos.status} = 'preview'))`,
  )!;
  const counted = (extra: SQL, ofPartials = false) =>
    db
      .select({ n: count() })
      .from(uploadSessions)
      .where(and(eq(uploadSessions.eventId, eventId), eq(uploadSessions.deviceId, input.deviceId), eq(uploadSessions.partial, ofPartials), extra));
  return { inFlight, count: counted };
}

/** The refusal for a create past a limit: a spent photo allowance first, as it never comes back. */
async function whichLimit(env: Env, event: EventRow, input: NewUpload, now: number): Promise<Refusal> {
  const db = database(env);
  const limits = uploaderLimits(env, event, input.anonymous ?? false);
  if (input.partial) return uploadLimitRefusal(limits, "partials");
  if (limits.maxPhotos !== null && (await photosUsed(db, event.id, input.deviceId)) >= limits.maxPhotos) return photoLimitRefusal(limits.maxPhotos, limits.scope);
  const sessions = deviceSessions(db, event.id, input, now);
  const [active] = await sessions.count(sessions.inFlight);
  return uploadLimitRefusal(limits, (active?.n ?? 0) >= limits.maxConcurrent ? "concurrent" : "daily");
}

/**
 * A create whose answer was lost leaves a session holding one of the device's slots until it
 * expires: a new create for the same batch file, or with the same client id, from the same device
 * to the same event, ends that earlier session first (unless it is being assembled or done).
 */
async function endReplacedSessions(env: Env, eventId: string, input: NewUpload): Promise<void> {
  const replaced = earlierSessionsOfFile(database(env), eventId, input);
  if (!replaced) return;
  for (const { id } of await replaced) await cancelUnfinishedUpload(env, id, "replaced by a new upload of the same file");
}

/** The device's sessions in flight for the same batch file or client id as this create; null when it names neither. */
function earlierSessionsOfFile(db: Database, eventId: string, input: NewUpload) {
  const sameFile = [
    input.batch ? sql`${uploadSessions.id} = (select ${batchFiles.uploadId} from ${batchFiles} where ${batchFiles.id} = ${input.batch.fileId})` : undefined,
    input.clientId && !input.anonymous ? eq(uploadSessions.clientId, input.clientId) : undefined,
  ].filter((claim) => claim !== undefined);
  if (sameFile.length === 0 || input.partial || input.final) return null;
  return db
    .select({ id: uploadSessions.id })
    .from(uploadSessions)
    .where(
      and(
        eq(uploadSessions.eventId, eventId),
        eq(uploadSessions.deviceId, input.deviceId),
        eq(uploadSessions.partial, false),
        inArray(uploadSessions.status, ["pending", "uploading"]),
        or(...sameFile),
      ),
    );
}

/** Which of its creator's limits a create is past, and how each is told (UploaderLimits). */
const uploadLimits = {
  concurrent: (limits: UploaderLimits) => ({
    message: `may have at most ${limits.maxConcurrent} uploads in progress at once; finish or cancel one first.`,
    limit: "concurrent_uploads",
    details: { max_concurrent_uploads: limits.maxConcurrent },
  }),
  daily: (limits: UploaderLimits) => ({
    message: `may upload at most ${limits.dailyCap} files a day to this event.`,
    limit: "daily_uploads",
    details: { daily_cap: limits.dailyCap },
  }),
  partials: (limits: UploaderLimits) => ({
    message: `may have at most ${limits.maxPartials} partial uploads in progress at once.`,
    limit: "concurrent_partials",
    details: { max_concurrent_partials: limits.maxPartials },
  }),
} as const;

/** The 429 for a create past one of its creator's limits. */
function uploadLimitRefusal(limits: UploaderLimits, which: keyof typeof uploadLimits): Refusal {
  const who =
    limits.scope === "device"
      ? "A device"
      : "Uploads without a device id from one address (send one for limits of your own:" +
        " tus metadata device_id, or the X-Device-Id header)";
  const suffix = limits.scope === "device" ? "" : "_per_address";
  const { message, limit, details } = uploadLimits[which](limits);
  return { status: 429, code: "upload_limit", message: `${who} ${message}`, details: { limit: `${limit}${suffix}`, ...details } };
}
