/**
 * Revoking a join link, closing or archiving an event stops uploads already in flight: their next
 * chunk, PATCH or complete gets what a new create gets, and the bytes already accepted stay.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, call, createEvent, createUploadRequest, errorCode, fileBytes, recheckAdmissionEveryTime, sendChunk, tusHeaders, startUpload, uploadCall, type Upload } from "./helpers";

async function admin(path: string, method = "GET", body?: unknown) {
  const response = await call(`/api/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return response.json<Record<string, string>>();
}

const setRecheckMs = recheckAdmissionEveryTime();

/** How a change reaches an upload in flight, and the refusal a new create gets afterwards. */
const changes = {
  "revoking its join link": async (eventId: string, linkId: string) => void (await admin(`/events/${eventId}/join-links/${linkId}`, "DELETE")),
  "closing the event": async (eventId: string) => void (await admin(`/events/${eventId}`, "PATCH", { status: "closed" })),
  "archiving the event": async (eventId: string) => void (await admin(`/events/${eventId}/archive`, "POST")),
  "closing the upload window": async (eventId: string) =>
    void (await admin(`/events/${eventId}`, "PATCH", { uploads_close_at: new Date(Date.now() - 1000).toISOString() })),
};
type Change = keyof typeof changes;

async function eventWithLink() {
  const { event_id } = await createEvent();
  const link = await admin(`/events/${event_id}/join-links`, "POST", { label: "Table cards" });
  return { eventId: event_id, linkId: link.id!, token: link.join_token! };
}

async function photoCount(eventId: string) {
  return (await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE event_id = ?").bind(eventId).first<{ n: number }>())!.n;
}

const b64 = (text: string) => btoa(text);

describe.each(Object.keys(changes) as Change[])("%s stops uploads in flight", (change) => {
  it("guest API: the next chunk and complete get the create's refusal; status and accepted bytes stay", async () => {
    const { eventId, linkId, token } = await eventWithLink();
    const file = fileBytes(3 * MiB, 41);
    const upload = await startUpload(token, file.byteLength);
    const done = await startUpload(token, MiB);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    expect((await sendChunk(done, file.slice(0, MiB), 0, MiB)).status).toBe(204);

    await changes[change](eventId, linkId);
    const create = await createUploadRequest(token, { size: 100 });
    const expected = { status: create.status, code: await errorCode(create) };
    expect(expected.status).toBeGreaterThanOrEqual(400);

    const chunk = await sendChunk(upload, file, MiB, 2 * MiB);
    expect({ status: chunk.status, code: await errorCode(chunk) }).toEqual(expected);
    const complete = await uploadCall(done, "POST", "/complete");
    expect({ status: complete.status, code: await errorCode(complete) }).toEqual(expected);
    expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ status: "uploading", received_bytes: MiB });
    expect(await photoCount(eventId)).toBe(0);
  });

  it("tus: the next PATCH is refused with the create's code, and its offset stays", async () => {
    const { eventId, linkId, token } = await eventWithLink();
    const base = `/api/v1/events/${token}/tus`;
    const created = await call(`${base}/`, {
      method: "POST",
      headers: { ...tusHeaders, "upload-length": String(2 * MiB), "upload-metadata": `filename ${b64("a.jpg")},filetype ${b64("image/jpeg")}` },
    });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get("location")!).pathname;
    const file = fileBytes(2 * MiB, 42);
    const patch = (offset: number, bytes: Uint8Array) =>
      call(url, { method: "PATCH", headers: { ...tusHeaders, "content-type": "application/offset+octet-stream", "upload-offset": String(offset) }, body: bytes });
    expect((await patch(0, file.slice(0, MiB))).status).toBe(204);

    await changes[change](eventId, linkId);
    const create = await createUploadRequest(token, { size: 100 });
    const refused = await patch(MiB, file.slice(MiB));
    expect(refused.status).toBe(create.status);
    expect(await errorCode(refused)).toBe(await errorCode(create));
    expect((await call(url, { method: "HEAD", headers: tusHeaders })).headers.get("upload-offset")).toBe(String(MiB));
    expect(await photoCount(eventId)).toBe(0);
  });

  it("IETF resumable: the completing append is refused with the create's code, and no photo lands", async () => {
    const { eventId, linkId, token } = await eventWithLink();
    const file = fileBytes(MiB, 43);
    const created = await call(`/api/v1/events/${token}/resumable`, {
      method: "POST",
      headers: {
        "upload-draft-interop-version": "6",
        "upload-complete": "?0",
        "upload-length": String(MiB),
        "content-type": "image/jpeg",
        "x-device-id": "ietf-revoked-01",
      },
      body: file.slice(0, MiB / 2),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const url = new URL(created.headers.get("location")!).pathname;

    await changes[change](eventId, linkId);
    const create = await createUploadRequest(token, { size: 100 });
    const refused = await call(url, {
      method: "PATCH",
      headers: { "upload-draft-interop-version": "6", "content-type": "application/partial-upload", "upload-offset": String(MiB / 2), "upload-complete": "?1" },
      body: file.slice(MiB / 2),
    });
    expect(refused.status).toBe(create.status);
    expect(await errorCode(refused)).toBe(await errorCode(create));
    expect(await photoCount(eventId)).toBe(0);
  });
});

describe("an archived event never gets a photo", () => {
  it("not from a complete, nor from the expiry alarm of an upload that has every byte", async () => {
    const { event_id, join_token } = await createEvent();
    const file = fileBytes(MiB, 44);
    const upload: Upload = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    await admin(`/events/${event_id}/archive`, "POST");

    const complete = await uploadCall(upload, "POST", "/complete");
    expect(complete.status).toBe(403);
    expect(await errorCode(complete)).toBe("event_closed");
    // The session expires with all its bytes: the alarm, which would otherwise finish it, drops it.
    const session = env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(upload.id));
    await runInDurableObject(session, (_instance, state) => {
      state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.expiresAt', ?)", Date.now() - 1);
    });
    await runDurableObjectAlarm(session);
    expect(await photoCount(event_id)).toBe(0);
    const row = await env.DB.prepare("SELECT status, r2_key FROM upload_sessions WHERE id = ?").bind(upload.id).first<{ status: string; r2_key: string }>();
    expect(row!.status).toBe("expired");
    expect(await env.PHOTOS.head(row!.r2_key)).toBeNull();
  });
});

describe("the recheck interval", () => {
  it("a revoked link stops an upload in flight within UPLOAD_RECHECK_MS", async () => {
    setRecheckMs(300);
    const { eventId, linkId, token } = await eventWithLink();
    const file = fileBytes(3 * MiB, 45);
    const upload = await startUpload(token, file.byteLength);
    expect((await sendChunk(upload, file, 0, MiB)).status).toBe(204);
    await changes["revoking its join link"](eventId, linkId);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const chunk = await sendChunk(upload, file, MiB, 2 * MiB);
    expect(chunk.status).toBe(410);
    expect(await errorCode(chunk)).toBe("join_link_expired");
  });
});
