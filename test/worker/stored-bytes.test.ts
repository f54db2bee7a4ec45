/** An organiser's stats say what the event holds in R2: originals, scrubbed copies, thumbnails, bytes in flight. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { MiB, call, createEvent, fileBytes, sendChunk, startUpload } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const admin = (path: string, init: RequestInit = {}) =>
  call(`/api/v1/admin${path}`, { ...init, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });

/** Every byte R2 holds under the given prefixes. */
async function listedBytes(prefixes: string[]): Promise<number> {
  let total = 0;
  for (const prefix of prefixes) {
    let cursor: string | undefined;
    do {
      const listing = await env.PHOTOS.list({ prefix, ...(cursor ? { cursor } : {}) });
      total += listing.objects.reduce((sum, object) => sum + object.size, 0);
      cursor = listing.truncated ? listing.cursor : undefined;
    } while (cursor);
  }
  return total;
}

describe("stored bytes in an event's stats", () => {
  it("count each stored object once, leave deleted photos out, and add what uploads in flight received", async () => {
    const { event_id, join_token } = await createEvent();
    const exif = { make: "Pixelcam", model: "P9", takenAt: "2026:06:14 17:03:22", gps: { latitude: 48.85, longitude: 2.29 } };
    const jpeg = makeJpeg({ width: 1200, height: 800, exif, comment: "at home" });
    const first = await uploadPhoto(jpeg, { token: join_token });
    await deliver([first.job]);
    // The same bytes again: a linked duplicate, sharing the first one's objects.
    const again = await uploadPhoto(jpeg, { token: join_token });
    await deliver([again.job]);
    const other = await uploadPhoto(makeJpeg({ width: 640, height: 480 }), { token: join_token });
    await deliver([other.job]);
    expect((await admin(`/events/${event_id}/photos/${other.photoId}`, { method: "DELETE" })).status).toBe(200);

    const inFlight = await startUpload(join_token, 2 * MiB);
    expect((await sendChunk(inFlight, fileBytes(2 * MiB, 501), 0, MiB)).status).toBe(204);
    // The D1 progress mirror is written after the response; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));

    const row = await env.DB.prepare("SELECT original_key, scrubbed_key, thumb_large_key, thumb_small_key, duplicate_of FROM photos WHERE id = ?")
      .bind(again.photoId)
      .first<Record<string, string>>();
    expect(row!.duplicate_of).toBe(first.photoId);
    const size = async (key: string) => (await env.PHOTOS.head(key))!.size;
    const stats = await (await admin(`/events/${event_id}/stats`)).json<{ stored_bytes: Record<string, number> }>();
    expect(stats.stored_bytes).toEqual({
      originals: jpeg.byteLength,
      scrubbed_copies: await size(row!.scrubbed_key!),
      thumbnails: (await size(row!.thumb_large_key!)) + (await size(row!.thumb_small_key!)),
      in_flight: MiB,
      // The upload in flight holds its first MiB in its session's storage (its tail), not in R2.
      total: (await listedBytes([`uploads/${event_id}/`, `photos/${event_id}/`])) + MiB,
    });
    expect(stats.stored_bytes.scrubbed_copies).toBeGreaterThan(0);
  });
});
