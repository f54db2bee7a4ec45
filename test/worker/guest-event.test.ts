import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, call, createEvent, createUploadRequest, errorCode, fileBytes, newDevice, sendChunk, startUpload } from "./helpers";

describe("GET /api/v1/events/{token}: what a guest sees first", () => {
  it("names the event, says whether it takes uploads, and states the limits", async () => {
    const { join_token, event_id } = await createEvent({ max_file_size: 10 * MiB, gallery_enabled: true });
    const response = await call(`/api/v1/events/${join_token}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      name: "Test wedding",
      status: "open",
      accepting_uploads: true,
      starts_at: null,
      ends_at: null,
      uploads_open_at: null,
      uploads_close_at: null,
      gallery_enabled: true,
      gallery_opens_at: null,
      gallery_open: true,
      limits: {
        max_file_size: 10 * MiB,
        // The part size: the server's chunk size unless the event sets another.
        chunk_size: 5 * MiB,
        // Videos are allowed by default, with their own caps.
        allowed_content_types: ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "video/mp4", "video/quicktime"],
        videos_allowed: true,
        max_video_size: 500 * MiB,
        max_video_duration_s: 600,
        max_concurrent_uploads_per_device: 2,
        daily_upload_cap_per_device: 500,
        max_concurrent_anonymous_uploads_per_address: 50,
        daily_anonymous_upload_cap_per_address: 12_500,
        max_photos_per_guest: null,
      },
    });
    await env.DB.prepare("UPDATE events SET uploads_open_at = ? WHERE id = ?").bind(Date.now() + 60_000, event_id).run();
    expect(await (await call(`/api/v1/events/${join_token}`)).json()).toMatchObject({ status: "open", accepting_uploads: false });
    expect(await errorCode(await call(`/api/v1/events/${"C".repeat(43)}`))).toBe("event_not_found");
  });
});

describe("rate limits (per client 150 a minute in the tests, 600 configured; per IP 6,000)", () => {
  // The limiter counts in windows aligned to the wall clock: a flood that crosses a minute
  // boundary gets a fresh allowance part-way, so a flood runs until the first refusal.
  it("a flood of creates from one device is refused with 429 rate_limited and Retry-After; others carry on", async () => {
    const { join_token } = await createEvent();
    const device_id = newDevice();
    let admitted = 0;
    let refused: Response | undefined;
    for (let i = 0; i < 2 * 150 + 5 && !refused; i++) {
      const response = await createUploadRequest(join_token, { size: 1000, device_id });
      if (response.status === 429) refused = response;
      // Cancelled at once, so the per-device upload limits never stand in the way.
      if (response.status === 201) {
        admitted++;
        const { upload_id, upload_key } = await response.json<{ upload_id: string; upload_key: string }>();
        await call(`/api/v1/events/${join_token}/uploads/${upload_id}`, { method: "DELETE", headers: { "upload-key": upload_key } });
      }
    }
    expect(admitted).toBeGreaterThanOrEqual(150);
    expect(refused!.headers.get("retry-after")).toBe("60");
    expect(await errorCode(refused!)).toBe("rate_limited");
    expect((await createUploadRequest(join_token, { size: 1000 })).status).toBe(201);
  });

  it("a flood of chunks at one upload is refused too, and the upload's bytes stay as they were", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(MiB, 3);
    const upload = await startUpload(join_token, file.byteLength);
    expect((await sendChunk(upload, file, 0, 512 * 1024)).status).toBe(204);
    let last: Response | undefined;
    for (let i = 0; i < 2 * 150 + 5 && last?.status !== 429; i++) last = await sendChunk(upload, file, 0, 512 * 1024);
    expect(last!.status).toBe(429);
    expect(await errorCode(last!)).toBe("rate_limited");
    const status = await call(`/api/v1/events/${join_token}/uploads/${upload.id}`, { headers: { "upload-key": upload.key } });
    expect((await status.json<{ received_bytes: number }>()).received_bytes).toBe(512 * 1024);
  });
});
