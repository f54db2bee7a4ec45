/**
 * The session client: the upload session Durable Object (upload-session.ts) as the rest of the
 * core calls it, with a request's claim (join token, upload id, upload key) made into the
 * session's `Caller` and its refusals thrown as API errors.
 */
import { and, eq, inArray } from "drizzle-orm";
import { database } from "../db/client";
import { activeUploadStatuses, uploadSessions } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { ApiError, refusals } from "./errors";
import type { Caller, Outcome, PhotoReceipt, SessionView } from "./upload-session";

/** A request's claim on one upload: the ids and secrets it presented. */
export interface UploadRef {
  joinToken: string;
  uploadId: string;
  uploadKey: string | undefined;
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new ApiError(outcome.refusal);
  return outcome.value;
}

export function sessionStub(env: Env, uploadId: string) {
  return env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(uploadId));
}

export type SessionStub = ReturnType<typeof sessionStub>;

/**
 * Ends an upload that is neither being assembled nor done, as cancelled for `reason`: one whose
 * create's answer was lost holds one of its device's slots until it expires otherwise.
 */
export async function cancelUnfinishedUpload(env: Env, uploadId: string, reason: string): Promise<void> {
  // Never started (its create failed midway): only the row holds the slot.
  if ((await sessionStub(env, uploadId).cancelUnfinished(reason)) === null) await closeUnstartedSession(env, uploadId, "cancelled");
}

/** Closes the D1 row of a session whose Durable Object was never started: only the row holds its slot. */
export async function closeUnstartedSession(env: Env, uploadId: string, status: "cancelled" | "expired"): Promise<void> {
  await database(env)
    .update(uploadSessions)
    .set({ status, updatedAt: Date.now() })
    .where(and(eq(uploadSessions.id, uploadId), inArray(uploadSessions.status, activeUploadStatuses)));
}

export async function callerOf(ref: UploadRef): Promise<Caller> {
  if (!ref.uploadKey) throw new ApiError(refusals.invalidUploadKey());
  const [tokenHash, keyHash] = await Promise.all([sha256Hex(ref.joinToken), sha256Hex(ref.uploadKey)]);
  return { uploadId: ref.uploadId, tokenHash, keyHash };
}

export async function uploadStatus(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).view(await callerOf(ref)));
}

export async function completeUpload(env: Env, ref: UploadRef): Promise<{ created: boolean; photo: PhotoReceipt }> {
  return unwrap(await sessionStub(env, ref.uploadId).complete(await callerOf(ref)));
}

export async function abortUpload(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).abort(await callerOf(ref)));
}

/** Assembles a concatenation partial whose bytes have all arrived. */
export async function assemblePartial(env: Env, ref: UploadRef): Promise<SessionView> {
  return unwrap(await sessionStub(env, ref.uploadId).assemblePartial(await callerOf(ref)));
}

/**
 * Uploads whose key this isolate has made (at their create) or seen their session accept, and
 * whether a chunk of theirs is being read into memory now. A body is read before its session
 * checks it (core/append.ts) only for such a caller, one chunk at a time per upload: a stranger
 * with the join link (wrong key, made-up upload id) or one guest's many chunks at once cannot
 * hold the isolate's body budget with bodies that trickle in to be refused. Others go through
 * `beginChunk`, which refuses before any byte is read.
 */
const knownCallers = new Map<string, { keyHash: string; reading: boolean }>();
const KNOWN_CALLERS = 1000;

export function startInMemoryRead(uploadId: string, keyHash: string): (() => void) | null {
  const known = knownCallers.get(uploadId);
  if (!known || known.keyHash !== keyHash || known.reading) return null;
  known.reading = true;
  return () => (known.reading = false);
}

export function rememberCaller(uploadId: string, keyHash: string): void {
  if (knownCallers.get(uploadId)?.keyHash === keyHash) return;
  if (knownCallers.size >= KNOWN_CALLERS) knownCallers.delete(knownCallers.keys().next().value!);
  knownCallers.set(uploadId, { keyHash, reading: false });
}
