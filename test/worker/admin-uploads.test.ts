import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, call, createEvent, fileBytes, sendChunk, sendInChunks, startUpload, uploadCall } from "./helpers";

const admin = (path: string) => call(`/api/v1/admin${path}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });

describe("uploads and stats for organisers", () => {
  it("lists sessions with their progress and reasons, and sums up the event", async () => {
    const { event_id, join_token } = await createEvent();
    const small = fileBytes(1000, 81);
    const done = await startUpload(join_token, small.byteLength);
    await sendInChunks(done, small, [1000]);
    expect((await uploadCall(done, "POST", "/complete")).status).toBe(201);

    const big = fileBytes(2 * MiB, 82);
    const inFlight = await startUpload(join_token, big.byteLength, { filename: "IMG_2002.jpg", device_id: "annas-phone-2002" });
    expect((await sendChunk(inFlight, big, 0, MiB)).status).toBe(204);

    const cancelled = await startUpload(join_token, 1000);
    expect((await uploadCall(cancelled, "DELETE")).status).toBe(204);

    const lost = await startUpload(join_token, 1000);
    await env.DB.prepare("UPDATE upload_sessions SET status = 'expired' WHERE id = ?").bind(lost.id).run();

    // The D1 progress mirror is written after the response; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const uploading = await (await admin(`/events/${event_id}/uploads?status=pending,uploading`)).json<{ uploads: Array<Record<string, unknown>> }>();
    expect(uploading.uploads).toEqual([
      expect.objectContaining({ upload_id: inFlight.id, status: "uploading", received_bytes: MiB, total_size: 2 * MiB, filename: "IMG_2002.jpg" }),
    ]);
    const annas = await (await admin(`/events/${event_id}/uploads?device_id=annas-phone-2002`)).json<{ uploads: Array<{ upload_id: string }> }>();
    expect(annas.uploads.map((upload) => upload.upload_id)).toEqual([inFlight.id]);
    const all = await (await admin(`/events/${event_id}/uploads?limit=2`)).json<{ uploads: unknown[]; next_cursor: string }>();
    expect(all.uploads).toHaveLength(2);
    const rest = await (await admin(`/events/${event_id}/uploads?limit=2&cursor=${all.next_cursor}`)).json<{ uploads: unknown[]; next_cursor: string | null }>();
    expect(rest.uploads).toHaveLength(2);
    expect(rest.next_cursor).toBeNull();

    const { uploads_over_time: timeline, ...stats } = await (await admin(`/events/${event_id}/stats`)).json<{ uploads_over_time: { bucket_seconds: number; buckets: Array<{ start: string; uploads: number; bytes: number }> } }>();
    expect(timeline.bucket_seconds).toBe(60);
    expect(timeline.buckets.reduce((sum, bucket) => sum + bucket.uploads, 0)).toBe(4);
    expect(timeline.buckets.reduce((sum, bucket) => sum + bucket.bytes, 0)).toBe(1000 + 2 * MiB + 1000 + 1000);
    expect(Date.parse(timeline.buckets[0]!.start) % 60_000).toBe(0);
    expect(stats).toEqual({
      photos: { total: 1, preview: 0, ready: 0, processing: 1, failed: 0, hidden: 0, bytes: 1000 },
      uploads: { in_flight: 1, completed: 1, failed: 0, expired: 1, cancelled: 1 },
      devices: 4,
      stored_bytes: { originals: 1000, scrubbed_copies: 0, thumbnails: 0, in_flight: MiB, total: 1000 + MiB },
      upload_failure_rate: 0.5,
      processing_failure_rate: 0,
    });
    expect((await admin(`/events/${crypto.randomUUID()}/stats`)).status).toBe(404);
  });
});
