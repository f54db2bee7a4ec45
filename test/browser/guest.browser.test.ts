/**
 * The guest app on a phone (390×844, touch, mobile) in headless Chromium against `wrangler dev`:
 * twenty photos of a few MB through going offline and a reload, arriving byte for byte and each
 * byte accepted once; two tabs sharing the work without sending a file twice; 120 photos picked
 * without the page stalling; refusals in words; a hostile filename as text; every kind of dead
 * link; the gallery with the guest's own photos marked and taken back; German; the PWA opening
 * with the server gone. axe-core checks each screen; each state is screenshotted into
 * test-results/screenshots/guest-*.png.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { chunkAccepted } from "../e2e/lib/engine-fixtures";
import {
  admin,
  axeViolations,
  countingWakeLock,
  expectNoProblems,
  guestUpload,
  openPage,
  screenshot,
  setUpBrowserStack,
  testJpeg,
  waitUntilProcessed,
  type WatchedPage,
} from "./harness";

const hostileName = "<img src=x onerror=alert(1)>.jpg";

interface Photo {
  name: string;
  bytes: Buffer;
}
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const env = setUpBrowserStack("browser-guest-");
let photoDir: string;

beforeAll(() => {
  photoDir = mkdtempSync(path.join(tmpdir(), "guest-photos-"));
});
afterAll(() => rmSync(photoDir, { recursive: true, force: true }));

const origin = () => env().service.origin;
const joinUrl = (event: CreatedEvent) => `${origin()}/join/${event.join_token}`;

/**
 * A page in a phone's shape. The harness's openPage sets only a viewport, so the DevTools
 * protocol makes it a mobile, touch screen (it keeps that across reloads).
 */
async function openPhone(languages?: string[]): Promise<WatchedPage> {
  const watched = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
  const cdp = await watched.context.newCDPSession(watched.page);
  await cdp.send("Emulation.setDeviceMetricsOverride", { width: 390, height: 844, deviceScaleFactor: 2, mobile: true });
  await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
  if (languages) {
    await watched.context.addInitScript({ content: `Object.defineProperty(navigator, "languages", { get: () => ${JSON.stringify(languages)} });` });
  }
  return watched;
}

/** Writes photos to disk: the picker gets real files, as a phone's would be. */
function onDisk(photos: Photo[]): string[] {
  return photos.map((photo) => {
    const file = path.join(photoDir, photo.name);
    writeFileSync(file, photo.bytes);
    return file;
  });
}

async function pick(page: Page, files: Parameters<Page["setInputFiles"]>[1]): Promise<void> {
  await page.setInputFiles('input[type="file"]', files);
}

/**
 * A unique photo of about `size` bytes: a small real JPEG (the harness's) carrying random bytes
 * in comment segments, as a phone's photo carries megabytes of pixels. The random bytes are all
 * 0x80 or above: processing refuses files holding archive or markup signatures (ASCII all), and
 * random ASCII would hold "<svg" about once in 550 MB.
 */
function photoOfSize(size: number): Buffer {
  const jpeg = Buffer.from(testJpeg());
  const comments: Buffer[] = [];
  for (let left = size - jpeg.length; left > 4; left -= comments.at(-1)!.length) {
    const payload = crypto.getRandomValues(new Uint8Array(Math.min(65_533, left - 4))).map((byte) => byte | 0x80);
    const header = Buffer.from([0xff, 0xfe, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
    comments.push(Buffer.concat([header, payload]));
  }
  // After SOI and the JFIF APP0, which must come first.
  const at = jpeg[3] === 0xe0 ? 4 + jpeg.readUInt16BE(4) : 2;
  return Buffer.concat([jpeg.subarray(0, at), ...comments, jpeg.subarray(at)]);
}

/** `count` photos named `${prefix}0001.jpg`…, sizes spread evenly from `fromBytes` to `toBytes`. */
function photoSet(count: number, fromBytes: number, toBytes: number, prefix = "IMG_"): Photo[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `${prefix}${String(index + 1).padStart(4, "0")}.jpg`,
    bytes: photoOfSize(Math.round(fromBytes + ((toBytes - fromBytes) * index) / Math.max(1, count - 1))),
  }));
}

/** "7 of 20 photos, …" → 7. */
async function arrivedCount(page: Page): Promise<number> {
  const text = (await page.locator("#overall-count").textContent()) ?? "";
  return Number(/^(\d+) of/.exec(text)?.[1] ?? -1);
}

/** "name: state" of every row whose bytes have not all arrived: waited on until empty, so a timeout says which and why. */
function rowsNotArrived(page: Page): Promise<string[]> {
  return page.locator(".file-row").evaluateAll((rows) =>
    rows
      .map((row) => `${row.querySelector(".file-name")?.textContent}: ${row.querySelector(".file-state span")?.textContent}`)
      .filter((text) => !/: (Processing|Done)/.test(text)),
  );
}

function row(page: Page, name: string) {
  return page.locator(".file-row").filter({ has: page.getByText(name, { exact: true }) });
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await axeViolations(page)).toEqual([]);
}

interface AdminPhoto {
  photo_id: string;
  status: string;
  filename: string;
  urls: { original: string | null };
}

async function photosOf(event: CreatedEvent): Promise<AdminPhoto[]> {
  return (await admin<{ photos: AdminPhoto[] }>(env().service, "GET", `/events/${event.event_id}/photos?limit=200`)).photos;
}

/**
 * From the server's own records: each photo went up in exactly one completed upload session
 * (a create cut off by going offline may leave a session that never got a byte), and the log
 * shows each byte of it accepted once. Returns how many chunks came again that the server
 * already had (answered as replays, changing nothing).
 */
async function expectEachByteAcceptedOnce(event: CreatedEvent, photos: Photo[]): Promise<number> {
  const { uploads } = await admin<{ uploads: Array<{ upload_id: string; filename: string; status: string; total_size: number; received_bytes: number }> }>(
    env().service,
    "GET",
    `/events/${event.event_id}/uploads?limit=200`,
  );
  const completed = uploads.filter((upload) => upload.status === "completed");
  expect(completed.map((upload) => upload.filename).sort()).toEqual(photos.map((photo) => photo.name).sort());
  expect(uploads.filter((upload) => upload.status !== "completed" && upload.received_bytes > 0)).toEqual([]);
  let replays = 0;
  for (const upload of completed) {
    const accepted = env().service.server.logs.filter(
      (entry) => entry.msg === "request" && entry.route === "/api/v1/events/:token/uploads/:id/chunk" && entry.upload_id === upload.upload_id && chunkAccepted(entry),
    );
    const fresh = accepted.filter((entry) => entry.replayed !== true);
    expect(fresh.reduce((sum, entry) => sum + Number(entry.bytes), 0), `${upload.filename}: bytes accepted`).toBe(upload.total_size);
    replays += accepted.length - fresh.length;
  }
  return replays;
}

describe("the guest app", () => {
  it("uploads 20 photos through going offline and a reload: each arrives byte for byte, each byte accepted once", async () => {
    // 1 MiB chunks (the engine follows the event's chunk size), so photos are half sent when the
    // page goes offline or reloads: the resume from the server's offsets is what is tested.
    const event = await env().service.createEvent({ name: "Sam & Alex's wedding", chunk_size: 1024 * 1024 });
    const sources = photoSet(20, 1_500_000, 3_000_000);
    const watched = await openPhone();
    const { page, context } = watched;
    await context.addInitScript({ content: countingWakeLock });

    await page.goto(joinUrl(event));
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Sam & Alex's wedding");
    await expect.poll(() => page.getByText("Open for photos").isVisible()).toBe(true);
    await expect.poll(() => page.getByText(/Photos up to 26\.2 MB each, as JPEG, PNG, WebP, HEIC,? or HEIF\./).isVisible()).toBe(true);
    await screenshot(page, "guest-event-open");
    await expectAccessible(page);

    // With the keyboard, through the phone's own picker.
    // Focus and key in one step: the page may re-render between a separate focus and press.
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: "Choose photos" }).press("Enter");
    await (await chooser).setFiles(onDisk(sources));
    await expect.poll(() => page.locator("#overall-count").textContent()).toMatch(/ of 20 photos, /);
    await expect.poll(() => page.getByRole("status").textContent()).toBe("20 photos added.");
    await expect.poll(() => page.evaluate("wakeLocksHeld")).toBe(1);
    await expect.poll(() => page.locator(".file-row").count()).toBe(20);
    await expect.poll(() => page.getByText(/^Uploading \d+%/).count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator(".preview img").first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await screenshot(page, "guest-uploading");
    await expectAccessible(page);

    // Offline: everything says paused, and stays put.
    await expect.poll(() => arrivedCount(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
    await context.setOffline(true);
    await expect.poll(() => page.getByText(/^Paused: you are offline/).isVisible()).toBe(true);
    await expect.poll(() => page.getByText("Paused (offline)", { exact: true }).count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByRole("status").textContent()).toBe("You are offline. Uploads are paused.");
    await expect.poll(() => page.getByText(/^Uploading/).count()).toBe(0);
    await screenshot(page, "guest-paused-offline");
    await expectAccessible(page);

    // Online: it carries on by itself.
    const arrivedWhileOffline = await arrivedCount(page);
    await context.setOffline(false);
    await expect.poll(() => page.getByText(/^Paused/).count()).toBe(0);
    await expect.poll(() => page.getByRole("status").textContent()).toBe("Back online. Uploads carry on.");
    await expect.poll(() => arrivedCount(page), { timeout: 60_000 }).toBeGreaterThan(arrivedWhileOffline);

    // A reload with files half sent: it resumes from the server's offsets.
    await expect.poll(() => arrivedCount(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(8);
    await expect.poll(() => page.getByText(/^Uploading [1-9]\d?%/).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.reload();
    await expect.poll(() => page.locator(".file-row").count()).toBe(20);
    await expect.poll(() => rowsNotArrived(page), { timeout: 120_000 }).toEqual([]);
    await expect.poll(() => page.getByText("All your photos have arrived. Thank you!").isVisible()).toBe(true);
    expect(await arrivedCount(page)).toBe(20);
    await expect.poll(() => page.evaluate("wakeLocksHeld")).toBe(0);
    await screenshot(page, "guest-all-arrived");

    // The stored originals are the photos, byte for byte, one each.
    const stored = await photosOf(event);
    expect(stored.map((photo) => photo.filename).sort()).toEqual(sources.map((photo) => photo.name).sort());
    for (const photo of stored) {
      const source = sources.find((candidate) => candidate.name === photo.filename)!;
      const original = new Uint8Array(await (await fetch(photo.urls.original!)).arrayBuffer());
      expect(sha256(original), photo.filename).toBe(sha256(source.bytes));
    }

    // The only chunks the server already had are ones in flight when the connection went or the
    // page reloaded (two at a time).
    expect(await expectEachByteAcceptedOnce(event, sources)).toBeLessThanOrEqual(4);
    expectNoProblems(watched, /ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/);
    await context.close();
  });

  it("never uploads a file from two tabs at once", async () => {
    const event = await env().service.createEvent({ name: "Two tabs", max_concurrent_uploads_per_device: 4 });
    const sources = photoSet(6, 1_500_000, 2_500_000, "TAB_");
    const watched = await openPhone();
    const first = watched.page;
    await first.goto(joinUrl(event));
    await pick(first, onDisk(sources));
    await expect.poll(() => first.locator(".file-row").count()).toBe(6);
    // The same link in a second tab of the same browser finds the files in IndexedDB and joins in.
    const second = await watched.context.newPage();
    await second.goto(joinUrl(event));
    await expect.poll(() => second.locator(".file-row").count()).toBe(6);
    for (const page of [first, second]) {
      await expect.poll(() => rowsNotArrived(page), { timeout: 60_000 }).toEqual([]);
    }

    expect(await expectEachByteAcceptedOnce(event, sources)).toBe(0);
    expectNoProblems(watched);
    await watched.context.close();
  });

  it("stays responsive with 120 photos picked: previews exist only near the screen", async () => {
    // The event takes PNG only, so the JPEGs are refused at once: this is about the page, not the server.
    const event = await env().service.createEvent({ name: "Many photos", allowed_content_types: ["image/png"] });
    const watched = await openPhone();
    const { page } = watched;
    await page.goto(joinUrl(event));
    await page.evaluate(() => {
      const longest = { ms: 0 };
      (window as unknown as { longestTask: typeof longest }).longestTask = longest;
      new PerformanceObserver((list) => list.getEntries().forEach((entry) => (longest.ms = Math.max(longest.ms, entry.duration)))).observe({ type: "longtask" });
    });
    const jpeg = Buffer.from(testJpeg());
    // From disk, as a phone's picker gives them (buffers would be turned into files by script in the page).
    await pick(page, onDisk(Array.from({ length: 120 }, (_, index) => ({ name: `IMG_${1000 + index}.jpg`, bytes: jpeg }))));
    await expect.poll(() => page.getByText(/^Not accepted: wrong type/).count()).toBe(120);
    await expect.poll(() => page.locator(".preview img").count()).toBeGreaterThan(0);
    expect(await page.locator(".preview img").count()).toBeLessThan(60);
    expect(await page.evaluate(() => (window as unknown as { longestTask: { ms: number } }).longestTask.ms)).toBeLessThan(500);
    // Scrolled to the end, the last rows get theirs.
    await page.locator(".file-row").last().scrollIntoViewIfNeeded();
    await expect.poll(() => page.locator(".file-row").last().locator(".preview img").count()).toBe(1);
    expectNoProblems(watched);
    await watched.context.close();
  });

  it("says why files are not accepted (too large, wrong type, daily limit) and shows a hostile filename as text", async () => {
    const event = await env().service.createEvent({ name: "Refusals", max_file_size: 1_000_000, daily_upload_cap_per_device: 2 });
    const watched = await openPhone();
    const { page } = watched;
    await page.goto(joinUrl(event));
    await expect.poll(() => page.getByText(/Photos up to 1 MB each/).isVisible()).toBe(true);

    const large = photoOfSize(1_500_000);
    await pick(page, [
      { name: "large-photo.jpg", mimeType: "image/jpeg", buffer: large },
      { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a photo") },
      { name: hostileName, mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) },
      { name: "IMG_0002.jpg", mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) },
    ]);
    await expect.poll(() => row(page, "large-photo.jpg").textContent()).toContain("Not accepted: too large (the limit is 1 MB)");
    await expect.poll(() => row(page, "notes.txt").textContent()).toContain("Not accepted: wrong type");
    await expect.poll(() => row(page, hostileName).textContent(), { timeout: 60_000 }).toMatch(/Processing|Done/);
    await expect.poll(() => row(page, "IMG_0002.jpg").textContent(), { timeout: 60_000 }).toMatch(/Processing|Done/);
    // The third photo of the day is one too many; it comes dropped on the picker.
    const dropped = await page.evaluateHandle((bytes) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], "IMG_0003.jpg", { type: "image/jpeg" }));
      return transfer;
    }, [...testJpeg()]);
    await page.locator(".picker").dispatchEvent("drop", { dataTransfer: dropped });
    await expect.poll(() => row(page, "IMG_0003.jpg").textContent(), { timeout: 30_000 }).toContain("Not accepted: daily limit reached (2 photos a day)");
    await expect.poll(() => page.getByText("3 not accepted").isVisible()).toBe(true);

    // The name is text on the page, never markup: no image element came of it, no script ran.
    await expect.poll(() => page.getByText(hostileName, { exact: true }).isVisible()).toBe(true);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    await screenshot(page, "guest-refused");
    await expectAccessible(page);
    expectNoProblems(watched, /status of 4\d\d/);
    await watched.context.close();
  });

  it("says so clearly when the event is closed, not open yet, archived, or the link is unknown, expired or missing", async () => {
    const watched = await openPhone();
    const { page } = watched;
    const show = async (url: string, heading: string, name: string) => {
      await page.goto(url);
      await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe(heading);
      await screenshot(page, `guest-${name}`);
      await expectAccessible(page);
    };

    // First, while this browser has opened no event: the app alone has nothing to go on.
    await show(`${origin()}/`, "Scan the event's QR code", "no-link");

    const closed = await env().service.createEvent({ name: "Closed party", status: "closed" });
    await show(joinUrl(closed), "Closed party", "closed");
    await expect.poll(() => page.getByText("This event is not taking photos at the moment.").isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Choose photos" }).count()).toBe(0);

    const later = await env().service.createEvent({ name: "Tomorrow's party", uploads_open_at: new Date(Date.now() + 86_400_000).toISOString() });
    await show(joinUrl(later), "Tomorrow's party", "not-open-yet");
    await expect.poll(() => page.getByText(/^Uploads open /).isVisible()).toBe(true);

    const archived = await env().service.createEvent({ name: "Last year" });
    await admin(env().service, "POST", `/events/${archived.event_id}/archive`);
    await show(joinUrl(archived), "This event has been archived", "archived");

    const revoked = await env().service.createEvent({ name: "Revoked" });
    const { join_links: links } = await admin<{ join_links: Array<{ id: string }> }>(env().service, "GET", `/events/${revoked.event_id}/join-links`);
    await admin(env().service, "DELETE", `/events/${revoked.event_id}/join-links/${links[0]!.id}`);
    await show(joinUrl(revoked), "This link is no longer valid", "expired");

    await show(`${origin()}/join/NoSuchEventTokenAtAll1234`, "This link does not lead to an event", "unknown");
    expectNoProblems(watched, /status of 4\d\d/);
    await watched.context.close();
  });

  it("shows the event's photos page by page, marks the guest's own, and takes one back for good", async () => {
    const event = await env().service.createEvent({ name: "Gallery night", gallery_enabled: true });
    // Other guests' photos, more than a page of them, uploaded before this guest's (so older) and
    // processed while this guest uploads.
    const otherIds = await Promise.all(Array.from({ length: 25 }, (_, index) => guestUpload(env().service, event, `other-${index}.jpg`)));
    const othersReady = (async () => {
      for (const photoId of otherIds) await waitUntilProcessed(env().service, event.event_id, photoId);
    })();

    const watched = await openPhone();
    const { page } = watched;
    const galleryRequests: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes(`/events/${event.join_token}/photos`)) galleryRequests.push(request.url());
    });
    await page.goto(joinUrl(event));
    await pick(page, [
      { name: "mine-1.jpg", mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) },
      { name: "mine-2.jpg", mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) },
    ]);
    await expect.poll(() => page.getByText("Done", { exact: true }).count(), { timeout: 60_000 }).toBe(2);
    await othersReady;

    await page.getByRole("link", { name: "Photos" }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe("Photos of the event");
    // Newest first (the guest's own are the latest); the next page comes as the end scrolls near.
    await expect.poll(() => page.locator(".tile").count()).toBe(27);
    await expect.poll(() => page.locator(".gallery-more").count()).toBe(0);
    expect(galleryRequests.some((url) => url.includes("cursor="))).toBe(true);
    await expect.poll(() => page.locator(".tile-own").count()).toBe(2);
    await expect.poll(() => page.locator(".tile:nth-child(-n+2)").evaluateAll((tiles) => tiles.every((tile) => tile.classList.contains("tile-own")))).toBe(true);
    await expect.poll(() => page.locator(".tile img").first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await screenshot(page, "guest-gallery");
    await expectAccessible(page);

    // Taking one back: gone from the gallery, the organisers' lists and R2.
    const before = await photosOf(event);
    const own = page.locator(".tile-own").first();
    const ownHref = await own.locator("a").getAttribute("href");
    const taken = before.find((photo) => ownHref?.includes(photo.photo_id))!;
    const originalUrl = taken.urls.original!;
    expect((await fetch(originalUrl)).status).toBe(200);
    await own.getByRole("button", { name: /^Take back your photo from / }).click();
    await expect.poll(() => page.locator(".tile").count()).toBe(26);
    await expect.poll(() => page.locator(".tile-own").count()).toBe(1);
    await screenshot(page, "guest-gallery-taken-back");
    await expect(admin(env().service, "GET", `/events/${event.event_id}/photos/${taken.photo_id}`)).rejects.toThrow(/404 .*photo_not_found/);
    expect((await photosOf(event)).map((photo) => photo.photo_id)).not.toContain(taken.photo_id);
    expect((await fetch(originalUrl)).status).toBe(404);
    const gallery = (await (await fetch(`${origin()}/api/v1/events/${event.join_token}/photos?limit=100`)).json()) as { photos: Array<{ photo_id: string }> };
    expect(gallery.photos.map((photo) => photo.photo_id)).not.toContain(taken.photo_id);
    expect(gallery.photos).toHaveLength(26);

    // The upload list forgot it too; the device id is there for the organisers.
    await page.getByRole("link", { name: "Upload" }).click();
    await expect.poll(() => page.locator(".file-row").count()).toBe(1);
    await page.getByText("Details for the organisers").click();
    await expect.poll(() => page.locator(".device-details code").textContent()).toMatch(/^device-[0-9a-f]{32}$/);
    await screenshot(page, "guest-details");
    expectNoProblems(watched);
    await watched.context.close();
  });

  it("speaks German to a German phone", async () => {
    const event = await env().service.createEvent({ name: "Hochzeit" });
    const watched = await openPhone(["de-DE", "de", "en"]);
    const { page } = watched;
    await page.goto(joinUrl(event));
    await expect.poll(() => page.getByRole("button", { name: "Fotos auswählen" }).isVisible()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe("de");
    await expect.poll(() => page.getByText(/^Fotos bis 26,2 MB pro Datei/).isVisible()).toBe(true);
    await pick(page, [{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("kein Foto") }]);
    await expect.poll(() => row(page, "notes.txt").textContent()).toContain("Nicht angenommen: falscher Dateityp");
    await screenshot(page, "guest-german");
    await expectAccessible(page);
    await watched.context.close();
  });

  it("is an installable app that opens its join link with the server gone", async () => {
    const manifest = (await (await fetch(`${origin()}/manifest.webmanifest`)).json()) as Record<string, unknown>;
    expect(manifest).toMatchObject({ start_url: "/join/", scope: "/join/", display: "standalone", theme_color: "#3a4fd1" });
    const icons = manifest.icons as Array<{ src: string; purpose: string }>;
    expect(icons.some((icon) => icon.purpose === "maskable")).toBe(true);
    for (const icon of icons) expect((await fetch(origin() + icon.src)).status, icon.src).toBe(200);

    const event = await env().service.createEvent({ name: "Offline-proof" });
    const watched = await openPhone();
    const { page } = watched;
    await page.goto(joinUrl(event));
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.ready.then((registration) => registration.scope))).toBe(`${origin()}/join/`);
    await page.reload();
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Offline-proof");
    // Where the installed app starts: the event last opened here.
    await page.goto(`${origin()}/join/`);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Offline-proof");
    expect(page.url()).toBe(joinUrl(event));

    // The last test: the server goes away for good, and the link still opens the app.
    await env().service.server.kill();
    await page.reload();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Cannot reach the event right now");
    await screenshot(page, "guest-server-gone");
    await expectAccessible(page);
    expectNoProblems(watched, /ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch/);
    await watched.context.close();
  });
});
