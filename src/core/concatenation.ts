/**
 * tus concatenation: partial uploads assembled, then streamed in order into a final upload that
 * completes like any other.
 */
import { r2Keys } from "../storage/keys";
import { concatFixedLength } from "../storage/streams";
import { createUpload, type CreatedUpload, type NewUpload } from "./admission";
import { appendChunk, type Background } from "./append";
import { ApiError } from "./errors";
import { abortUpload, assemblePartial, callerOf, completeUpload, sessionStub, unwrap, type UploadRef } from "./session-client";
import type { PhotoReceipt } from "./upload-session";

/**
 * tus concatenation: a final upload whose bytes are the given partials of this event, in order,
 * each with all its bytes. The partials' objects are streamed through the byte engine into the
 * final upload's parts (R2's binding has no part copy), then it completes like any upload and
 * the partials are done (their objects deleted). Until then a partial holds a slot and expires
 * like any session.
 */
export async function createConcatenated(
  env: Env,
  joinToken: string,
  input: Omit<NewUpload, "size" | "partial">,
  partials: UploadRef[],
  background: Background,
): Promise<{ created: CreatedUpload; photo: PhotoReceipt; size: number }> {
  const views = await Promise.all(
    partials.map((ref) =>
      assemblePartial(env, ref).catch((error: unknown) => {
        if (!(error instanceof ApiError)) throw error;
        throw new ApiError({ status: 400, code: "partial_not_complete", message: "Every partial upload must be a partial of this event with all its bytes." });
      }),
    ),
  );
  const size = views.reduce((sum, view) => sum + view.total_size, 0);
  const created = await createUpload(env, joinToken, { ...input, size, final: true });
  const ref: UploadRef = { joinToken, uploadId: created.upload_id, uploadKey: created.upload_key };
  const partialStub = (partial: UploadRef) => sessionStub(env, partial.uploadId);
  const reserved = await Promise.all(
    partials.map(async (partial) => ({ partial, outcome: await partialStub(partial).reservePartial(await callerOf(partial), created.upload_id) })),
  );
  const lost = reserved.find(({ outcome }) => !outcome.ok);
  if (lost) {
    // Another final has (some of) these partials: this one ends at once rather than hold a slot.
    await releasePartials(env, partials, created.upload_id);
    await abortUpload(env, ref);
    unwrap(lost.outcome);
  }
  const sources = partials.map((partial) => async () => {
    const key = r2Keys.upload(created.event_id, partial.uploadId);
    const object = await env.PHOTOS.get(key);
    if (!object) throw new Error(`partial upload object ${key} is missing`);
    return object.body;
  });
  const { readable, copied } = concatFixedLength(size, sources);
  // A JavaScript hop between the two fixed-length streams: piped natively from one into the
  // other (a final of one object, ≤ 5 MiB), workerd never finished the copy.
  try {
    await Promise.all([appendChunk(env, ref, 0, size, readable.pipeThrough(new TransformStream()), { acceptReplay: false, total: null }, background), copied]);
  } catch (error) {
    // This final never got its bytes, so it can never complete: free the partials for another final.
    await releasePartials(env, partials, created.upload_id);
    throw error;
  }
  const { photo } = await completeUpload(env, ref);
  await Promise.all(partials.map(async (partial) => unwrap(await partialStub(partial).consumePartial(await callerOf(partial)))));
  return { created, photo, size };
}

async function releasePartials(env: Env, partials: UploadRef[], finalId: string): Promise<void> {
  await Promise.all(partials.map(async (partial) => sessionStub(env, partial.uploadId).releasePartial(await callerOf(partial), finalId)));
}
