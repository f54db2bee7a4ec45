/**
 * Upload health on the live channel (live/upload-health.ts, live/event-hub.ts): stalls found by
 * the hub's alarm with no traffic at all, retries, failures in the window, arrivals and failures
 * per minute, and the bounds on what the hub keeps. UPLOAD_STALL_MS is 2 s here (vitest.config.ts).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, expireSession, fileBytes, MiB, newDevice, sendChunk, sessionOf, startUpload, type Upload } from "./helpers";
import { listen, ticket, type LiveMessage } from "./live-helpers";
import { uploadPhoto } from "./photo-helpers";
import {
  HEALTH_WINDOW_MS,
  MAX_LISTED_DEVICES,
  MAX_TRACKED_OUTCOMES,
  MAX_TRACKED_UPLOADS,
  UploadHealth,
  uploadStallMs,
  type UploadActivity,
} from "../../src/live/upload-health";

const stallMs = uploadStallMs(env);
const hubOf = (eventId: string) => env.EVENT_HUBS.get(env.EVENT_HUBS.idFromName(eventId));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Health = NonNullable<LiveMessage["health"]>;

/** The latest health summary a listener heard that satisfies `match`. */
async function healthWhere(live: Awaited<ReturnType<typeof listen>>, match: (health: Health) => boolean, what: string): Promise<Health> {
  const found = await live.next((m) => m.type === "health" && match(m.health!), what);
  return found.health!;
}
const device = (health: Health, deviceId: string) => health.devices.find((d) => d.device_id === deviceId);

async function uploadOnDevice(token: string, deviceId: string): Promise<{ upload: Upload; bytes: Uint8Array }> {
  const bytes = fileBytes(2 * MiB, deviceId.length);
  const upload = await startUpload(token, bytes.byteLength, { device_id: deviceId });
  return { upload, bytes };
}

describe("upload health on the live channel", () => {
  it("says when uploads stall (no bytes for the stall time) with no traffic at all, and when many devices stall at once", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    const first = await healthWhere(live, () => true, "a summary on connect");
    expect(first).toMatchObject({ devices_in_flight: 0, devices_stalled: 0, overloaded: null, stall_after_seconds: stallMs / 1000, window_minutes: 10 });
    expect(first.minutes).toHaveLength(10);

    // Three phones each send a chunk, then go silent; one only creates its upload.
    const phones = [newDevice(), newDevice(), newDevice()];
    const uploads = [];
    for (const phone of phones) {
      const started = await uploadOnDevice(event.join_token, phone);
      expect((await sendChunk(started.upload, started.bytes, 0, 256 * 1024)).status).toBe(204);
      uploads.push(started);
    }
    const silent = newDevice();
    await uploadOnDevice(event.join_token, silent);
    const moving = await healthWhere(live, (h) => h.devices_in_flight === 4, "four devices in flight");
    expect(moving.devices_stalled).toBe(0);
    expect(device(moving, phones[0]!)).toMatchObject({ state: "uploading", in_flight: 1, stalled: 0 });
    live.messages.length = 0;

    // Nothing is sent any more: the hub's own alarm, due by the stall time, finds the stalls.
    await expect.poll(() => runInDurableObject(hubOf(event.event_id), (_hub, state) => state.storage.getAlarm())).not.toBeNull();
    const alarm = await runInDurableObject(hubOf(event.event_id), (_hub, state) => state.storage.getAlarm());
    expect(alarm! - Date.now()).toBeLessThanOrEqual(stallMs);
    await sleep(stallMs + 100);
    await runDurableObjectAlarm(hubOf(event.event_id)); // false if it already ran by itself
    const stalled = await healthWhere(live, (h) => h.devices_stalled === 4, "four stalled devices");
    expect(stalled.overloaded).toEqual({ stalled_devices: 4 });
    expect(device(stalled, silent)).toMatchObject({ state: "stalled", stalled: 1, last_bytes_at: null });
    expect(device(stalled, phones[0]!)!.last_bytes_at).not.toBeNull();
    expect(stalled.uploads).toMatchObject({ in_flight: 4, stalled: 4 });

    // Bytes again from two phones: two stalled are not "many at once".
    live.messages.length = 0;
    for (const { upload, bytes } of uploads.slice(0, 2)) expect((await sendChunk(upload, bytes, 256 * 1024, 512 * 1024)).status).toBe(204);
    const recovered = await healthWhere(live, (h) => h.devices_stalled === 2, "two devices moving again");
    expect(recovered.overloaded).toBeNull();
    expect(device(recovered, phones[0]!)).toMatchObject({ state: "uploading", stalled: 0 });
    live.socket.close(1000, "done");
  });

  it("shows a device re-sending chunks as retrying until its bytes land again", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    const phone = newDevice();
    const { upload, bytes } = await uploadOnDevice(event.join_token, phone);
    expect((await sendChunk(upload, bytes, 0, 256 * 1024)).status).toBe(204);
    await healthWhere(live, (h) => device(h, phone)?.in_flight === 1, "the upload");
    live.messages.length = 0;
    // Its answer was lost: the phone sends the same chunk again (answered as a replay).
    expect((await sendChunk(upload, bytes, 0, 256 * 1024)).status).toBe(204);
    const retrying = await healthWhere(live, (h) => device(h, phone)?.retrying === 1, "a retrying device");
    expect(device(retrying, phone)).toMatchObject({ state: "retrying", in_flight: 1, stalled: 0 });
    expect(retrying.devices_retrying).toBe(1);

    live.messages.length = 0;
    expect((await sendChunk(upload, bytes, 256 * 1024, 512 * 1024)).status).toBe(204);
    const moving = await healthWhere(live, (h) => device(h, phone)?.state === "uploading", "bytes again");
    expect(moving.devices_retrying).toBe(0);
    // Moving because bytes landed (not because the retry grew old).
    expect(Date.parse(device(moving, phone)!.last_bytes_at!)).toBeGreaterThan(Date.parse(device(retrying, phone)!.last_bytes_at!));

    // A chunk from the wrong offset is a retry too.
    live.messages.length = 0;
    const skipped = await sendChunk(upload, bytes, MiB, MiB + 256 * 1024);
    expect(skipped.status).toBe(409);
    await healthWhere(live, (h) => device(h, phone)?.state === "retrying", "retrying after an out-of-order chunk");
    live.socket.close(1000, "done");
  });

  it("shows a device whose chunk was cut off midway as retrying", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    const phone = newDevice();
    const { upload, bytes } = await uploadOnDevice(event.join_token, phone);
    expect((await sendChunk(upload, bytes, 0, 256 * 1024)).status).toBe(204);
    await healthWhere(live, (h) => device(h, phone)?.last_bytes_at != null, "the first bytes");
    live.messages.length = 0;
    const { readable, writable } = new FixedLengthStream(256 * 1024);
    const response = call(`/api/v1/events/${upload.token}/uploads/${upload.id}/chunk`, {
      method: "PUT",
      headers: { "upload-key": upload.key, "content-range": `bytes ${256 * 1024}-${512 * 1024 - 1}/${bytes.byteLength}` },
      body: readable,
    });
    const writer = writable.getWriter();
    await writer.write(bytes.slice(256 * 1024, 384 * 1024));
    await sleep(50);
    await writer.abort(new Error("Wi-Fi dropped"));
    await response.catch(() => null);
    const retrying = await healthWhere(live, (h) => device(h, phone)?.retrying === 1, "retrying after a cut-off chunk");
    expect(device(retrying, phone)!.state).toBe("retrying");
    live.socket.close(1000, "done");
  });

  it("does not take a tus PATCH that ended normally for a retry", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    const phone = newDevice();
    const bytes = fileBytes(2 * MiB, 9);
    const tus = { "tus-resumable": "1.0.0" };
    const created = await call(`/api/v1/events/${event.join_token}/tus/`, {
      method: "POST",
      headers: { ...tus, "upload-length": String(bytes.byteLength), "upload-metadata": `filename ${btoa("a.jpg")},filetype ${btoa("image/jpeg")},device_id ${btoa(phone)}` },
    });
    expect(created.status).toBe(201);
    const url = new URL(created.headers.get("location")!).pathname;
    const patched = await call(url, {
      method: "PATCH",
      headers: { ...tus, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      body: bytes.slice(0, 256 * 1024),
    });
    expect(patched.status).toBe(204);
    await healthWhere(live, (h) => device(h, phone)?.last_bytes_at != null, "the PATCH's bytes");
    await sleep(300); // a retry would have been announced right after
    const latest = await hubOf(event.event_id).healthSummary();
    expect(device(latest, phone)).toMatchObject({ state: "uploading", retrying: 0 });
    expect(latest.devices_retrying).toBe(0);
    live.socket.close(1000, "done");
  });

  it("counts arrivals and failures per minute, and failures per device in the window", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    await uploadPhoto(makeJpeg({ width: 120, height: 90 }), { token: event.join_token });
    const unlucky = newDevice();
    const { upload } = await uploadOnDevice(event.join_token, unlucky);
    await expireSession(upload.id);
    await runDurableObjectAlarm(sessionOf(upload.id));
    const health = await healthWhere(live, (h) => h.devices_failed === 1, "a failure");
    expect(device(health, unlucky)).toMatchObject({ state: "failed", failed: 1, in_flight: 0 });
    expect(health.uploads.failed).toBe(1);
    // Both in the last minute or two (a minute may turn meanwhile), each once.
    const total = (field: "arrived" | "failed") => health.minutes.reduce((sum, minute) => sum + minute[field], 0);
    expect([total("arrived"), total("failed")]).toEqual([1, 1]);
    expect(health.minutes.slice(0, -2).every((minute) => minute.arrived === 0 && minute.failed === 0)).toBe(true);
    expect(Date.parse(health.minutes.at(-1)!.minute)).toBe(Math.floor(Date.parse(health.generated_at) / 60_000) * 60_000);
    // Devices with nothing but arrivals are no news.
    expect(health.devices).toHaveLength(1);
    live.socket.close(1000, "done");
  });
});

describe("upload health's bookkeeping", () => {
  const activity = (n: number, extra: Partial<UploadActivity> = {}): UploadActivity => ({
    uploadId: `upload-${n}`,
    deviceId: `device-${n}`,
    status: "uploading",
    createdAt: 0,
    lastBytesAt: null,
    retriedAt: null,
    ...extra,
  });
  /** A health record in a fresh hub's storage, as the hub keeps it. */
  const inFreshHub = async <T>(run: (health: UploadHealth, sql: SqlStorage) => T): Promise<T> =>
    runInDurableObject(hubOf(crypto.randomUUID()), (_hub, state) => run(new UploadHealth(state.storage.sql, 30_000), state.storage.sql));
  const rows = (sql: SqlStorage, table: string) => sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;

  it("stalls at 30 s without bytes, drops failures after ten minutes, and buckets outcomes by minute", async () => {
    await inFreshHub((health) => {
      const t0 = 1_800_000_000_000; // on a minute boundary
      health.record(activity(1, { createdAt: t0, lastBytesAt: t0 + 1000 }), t0 + 1000);
      expect(health.summary(t0 + 30_999).devices_stalled).toBe(0);
      expect(health.nextChangeAt(t0 + 1000)).toBe(t0 + 31_000);
      expect(health.summary(t0 + 31_000).devices[0]).toMatchObject({ state: "stalled", stalled: 1 });

      health.record(activity(2, { status: "failed" }), t0 + 61_000);
      health.record(activity(3, { status: "completed" }), t0 + 62_000);
      health.record(activity(4, { status: "cancelled" }), t0 + 63_000);
      health.record(activity(5, { status: "expired" }), t0 + 3 * 60_000);
      const summary = health.summary(t0 + 3 * 60_000);
      expect(summary.minutes.slice(-4)).toEqual([
        { minute: new Date(t0).toISOString(), arrived: 0, failed: 0 },
        { minute: new Date(t0 + 60_000).toISOString(), arrived: 1, failed: 1 },
        { minute: new Date(t0 + 120_000).toISOString(), arrived: 0, failed: 0 },
        { minute: new Date(t0 + 180_000).toISOString(), arrived: 0, failed: 1 },
      ]);
      expect(summary.devices_failed).toBe(2);
      // A late progress announcement of an upload that ended does not bring it back.
      health.record(activity(2, { status: "uploading" }), t0 + 3 * 60_000);
      expect(health.summary(t0 + 3 * 60_000).devices.find((d) => d.device_id === "device-2")).toMatchObject({ state: "failed", in_flight: 0 });

      const later = health.summary(t0 + 62_000 + HEALTH_WINDOW_MS);
      expect(later.devices_failed).toBe(1); // only the expiry at minute 3 is still in the window
      expect(later.minutes.reduce((total, minute) => total + minute.arrived + minute.failed, 0)).toBe(1);
    });
  });

  it("keeps bounded state: uploads in flight, outcomes and listed devices are capped, silent uploads forgotten", async () => {
    await inFreshHub((health, sql) => {
      const now = 1_800_000_000_000;
      for (let n = 0; n < MAX_TRACKED_UPLOADS + 100; n++) health.record(activity(n, { createdAt: now + n }), now + n);
      expect(health.tracked().uploads).toBe(MAX_TRACKED_UPLOADS);
      expect(rows(sql, "health_uploads")).toBe(MAX_TRACKED_UPLOADS);
      // The least recently heard went first.
      expect(sql.exec("SELECT 1 FROM health_uploads WHERE upload_id = 'upload-0'").toArray()).toHaveLength(0);
      const summary = health.summary(now + MAX_TRACKED_UPLOADS + 100);
      expect(summary.devices).toHaveLength(MAX_LISTED_DEVICES);
      expect(summary.devices_listed_of).toBe(MAX_TRACKED_UPLOADS);
      expect(JSON.stringify(summary).length).toBeLessThan(16 * 1024);

      for (let n = 0; n < MAX_TRACKED_OUTCOMES + 100; n++) health.record(activity(10_000 + n, { status: "completed" }), now + 2000);
      expect(health.tracked().outcomes).toBe(MAX_TRACKED_OUTCOMES);
      expect(rows(sql, "health_outcomes")).toBe(MAX_TRACKED_OUTCOMES);

      // An hour without news: the guest has likely left.
      health.prune(now + 2 * 60 * 60 * 1000);
      expect(health.tracked()).toEqual({ uploads: 0, outcomes: 0 });
      expect(rows(sql, "health_uploads") + rows(sql, "health_outcomes")).toBe(0);
    });
  });

  it("survives the hub's eviction: what it knew is read back from storage", async () => {
    const id = crypto.randomUUID();
    await runInDurableObject(hubOf(id), (_hub, state) => new UploadHealth(state.storage.sql, 30_000).record(activity(1, { createdAt: 5, lastBytesAt: 10 }), 10));
    const after = await runInDurableObject(hubOf(id), (_hub, state) => new UploadHealth(state.storage.sql, 30_000).summary(40_010));
    expect(after.devices).toEqual([{ device_id: "device-1", state: "stalled", in_flight: 1, stalled: 1, retrying: 0, failed: 0, last_bytes_at: new Date(10).toISOString() }]);
  });
});
