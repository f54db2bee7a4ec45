/**
 * Withdrawing a batch file that never had a session (issue 15): skipped as a duplicate of bytes
 * the device sent before, or cancelled. The batch's snapshot settles instead of showing the
 * file `waiting` for ever; the batch key is the capability, and nothing here grows storage.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { call, createEvent, errorCode, expireSession, fileBytes, newDevice, sendChunk, sendInChunks, sessionOf, sha256Hex, startUpload, uploadCall } from "./helpers";

interface BatchFile {
  file_id: string;
  client_id: string;
  state: string;
  upload_id: string | null;
  photo_id: string | null;
  error: { code: string; message: string } | null;
}
interface Registered {
  batch_id: string;
  batch_key: string;
  files: Array<{ client_id: string; file_id: string; state: string }>;
}

const file = (client_id: string, size = 1000) => ({ client_id, filename: `${client_id}.jpg`, size, content_type: "image/jpeg" });

async function register(token: string, device: string, files: Array<ReturnType<typeof file>>): Promise<Registered> {
  const response = await call(`/api/v1/events/${token}/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: device, files }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

const withdraw = (token: string, batch: Pick<Registered, "batch_id" | "batch_key">, fileId: string, body: unknown) =>
  call(`/api/v1/events/${token}/batches/${batch.batch_id}/files/${fileId}/withdraw`, {
    method: "POST",
    headers: { "content-type": "application/json", "batch-key": batch.batch_key },
    body: JSON.stringify(body),
  });

async function snapshot(token: string, batch: Registered): Promise<{ counts: Record<string, number>; files: BatchFile[] }> {
  const response = await call(`/api/v1/events/${token}/batches/${batch.batch_id}`, { headers: { "batch-key": batch.batch_key } });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

const createFor = (token: string, device: string, batch: Registered, fileId: string, size = 1000) =>
  call(`/api/v1/events/${token}/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json", "batch-key": batch.batch_key },
    body: JSON.stringify({ filename: "a.jpg", size, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: fileId }),
  });

async function sessionsOf(device: string): Promise<number> {
  return (await env.DB.prepare("SELECT count(*) AS n FROM upload_sessions WHERE device_id = ?").bind(device).first<{ n: number }>())!.n;
}

describe("withdrawing batch files", () => {
  it("a duplicate shows skipped and a cancelled file cancelled, each counted, not waiting; asking again gives the same answer", async () => {
    const { join_token } = await createEvent();
    const batch = await register(join_token, newDevice(), [file("dup"), file("gone"), file("left")]);
    const [dup, gone] = batch.files;

    const skipped = await withdraw(join_token, batch, dup!.file_id, { reason: "duplicate" });
    expect(skipped.status, await skipped.clone().text()).toBe(200);
    const answer = await skipped.json<BatchFile>();
    expect(answer).toMatchObject({ file_id: dup!.file_id, client_id: "dup", state: "skipped", upload_id: null, photo_id: null, error: null });
    expect((await withdraw(join_token, batch, gone!.file_id, { reason: "cancelled" })).status).toBe(200);

    const state = await snapshot(join_token, batch);
    expect(state.files.map((entry) => [entry.client_id, entry.state])).toEqual([
      ["dup", "skipped"],
      ["gone", "cancelled"],
      ["left", "waiting"],
    ]);
    expect(state.counts).toEqual({ total: 3, waiting: 1, uploading: 0, processing: 0, done: 0, failed: 0, refused: 0, cancelled: 1, skipped: 1 });

    // The engine's retries may repeat the call: the same answer, nothing changed.
    const again = await withdraw(join_token, batch, dup!.file_id, { reason: "duplicate" });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(answer);
    // A second word with another reason does not rewrite the first.
    const otherReason = await withdraw(join_token, batch, dup!.file_id, { reason: "cancelled" });
    expect(otherReason.status).toBe(409);
    expect(await otherReason.json()).toMatchObject({ error: { code: "batch_file_withdrawn", withdrawn: "duplicate" } });
    expect((await snapshot(join_token, batch)).counts).toMatchObject({ skipped: 1, cancelled: 1, waiting: 1 });
  });

  it("a withdrawn file takes no session, so it never turns back silently; registered anew, the same file uploads", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await register(join_token, device, [file("a"), file("b")]);
    const [a, b] = batch.files;
    await withdraw(join_token, batch, a!.file_id, { reason: "cancelled" });
    await withdraw(join_token, batch, b!.file_id, { reason: "duplicate" });

    for (const withdrawn of [a!, b!]) {
      const create = await createFor(join_token, device, batch, withdrawn.file_id);
      expect(create.status).toBe(409);
      expect(await errorCode(create)).toBe("batch_file_withdrawn");
    }
    expect(await sessionsOf(device)).toBe(0);
    expect((await snapshot(join_token, batch)).files.map((entry) => entry.state)).toEqual(["cancelled", "skipped"]);

    // What the engine does when the guest picks the cancelled file again: a new batch entry, which uploads.
    const anew = await register(join_token, device, [file("a")]);
    expect((await createFor(join_token, device, anew, anew.files[0]!.file_id)).status).toBe(201);
    expect((await snapshot(join_token, anew)).files[0]!.state).toBe("uploading");
    expect((await snapshot(join_token, batch)).files[0]!.state).toBe("cancelled");
  });

  it("refuses a file with a session as a duplicate (its state tells), a refused file, a wrong key, and files of other batches or events", async () => {
    const { join_token } = await createEvent({ max_file_size: 1024 * 1024 });
    const device = newDevice();
    const batch = await register(join_token, device, [file("sent"), file("big", 2 * 1024 * 1024), file("idle")]);
    const [sent, big, idle] = batch.files;
    const created = await createFor(join_token, device, batch, sent!.file_id);
    const { upload_id } = await created.json<{ upload_id: string }>();

    const withSession = await withdraw(join_token, batch, sent!.file_id, { reason: "duplicate" });
    expect(withSession.status).toBe(409);
    expect(await withSession.json()).toMatchObject({ error: { code: "batch_file_has_upload", upload_id } });
    const refused = await withdraw(join_token, batch, big!.file_id, { reason: "cancelled" });
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe("batch_file_refused");

    const wrongKey = await withdraw(join_token, { ...batch, batch_key: "not-the-key" }, idle!.file_id, { reason: "cancelled" });
    expect(wrongKey.status).toBe(401);
    expect(await errorCode(wrongKey)).toBe("invalid_batch_key");
    const noKey = await call(`/api/v1/events/${join_token}/batches/${batch.batch_id}/files/${idle!.file_id}/withdraw`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "cancelled" }),
    });
    expect(await errorCode(noKey)).toBe("invalid_batch_key");

    // Another batch's key does not reach this batch's file, nor this batch's key another batch's file.
    const other = await register(join_token, newDevice(), [file("theirs")]);
    expect(await errorCode(await withdraw(join_token, { ...batch, batch_key: other.batch_key }, idle!.file_id, { reason: "cancelled" }))).toBe("invalid_batch_key");
    expect(await errorCode(await withdraw(join_token, other, idle!.file_id, { reason: "cancelled" }))).toBe("batch_not_found");
    expect(await errorCode(await withdraw(join_token, batch, other.files[0]!.file_id, { reason: "cancelled" }))).toBe("batch_not_found");
    const unknown = await withdraw(join_token, batch, crypto.randomUUID(), { reason: "cancelled" });
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe("batch_not_found");
    expect(await errorCode(await withdraw(join_token, batch, "not-an-id", { reason: "cancelled" }))).toBe("batch_not_found");
    const elsewhere = await createEvent();
    expect(await errorCode(await withdraw(elsewhere.join_token, batch, idle!.file_id, { reason: "cancelled" }))).toBe("batch_not_found");
    expect(await errorCode(await withdraw(join_token, batch, idle!.file_id, { reason: "lost" }))).toBe("invalid_request");

    const state = await snapshot(join_token, batch);
    expect(state.files.map((entry) => entry.state)).toEqual(["uploading", "refused", "waiting"]);
    expect((await snapshot(join_token, other)).files[0]!.state).toBe("waiting");
  });

  it("takes no photo id from the device: another device's photo cannot be named, so a batch key never links it", async () => {
    const { join_token } = await createEvent();
    const bytes = fileBytes(2000, 7);
    const theirs = await startUpload(join_token, bytes.byteLength);
    await sendInChunks(theirs, bytes, [bytes.byteLength]);
    const { photo_id } = await (await uploadCall(theirs, "POST", "/complete")).json<{ photo_id: string }>();

    const batch = await register(join_token, newDevice(), [file("copy")]);
    const naming = await withdraw(join_token, batch, batch.files[0]!.file_id, { reason: "duplicate", duplicate_of: photo_id });
    expect(naming.status).toBe(400);
    expect(await errorCode(naming)).toBe("invalid_request");
    const state = await snapshot(join_token, batch);
    expect(state.files[0]).toMatchObject({ state: "waiting", photo_id: null });
    expect(JSON.stringify(state)).not.toContain(photo_id);
  });

  it("cancelling a file whose create's answer was lost ends that session: the device gets its slot back", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 1 });
    const device = newDevice();
    const batch = await register(join_token, device, [file("lost"), file("next")]);
    const [lost, next] = batch.files;
    // The create went through; its answer (the upload key) never reached the app.
    const created = await createFor(join_token, device, batch, lost!.file_id);
    expect(created.status).toBe(201);
    const { upload_id, upload_key } = await created.json<{ upload_id: string; upload_key: string }>();
    const blocked = await createFor(join_token, device, batch, next!.file_id);
    expect(blocked.status).toBe(429);

    const cancelled = await withdraw(join_token, batch, lost!.file_id, { reason: "cancelled" });
    expect(cancelled.status, await cancelled.clone().text()).toBe(200);
    expect(await cancelled.json()).toMatchObject({ file_id: lost!.file_id, state: "cancelled", upload_id });
    // The same answer when repeated; the session is over for its key too.
    expect(await (await withdraw(join_token, batch, lost!.file_id, { reason: "cancelled" })).json()).toMatchObject({ state: "cancelled", upload_id });
    const status = await uploadCall({ token: join_token, id: upload_id, key: upload_key }, "GET");
    expect(await status.json()).toMatchObject({ upload_id, status: "cancelled" });
    expect((await createFor(join_token, device, batch, next!.file_id)).status).toBe(201);
    expect((await snapshot(join_token, batch)).files.map((entry) => entry.state)).toEqual(["cancelled", "uploading"]);
  });

  it("a file cancelled after its create went through is withdrawn for good, as one cancelled before: a later create naming it is refused", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await register(join_token, device, [file("lost"), file("expired")]);
    const [lost, expired] = batch.files;
    const { upload_id } = await (await createFor(join_token, device, batch, lost!.file_id)).json<{ upload_id: string }>();
    expect((await withdraw(join_token, batch, lost!.file_id, { reason: "cancelled" })).status).toBe(200);

    const late = await createFor(join_token, device, batch, lost!.file_id);
    expect(late.status, await late.clone().text()).toBe(409);
    expect(await errorCode(late)).toBe("batch_file_withdrawn");
    expect((await snapshot(join_token, batch)).files[0]).toMatchObject({ state: "cancelled", upload_id });
    expect(await sessionsOf(device)).toBe(1);

    // A lost create's session that expired before the guest cancelled: the file shows cancelled, not waiting.
    const { upload_id: expiredId } = await (await createFor(join_token, device, batch, expired!.file_id)).json<{ upload_id: string }>();
    await expireSession(expiredId);
    expect(await sessionOf(expiredId).expireIfDue()).toBe("expired");
    const cancelled = await withdraw(join_token, batch, expired!.file_id, { reason: "cancelled" });
    expect(cancelled.status, await cancelled.clone().text()).toBe(200);
    expect(await cancelled.json()).toMatchObject({ state: "cancelled", upload_id: expiredId });
    expect((await snapshot(join_token, batch)).files.map((entry) => entry.state)).toEqual(["cancelled", "cancelled"]);
  });

  it("a cancel that lands between a create's insert and its session's start: the session starts cancelled, never live without its slot", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 1 });
    const device = newDevice();
    const batch = await register(join_token, device, [file("template"), file("raced"), file("next")]);
    const [template, raced, next] = batch.files;
    // A session to copy: what the racing create inserted and would start (then ended, freeing its slot).
    const made = await (await createFor(join_token, device, batch, template!.file_id)).json<{ upload_id: string; upload_key: string }>();
    const spec = await runInDurableObject(sessionOf(made.upload_id), (_instance, state) =>
      JSON.parse(state.storage.sql.exec<{ data: string }>("SELECT data FROM session").one().data),
    );
    expect((await uploadCall({ token: join_token, id: made.upload_id, key: made.upload_key }, "DELETE")).status).toBe(204);

    // The create's D1 batch ran (its row, its file's link); its Durable Object has not started yet.
    const racing = { token: join_token, id: crypto.randomUUID(), key: "racing-create-key" };
    await env.DB.prepare(
      `INSERT INTO upload_sessions (id, event_id, join_token_id, device_id, status, total_size, chunk_size, expires_at, r2_key, upload_key_hash, filename, content_type, created_at, updated_at)
       SELECT ?, event_id, join_token_id, device_id, 'pending', total_size, chunk_size, expires_at, ?, ?, filename, content_type, created_at, updated_at FROM upload_sessions WHERE id = ?`,
    )
      .bind(racing.id, `${spec.r2Key}-raced`, await sha256Hex(new TextEncoder().encode(racing.key)), made.upload_id)
      .run();
    await env.DB.prepare("UPDATE batch_files SET upload_id = ? WHERE id = ?").bind(racing.id, raced!.file_id).run();

    const cancelled = await withdraw(join_token, batch, raced!.file_id, { reason: "cancelled" });
    expect(cancelled.status, await cancelled.clone().text()).toBe(200);
    // The create's session starts now, and its answer carries the key.
    await sessionOf(racing.id).init({ ...spec, uploadId: racing.id, r2Key: `${spec.r2Key}-raced`, keyHash: await sha256Hex(new TextEncoder().encode(racing.key)) });

    expect(await (await uploadCall(racing, "GET")).json()).toMatchObject({ status: "cancelled" });
    const chunk = await sendChunk(racing, fileBytes(1000, 3), 0, 1000);
    expect(await errorCode(chunk)).toBe("upload_cancelled");
    expect((await createFor(join_token, device, batch, next!.file_id)).status).toBe(201);

    // A create that never comes: the mark its cancel left is gone at the alarm.
    const never = sessionOf(crypto.randomUUID());
    expect(await never.cancelUnfinished("cancelled")).toBeNull();
    await runInDurableObject(never, (instance) => (instance as unknown as { alarm(): Promise<void> }).alarm());
    expect(await runInDurableObject(never, async (_instance, state) => [...(await state.storage.list()).keys()])).toEqual([]);
  });

  it("never ends an upload that is done: cancelling its file is refused, and the photo stays", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await register(join_token, device, [file("done", 2000)]);
    const fileId = batch.files[0]!.file_id;
    const { upload_id, upload_key } = await (await createFor(join_token, device, batch, fileId, 2000)).json<{ upload_id: string; upload_key: string }>();
    const upload = { token: join_token, id: upload_id, key: upload_key };
    const bytes = fileBytes(2000, 8);
    await sendInChunks(upload, bytes, [bytes.byteLength]);
    expect((await uploadCall(upload, "POST", "/complete")).status).toBe(201);

    const refused = await withdraw(join_token, batch, fileId, { reason: "cancelled" });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: "batch_file_has_upload", upload_id } });
    expect((await snapshot(join_token, batch)).files[0]).toMatchObject({ state: "processing", upload_id });
  });

  it("a session linked by a create that raced the withdrawal tells the file's state while it lives; once it expires, the withdrawal shows", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await register(join_token, device, [file("raced")]);
    const fileId = batch.files[0]!.file_id;
    const { upload_id } = await (await createFor(join_token, device, batch, fileId)).json<{ upload_id: string }>();
    // The create read the file before the withdrawal and linked its session after it.
    await env.DB.prepare("UPDATE batch_files SET withdrawn = 'cancelled' WHERE id = ?").bind(fileId).run();
    expect((await snapshot(join_token, batch)).files[0]).toMatchObject({ state: "uploading", upload_id });
    await env.DB.prepare("UPDATE upload_sessions SET status = 'expired' WHERE id = ?").bind(upload_id).run();
    expect((await snapshot(join_token, batch)).files[0]!.state).toBe("cancelled");
  });
});

describe("withdrawn files and the registration quotas", () => {
  const settable = env as unknown as Record<string, string>;
  const configured = settable.BATCH_FILES_PER_DEVICE;
  afterEach(() => {
    settable.BATCH_FILES_PER_DEVICE = configured!;
  });

  it("still count, like refused files: withdrawing frees no room to register more rows", async () => {
    settable.BATCH_FILES_PER_DEVICE = "3";
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await register(join_token, device, [file("a"), file("b"), file("c")]);
    for (const entry of batch.files) expect((await withdraw(join_token, batch, entry.file_id, { reason: "cancelled" })).status).toBe(200);
    const more = await call(`/api/v1/events/${join_token}/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ device_id: device, files: [file("d")] }),
    });
    expect(more.status).toBe(429);
    expect(await more.json()).toMatchObject({ error: { code: "upload_limit", limit: "batch_files_per_device" } });
  });
});
