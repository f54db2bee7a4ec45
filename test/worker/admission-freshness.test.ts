/**
 * A create checks the join link and event as the isolate last read them, and its insert checks
 * them unchanged (core/admission.ts): an organiser's change reaches the very next create, whether
 * it refuses more or admits more.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { updateEvent } from "../../src/admin/events";
import { call, createEvent, createUploadRequest, errorCode, newDevice, startUpload } from "./helpers";

async function patchEvent(eventId: string, body: Record<string, unknown>) {
  const response = await call(`/api/v1/admin/events/${eventId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a create after the organiser changes the event", () => {
  it("takes a file the event has just been allowed to take", async () => {
    const { event_id, join_token } = await createEvent({ max_file_size: 1000 });
    await startUpload(join_token, 1000); // this isolate now remembers the link and the event
    const tooLarge = await createUploadRequest(join_token, { size: 5000 });
    expect([tooLarge.status, await errorCode(tooLarge)]).toEqual([413, "upload_limit"]);

    await patchEvent(event_id, { max_file_size: 10_000 });
    await startUpload(join_token, 5000);
  });

  it("is held to a limit the organiser has just lowered", async () => {
    const { event_id, join_token } = await createEvent({ max_concurrent_uploads_per_device: 3 });
    const device = newDevice();
    await startUpload(join_token, 1000, { device_id: device });

    await patchEvent(event_id, { max_concurrent_uploads_per_device: 1 });
    const second = await createUploadRequest(join_token, { size: 1000, device_id: device });
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { limit: string } }).error.limit).toBe("concurrent_uploads");
  });

  it("is refused once the event closes, though the isolate read it open", async () => {
    const { event_id, join_token } = await createEvent();
    await startUpload(join_token, 1000);
    await patchEvent(event_id, { status: "closed" });
    const create = await createUploadRequest(join_token, { size: 1000 });
    expect([create.status, await errorCode(create)]).toEqual([403, "event_closed"]);
  });

  // Each change the organiser can make that refuses a create, made after this isolate read the
  // event taking the file: the very next create (same device, same file) is refused with its code.
  const refusingChanges: Array<[string, Record<string, unknown>, Record<string, unknown>, [number, string, string?]]> = [
    ["closing the event", { status: "closed" }, {}, [403, "event_closed"]],
    ["archiving it", { archive: true }, {}, [403, "event_closed"]],
    ["ending its upload window", { uploads_close_at: new Date(Date.now() - 1000).toISOString() }, {}, [403, "event_closed"]],
    ["moving its window's opening later", { uploads_open_at: new Date(Date.now() + 3_600_000).toISOString() }, {}, [403, "event_closed"]],
    ["lowering the size cap", { max_file_size: 500 }, {}, [413, "upload_limit", "max_file_size"]],
    ["lowering the video size cap", { max_video_size: 500 }, { content_type: "video/mp4", filename: "a.mp4" }, [413, "upload_limit", "max_video_size"]],
    ["turning videos off", { videos_allowed: false }, { content_type: "video/mp4", filename: "a.mp4" }, [415, "unsupported_type"]],
    ["narrowing the image types", { allowed_content_types: ["image/png"] }, {}, [415, "unsupported_type"]],
    ["lowering the daily cap", { daily_upload_cap_per_device: 1 }, {}, [429, "upload_limit", "daily_uploads"]],
    ["setting a photo allowance", { max_photos_per_guest: 1 }, {}, [403, "photo_limit", "photos_per_guest"]],
  ];
  it.each(refusingChanges)("is refused after %s", async (_change, settings, file, [status, code, limit]) => {
    const { event_id, join_token } = await createEvent({ max_concurrent_uploads_per_device: 10 });
    const device = newDevice();
    await startUpload(join_token, 1000, { device_id: device, ...file });
    const { archive, ...patch } = settings;
    if (archive) {
      const archived = await call(`/api/v1/admin/events/${event_id}/archive`, { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
      expect(archived.status).toBe(200);
    } else {
      await patchEvent(event_id, patch);
    }
    const create = await createUploadRequest(join_token, { size: 1000, device_id: device, ...file });
    const body = await create.json<{ error: { code: string; limit?: string } }>();
    expect([create.status, body.error.code, body.error.limit]).toEqual([status, code, limit]);
  });

  it("is refused once its link is revoked, though the isolate read it valid", async () => {
    const { event_id, join_token } = await createEvent();
    await startUpload(join_token, 1000);
    const links = await call(`/api/v1/admin/events/${event_id}/join-links`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    const [link] = (await links.json<{ join_links: Array<{ id: string }> }>()).join_links;
    const revoked = await call(`/api/v1/admin/events/${event_id}/join-links/${link!.id}`, { method: "DELETE", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(revoked.status, await revoked.clone().text()).toBe(200);
    const create = await createUploadRequest(join_token, { size: 1000 });
    expect([create.status, await errorCode(create)]).toEqual([410, "join_link_expired"]);
  });

  it("sees two changes made in the same millisecond as two versions of the event", async () => {
    const { event_id } = await createEvent();
    const db = database(env);
    vi.spyOn(Date, "now").mockReturnValue(Date.UTC(2030, 0, 1));
    const first = await updateEvent(db, event_id, { name: "First" });
    const second = await updateEvent(db, event_id, { name: "Second" });
    expect(second.after.updatedAt).toBeGreaterThan(first.after.updatedAt);
  });
});
