/**
 * The session client: the upload session Durable Object (upload-session.ts) as the rest of the
 * core calls it, with a request's claim (join token, upload id, upload key) made into the
 * session's `Caller` and its refusals thrown as API errors.
 */
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
