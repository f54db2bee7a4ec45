/** One join link must not be able to grow D1 without bound through batch registrations. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BATCH_IDLE_MS, BATCH_RETENTION_MS, batchQuotas } from "../../src/core/batches";
import { call, createEvent, errorCode, newDevice } from "./helpers";

const registerBatch = (token: string, deviceId: string, files: Array<Record<string, unknown>>) =>
  call(`/api/v1/events/${token}/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: deviceId, files }),
  });

const someFiles = (n: number, prefix = "f") =>
  Array.from({ length: n }, (_, i) => ({ client_id: `${prefix}${i}`, filename: `IMG_${i}.jpg`, size: 1000, content_type: "image/jpeg" }));

async function refusal(response: Response) {
  expect(response.status, await response.clone().text()).toBe(429);
  return (await response.json<{ error: { code: string; limit: string } }>()).error;
}

async function eventIdOf(token: string): Promise<string> {
  const row = await env.DB.prepare("SELECT event_id FROM join_tokens WHERE token_hash = ?")
    .bind([...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)))].map((b) => b.toString(16).padStart(2, "0")).join(""))
    .first<{ event_id: string }>();
  return row!.event_id;
}

/**
 * Another device's earlier registration of `files` waiting files, last active `activeAt`, as a
 * row, so the event is near its cap without thousands of requests.
 */
async function fillEvent(eventId: string, files: number, activeAt = Date.now() - 60_000): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO batches (id, event_id, device_id, batch_key_hash, waiting_files, active_at) VALUES (?, ?, 'someone-else', 'h', ?, ?)")
    .bind(id, eventId, files, activeAt)
    .run();
  return id;
}

async function waitingInEvent(eventId: string): Promise<number> {
  return (await env.DB.prepare("SELECT coalesce(sum(waiting_files), 0) AS n FROM batches WHERE event_id = ?").bind(eventId).first<{ n: number }>())!.n;
}

interface Registered {
  batch_id: string;
  batch_key: string;
  files: Array<{ file_id: string }>;
}

async function registered(response: Response): Promise<Registered> {
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

/** Creates the upload of one file of a batch, as the guest app does when a slot frees up. */
function createBatchUpload(token: string, device: string, batch: Registered, fileId: string) {
  return call(`/api/v1/events/${token}/uploads`, {
    method: "POST",
    headers: { "content-type": "application/json", "batch-key": batch.batch_key },
    body: JSON.stringify({ filename: "IMG_0.jpg", size: 1000, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: fileId }),
  });
}

async function sweep() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController(), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("quotas on registered files", () => {
  const quotas = batchQuotas(env);

  it("a device cannot register more than its quota across many batches; other devices still can", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    for (let batch = 0; batch < quotas.perDevice / 500; batch++) {
      const response = await registerBatch(join_token, device, someFiles(500, `b${batch}-`));
      expect(response.status, await response.clone().text()).toBe(201);
    }
    const over = await refusal(await registerBatch(join_token, device, someFiles(1, "late-")));
    expect(over).toMatchObject({ code: "upload_limit", limit: "batch_files_per_device", max_batch_files_per_device: quotas.perDevice });
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM batch_files f JOIN batches b ON b.id = f.batch_id WHERE b.device_id = ?")
      .bind(device)
      .first<{ n: number }>();
    expect(rows!.n).toBe(quotas.perDevice);
    expect((await registerBatch(join_token, newDevice(), someFiles(3))).status).toBe(201);
  });

  it("the event holds at most its quota of waiting files: a registration that needs room lets go of the least recently active batches", async () => {
    const { join_token } = await createEvent();
    const eventId = await eventIdOf(join_token);
    const idle = await fillEvent(eventId, quotas.perEvent - 5, Date.now() - 10 * 60_000);
    const earlier = await registered(await registerBatch(join_token, newDevice(), someFiles(3)));
    // 3 + 6 more than fit: the batch idle longest gives way, not the one registered just now.
    await registered(await registerBatch(join_token, newDevice(), someFiles(6)));
    expect(await env.DB.prepare("SELECT count(*) AS n FROM batches WHERE id = ?").bind(idle).first<{ n: number }>()).toEqual({ n: 0 });
    const kept = await call(`/api/v1/events/${join_token}/batches/${earlier.batch_id}`, { headers: { "batch-key": earlier.batch_key } });
    expect((await kept.json<{ counts: { waiting: number } }>()).counts.waiting).toBe(3);
    expect(await waitingInEvent(eventId)).toBe(9);

    // Racing registrations into a full event all get in, and together never overshoot its quota.
    await fillEvent(eventId, quotas.perEvent - 9, Date.now() - 5 * 60_000);
    const racing = await Promise.all(Array.from({ length: 5 }, () => registerBatch(join_token, newDevice(), someFiles(2))));
    expect(racing.map((response) => response.status)).toEqual([201, 201, 201, 201, 201]);
    expect(await waitingInEvent(eventId)).toBeLessThanOrEqual(quotas.perEvent);
    // Another event is not affected.
    expect(await waitingInEvent(await eventIdOf((await createEvent()).join_token))).toBe(0);
  });

  it("a file let go is refused at create as batch_not_found, while its batch's uploading file is kept", async () => {
    const { join_token } = await createEvent();
    const eventId = await eventIdOf(join_token);
    const device = newDevice();
    const batch = await registered(await registerBatch(join_token, device, someFiles(2)));
    const [uploading, waiting] = batch.files;
    expect((await createBatchUpload(join_token, device, batch, uploading!.file_id)).status).toBe(201);
    await env.DB.prepare("UPDATE batches SET active_at = ? WHERE id = ?").bind(Date.now() - 10 * 60_000, batch.batch_id).run();
    await fillEvent(eventId, quotas.perEvent - 1);
    await registered(await registerBatch(join_token, newDevice(), someFiles(1)));

    const left = await call(`/api/v1/events/${join_token}/batches/${batch.batch_id}`, { headers: { "batch-key": batch.batch_key } });
    expect((await left.json<{ files: Array<{ file_id: string; state: string }> }>()).files).toEqual([expect.objectContaining({ file_id: uploading!.file_id, state: "uploading" })]);
    const refused = await createBatchUpload(join_token, device, batch, waiting!.file_id);
    expect(refused.status).toBe(404);
    expect(await errorCode(refused)).toBe("batch_not_found");
  });

  it("a file counts against its device's quota only while it waits: once uploading, or after an hour without uploads, it frees room", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const first = await registered(await registerBatch(join_token, device, someFiles(500, "b0-")));
    for (let batch = 1; batch < quotas.perDevice / 500; batch++) await registered(await registerBatch(join_token, device, someFiles(500, `b${batch}-`)));
    expect(await errorCode(await registerBatch(join_token, device, someFiles(1, "late-")))).toBe("upload_limit");
    expect((await createBatchUpload(join_token, device, first, first.files[0]!.file_id)).status).toBe(201);
    await registered(await registerBatch(join_token, device, someFiles(1, "late-")));
    expect(await errorCode(await registerBatch(join_token, device, someFiles(1, "later-")))).toBe("upload_limit");

    await env.DB.prepare("UPDATE batches SET active_at = ? WHERE device_id = ?").bind(Date.now() - BATCH_IDLE_MS - 1, device).run();
    await registered(await registerBatch(join_token, device, someFiles(500, "after-an-hour-")));
  });

  it("stores content types normalised, and only types the event accepts", async () => {
    const { join_token } = await createEvent();
    const response = await registerBatch(join_token, newDevice(), [
      { client_id: "a", filename: "a.jpg", size: 1000, content_type: "IMAGE/JPEG; charset=binary" },
      { client_id: "b", filename: "b.png", size: 1000, content_type: " image/png " },
      { client_id: "c", filename: "c.bin", size: 1000, content_type: `application/x-${"a".repeat(200)}` },
    ]);
    expect(response.status).toBe(201);
    const batch = await response.json<{ batch_id: string; files: Array<{ client_id: string; state: string }> }>();
    expect(batch.files.map((file) => file.state)).toEqual(["waiting", "waiting", "refused"]);
    const { results } = await env.DB.prepare("SELECT client_id, content_type FROM batch_files WHERE batch_id = ? ORDER BY position").bind(batch.batch_id).all();
    expect(results).toEqual([
      { client_id: "a", content_type: "image/jpeg" },
      { client_id: "b", content_type: "image/png" },
      { client_id: "c", content_type: "application/octet-stream" },
    ]);
  });

  it("the sweeper deletes batches past their retention with their files, which frees the quota", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const register = async (prefix: string) => {
      const response = await registerBatch(join_token, device, someFiles(500, prefix));
      expect(response.status).toBe(201);
      return response.json<{ batch_id: string; batch_key: string }>();
    };
    const old = await register("old-");
    for (let batch = 1; batch < quotas.perDevice / 500; batch++) await register(`b${batch}-`);
    expect(await errorCode(await registerBatch(join_token, device, someFiles(1, "x")))).toBe("upload_limit");
    await env.DB.prepare("UPDATE batches SET created_at = ? WHERE id = ?").bind(Date.now() - BATCH_RETENTION_MS - 1, old.batch_id).run();

    await sweep();
    const gone = await call(`/api/v1/events/${join_token}/batches/${old.batch_id}`, { headers: { "batch-key": old.batch_key } });
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe("batch_not_found");
    const files = await env.DB.prepare("SELECT count(*) AS n FROM batch_files WHERE batch_id = ?").bind(old.batch_id).first<{ n: number }>();
    expect(files!.n).toBe(0);
    const kept = await env.DB.prepare("SELECT count(*) AS n FROM batches WHERE device_id = ?").bind(device).first<{ n: number }>();
    expect(kept!.n).toBe(quotas.perDevice / 500 - 1);
    expect((await registerBatch(join_token, device, someFiles(500, "again-"))).status).toBe(201);
  });
});
