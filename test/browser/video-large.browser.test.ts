/**
 * A phone's 60 MB video through the guest app (issue 15), in headless Chromium against
 * `wrangler dev`: picked on the join page, it arrives byte for byte, is processed as a video with
 * its duration and dimensions, has the poster the guest's browser made, plays in the dashboard's
 * photo view and in the slideshow, and the guests' copy has no location left in it, although the
 * event keeps GPS for its organisers. The video is made with ffmpeg at test time
 * (test/fixtures/large-video.ts). Screenshots: test-results/screenshots/video-large-*.png.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { largeVideo, largeVideoFile } from "../fixtures/large-video";
import { admin, expectNoProblems, openPage, screenshot, setUpBrowserStack, signIn, waitUntilProcessed, type WatchedPage } from "./harness";

const env = setUpBrowserStack("browser-video-large-");
const filename = "VID_20260614_170322.mp4";
let pickedDir: string;
/** The video as the guest's phone has it, under a phone's file name. */
let picked: string;
let source: Buffer;
let event: CreatedEvent;
let videoId: string;
let dashboard: WatchedPage;

beforeAll(() => {
  pickedDir = mkdtempSync(path.join(tmpdir(), "video-large-"));
  picked = path.join(pickedDir, filename);
  copyFileSync(largeVideoFile(), picked);
  source = readFileSync(picked);
});
afterAll(() => rmSync(pickedDir, { recursive: true, force: true }));

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

interface AdminPhoto {
  photo_id: string;
  status: string;
  media_kind: string;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  size: number;
  gps: { latitude: number; longitude: number } | null;
  thumbnail_state: string | null;
  urls: { original: string | null; thumb_256: string | null; thumb_1024: string | null };
}

async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get("content-type"), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** `<video>` state read in the page. */
const playback = (element: unknown) => {
  const video = element as { currentTime: number; muted: boolean; paused: boolean; videoWidth: number; videoHeight: number };
  return { currentTime: video.currentTime, muted: video.muted, paused: video.paused, videoWidth: video.videoWidth, videoHeight: video.videoHeight };
};

describe("a phone's 60 MB video through the guest app", () => {
  it("arrives byte for byte and is processed as a video with its duration, dimensions and the browser's poster", async () => {
    expect(source.length).toBeGreaterThanOrEqual(largeVideo.minBytes);
    // The event keeps GPS: the organiser's original is the stored file untouched, and the guests' copy must lose the location all the same.
    event = await env().service.createEvent({ name: "Film night", keep_gps: true, gallery_enabled: true });
    const guest = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    await guest.page.goto(`${env().service.origin}/join/${event.join_token}`);
    await expect.poll(() => guest.page.getByRole("button", { name: "Choose photos" }).isVisible()).toBe(true);
    await guest.page.setInputFiles('input[type="file"]', picked);
    const row = guest.page.locator(".file-row").filter({ hasText: filename });
    await expect.poll(() => row.locator(".file-state").textContent(), { timeout: 20_000 }).toMatch(/Uploading/);
    await screenshot(guest.page, "video-large-guest-uploading");
    await expect.poll(() => row.locator(".file-state").textContent(), { timeout: 90_000 }).toMatch(/Processing|Done/);

    const { photos } = await admin<{ photos: AdminPhoto[] }>(env().service, "GET", `/events/${event.event_id}/photos`);
    expect(photos).toHaveLength(1);
    videoId = photos[0]!.photo_id;
    expect((await waitUntilProcessed(env().service, event.event_id, videoId)).status).toBe("ready");
    await expect.poll(() => row.locator(".file-state").textContent()).toMatch(/Done/);
    await screenshot(guest.page, "video-large-guest-done");
    expectNoProblems(guest);
    await guest.context.close();

    const video = await admin<AdminPhoto>(env().service, "GET", `/events/${event.event_id}/photos/${videoId}`);
    expect(video).toMatchObject({
      media_kind: "video",
      duration_s: largeVideo.durationSeconds,
      width: largeVideo.width,
      height: largeVideo.height,
      size: source.length,
      gps: { latitude: 48.8584, longitude: 2.2945 },
    });
    const original = await download(video.urls.original!);
    expect(original.status).toBe(200);
    expect(original.bytes.length).toBe(source.length);
    expect(sha256(original.bytes), "SHA-256 of the organiser's original").toBe(sha256(source));

    // No server thumbnails for a video: its images are the poster the guest's browser drew from a frame of it.
    expect(video.thumbnail_state).toBe("unavailable");
    expect(video.urls.thumb_1024).toMatch(/\/preview\?/);
    const poster = await download(video.urls.thumb_1024!);
    expect(poster.status).toBe(200);
    expect(poster.type).toBe("image/webp");
    const { width, height } = await sharp(poster.bytes).metadata();
    expect(width! / height!).toBeCloseTo(largeVideo.width / largeVideo.height, 1);
  });

  it("the guests' copy in the guest gallery has no location left in it, and nothing else changed", async () => {
    const guest = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    await guest.page.goto(`${env().service.origin}/join/${event.join_token}`);
    await guest.page.getByRole("link", { name: "Photos" }).click();
    const video = guest.page.locator(".gallery-grid video");
    await video.waitFor();
    const src = await video.getAttribute("src");
    expect(src).toMatch(new RegExp(`/api/v1/files/gallery/${videoId}/scrubbed\\?`));
    expect(await video.getAttribute("poster")).toMatch(/\/preview\?/);
    await video.evaluate((element) => (element as unknown as { play: () => Promise<void> }).play().catch(() => {}));
    await expect.poll(async () => (await video.evaluate(playback)).currentTime, { timeout: 15_000 }).toBeGreaterThan(0.3);
    await screenshot(guest.page, "video-large-guest-gallery");
    expectNoProblems(guest);
    // Else its player goes on fetching the video alongside the download below.
    await guest.context.close();

    const copy = await download(new URL(src!, env().service.origin).href);
    expect(copy.status).toBe(200);
    expect(copy.bytes.length).toBe(source.length);
    expect(source.includes(largeVideo.location)).toBe(true);
    expect(copy.bytes.includes(largeVideo.location)).toBe(false);
    // The ©xyz box (size, type, text length, language, text; in moov/udta, at the end) is still
    // there, its text blanked; every other byte is the original's.
    const xyz = source.lastIndexOf("\xa9xyz", undefined, "latin1");
    const text = { from: xyz + 8, to: xyz + 8 + largeVideo.location.length };
    expect(text.to).toBe(source.length);
    expect(copy.bytes.subarray(text.from, text.to).toString("latin1")).toMatch(/^[ \0]+$/);
    expect(copy.bytes.subarray(0, text.from).equals(source.subarray(0, text.from))).toBe(true);
    expect(copy.bytes.subarray(text.to).equals(source.subarray(text.to))).toBe(true);
  });

  it("plays in the dashboard's photo view, its tile showing the poster and the length", async () => {
    dashboard = await openPage(env().browser, { viewport: { width: 1280, height: 720 } });
    const page = dashboard.page;
    await signIn(page, env().service);
    await page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/gallery`);
    const tile = page.locator(".photo-tile").filter({ hasText: filename });
    await tile.waitFor();
    expect(await tile.getByLabel("Video, 0:08").isVisible()).toBe(true);
    const tileImage = tile.locator("img.tile-image");
    expect(await tileImage.getAttribute("src")).toMatch(/\/preview\?/);
    await expect.poll(() => tileImage.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await screenshot(page, "video-large-dashboard-tile");

    await tile.click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.getByText("0:08").isVisible()).toBe(true);
    expect(await dialog.getByText(`${largeVideo.width} × ${largeVideo.height}`).isVisible()).toBe(true);
    const video = dialog.locator("video");
    expect(await video.getAttribute("poster")).toMatch(/\/preview\?/);
    await video.evaluate((element) => (element as unknown as { play: () => Promise<void> }).play().catch(() => {}));
    // A second into it: the player has fetched megabytes past the start, by ranges.
    await expect.poll(async () => (await video.evaluate(playback)).currentTime, { timeout: 20_000 }).toBeGreaterThan(1);
    expect(await video.evaluate(playback)).toMatchObject({ videoWidth: largeVideo.width, videoHeight: largeVideo.height });
    await screenshot(page, "video-large-dashboard-playing");
    await dialog.getByRole("button", { name: "Close" }).click();
  });

  it("plays muted in the slideshow", async () => {
    const page = dashboard.page;
    await page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/slideshow`);
    const front = page.locator("video.slide.slide-front");
    await expect.poll(() => front.getAttribute("data-photo-id"), { timeout: 30_000 }).toBe(videoId);
    await expect.poll(async () => (await front.evaluate(playback)).currentTime, { timeout: 20_000 }).toBeGreaterThan(1);
    expect(await front.evaluate(playback)).toMatchObject({ muted: true, paused: false, videoWidth: largeVideo.width, videoHeight: largeVideo.height });
    await screenshot(page, "video-large-slideshow");
    // The dashboard's first look before signing in is a 401, as in dashboard.browser.test.ts.
    expectNoProblems(dashboard, /status of 401 \(Unauthorized\)/);
  });
});
