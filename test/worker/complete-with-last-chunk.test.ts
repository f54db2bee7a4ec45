/**
 * `Upload-Complete: ?1` on the guest API's last chunk: the upload completes in that request, so a
 * guest on venue Wi-Fi pays one round trip less per photo; sent again after a lost answer, it
 * answers the same photo; anywhere else it is refused before a byte is kept.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, call, createEvent, errorCode, fileBytes, recheckAdmissionEveryTime, sendChunk, sendInChunks, sessionOf, sha256Hex, startUpload, tailRows, tusHeaders, tusMetadata, uploadCall, type Upload } from "./helpers";

interface Receipt {
  photo_id: string;
  file_path: string;
  status: string;
}

const completing = { "upload-complete": "?1" };

describe("the last chunk may complete the upload", () => {
  it("answers the photo, stores the bytes whole and leaves no tail; a repeat answers the same photo", async () => {
    const size = 6 * MiB + 12345;
    const file = fileBytes(size, 21);
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, size);
    await sendUpTo(upload, file, 6 * MiB);

    const last = await sendChunk(upload, file, 6 * MiB, size, completing);
    expect(last.status, await last.clone().text()).toBe(201);
    expect(last.headers.get("upload-offset")).toBe(String(size));
    const photo = await last.json<Receipt>();
    expect(photo.status).toBe("processing");
    const stored = await env.PHOTOS.get(photo.file_path);
    expect(await sha256Hex(stored!.body)).toBe(await sha256Hex(file));
    expect(await tailRows(upload.id)).toBe(0);
    expect((await (await uploadCall(upload, "GET")).json<{ status: string }>()).status).toBe("completed");

    // Its answer lost, the guest sends the last chunk again: the same photo, not a second one.
    const again = await sendChunk(upload, file, 6 * MiB, size, completing);
    expect(again.status).toBe(200);
    expect((await again.json<Receipt>()).photo_id).toBe(photo.photo_id);
    // A separate complete agrees.
    const complete = await uploadCall(upload, "POST", "/complete");
    expect(complete.status).toBe(200);
    expect((await complete.json<Receipt>()).photo_id).toBe(photo.photo_id);
  });

  it("completes a file sent in one chunk", async () => {
    const file = fileBytes(300 * 1024, 22);
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, file.byteLength);
    const only = await sendChunk(upload, file, 0, file.byteLength, completing);
    expect(only.status).toBe(201);
    const stored = await env.PHOTOS.get((await only.json<Receipt>()).file_path);
    expect(await sha256Hex(stored!.body)).toBe(await sha256Hex(file));
  });

  it("refuses it on a tus concatenation partial before a byte is kept: a partial is never a photo", async () => {
    const { join_token } = await createEvent();
    const created = await call(`/api/v1/events/${join_token}/tus/`, {
      method: "POST",
      headers: { ...tusHeaders, "upload-concat": "partial", "upload-length": "1000", "upload-metadata": tusMetadata("partial-phone-01") },
    });
    expect(created.status).toBe(201);
    const [id, key] = new URL(created.headers.get("location")!).pathname.split("/").pop()!.split(".") as [string, string];
    const partial: Upload = { token: join_token, id, key };
    const file = fileBytes(1000, 29);

    const refused = await sendChunk(partial, file, 0, file.byteLength, completing);
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe("upload_is_partial");
    expect((await (await uploadCall(partial, "GET")).json<{ received_bytes: number }>()).received_bytes).toBe(0);
    // Without it, the chunk is taken as any.
    expect((await sendChunk(partial, file, 0, file.byteLength)).status).toBe(204);
  });

  it("refuses it on a chunk that does not end the file, keeping nothing of that chunk", async () => {
    const file = fileBytes(3 * MiB, 24);
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, file.byteLength);
    const early = await sendChunk(upload, file, 0, MiB, completing);
    expect(early.status).toBe(400);
    expect(await errorCode(early)).toBe("invalid_request");
    expect((await (await uploadCall(upload, "GET")).json<{ received_bytes: number }>()).received_bytes).toBe(0);
    // The upload goes on as if nothing happened, and completes the usual way too.
    await sendInChunks(upload, file, [MiB]);
    expect((await uploadCall(upload, "POST", "/complete")).status).toBe(201);
  });

  it("refuses a value other than ?1 or ?0 with a clear code; ?0 is an ordinary chunk", async () => {
    const file = fileBytes(MiB, 25);
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, file.byteLength);
    const odd = await sendChunk(upload, file, 0, file.byteLength, { "upload-complete": "yes" });
    expect(odd.status).toBe(400);
    expect(await errorCode(odd)).toBe("invalid_request");
    const plain = await sendChunk(upload, file, 0, file.byteLength, { "upload-complete": "?0" });
    expect(plain.status).toBe(204);
    expect((await (await uploadCall(upload, "GET")).json<{ status: string }>()).status).not.toBe("completed");
  });

  it("a closed event refuses the completing chunk as it refuses any; no photo is made", async () => {
    const file = fileBytes(2 * MiB, 26);
    const { event_id, join_token } = await createEvent();
    const upload = await startUpload(join_token, file.byteLength);
    await sendUpTo(upload, file, MiB);
    await closeEvent(event_id);
    const last = await sendChunk(upload, file, MiB, file.byteLength, completing);
    expect(last.status).toBe(403);
    expect(await errorCode(last)).toBe("event_closed");
    expect((await (await uploadCall(upload, "GET")).json<{ status: string }>()).status).toBe("uploading");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE upload_id = ?").bind(upload.id).first("n")).toBe(0);
  });
});

// Read once a while per isolate otherwise, the closing would not reach these retries at once:
// they would be answered as plain replays, not through the route's after-refusal lookup.
describe("the last chunk sent again once the event has closed (admission read afresh for every chunk)", () => {
  recheckAdmissionEveryTime();

  it("answers the photo to the last chunk sent again after the event closed, as complete would", async () => {
    const { event_id, upload, file, photo_id } = await completedByItsLastChunk(23);
    await closeEvent(event_id);

    const again = await sendChunk(upload, file, MiB, file.byteLength, completing);
    expect(again.status).toBe(200);
    expect((await again.json<Receipt>()).photo_id).toBe(photo_id);
    // Without the upload's key, nothing of the photo (the closed event is told before the key is looked at).
    const stranger = await sendChunk({ ...upload, key: "not-the-key" }, file, MiB, file.byteLength, completing);
    expect(stranger.status).toBe(403);
    expect(await stranger.text()).not.toContain(photo_id);
  });

  it("answers no photo to a completing chunk that states another file size, before or after the event closed", async () => {
    const { event_id, upload, file, photo_id } = await completedByItsLastChunk(27);

    // `bytes 0-9/10` is no retry of this 2 MiB file's last chunk: it is refused, not told "your photo, offset 10".
    const bogus = fileBytes(10, 28);
    const open = await sendChunk(upload, bogus, 0, bogus.byteLength, completing);
    expect(open.status).toBe(400);
    expect(await errorCode(open)).toBe("range_mismatch");
    expect(open.headers.get("upload-offset")).not.toBe("10");
    await closeEvent(event_id);
    const closed = await sendChunk(upload, bogus, 0, bogus.byteLength, completing);
    expect(closed.ok).toBe(false);
    expect(await closed.text()).not.toContain(photo_id);
    // The true retry still gets its photo, with the file's own offset.
    const again = await sendChunk(upload, file, MiB, file.byteLength, completing);
    expect(again.status).toBe(200);
    expect(again.headers.get("upload-offset")).toBe(String(file.byteLength));
  });

  it("answers the photo to the last chunk sent again after the event closed while the upload was being completed", async () => {
    const file = fileBytes(2 * MiB, 30);
    const { event_id, join_token } = await createEvent();
    const upload = await startUpload(join_token, file.byteLength);
    await sendUpTo(upload, file, file.byteLength);
    // The first completing request got as far as assembling (its answer lost on the way); then the event closed.
    await runInDurableObject(sessionOf(upload.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.status', 'assembling')");
    });
    await closeEvent(event_id);

    const again = await sendChunk(upload, file, MiB, file.byteLength, completing);
    expect(again.status, await again.clone().text()).toBeLessThan(300);
    const { photo_id, file_path } = await again.json<Receipt>();
    expect(again.headers.get("upload-offset")).toBe(String(file.byteLength));
    const stored = await env.PHOTOS.get(file_path);
    expect(await sha256Hex(stored!.body)).toBe(await sha256Hex(file));
    // A separate complete agrees: one photo.
    const complete = await uploadCall(upload, "POST", "/complete");
    expect(complete.status).toBe(200);
    expect((await complete.json<Receipt>()).photo_id).toBe(photo_id);
  });
});

/** A 2 MiB upload completed by its last chunk (`Upload-Complete: ?1`), and the photo it answered. */
async function completedByItsLastChunk(seed: number) {
  const file = fileBytes(2 * MiB, seed);
  const { event_id, join_token } = await createEvent();
  const upload = await startUpload(join_token, file.byteLength);
  await sendUpTo(upload, file, MiB);
  const last = await sendChunk(upload, file, MiB, file.byteLength, completing);
  expect(last.status).toBe(201);
  const { photo_id } = await last.json<Receipt>();
  return { event_id, upload, file, photo_id };
}

/** Sends the file's first `end` bytes in 1 MiB chunks, each accepted. */
async function sendUpTo(upload: Upload, file: Uint8Array, end: number): Promise<void> {
  for (let offset = 0; offset < end; offset += MiB) expect((await sendChunk(upload, file, offset, Math.min(end, offset + MiB))).status).toBe(204);
}

async function closeEvent(eventId: string): Promise<void> {
  const response = await call(`/api/v1/admin/events/${eventId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ status: "closed" }),
  });
  expect(response.status).toBe(200);
}
