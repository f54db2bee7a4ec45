/**
 * tus-js-client (Node) against `wrangler dev`: whole uploads, chunked and not, with and without
 * checksums; and a phone's 60 MB video (made with ffmpeg at test time: test/fixtures/large-video.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { HttpRequest } from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { largeVideo, largeVideoFile } from "../fixtures/large-video";
import { expectStored, MiB, photoMetadata, startE2e, startUpload, type E2e } from "./helpers";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-tus-");
});
afterAll(() => e2e?.stack.stop());

// The default event's size cap: the largest photo a guest may send.
const size = 25 * MiB;

describe("tus-js-client uploads a 25 MiB photo", () => {
  it("in 1 MiB PATCHes", async () => {
    const bytes = randomBytes(size);
    const run = startUpload(bytes, { endpoint: e2e.endpoint, metadata: photoMetadata(), chunkSize: MiB, retryDelays: null });
    await run.finished;

    const patches = run.exchanges.filter((exchange) => exchange.method === "PATCH");
    expect(patches).toHaveLength(25);
    expect(patches.every((patch, i) => patch.status === 204 && patch.uploadOffset === i * MiB && patch.responseOffset === (i + 1) * MiB)).toBe(true);
    await expectStored(e2e, run.upload.url!, bytes);
  });

  it("in one PATCH (no chunkSize)", async () => {
    const bytes = randomBytes(size);
    const run = startUpload(bytes, { endpoint: e2e.endpoint, metadata: photoMetadata(), retryDelays: null });
    await run.finished;

    expect(run.exchanges.map(({ method, status }) => `${method} ${status}`)).toEqual(["POST 201", "PATCH 204"]);
    await expectStored(e2e, run.upload.url!, bytes);
  });

  it("with an Upload-Checksum on each PATCH, and a corrupted one refused with 460 and sent again", async () => {
    const options = await fetch(e2e.endpoint, { method: "OPTIONS" });
    expect(options.headers.get("tus-extension")?.split(",")).toContain("checksum");
    expect(options.headers.get("tus-checksum-algorithm")?.split(",")).toContain("sha256");

    const bytes = randomBytes(size);
    const chunkSize = MiB;
    const corruptAt = 3 * MiB;
    let corrupted = false;
    // tus-js-client 4.x has no checksum option, and onBeforeRequest sees the request, not its body.
    // But the body of a PATCH is always source[offset, min(offset + chunkSize, size)) (Upload._addChunkToRequest),
    // and Upload-Offset is set before the hook runs, so the digest can be computed from the source.
    const addChecksum = (req: HttpRequest) => {
      if (req.getMethod() !== "PATCH") return;
      const offset = Number(req.getHeader("Upload-Offset"));
      const body = bytes.subarray(offset, Math.min(offset + chunkSize, size));
      const digest = createHash("sha256").update(body).digest("base64");
      if (offset === corruptAt && !corrupted) {
        corrupted = true;
        req.setHeader("Upload-Checksum", `sha256 ${createHash("sha256").update("not the body").digest("base64")}`);
      } else {
        req.setHeader("Upload-Checksum", `sha256 ${digest}`);
      }
    };
    const run = startUpload(bytes, {
      endpoint: e2e.endpoint,
      metadata: photoMetadata(),
      chunkSize,
      onBeforeRequest: addChecksum,
      // 460 Checksum Mismatch is a 4xx that tus-js-client does not retry by default; anything else fails the test.
      retryDelays: [100],
      onShouldRetry: (error) => error.originalResponse?.getStatus() === 460,
    });
    await run.finished;

    const refused = run.exchanges.findIndex((exchange) => exchange.status === 460);
    expect(run.exchanges[refused]).toMatchObject({ method: "PATCH", uploadOffset: corruptAt });
    // Nothing of the refused body was kept: the client's HEAD finds the offset where it was, and the chunk goes again.
    expect(run.exchanges[refused + 1]).toMatchObject({ method: "HEAD", status: 200, responseOffset: corruptAt });
    expect(run.exchanges[refused + 2]).toMatchObject({ method: "PATCH", uploadOffset: corruptAt, status: 204, responseOffset: corruptAt + chunkSize });
    expect(run.exchanges.filter((exchange) => exchange.method === "PATCH" && exchange.status === 204)).toHaveLength(25);
    await expectStored(e2e, run.upload.url!, bytes);
  });

  it("in three parallel partial uploads joined by concatenation (parallelUploads)", async () => {
    const bytes = randomBytes(size);
    const run = startUpload(bytes, { endpoint: e2e.endpoint, metadata: photoMetadata(), parallelUploads: 3, chunkSize: 4 * MiB, retryDelays: null });
    await run.finished;

    const posts = run.exchanges.filter((exchange) => exchange.method === "POST");
    expect(posts.map((post) => post.status)).toEqual([201, 201, 201, 201]);
    await expectStored(e2e, run.upload.url!, bytes);
  });
});

interface AdminPhoto {
  filename: string;
  status: string;
  media_kind: string;
  content_type: string;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  size: number;
  taken_at: string | null;
  gps: { latitude: number; longitude: number } | null;
  failure_reason: string | null;
}

/** A photo of the event by its file name, as the admin API shows it to organisers. */
async function adminPhoto(filename: string): Promise<AdminPhoto | undefined> {
  const response = await fetch(`${e2e.service.origin}/api/v1/admin/events/${e2e.event.event_id}/photos?limit=200`, {
    headers: { authorization: `Bearer ${e2e.service.adminToken}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { photos: AdminPhoto[] }).photos.find((photo) => photo.filename === filename);
}

describe("tus-js-client uploads a phone's 60 MB video", () => {
  it("in 8 MiB PATCHes, byte for byte, processed as a video with its duration, dimensions and creation time", async () => {
    // Shares this file's service (one wrangler start fewer for the suite); the event takes videos by default.
    const video = readFileSync(largeVideoFile());
    const filename = "VID_20260614_170322.mp4";
    const run = startUpload(video, {
      endpoint: e2e.endpoint,
      metadata: { filename, filetype: "video/mp4", device_id: `e2e-video-${Date.now()}` },
      chunkSize: 8 * MiB,
      retryDelays: null,
    });
    await run.finished;

    const patches = run.exchanges.filter((exchange) => exchange.method === "PATCH");
    expect(patches).toHaveLength(Math.ceil(video.length / (8 * MiB)));
    expect(patches.every((patch) => patch.status === 204)).toBe(true);
    await expectStored(e2e, run.upload.url!, video);

    let photo: AdminPhoto | undefined;
    await expect
      .poll(
        async () => {
          photo = await adminPhoto(filename);
          return photo?.status;
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe("ready");
    expect(photo).toMatchObject({
      media_kind: "video",
      content_type: "video/mp4",
      duration_s: largeVideo.durationSeconds,
      width: largeVideo.width,
      height: largeVideo.height,
      size: video.length,
      taken_at: largeVideo.takenAt,
      failure_reason: null,
    });
    // The event does not keep GPS (the default): the video's location is not recorded.
    expect(photo!.gps).toBeNull();
  });
});
