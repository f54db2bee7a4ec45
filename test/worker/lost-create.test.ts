/**
 * A create whose answer was lost leaves a session holding one of the device's slots: creating the
 * same file again (same batch file, or same client id) ends the earlier session and takes its slot.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createEvent, createUploadRequest, errorCode, newDevice, uploadCall, type Upload } from "./helpers";

async function created(response: Response, token: string): Promise<Upload> {
  expect(response.status, await response.clone().text()).toBe(201);
  const body = await response.json<{ upload_id: string; upload_key: string }>();
  return { token, id: body.upload_id, key: body.upload_key };
}

async function expectCancelled(upload: Upload) {
  const chunk = await call(`/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
    method: "PUT",
    headers: { "upload-key": upload.key, "content-range": "bytes 0-99/100" },
    body: new Uint8Array(100),
  });
  expect(chunk.status).toBe(410);
  expect(await errorCode(chunk)).toBe("upload_cancelled");
  expect(await (await uploadCall(upload, "GET")).json()).toMatchObject({ status: "cancelled" });
}

describe("creating the same file again ends the earlier session", () => {
  it("for the same batch file, even when the device's slots are all taken", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 1 });
    const device = newDevice();
    const registered = await call(`/api/v1/events/${join_token}/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ device_id: device, files: [{ client_id: "a", filename: "a.jpg", size: 100, content_type: "image/jpeg" }] }),
    });
    const batch = await registered.json<{ batch_id: string; batch_key: string; files: Array<{ file_id: string }> }>();
    const create = () =>
      call(`/api/v1/events/${join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json", "batch-key": batch.batch_key },
        body: JSON.stringify({ filename: "a.jpg", size: 100, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: batch.files[0]!.file_id }),
      });
    const lost = await created(await create(), join_token); // its answer never reached the guest
    const again = await created(await create(), join_token);
    expect(again.id).not.toBe(lost.id);
    await expectCancelled(lost);
    const snapshot = await call(`/api/v1/events/${join_token}/batches/${batch.batch_id}`, { headers: { "batch-key": batch.batch_key } });
    expect((await snapshot.json<{ files: Array<{ upload_id: string }> }>()).files[0]!.upload_id).toBe(again.id);
  });

  it("for the same client id of the same device, and only that", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 2 });
    const device = newDevice();
    const lost = await created(await createUploadRequest(join_token, { size: 100, device_id: device, client_id: "IMG_0001" }), join_token);
    const other = await created(await createUploadRequest(join_token, { size: 100, device_id: device, client_id: "IMG_0002" }), join_token);
    // Another device's same client id ends nothing of this one.
    await created(await createUploadRequest(join_token, { size: 100, device_id: newDevice(), client_id: "IMG_0001" }), join_token);
    const again = await created(await createUploadRequest(join_token, { size: 100, device_id: device, client_id: "IMG_0001" }), join_token);
    await expectCancelled(lost);
    expect(await (await uploadCall(other, "GET")).json()).toMatchObject({ status: "pending" });
    expect(await (await uploadCall(again, "GET")).json()).toMatchObject({ status: "pending" });
  });

  it("through tus metadata client_id, and never ends a completed upload", async () => {
    const { event_id, join_token } = await createEvent({ max_concurrent_uploads_per_device: 1 });
    const metadata = `filetype ${btoa("image/jpeg")},device_id ${btoa("tus-phone-lost-01")},client_id ${btoa("beach.jpg")}`;
    const tusCreate = (body?: Uint8Array) =>
      call(`/api/v1/events/${join_token}/tus/`, {
        method: "POST",
        headers: { "tus-resumable": "1.0.0", "upload-length": "100", "upload-metadata": metadata, ...(body ? { "content-type": "application/offset+octet-stream" } : {}) },
        ...(body ? { body } : {}),
      });
    const done = await tusCreate(new Uint8Array(100).fill(7));
    expect(done.status).toBe(201);
    const lost = await tusCreate();
    expect(lost.status).toBe(201);
    expect((await tusCreate()).status).toBe(201);
    const rows = await env.DB.prepare("SELECT status FROM upload_sessions WHERE event_id = ? ORDER BY created_at").bind(event_id).all<{ status: string }>();
    expect(rows.results.map((row) => row.status)).toEqual(["completed", "cancelled", "pending"]);
  });
});
