/**
 * Locations in files of unknown type (issue 12): with keep_gps off, an original whose type the blanker does not know
 * (location.ts answers "no patches" when the bytes sniff as none of the accepted types) is served
 * as uploaded, coordinates and all, where the rule elsewhere is "refused if that cannot be done
 * for certain". A TIFF (the container every camera's Exif is, and what DNG/ProRAW files are)
 * declared as a JPEG fails processing, and its organiser download still carries the location.
 */
import { env } from "cloudflare:workers";
import exifr from "exifr";
import { describe, expect, it } from "vitest";
import { buildTiffExif, type FixtureExif } from "../fixtures/photos";
import { call, createEvent, errorCode } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
const exif: FixtureExif = { make: "Pixelcam", model: "P9 Pro", takenAt: "2026:06:14 17:03:22", gps: { latitude: 48.858222, longitude: -2.2945 } };

describe("attack: GPS in the original of a file processing could not read", () => {
  it("an event without keep_gps never serves a readable coordinate, even in a failed photo's original", async () => {
    const { event_id, join_token } = await createEvent();
    const tiff = buildTiffExif(exif);
    expect((await exifr.gps(tiff))?.latitude).toBeCloseTo(48.858, 2); // the fixture has a location
    const { job, photoId } = await uploadPhoto(tiff, { token: join_token, contentType: "image/jpeg", filename: "DSC_0001.jpg" });
    await deliver([job]);
    const view = await (await call(`/api/v1/admin/events/${event_id}/photos/${photoId}`, { headers: bootstrap })).json<{ status: string; urls: { original: string } }>();
    expect(view.status).toBe("failed");
    const { pathname, search } = new URL(view.urls.original);
    const download = await call(pathname + search);
    // Either refused (its location cannot be removed for certain) or served without it.
    if (download.status === 200) {
      const served = new Uint8Array(await download.arrayBuffer());
      expect(await exifr.gps(served).catch(() => undefined)).toBeUndefined();
    } else {
      expect(download.status).toBeGreaterThanOrEqual(400);
    }
  });

  it("such an original is refused as location_unremovable without keep_gps, and served as uploaded with it", async () => {
    const tiff = buildTiffExif(exif);
    const original = async (settings: Record<string, unknown>) => {
      const { event_id, join_token } = await createEvent(settings);
      const { job, photoId } = await uploadPhoto(tiff, { token: join_token, contentType: "image/jpeg", filename: "DSC_0001.jpg" });
      await deliver([job]);
      const view = await (await call(`/api/v1/admin/events/${event_id}/photos/${photoId}`, { headers: bootstrap })).json<{ urls: { original: string } }>();
      const { pathname, search } = new URL(view.urls.original);
      return call(pathname + search);
    };
    const refused = await original({});
    expect(refused.status).toBe(422);
    expect(await errorCode(refused)).toBe("location_unremovable");
    const kept = await original({ keep_gps: true });
    expect(kept.status).toBe(200);
    expect(new Uint8Array(await kept.arrayBuffer())).toEqual(tiff);
  });
});
