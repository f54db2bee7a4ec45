/**
 * Videos in the dashboard (issue 15), in headless Chromium against `wrangler dev`: a guest's MP4
 * is processed to a video with its duration; its tile shows a play mark and the length on a
 * neutral tile (no poster yet); the photo view plays it from its signed URL; the slideshow plays
 * it muted, then moves on to the next photo; the guest gallery plays the guests' copy.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { admin, expectNoProblems, guestUpload, openPage, screenshot, setUpBrowserStack, signIn, waitUntilProcessed, type WatchedPage } from "./harness";

const env = setUpBrowserStack("browser-videos-");
let watched: WatchedPage;
let event: CreatedEvent;
let videoId: string;
let photoId: string;
/** 2 s, 320×240, H.264 (made with ffmpeg: see previews.browser.test.ts). */
const clip = readFileSync(path.resolve(import.meta.dirname, "../fixtures/poster-quadrant.mp4"));

beforeAll(async () => {
  event = await env().service.createEvent({ name: "Video party" });
  watched = await openPage(env().browser, { viewport: { width: 1280, height: 720 } });
});

const page = () => watched.page;

describe("videos in the web apps", () => {
  it("are processed as videos with their duration, no server thumbnails", async () => {
    photoId = await guestUpload(env().service, event, "before.jpg");
    videoId = await guestUpload(env().service, event, "first-dance.mp4", new Uint8Array(clip), "video/mp4");
    for (const id of [photoId, videoId]) expect((await waitUntilProcessed(env().service, event.event_id, id)).status).toBe("ready");
    const video = await admin<Record<string, unknown>>(env().service, "GET", `/events/${event.event_id}/photos/${videoId}`);
    expect(video).toMatchObject({ media_kind: "video", duration_s: 2, width: 320, height: 240, thumbnail_state: "unavailable" });
  });

  it("the gallery shows a play mark and the length; the photo view plays the video", async () => {
    await signIn(page(), env().service);
    await page().goto(`${env().service.origin}/admin/#/events/${event.event_id}/gallery`);
    const tile = page().locator(".photo-tile").filter({ hasText: "first-dance.mp4" });
    await tile.waitFor();
    expect(await tile.getByLabel("Video, 0:02").isVisible()).toBe(true);
    expect(await tile.locator(".tile-video").count()).toBe(1);
    await screenshot(page(), "dashboard-video-tile");

    await tile.click();
    const dialog = page().getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.getByText("0:02").isVisible()).toBe(true);
    const video = dialog.locator("video");
    await video.evaluate((element) => (element as unknown as { muted: boolean; play: () => Promise<void> }).play().catch(() => {}));
    await expect.poll(() => video.evaluate((element) => (element as unknown as { currentTime: number }).currentTime), { timeout: 15_000 }).toBeGreaterThan(0.3);
    await screenshot(page(), "dashboard-video-playing");
    await dialog.getByRole("button", { name: "Close" }).click();
  });

  it("the slideshow plays the video muted, then moves on to the next photo", async () => {
    await page().goto(`${env().service.origin}/admin/#/events/${event.event_id}/slideshow`);
    await page().getByLabel("Seconds per photo").selectOption("3");
    // Newest first: the video, then the photo.
    const front = page().locator("video.slide.slide-front");
    await expect.poll(() => front.getAttribute("data-photo-id"), { timeout: 30_000 }).toBe(videoId);
    const state = await front.evaluate((element) => {
      const video = element as unknown as { muted: boolean; paused: boolean };
      return { muted: video.muted, paused: video.paused };
    });
    expect(state).toEqual({ muted: true, paused: false });
    await screenshot(page(), "slideshow-video");
    // After its 2 s (well under the 30 s cap), the next photo.
    await expect.poll(() => page().locator("img.slide.slide-front").getAttribute("data-photo-id"), { timeout: 15_000 }).toBe(photoId);
    expect(await page().locator("video.slide").evaluate((element) => (element as unknown as { paused: boolean }).paused)).toBe(true);
  });

  it("the guest gallery plays the guests' copy, and the guest app states the video caps", async () => {
    await admin(env().service, "PATCH", `/events/${event.event_id}`, { gallery_enabled: true });
    await page().goto(`${env().service.origin}/join/${event.join_token}`);
    await expect.poll(() => page().getByText(/Videos up to 524 MB and 10 min each\./).isVisible()).toBe(true);
    await page().getByRole("link", { name: "Photos" }).click();
    const video = page().locator(".gallery-grid video");
    await video.waitFor();
    expect(await video.getAttribute("src")).toMatch(new RegExp(`/api/v1/files/gallery/${videoId}/scrubbed\\?`));
    await video.evaluate((element) => (element as unknown as { muted: boolean; play: () => Promise<void> }).play().catch(() => {}));
    await expect.poll(() => video.evaluate((element) => (element as unknown as { currentTime: number }).currentTime), { timeout: 15_000 }).toBeGreaterThan(0.3);
    await screenshot(page(), "guest-gallery-video");
  });

  it("the settings form sets the video caps and turns videos off", async () => {
    await page().goto(`${env().service.origin}/admin/#/events/${event.event_id}/settings`);
    await page().getByLabel("Largest video (MiB)").fill("200");
    await page().getByLabel("Longest video (minutes)").fill("2.5");
    await page().getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => page().getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    expect(await admin(env().service, "GET", `/events/${event.event_id}`)).toMatchObject({ videos_allowed: true, max_video_size: 200 * 1024 * 1024, max_video_duration_s: 150 });

    await page().getByLabel("Guests may upload videos (MP4, QuickTime)").uncheck();
    expect(await page().getByLabel("Largest video (MiB)").isDisabled()).toBe(true);
    await page().getByRole("button", { name: "Save settings" }).click();
    await expect.poll(async () => (await admin(env().service, "GET", `/events/${event.event_id}`)).videos_allowed).toBe(false);
    await screenshot(page(), "dashboard-settings-videos");
  });

  it("had no uncaught errors or CSP violations", () => {
    // The dashboard's first look before signing in is a 401, as in dashboard.browser.test.ts.
    expectNoProblems(watched, /status of 401 \(Unauthorized\)/);
  });
});
