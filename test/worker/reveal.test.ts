/** Reveal later (gallery_opens_at), the per-guest photo allowance, and claims: "my uploads on any phone". */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CLAIM_GUESS_LIMITS } from "../../src/core/claims";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, createUploadRequest, errorCode, newDevice, startUpload, uploadCall } from "./helpers";
import { deliver, seedPhotos, uploadPhoto } from "./photo-helpers";

const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

afterEach(() => vi.restoreAllMocks());

function adminCall(path: string, method = "GET", body?: unknown) {
  return call(`/api/v1/admin${path}`, { method, headers: admin, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

async function approveAll(eventId: string) {
  await env.DB.prepare("UPDATE photos SET approved_at = 1 WHERE event_id = ?").bind(eventId).run();
}

describe("gallery_opens_at (reveal later)", () => {
  it("keeps the gallery closed to guests until the moment, and opens it at request time with no deploy or cron", async () => {
    const event = await createEvent({ gallery_enabled: true, gallery_opens_at: inMinutes(60) });
    await seedPhotos(event.event_id, 3);
    await approveAll(event.event_id);

    const info = await (await call(`/api/v1/events/${event.join_token}`)).json<{ gallery_open: boolean; gallery_opens_at: string }>();
    expect(info).toMatchObject({ gallery_open: false, gallery_opens_at: expect.any(String) });
    const closed = await call(`/api/v1/events/${event.join_token}/photos`);
    expect(closed.status).toBe(403);
    expect(await closed.json()).toMatchObject({ error: { code: "gallery_not_open", gallery_opens_at: info.gallery_opens_at } });

    // The organiser's view (and so the slideshow) is unaffected.
    const organiser = await adminCall(`/events/${event.event_id}/photos`);
    expect((await organiser.json<{ photos: unknown[] }>()).photos).toHaveLength(3);

    // The moment passes: nothing runs in between, the next request sees it.
    await env.DB.prepare("UPDATE events SET gallery_opens_at = ? WHERE id = ?").bind(Date.now() - 1, event.event_id).run();
    expect(await (await call(`/api/v1/events/${event.join_token}`)).json()).toMatchObject({ gallery_open: true });
    const open = await call(`/api/v1/events/${event.join_token}/photos`);
    expect(open.status).toBe(200);
    expect((await open.json<{ photos: unknown[] }>()).photos).toHaveLength(3);
  });

  it("refuses gallery file URLs handed out earlier while the gallery is closed again", async () => {
    const event = await createEvent({ gallery_enabled: true });
    const { job } = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: event.join_token });
    await deliver([job]);
    await approveAll(event.event_id);
    const page = await (await call(`/api/v1/events/${event.join_token}/photos`)).json<{ photos: Array<{ urls: { thumb_256: string } }> }>();
    const url = new URL(page.photos[0]!.urls.thumb_256);
    expect((await call(url.pathname + url.search)).status).toBe(200);

    const moved = await adminCall(`/events/${event.event_id}`, "PATCH", { gallery_opens_at: inMinutes(30) });
    expect(await moved.json()).toMatchObject({ gallery_opens_at: expect.any(String) });
    expect((await call(url.pathname + url.search)).status).toBe(404);
  });

  it("is an admin setting that can be cleared", async () => {
    const event = await createEvent({ gallery_opens_at: "2030-06-21T20:00:00Z" });
    const read = await (await adminCall(`/events/${event.event_id}`)).json<{ gallery_opens_at: string | null }>();
    expect(read.gallery_opens_at).toBe("2030-06-21T20:00:00.000Z");
    const cleared = await (await adminCall(`/events/${event.event_id}`, "PATCH", { gallery_opens_at: null })).json<{ gallery_opens_at: string | null }>();
    expect(cleared.gallery_opens_at).toBeNull();
  });
});

describe("max_photos_per_guest", () => {
  const allowance = async (token: string, device: string) =>
    (await call(`/api/v1/events/${token}/devices/${device}/allowance`)).json<{ max_photos_per_guest: number | null; photos_used: number; photos_left: number | null }>();

  it("counts a device's photos across sessions, shows what is left, and refuses the next with photo_limit", async () => {
    const event = await createEvent({ max_photos_per_guest: 3, max_concurrent_uploads_per_device: 10 });
    const device = newDevice();
    expect(await allowance(event.join_token, device)).toEqual({ max_photos_per_guest: 3, photos_used: 0, photos_left: 3 });
    const first = await uploadPhoto(makeJpeg({ width: 32, height: 32 }), { token: event.join_token, extra: { device_id: device } });
    await startUpload(event.join_token, 1000, { device_id: device });
    // A cancelled upload gives its photo back; a photo taken back does not.
    const cancelled = await startUpload(event.join_token, 1000, { device_id: device });
    expect((await uploadCall(cancelled, "DELETE")).status).toBe(204);
    await deliver([first.job]);
    expect((await uploadCall(first.upload, "DELETE", "/photo")).status).toBe(204);
    expect(await allowance(event.join_token, device)).toMatchObject({ photos_used: 2, photos_left: 1 });

    await startUpload(event.join_token, 1000, { device_id: device });
    expect(await allowance(event.join_token, device)).toMatchObject({ photos_used: 3, photos_left: 0 });
    const refused = await createUploadRequest(event.join_token, { size: 1000, device_id: device });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "photo_limit", limit: "photos_per_guest", max_photos_per_guest: 3, photos_left: 0 } });
    // Another device has its own allowance.
    expect((await createUploadRequest(event.join_token, { size: 1000, device_id: newDevice() })).status).toBe(201);
    // No limit set: null figures.
    const unlimited = await createEvent();
    expect(await allowance(unlimited.join_token, device)).toEqual({ max_photos_per_guest: null, photos_used: 0, photos_left: null });
  });

  it("refuses a batch's files past the allowance, counting the uploads of earlier batch files", async () => {
    const event = await createEvent({ max_photos_per_guest: 2, max_concurrent_uploads_per_device: 10 });
    const device = newDevice();
    await startUpload(event.join_token, 1000, { device_id: device });
    const file = (n: number) => ({ client_id: `f${n}`, filename: `${n}.jpg`, size: 1000, content_type: "image/jpeg" });
    const registered = await call(`/api/v1/events/${event.join_token}/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ device_id: device, files: [file(1), file(2), file(3)] }),
    });
    expect(registered.status).toBe(201);
    const batch = await registered.json<{ batch_id: string; batch_key: string; files: Array<{ file_id: string; state: string; error: { code: string } | null }> }>();
    expect(batch.files.map((f) => f.state)).toEqual(["waiting", "refused", "refused"]);
    expect(batch.files[1]!.error?.code).toBe("photo_limit");

    const create = (fileId: string, deviceId = device) =>
      call(`/api/v1/events/${event.join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json", "batch-key": batch.batch_key },
        body: JSON.stringify({ filename: "1.jpg", size: 1000, content_type: "image/jpeg", device_id: deviceId, batch_id: batch.batch_id, batch_file_id: fileId }),
      });
    expect((await create(batch.files[0]!.file_id)).status).toBe(201);
    // A second batch registered before the first's uploads: its create still meets the limit.
    const again = await call(`/api/v1/events/${event.join_token}/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ device_id: device, files: [file(4)] }),
    });
    expect((await again.json<{ files: Array<{ state: string }> }>()).files[0]!.state).toBe("refused");
  });

  it("gives tus and IETF uploads the same refusal, per device id or per address", async () => {
    const event = await createEvent({ max_photos_per_guest: 1 });
    const metadata = `filename ${btoa("a.jpg")},filetype ${btoa("image/jpeg")},device_id ${btoa("tus-device-limit")}`;
    const tusCreate = () =>
      call(`/api/v1/events/${event.join_token}/tus/`, { method: "POST", headers: { "tus-resumable": "1.0.0", "upload-length": "1000", "upload-metadata": metadata } });
    expect((await tusCreate()).status).toBe(201);
    const refused = await tusCreate();
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("photo_limit");

    const ietfCreate = () =>
      call(`/api/v1/events/${event.join_token}/resumable/`, {
        method: "POST",
        headers: { "upload-draft-interop-version": "6", "upload-complete": "?0", "upload-length": "1000", "content-type": "image/jpeg", "x-device-id": "ietf-device-limit" },
      });
    expect([201, 104]).toContain((await ietfCreate()).status);
    const ietfRefused = await ietfCreate();
    expect(ietfRefused.status).toBe(403);
    expect(await errorCode(ietfRefused)).toBe("photo_limit");
  });
});

describe("claims (my uploads on any phone)", () => {
  async function claimFor(token: string, upload: { id: string; key: string }) {
    const response = await call(`/api/v1/events/${token}/claims`, {
      method: "POST",
      headers: { "content-type": "application/json", "upload-key": upload.key },
      body: JSON.stringify({ upload_id: upload.id }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    return response.json<{ claim_id: string; code: string }>();
  }
  const claimedPhotos = (token: string, code: string, address = "198.51.100.7") =>
    call(`/api/v1/events/${token}/claims/photos`, { headers: { "claim-code": code, "cf-connecting-ip": address } });

  it("lets another device see and take back the first device's photos with the code, and no one else's", async () => {
    const event = await createEvent({ moderation_mode: "review" });
    const device = newDevice();
    const mine = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: event.join_token, extra: { device_id: device } });
    await deliver([mine.job]);
    const other = await uploadPhoto(makeJpeg({ width: 48, height: 64 }), { token: event.join_token });

    const claim = await claimFor(event.join_token, mine.upload);
    expect(claim.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
    // Typed in lower case with a dash, as a guest might.
    const typed = `${claim.code.slice(0, 4)}-${claim.code.slice(4)}`.toLowerCase();
    const listed = await claimedPhotos(event.join_token, typed);
    expect(listed.status).toBe(200);
    const page = await listed.json<{ photos: Array<{ photo_id: string; status: string; urls: { thumb_256: string; original?: string } | null }> }>();
    expect(page.photos.map((p) => p.photo_id)).toEqual([mine.photoId]);
    // Its own photo, not yet approved, shows to its owner (never the original).
    const thumb = new URL(page.photos[0]!.urls!.thumb_256);
    expect((await call(thumb.pathname + thumb.search)).status).toBe(200);
    expect(page.photos[0]!.urls!.original).toBeUndefined();

    const takeBack = (photoId: string) =>
      call(`/api/v1/events/${event.join_token}/claims/photos/${photoId}`, { method: "DELETE", headers: { "claim-code": claim.code } });
    expect((await takeBack(other.photoId)).status).toBe(404);
    expect((await takeBack(mine.photoId)).status).toBe(204);
    expect((await takeBack(mine.photoId)).status).toBe(204);
    expect((await (await claimedPhotos(event.join_token, claim.code)).json<{ photos: unknown[] }>()).photos).toEqual([]);
    expect(await env.DB.prepare("SELECT status FROM photos WHERE id = ?").bind(mine.photoId).first("status")).toBe("deleted");
    expect(await env.DB.prepare("SELECT status FROM photos WHERE id = ?").bind(other.photoId).first("status")).toBe("processing");
    // The code is an event's: another event's join link does not open it.
    const elsewhere = await createEvent();
    expect(await errorCode(await claimedPhotos(elsewhere.join_token, claim.code))).toBe("invalid_claim_code");
  });

  it("needs the key of one of the device's uploads to make a claim", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 1000);
    const wrong = await call(`/api/v1/events/${event.join_token}/claims`, {
      method: "POST",
      headers: { "content-type": "application/json", "upload-key": "not-the-key" },
      body: JSON.stringify({ upload_id: upload.id }),
    });
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe("invalid_upload_key");
  });

  it("refuses a revoked claim, and a replaced one; organisers list claims without their codes", async () => {
    const event = await createEvent();
    const device = newDevice();
    const upload = await startUpload(event.join_token, 1000, { device_id: device });
    // The claimed device's photos, counted for the organiser: not another device's, nor another event's, nor deleted ones.
    await seedPhotos(event.event_id, 2, { device });
    await seedPhotos(event.event_id, 1, { device, status: "deleted" });
    await seedPhotos(event.event_id, 3, { device: newDevice() });
    await seedPhotos((await createEvent()).event_id, 4, { device });
    const first = await claimFor(event.join_token, upload);
    const second = await claimFor(event.join_token, upload);
    const replaced = await claimedPhotos(event.join_token, first.code);
    expect(replaced.status).toBe(410);
    expect(await errorCode(replaced)).toBe("claim_revoked");
    expect((await claimedPhotos(event.join_token, second.code)).status).toBe(200);

    const listing = await adminCall(`/events/${event.event_id}/claims`);
    const text = await listing.text();
    expect(text).not.toContain(first.code);
    expect(text).not.toContain(second.code);
    const { claims } = JSON.parse(text) as { claims: Array<{ id: string; device_id: string; photos: number; revoked_at: string | null; last_used_at: string | null }> };
    expect(claims.map((c) => c.id)).toEqual([second.claim_id, first.claim_id]);
    expect(claims[0]).toMatchObject({ device_id: device, photos: 2, revoked_at: null, last_used_at: expect.any(String) });

    const revoked = await adminCall(`/events/${event.event_id}/claims/${second.claim_id}`, "DELETE");
    expect(await revoked.json()).toMatchObject({ id: second.claim_id, revoked_at: expect.any(String) });
    const refused = await claimedPhotos(event.join_token, second.code);
    expect(refused.status).toBe(410);
    expect(await errorCode(refused)).toBe("claim_revoked");
    expect((await adminCall(`/events/${event.event_id}/claims/${crypto.randomUUID()}`, "DELETE")).status).toBe(404);
  });

  it("rate-limits guessing per address and per event, and only wrong codes count", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 1000);
    const claim = await claimFor(event.join_token, upload);
    const wrong = claim.code.startsWith("2") ? `3${claim.code.slice(1)}` : `2${claim.code.slice(1)}`;

    // Right codes do not use up the allowance.
    for (let i = 0; i < CLAIM_GUESS_LIMITS.perAddress + 2; i++) expect((await claimedPhotos(event.join_token, claim.code, "203.0.113.1")).status).toBe(200);
    for (let i = 0; i < CLAIM_GUESS_LIMITS.perAddress; i++) expect((await claimedPhotos(event.join_token, wrong, "203.0.113.1")).status).toBe(401);
    // Spent: from that address even the right code is refused for a while; another address still gets in.
    const limited = await claimedPhotos(event.join_token, claim.code, "203.0.113.1");
    expect(limited.status).toBe(429);
    expect(await errorCode(limited)).toBe("rate_limited");
    expect(limited.headers.get("retry-after")).toBe(String(CLAIM_GUESS_LIMITS.windowMs / 1000));
    expect((await claimedPhotos(event.join_token, claim.code, "203.0.113.2")).status).toBe(200);

    // Many addresses together: the event's limit stops them.
    const addresses = Math.ceil(CLAIM_GUESS_LIMITS.perEvent / CLAIM_GUESS_LIMITS.perAddress);
    let refused = 0;
    for (let a = 0; a < addresses + 1; a++) {
      for (let i = 0; i < CLAIM_GUESS_LIMITS.perAddress; i++) {
        const response = await claimedPhotos(event.join_token, wrong, `192.0.2.${a}`);
        if (response.status === 429) refused++;
      }
    }
    expect(refused).toBeGreaterThanOrEqual(CLAIM_GUESS_LIMITS.perAddress);
    expect((await claimedPhotos(event.join_token, claim.code, "203.0.113.3")).status).toBe(429);
    // Other events are not affected.
    const elsewhere = await createEvent();
    const theirs = await claimFor(elsewhere.join_token, await startUpload(elsewhere.join_token, 1000));
    expect((await claimedPhotos(elsewhere.join_token, theirs.code, "203.0.113.3")).status).toBe(200);
  });

  it("never puts a claim code in a log line", async () => {
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 1000);
    const lines: string[] = [];
    for (const level of ["log", "warn", "error", "info", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    }
    const claim = await claimFor(event.join_token, upload);
    await claimedPhotos(event.join_token, claim.code);
    await claimedPhotos(event.join_token, claim.code.toLowerCase());
    await call(`/api/v1/events/${event.join_token}/claims/photos/${crypto.randomUUID()}`, { method: "DELETE", headers: { "claim-code": claim.code } });
    await adminCall(`/events/${event.event_id}/claims`);
    vi.restoreAllMocks();
    expect(lines.some((line) => line.includes(claim.claim_id))).toBe(true);
    for (const line of lines) expect(line.toUpperCase()).not.toContain(claim.code);
  });
});
