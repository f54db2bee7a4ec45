/**
 * The guest's own controls over time, in headless Chromium against `wrangler dev`: the pause
 * button holds every upload (no byte moves; going offline and back, or a reload, does not undo
 * it) and lets the screen sleep, until the guest resumes; a gallery left open past its signed
 * URLs' lifetime (FILE_URL_TTL_MS, short here) renews them before they expire, and at once when
 * an image fails. Screenshots go to test-results/screenshots/guest-controls-*.png.
 */
import { createHash } from "node:crypto";
import type { CDPSession, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { admin, axeViolations, countingWakeLock, expectNoProblems, guestUpload, openPage, photoOfSize, screenshot, setUpBrowserStack, waitUntilProcessed } from "./harness";

const URL_TTL_MS = 20_000;
const env = setUpBrowserStack("browser-guest-controls-", () => ({ FILE_URL_TTL_MS: String(URL_TTL_MS) }));

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const joinUrl = (event: CreatedEvent) => `${env().service.origin}/join/${event.join_token}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bytes the server holds for the event's uploads, all sessions together (its own count, not the page's). */
async function bytesReceived(event: CreatedEvent): Promise<number> {
  const { uploads } = await admin<{ uploads: Array<{ received_bytes: number }> }>(env().service, "GET", `/events/${event.event_id}/uploads?limit=200`);
  return uploads.reduce((sum, upload) => sum + upload.received_bytes, 0);
}

/** Uploads at about 1 MB/s, as on a venue's Wi-Fi, so there is time to pause halfway. */
async function throttle(cdp: CDPSession): Promise<void> {
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: 5_000_000, uploadThroughput: 1_000_000 });
}

async function statusText(page: Page): Promise<string | null> {
  return page.getByRole("status").textContent();
}

describe("the guest's pause button", () => {
  it("holds every upload until the guest resumes, also through going offline and back and a reload; then all arrive byte for byte", async () => {
    const event = await env().service.createEvent({ name: "Pause party", chunk_size: 512 * 1024 });
    const photos = Array.from({ length: 4 }, (_, index) => ({ name: `PAUSE_${index + 1}.jpg`, mimeType: "image/jpeg", buffer: photoOfSize(2_500_000) }));
    const watched = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    const { page, context } = watched;
    await throttle(await context.newCDPSession(page));
    await context.addInitScript({ content: countingWakeLock });
    await page.goto(joinUrl(event));
    await expect.poll(() => page.getByRole("button", { name: "Choose photos" }).isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Pause uploads" }).count()).toBe(0);

    await page.setInputFiles('input[type="file"]', photos);
    await expect.poll(() => page.getByText(/^Uploading [1-9]\d?%/).count()).toBeGreaterThan(0);
    await expect.poll(() => bytesReceived(event)).toBeGreaterThan(0);
    await expect.poll(() => page.evaluate("wakeLocksHeld")).toBe(1);

    await page.getByRole("button", { name: "Pause uploads" }).click();
    await expect.poll(() => statusText(page)).toBe("Uploads paused.");
    await expect.poll(() => page.getByRole("button", { name: "Resume uploads" }).isVisible()).toBe(true);
    await expect.poll(() => page.getByText("Paused. Your uploads wait until you resume them.").isVisible()).toBe(true);
    await expect.poll(() => page.getByText("Paused", { exact: true }).count()).toBe(4);
    await expect.poll(() => page.getByText(/^Uploading/).count()).toBe(0);
    // Nothing happens until the guest comes back and taps: the screen may sleep.
    await expect.poll(() => page.evaluate("wakeLocksHeld")).toBe(0);
    await screenshot(page, "guest-controls-paused");
    expect(await axeViolations(page)).toEqual([]);

    // Requests in flight were abandoned at the pause: from a moment later, no byte arrives.
    await sleep(1000);
    const heldAt = await bytesReceived(event);
    const total = photos.reduce((sum, photo) => sum + photo.buffer.length, 0);
    expect(heldAt).toBeLessThan(total);
    await sleep(3000);
    expect(await bytesReceived(event)).toBe(heldAt);

    // Offline and back: the guest's pause is the one that shows, and coming back does not undo it.
    await context.setOffline(true);
    await sleep(500);
    expect(await page.getByText("Paused. Your uploads wait until you resume them.").isVisible()).toBe(true);
    await context.setOffline(false);
    await sleep(3000);
    expect(await page.getByRole("button", { name: "Resume uploads" }).isVisible()).toBe(true);
    expect(await page.getByText(/^Uploading/).count()).toBe(0);
    expect(await bytesReceived(event)).toBe(heldAt);

    // A reload (or the app reopened) stays paused too.
    await page.reload();
    await expect.poll(() => page.locator(".file-row").count()).toBe(4);
    await expect.poll(() => page.getByRole("button", { name: "Resume uploads" }).isVisible()).toBe(true);
    await sleep(3000);
    expect(await page.getByText(/^Uploading/).count()).toBe(0);
    expect(await bytesReceived(event)).toBe(heldAt);

    await page.getByRole("button", { name: "Resume uploads" }).click();
    await expect.poll(() => statusText(page)).toBe("Uploads resumed.");
    await expect.poll(() => page.getByRole("button", { name: "Pause uploads" }).isVisible()).toBe(true);
    await expect.poll(() => page.evaluate("wakeLocksHeld")).toBe(1);
    await screenshot(page, "guest-controls-resumed");
    await expect.poll(() => page.getByText("All your photos have arrived. Thank you!").isVisible(), { timeout: 60_000 }).toBe(true);
    expect(await page.getByRole("button", { name: /uploads$/ }).count()).toBe(0);

    const { photos: stored } = await admin<{ photos: Array<{ filename: string; urls: { original: string } }> }>(env().service, "GET", `/events/${event.event_id}/photos?limit=50`);
    expect(stored.map((photo) => photo.filename).sort()).toEqual(photos.map((photo) => photo.name).sort());
    for (const photo of stored) {
      const original = new Uint8Array(await (await fetch(photo.urls.original)).arrayBuffer());
      expect(sha256(original), photo.filename).toBe(sha256(photos.find((source) => source.name === photo.filename)!.buffer));
    }
    expectNoProblems(watched, /ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/);
    await context.close();
  });
});

describe("the gallery left open", () => {
  /** The `exp` (unix seconds) of every image and link in the gallery, and the URLs themselves. */
  async function galleryUrls(page: Page): Promise<string[]> {
    return page.locator(".tile").evaluateAll((tiles) => tiles.flatMap((tile) => [tile.querySelector("img")!.src, tile.querySelector("a")!.href]));
  }
  const expiryOf = (url: string) => Number(new URL(url).searchParams.get("exp")) * 1000;

  it("renews its signed URLs before they expire, and at once when an image fails: no broken image after their lifetime", async () => {
    const event = await env().service.createEvent({ name: "Long night", gallery_enabled: true });
    const photoIds = await Promise.all(Array.from({ length: 3 }, (_, index) => guestUpload(env().service, event, `night-${index}.jpg`)));
    for (const photoId of photoIds) await waitUntilProcessed(env().service, event.event_id, photoId);

    const watched = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    const { page } = watched;
    const galleryRequests: number[] = [];
    page.on("request", (request) => {
      if (request.url().includes(`/events/${event.join_token}/photos?`)) galleryRequests.push(Date.now());
    });
    await page.goto(`${joinUrl(event)}#photos`);
    await expect.poll(() => page.locator(".tile img").count()).toBe(3);
    await expect.poll(() => page.locator(".tile img").evaluateAll((images) => images.every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0))).toBe(true);
    const first = await galleryUrls(page);
    const firstExpiry = Math.min(...first.map(expiryOf));
    expect(firstExpiry - Date.now()).toBeLessThan(URL_TTL_MS + 5_000);
    expect(galleryRequests).toHaveLength(1);

    // An image that fails to load (as an expired URL would) has the URLs renewed at once, not at the timer.
    const failedAt = Date.now();
    await page.locator(".tile img").first().evaluate((img: HTMLImageElement) => {
      img.src = img.src.replace(/sig=[^&]+/, "sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    });
    await expect.poll(() => galleryRequests.length, { timeout: 5_000 }).toBe(2);
    expect(galleryRequests[1]! - failedAt).toBeLessThan(3_000);

    // Past the first URLs' lifetime, every URL in the page is a fresh one that works.
    await sleep(Math.max(0, firstExpiry - Date.now()) + 1_000);
    const later = await galleryUrls(page);
    expect(later).toHaveLength(6);
    for (const url of later) {
      expect(expiryOf(url), url).toBeGreaterThan(Date.now());
      expect((await fetch(url)).status, url).toBe(200);
    }
    // Renewed ahead of time by the timer too, not only after the failure.
    expect(galleryRequests.length).toBeGreaterThanOrEqual(3);
    await expect.poll(() => page.locator(".tile img").evaluateAll((images) => images.every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0))).toBe(true);
    await screenshot(page, "guest-controls-gallery-renewed");
    expectNoProblems(watched, /status of 403|Failed to load resource/);
    await watched.context.close();
  });
});
