/**
 * Issue 12: `keep_gps` off means no coordinate leaves the service. Downloads check the event's
 * setting when served; the admin photo view (and the live channel, which renders the same view)
 * shows what processing recorded, so turning keep_gps off forgets the recorded coordinates.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg, type FixtureExif } from "../fixtures/photos";
import { call, createEvent } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const exif: FixtureExif = { make: "Pixelcam", model: "P9 Pro", takenAt: "2026:06:14 17:03:22", gps: { latitude: 48.858222, longitude: -2.2945 } };

describe("GPS through the admin photo view", () => {
  it("once the organiser turns keep_gps off, the photo view no longer carries the coordinates recorded before", async () => {
    const { event_id, join_token } = await createEvent({ keep_gps: true });
    const { job, photoId } = await uploadPhoto(makeJpeg({ width: 320, height: 240, exif }), { token: join_token });
    await deliver([job]);
    const photoPath = `/api/v1/admin/events/${event_id}/photos/${photoId}`;
    const before = await (await call(photoPath, { headers: bootstrap })).json<{ gps: unknown; status: string }>();
    expect(before.status).toBe("ready");
    expect(before.gps).not.toBeNull(); // the event kept GPS while the photo was processed

    const patched = await call(`/api/v1/admin/events/${event_id}`, { method: "PATCH", headers: bootstrap, body: JSON.stringify({ keep_gps: false }) });
    expect(patched.status).toBe(200);

    // The original is now served blanked (held); the view must agree with it.
    const view = await (await call(photoPath, { headers: bootstrap })).json<{ gps: unknown }>();
    expect(view.gps).toBeNull();
    const list = await (await call(`/api/v1/admin/events/${event_id}/photos`, { headers: bootstrap })).json<{ photos: Array<{ gps: unknown }> }>();
    expect(list.photos.map((photo) => photo.gps)).toEqual([null]);
  });
});
