/**
 * A finished upload's Durable Object keeps its storage for a retention window only; after that
 * D1 answers repeated calls, through every adapter, exactly as the session did.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SESSION_RETENTION_MS } from "../../src/core/upload-session";
import { MiB, call, createEvent, errorCode, fileBytes, sendChunk, sendInChunks, startUpload, uploadCall } from "./helpers";

const sessionOf = (uploadId: string) => env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(uploadId));

/** The session's tables (the storage's own bookkeeping aside) and its alarm. */
async function storageOf(uploadId: string) {
  return runInDurableObject(sessionOf(uploadId), async (_instance, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
      .toArray()
      .map((row) => row.name),
    alarm: await state.storage.getAlarm(),
  }));
}

/** Moves the session's close back past the retention window and runs its alarm, as time passing would. */
async function retire(uploadId: string) {
  await runInDurableObject(sessionOf(uploadId), (_instance, state) => {
    state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.closedAt', ?)", Date.now() - SESSION_RETENTION_MS - 1);
  });
  expect(await runDurableObjectAlarm(sessionOf(uploadId))).toBe(true);
  expect(await storageOf(uploadId)).toEqual({ tables: [], alarm: null });
}

/** What a client sees of a response: status, the headers that carry protocol state, and the body (bar its request id). */
async function seen(response: Response) {
  const headers = ["upload-offset", "upload-length", "upload-complete", "upload-expires", "tus-resumable"];
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { error?: { request_id?: string } }) : null;
  delete body?.error?.request_id;
  return { status: response.status, headers: Object.fromEntries(headers.map((name) => [name, response.headers.get(name)])), body };
}

describe("finished sessions forget their storage after the retention window", () => {
  it("guest API: after retirement, status, complete, abort and a replayed chunk answer as before", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 301);
    const upload = await startUpload(join_token, file.byteLength);
    await sendInChunks(upload, file, [MiB]);
    expect((await uploadCall(upload, "POST", "/complete")).status).toBe(201);

    // Inside the window the storage stays, with the alarm set for the window's end.
    const kept = await storageOf(upload.id);
    expect(kept.tables).toContain("session");
    expect(kept.alarm).toBeGreaterThan(Date.now() + SESSION_RETENTION_MS - 60_000);
    expect(await runDurableObjectAlarm(sessionOf(upload.id))).toBe(true);
    expect((await storageOf(upload.id)).tables).toContain("session");

    const repeat = async () => ({
      status: await seen(await uploadCall(upload, "GET")),
      complete: await seen(await uploadCall(upload, "POST", "/complete")),
      abort: await seen(await uploadCall(upload, "DELETE")),
      lastChunk: await seen(await sendChunk(upload, file, 5 * MiB, 6 * MiB)),
      wrongKey: await seen(await uploadCall({ ...upload, key: "not-the-key" }, "GET")),
    });
    const before = await repeat();
    expect(before.complete.status).toBe(200);
    expect(before.abort.status).toBe(409);
    expect(before.lastChunk.status).toBe(204);
    expect(before.wrongKey.status).toBe(401);

    await retire(upload.id);
    expect(await repeat()).toEqual(before);
    // Alarms can fire twice: a second run finds nothing and creates nothing.
    await runInDurableObject(sessionOf(upload.id), (instance) => instance.alarm());
    expect(await storageOf(upload.id)).toEqual({ tables: [], alarm: null });
    expect(await repeat()).toEqual(before);
  });

  it("guest API: a cancelled and an expired session answer the same after retirement", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(2 * MiB, 302);
    const cancelled = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(cancelled, file, 0, MiB)).status).toBe(204);
    expect((await uploadCall(cancelled, "DELETE")).status).toBe(204);
    const expired = await startUpload(join_token, file.byteLength);
    const past = Date.now() - 1;
    await env.DB.prepare("UPDATE upload_sessions SET expires_at = ? WHERE id = ?").bind(past, expired.id).run();
    await runInDurableObject(sessionOf(expired.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.expiresAt', ?)", past);
    });
    expect(await runDurableObjectAlarm(sessionOf(expired.id))).toBe(true);

    for (const upload of [cancelled, expired]) {
      const repeat = async () => ({
        status: await seen(await uploadCall(upload, "GET")),
        complete: await seen(await uploadCall(upload, "POST", "/complete")),
        abort: await seen(await uploadCall(upload, "DELETE")),
        chunk: await seen(await sendChunk(upload, file, MiB, 2 * MiB)),
      });
      const before = await repeat();
      expect(before.abort.status).toBe(204);
      await retire(upload.id);
      expect(await repeat()).toEqual(before);
    }
  });

  it("a close whose D1 write was lost is recorded in D1 before the session forgets it", async () => {
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, 2 * MiB);
    expect((await uploadCall(upload, "DELETE")).status).toBe(204);
    await env.DB.prepare("UPDATE upload_sessions SET status = 'pending' WHERE id = ?").bind(upload.id).run();
    await retire(upload.id);
    expect(await env.DB.prepare("SELECT status FROM upload_sessions WHERE id = ?").bind(upload.id).first()).toEqual({ status: "cancelled" });
    expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ status: "cancelled" });
  });

  it("tus: HEAD and DELETE of a completed and of a terminated upload answer the same after retirement", async () => {
    const { join_token } = await createEvent();
    const base = `/api/v1/events/${join_token}/tus`;
    const tus = { "tus-resumable": "1.0.0" };
    const metadata = `filename ${btoa("a.jpg")},filetype ${btoa("image/jpeg")},device_id ${btoa("tus-retention-01")}`;
    const file = fileBytes(MiB, 303);
    const done = await call(`${base}/`, {
      method: "POST",
      headers: { ...tus, "upload-length": String(file.byteLength), "upload-metadata": metadata, "content-type": "application/offset+octet-stream" },
      body: file,
    });
    expect(done.status).toBe(201);
    const terminated = await call(`${base}/`, { method: "POST", headers: { ...tus, "upload-length": "5000", "upload-metadata": metadata } });
    expect(terminated.status).toBe(201);
    const terminatedUrl = new URL(terminated.headers.get("location")!).pathname;
    expect((await call(terminatedUrl, { method: "DELETE", headers: tus })).status).toBe(204);

    for (const url of [new URL(done.headers.get("location")!).pathname, terminatedUrl]) {
      const repeat = async () => ({
        head: await seen(await call(url, { method: "HEAD", headers: tus })),
        delete: await seen(await call(url, { method: "DELETE", headers: tus })),
      });
      const before = await repeat();
      await retire(url.split("/").pop()!.split(".")[0]!);
      expect(await repeat()).toEqual(before);
    }
  });

  it("IETF resumable: HEAD and the repeated completing append answer the same after retirement", async () => {
    const { join_token } = await createEvent();
    const interop = { "upload-draft-interop-version": "9" };
    const file = fileBytes(MiB, 304);
    const created = await call(`/api/v1/events/${join_token}/resumable`, {
      method: "POST",
      headers: { ...interop, "upload-complete": "?1", "content-type": "image/jpeg", "x-device-id": "ietf-retention-01" },
      body: file,
    });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get("location")!).pathname;
    const repeat = async () => ({
      head: await seen(await call(url, { method: "HEAD", headers: interop })),
      finalAppend: await seen(
        await call(url, {
          method: "PATCH",
          headers: { ...interop, "content-type": "application/partial-upload", "upload-offset": String(file.byteLength), "upload-complete": "?1", "content-length": "0" },
        }),
      ),
      delete: await seen(await call(url, { method: "DELETE", headers: interop })),
    });
    const before = await repeat();
    expect(before.head.headers["upload-complete"]).toBe("?1");
    expect(before.finalAppend.status).toBe(201);
    await retire(url.split("/").pop()!.split(".")[0]!);
    expect(await repeat()).toEqual(before);
  });

  it("an upload id that never existed is still unknown, without storage being created for it", async () => {
    const { join_token } = await createEvent();
    const ghost = { token: join_token, id: crypto.randomUUID(), key: "some-key-that-is-long-enough" };
    const response = await uploadCall(ghost, "GET");
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("upload_not_found");
    expect(await storageOf(ghost.id)).toEqual({ tables: [], alarm: null });
  });
});
