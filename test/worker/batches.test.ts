import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, errorCode, newDevice, sendInChunks, sha256Hex } from "./helpers";
import { deliver } from "./photo-helpers";

interface BatchFile {
  client_id: string;
  file_id: string;
  state: string;
  error: { code: string; message: string } | null;
}
interface Snapshot {
  counts: Record<string, number>;
  files: Array<BatchFile & { upload_id: string | null; received_bytes: number; photo_id: string | null; filename: string }>;
}

const registerBatch = (token: string, body: unknown) =>
  call(`/api/v1/events/${token}/batches`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function snapshot(token: string, batchId: string, batchKey: string): Promise<Snapshot> {
  const response = await call(`/api/v1/events/${token}/batches/${batchId}`, { headers: { "batch-key": batchKey } });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

describe("batches", () => {
  it("registers a selection with per-file refusals and follows each file through upload and processing", async () => {
    const event = await createEvent({ max_file_size: 1024 * 1024 });
    const device = newDevice();
    const photo = makeJpeg({ width: 120, height: 90 });
    const files = [
      { client_id: "a", filename: "IMG_1.jpg", size: photo.byteLength, content_type: "image/jpeg" },
      { client_id: "b", filename: "IMG_2.jpg", size: photo.byteLength, content_type: "image/jpeg" },
      { client_id: "big", filename: "PANORAMA.jpg", size: 5 * 1024 * 1024, content_type: "image/jpeg" },
      { client_id: "doc", filename: "menu.pdf", size: 1000, content_type: "application/pdf" },
    ];
    const response = await registerBatch(event.join_token, { device_id: device, files });
    expect(response.status, await response.clone().text()).toBe(201);
    const batch = await response.json<{ batch_id: string; batch_key: string; files: BatchFile[] }>();
    expect(batch.files.map((file) => [file.client_id, file.state, file.error?.code ?? null])).toEqual([
      ["a", "waiting", null],
      ["b", "waiting", null],
      ["big", "refused", "upload_limit"],
      ["doc", "refused", "unsupported_type"],
    ]);

    let state = await snapshot(event.join_token, batch.batch_id, batch.batch_key);
    expect(state.counts).toMatchObject({ total: 4, waiting: 2, refused: 2, uploading: 0, done: 0 });

    // File "a" is uploaded as part of the batch, then processed.
    const fileA = batch.files[0]!;
    const created = await call(`/api/v1/events/${event.join_token}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json", "batch-key": batch.batch_key },
      body: JSON.stringify({ ...files[0], client_id: undefined, device_id: device, batch_id: batch.batch_id, batch_file_id: fileA.file_id, sha256: await sha256Hex(photo) }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const upload = await created.json<{ upload_id: string; upload_key: string }>();
    const ref = { token: event.join_token, id: upload.upload_id, key: upload.upload_key };
    state = await snapshot(event.join_token, batch.batch_id, batch.batch_key);
    expect(state.files[0]).toMatchObject({ state: "uploading", upload_id: upload.upload_id, received_bytes: 0 });

    await sendInChunks(ref, photo, [photo.byteLength]);
    const completed = await call(`/api/v1/events/${event.join_token}/uploads/${upload.upload_id}/complete`, { method: "POST", headers: { "upload-key": upload.upload_key } });
    const receipt = await completed.json<{ photo_id: string }>();
    state = await snapshot(event.join_token, batch.batch_id, batch.batch_key);
    expect(state.files[0]).toMatchObject({ state: "processing", photo_id: receipt.photo_id });
    expect(state.counts).toMatchObject({ processing: 1, waiting: 1, refused: 2 });

    await deliver([{ photoId: receipt.photo_id, eventId: "", uploadId: upload.upload_id, originalKey: "" }]);
    state = await snapshot(event.join_token, batch.batch_id, batch.batch_key);
    expect(state.files[0]!.state).toBe("done");
    expect(state.counts).toMatchObject({ total: 4, done: 1, waiting: 1, refused: 2 });
  });

  it("guards the batch: its key, its event, its device, and refused files", async () => {
    const event = await createEvent({ max_file_size: 1024 * 1024 });
    const device = newDevice();
    const batch = await (
      await registerBatch(event.join_token, {
        device_id: device,
        files: [
          { client_id: "ok", filename: "a.jpg", size: 1000, content_type: "image/jpeg" },
          { client_id: "big", filename: "b.jpg", size: 2 * 1024 * 1024, content_type: "image/jpeg" },
        ],
      })
    ).json<{ batch_id: string; batch_key: string; files: BatchFile[] }>();

    const wrongKey = await call(`/api/v1/events/${event.join_token}/batches/${batch.batch_id}`, { headers: { "batch-key": "nope" } });
    expect(wrongKey.status).toBe(401);
    expect(await errorCode(wrongKey)).toBe("invalid_batch_key");
    const other = await createEvent();
    const elsewhere = await call(`/api/v1/events/${other.join_token}/batches/${batch.batch_id}`, { headers: { "batch-key": batch.batch_key } });
    expect(elsewhere.status).toBe(404);

    const create = (fileId: string, deviceId: string, key = batch.batch_key) =>
      call(`/api/v1/events/${event.join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json", "batch-key": key },
        body: JSON.stringify({ filename: "a.jpg", size: 1000, content_type: "image/jpeg", device_id: deviceId, batch_id: batch.batch_id, batch_file_id: fileId }),
      });
    expect(await errorCode(await create(batch.files[0]!.file_id, newDevice()))).toBe("batch_device_mismatch");
    expect(await errorCode(await create(batch.files[0]!.file_id, device, "wrong"))).toBe("invalid_batch_key");
    expect(await errorCode(await create(crypto.randomUUID(), device))).toBe("batch_not_found");
    const refused = await create(batch.files[1]!.file_id, device);
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe("batch_file_refused");
    expect((await create(batch.files[0]!.file_id, device)).status).toBe(201);
  });

  it("refuses duplicate client ids, empty and oversized selections, and closed events", async () => {
    const event = await createEvent();
    const file = { filename: "a.jpg", size: 1000, content_type: "image/jpeg" };
    const device = newDevice();
    expect(await errorCode(await registerBatch(event.join_token, { device_id: device, files: [{ client_id: "x", ...file }, { client_id: "x", ...file }] }))).toBe("invalid_request");
    expect(await errorCode(await registerBatch(event.join_token, { device_id: device, files: [] }))).toBe("invalid_request");
    const many = Array.from({ length: 501 }, (_, i) => ({ client_id: String(i), ...file }));
    expect(await errorCode(await registerBatch(event.join_token, { device_id: device, files: many }))).toBe("invalid_request");
    const most = await registerBatch(event.join_token, { device_id: device, files: many.slice(0, 500) });
    expect(most.status).toBe(201);
    expect((await most.json<{ files: unknown[] }>()).files).toHaveLength(500);

    const closed = await createEvent({ status: "closed" });
    const refused = await registerBatch(closed.join_token, { device_id: device, files: [{ client_id: "x", ...file }] });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("event_closed");
  });
});
