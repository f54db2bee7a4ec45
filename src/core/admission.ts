/**
 * Admission: creating an upload session within its event's and its creator's limits (the
 * limit checks and the insert are one D1 statement), ending a session its creator replaced.
 */
import { and, count, eq, gt, inArray, ne, or, sql, type SQL } from "drizzle-orm";
import { database } from "../db/client";
import { insertWhere } from "../db/conditional-insert";
import { activeUploadStatuses, batchFiles, photos, uploadSessions } from "../db/schema";
import { partSizeFor } from "../storage/part-size";
import { r2Keys } from "../storage/keys";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import { mediaType } from "../lib/media-types";
import { recordMetric } from "../lib/metrics";
import { ApiError, type Refusal } from "./errors";
import { countedStatuses, photoLimitRefusal, photosUsed } from "./allowance";
import { authorizeBatchFile, linkBatchUpload, type BatchFileClaim } from "./batches";
import { fileRefusal, resolveJoinToken, uploadsClosedRefusal } from "./events";
import { cleanFilename } from "./filenames";
import { ANON_FIRST_BYTES_MS, uploaderLimits, type UploaderLimits } from "./limits";
import { closeUnstartedSession, rememberCaller, sessionStub } from "./session-client";

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

export async function createUpload(env: Env, joinToken: string, input: NewUpload): Promise<CreatedUpload> {
  const db = database(env);
  const now = Date.now();
  const { event, joinToken: token, tokenHash } = await resolveJoinToken(db, joinToken, now);
  const closed = uploadsClosedRefusal(event, now);
  if (closed) throw new ApiError(closed);
  const contentType = mediaType(input.contentType);
  const partial = input.partial ?? false;
  // A partial's type is checked on its final upload.
  const refusal = fileRefusal(event, input.size, partial ? null : contentType);
  if (refusal) throw new ApiError(refusal);
  const batchName = input.batch ? await authorizeBatchFile(db, event, input.batch) : null;
  await endReplacedSessions(env, event.id, input);

  const uploadId = newId();
  const uploadKey = randomSecret();
  const keyHash = await sha256Hex(uploadKey);
  const expiresAt = now + event.sessionTtlSeconds * 1000;
  const r2Key = r2Keys.upload(event.id, uploadId);
  const filename = cleanFilename(input.filename);
  const deviceSessions = (extra: SQL, ofPartials = false) =>
    db
      .select({ n: count() })
      .from(uploadSessions)
      .where(
        and(eq(uploadSessions.eventId, event.id), eq(uploadSessions.deviceId, input.deviceId), eq(uploadSessions.partial, ofPartials), extra),
      );
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
  const limits = uploaderLimits(env, event, anonymous);
  /** The refusal for a create past a limit: a spent photo allowance first, as it never comes back. */
  const whichLimit = async (): Promise<Refusal> => {
    if (partial) return uploadLimitRefusal(limits, "partials");
    if (limits.maxPhotos !== null && (await photosUsed(db, event.id, input.deviceId)) >= limits.maxPhotos) return photoLimitRefusal(limits.maxPhotos, limits.scope);
    const [active] = await deviceSessions(inFlight);
    return uploadLimitRefusal(limits, (active?.n ?? 0) >= limits.maxConcurrent ? "concurrent" : "daily");
  };
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
      clientId: input.anonymous ? null : (input.clientId ?? null),
      partial,
      displayName: input.displayName ?? batchName,
      createdAt: now,
      updatedAt: now,
    },
    partial
      ? sql`(${deviceSessions(inFlight, true)}) < ${limits.maxPartials}`
      : sql`(${deviceSessions(inFlight)}) < ${limits.maxConcurrent}
      and (${deviceSessions(and(inArray(uploadSessions.status, countedStatuses), gt(uploadSessions.createdAt, now - DAY_MS))!)}) < ${limits.dailyCap}
      and ${limits.maxPhotos === null ? sql`1` : sql`(${deviceSessions(inArray(uploadSessions.status, countedStatuses))}) < ${limits.maxPhotos}`}`,
  );
  // One statement, so the limit checks and the insert are atomic in D1.
  if ((await db.run(insert)).meta.changes !== 1) throw new ApiError(await whichLimit());

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
    // Free the device's slot rather than hold it until the sweeper's expiry.
    await db
      .update(uploadSessions)
      .set({ status: "failed", failureReason: "session could not be started", updatedAt: Date.now() })
      .where(eq(uploadSessions.id, uploadId));
    throw error;
  }
  if (input.batch) await linkBatchUpload(db, input.batch.fileId, uploadId);
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

/**
 * A create whose answer was lost leaves a session holding one of the device's slots until it
 * expires: a new create for the same batch file, or with the same client id, from the same device
 * to the same event, ends that earlier session first (unless it is being assembled or done).
 */
async function endReplacedSessions(env: Env, eventId: string, input: NewUpload): Promise<void> {
  const sameFile = [
    input.batch ? sql`${uploadSessions.id} = (select ${batchFiles.uploadId} from ${batchFiles} where ${batchFiles.id} = ${input.batch.fileId})` : undefined,
    input.clientId && !input.anonymous ? eq(uploadSessions.clientId, input.clientId) : undefined,
  ].filter((claim) => claim !== undefined);
  if (sameFile.length === 0 || input.partial || input.final) return;
  const db = database(env);
  const replaced = await db
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
  for (const { id } of replaced) {
    // Never started (its create failed midway): only the row holds the slot.
    if ((await sessionStub(env, id).supersede()) === null) await closeUnstartedSession(env, id, "cancelled");
  }
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
