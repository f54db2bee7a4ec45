/**
 * A create whose upload session cannot be started (its Durable Object's init fails) answers an
 * error and leaves its batch file as it found it: waiting, and counted as waiting, for the
 * guest's next create for it, which takes it.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, newDevice, createEvent, registerOneFile } from "./helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

type Batch = Awaited<ReturnType<typeof registerOneFile>>;

const createFor = (token: string, device: string, batch: Batch) =>
  call(`/api/v1/events/${token}/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json", "batch-key": batch.batch_key },
    body: JSON.stringify({ filename: "a.jpg", size: 1000, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: batch.fileId }),
  });

async function fileOf(token: string, batch: Batch) {
  const response = await call(`/api/v1/events/${token}/batches/${batch.batch_id}`, { headers: { "batch-key": batch.batch_key } });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json<{ files: Array<{ state: string; upload_id: string | null }> }>()).files[0]!;
}

const waitingFiles = async (batch: Batch) =>
  (await env.DB.prepare("SELECT waiting_files AS n FROM batches WHERE id = ?").bind(batch.batch_id).first<{ n: number }>())!.n;

describe("a create whose session cannot be started", () => {
  it("leaves its batch file waiting, and the next create takes it", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const batch = await registerOneFile(join_token, device);
    const get = env.UPLOAD_SESSIONS.get.bind(env.UPLOAD_SESSIONS);
    vi.spyOn(env.UPLOAD_SESSIONS, "get").mockImplementationOnce((id) => {
      const stub = get(id);
      return new Proxy(stub, {
        get: (target, property) => (property === "init" ? () => Promise.reject(new Error("the session's Durable Object is unreachable")) : Reflect.get(target, property)),
      });
    });
    const failed = await createFor(join_token, device, batch);
    expect(failed.status).toBe(500);
    expect(await fileOf(join_token, batch)).toMatchObject({ state: "waiting", upload_id: null });
    expect(await waitingFiles(batch)).toBe(1);

    const again = await createFor(join_token, device, batch);
    expect(again.status, await again.clone().text()).toBe(201);
    const { upload_id } = await again.json<{ upload_id: string }>();
    expect(await fileOf(join_token, batch)).toMatchObject({ state: "uploading", upload_id });
    expect(await waitingFiles(batch)).toBe(0);
  });
});
