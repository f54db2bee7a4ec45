/**
 * Preview first (issue 15), in headless Chromium against `wrangler dev`: a guest picks three
 * photos on a throttled link (2 Mbit/s up, CDP network emulation); the organiser's open live view
 * shows each as a preview, from the guest's own preview image, long before the originals have
 * arrived; then each turns into the processed photo, with the server's thumbnails, and none is
 * flagged. Screenshots go to test-results/screenshots/preview-first-*.png.
 */
import { describe, expect, it } from "vitest";
import { admin, expectNoProblems, openPage, photoOfSize, screenshot, setUpBrowserStack, signIn } from "./harness";

const env = setUpBrowserStack("browser-preview-first-");

/** 2 Mbit/s up, as on a crowded venue Wi-Fi. */
const UPLOAD_BYTES_PER_SECOND = 250_000;

interface Upload {
  status: string;
  received_bytes: number;
  total_size: number;
}

describe("preview first", () => {
  it("shows the guest's photos in the organiser's live view as previews before their originals finish, then as processed photos", async () => {
    const service = env().service;
    const event = await service.createEvent({ name: "Preview party" });
    const photos = Array.from({ length: 3 }, (_, index) => ({ name: `PREVIEW_${index + 1}.jpg`, mimeType: "image/jpeg", buffer: photoOfSize(1_200_000) }));
    const total = photos.reduce((sum, photo) => sum + photo.buffer.length, 0);

    const dashboard = await openPage(env().browser);
    await signIn(dashboard.page, service);
    await dashboard.page.goto(`${service.origin}/admin/#/events/${event.event_id}/links`);
    await dashboard.page.getByRole("navigation", { name: "Event sections" }).getByRole("link", { name: "Live" }).click();
    await expect.poll(() => dashboard.page.locator(".live-state").textContent(), { timeout: 20_000 }).toBe("Live");

    const guest = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    const cdp = await guest.context.newCDPSession(guest.page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 40, downloadThroughput: 1_000_000, uploadThroughput: UPLOAD_BYTES_PER_SECOND });
    await guest.page.goto(`${service.origin}/join/${event.join_token}`);
    await expect.poll(() => guest.page.getByRole("button", { name: "Choose photos" }).isVisible()).toBe(true);
    const pickedAt = Date.now();
    await guest.page.setInputFiles('input[type="file"]', photos);

    // All three previews are on the organiser's screen, as previews, with images.
    const tiles = dashboard.page.locator(".live-photo");
    await expect.poll(() => tiles.filter({ has: dashboard.page.locator(".badge-preview") }).count(), { timeout: 20_000 }).toBe(3);
    const previewsShownAfterMs = Date.now() - pickedAt;
    const uploads = async () => (await admin<{ uploads: Upload[] }>(service, "GET", `/events/${event.event_id}/uploads?limit=50`)).uploads;
    const receivedThen = (await uploads()).reduce((sum, upload) => sum + upload.received_bytes, 0);
    // Long before the originals finish: most of their bytes are still to come.
    expect(receivedThen, `previews shown after ${previewsShownAfterMs} ms`).toBeLessThan(total / 2);
    expect(previewsShownAfterMs).toBeLessThan((total / UPLOAD_BYTES_PER_SECOND) * 1000 / 2);
    for (const image of await tiles.locator("img.tile-image").all()) {
      expect(await image.getAttribute("src")).toMatch(/\/preview\?/);
      await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    }
    await screenshot(dashboard.page, "preview-first-live-previews");

    // Then the originals arrive and are processed: the same tiles, now the server's thumbnails.
    await expect.poll(() => tiles.filter({ has: dashboard.page.getByText("Approved", { exact: true }) }).count(), { timeout: 90_000, interval: 500 }).toBe(3);
    expect(await tiles.count()).toBe(3);
    for (const image of await tiles.locator("img.tile-image").all()) expect(await image.getAttribute("src")).toMatch(/\/thumb-256\?/);
    expect(await dashboard.page.getByText("Preview mismatch").count()).toBe(0);
    const { photos: listed } = await admin<{ photos: Array<{ status: string; size: number; preview_flagged: boolean }> }>(service, "GET", `/events/${event.event_id}/photos`);
    expect(listed.map((photo) => [photo.status, photo.preview_flagged]).sort()).toEqual([["ready", false], ["ready", false], ["ready", false]]);
    expect(listed.map((photo) => photo.size).sort()).toEqual(photos.map((photo) => photo.buffer.length).sort());
    await screenshot(dashboard.page, "preview-first-live-processed");
    // The dashboard asks who is signed in before the token is given (as in dashboard.browser.test.ts).
    expectNoProblems(dashboard, /status of 401 \(Unauthorized\)/);
    expectNoProblems(guest);
  });
});
