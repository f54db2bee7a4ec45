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

  it("sees two changes made in the same millisecond as two versions of the event", async () => {
    const { event_id } = await createEvent();
    const db = database(env);
    vi.spyOn(Date, "now").mockReturnValue(Date.UTC(2030, 0, 1));
    const first = await updateEvent(db, event_id, { name: "First" });
    const second = await updateEvent(db, event_id, { name: "Second" });
    expect(second.after.updatedAt).toBeGreaterThan(first.after.updatedAt);
  });
});
