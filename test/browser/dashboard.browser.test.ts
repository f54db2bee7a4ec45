/**
 * The organisers' dashboard in headless Chromium against `wrangler dev`: sign-in, events, join
 * links and their QR code, settings, the live view, the gallery and moderation, the ZIP, the
 * overview. The tests run in order on one page and one event, as an organiser would; each
 * state is screenshotted into test-results/screenshots/dashboard-*.png.
 *
 * Then the same dashboard deployed on its own origin, as on Cloudflare Pages: built with
 * VITE_API_ORIGIN, served with its `_headers`, calling the API across origins (the service's
 * CORS for DASHBOARD_ORIGINS). Its CSP must let it reach the API, the photos and the live
 * channel on that origin. (One service for both saves a wrangler start.)
 */
import { readFileSync } from "node:fs";
import { unzipSync } from "fflate";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import {
  admin,
  axeViolations,
  expectNoProblems,
  guestUpload,
  openPage,
  readQr,
  screenshot,
  setUpBrowserStack,
  signIn,
  startDashboardSite,
  waitUntilProcessed,
  type StaticSite,
  type WatchedPage,
} from "./harness";

const hostileName = "<img src=x onerror=alert(1)>.jpg";
/** An upload that stays in flight (a quarter of its bytes sent), later marked failed. */
const stalledName = "<b onmouseover=alert(2)>stalled.jpg";
let stalledUploadId: string;
/**
 * Chromium logs every 401 and 400 answer as a console error: the dashboard's first call goes
 * without a token (behind Cloudflare Access it would succeed), one test signs in with a wrong
 * token, and two send what the server refuses (a blank event name, settings).
 */
const expectedProblems = /status of (401 \(Unauthorized\)|400 \(Bad Request\))/;

let site: StaticSite;
let watched: WatchedPage;
let event: CreatedEvent;
/** Photos uploaded so far, newest last. */
const photoIds: string[] = [];

beforeAll(async () => {
  site = await startDashboardSite();
});
afterAll(() => site?.close());
const env = setUpBrowserStack("browser-dashboard-", () => ({ DASHBOARD_ORIGINS: site.origin }));
beforeAll(async () => {
  site.buildDashboard(env().service.origin);
  watched = await openPage(env().browser, { acceptDownloads: true });
});

const page = () => watched.page;
const origin = () => env().service.origin;

/** Creates an event from the events list, as an organiser does: the dashboard goes on to show its join link. */
async function createEventInDashboard(dashboard: Page, name: string): Promise<{ event: CreatedEvent; joinUrl: string }> {
  await dashboard.getByLabel("Name").fill(name);
  await dashboard.getByRole("button", { name: "Create event" }).click();
  await dashboard.locator(".table-card .qr").waitFor();
  const joinUrl = (await dashboard.locator(".table-card-url").textContent())!.trim();
  const eventId = /#\/events\/([^/]+)\/links$/.exec(dashboard.url())?.[1];
  expect(eventId, dashboard.url()).toBeTruthy();
  const token = joinUrl.split("/join/")[1]!;
  return { event: { event_id: eventId!, join_token: token, upload_url: `${origin()}/api/v1/events/${token}/uploads` }, joinUrl };
}

const gotoTab = async (name: string) => {
  await page().getByRole("navigation", { name: "Event sections" }).getByRole("link", { name }).click();
};

describe("the dashboard", () => {
  it("is served with a strict CSP and the other security headers, like the guest app", async () => {
    for (const pathname of ["/admin/", "/", "/join/some-token"]) {
      const response = await fetch(origin() + pathname, { headers: { "sec-fetch-mode": "navigate" } });
      expect(response.status, pathname).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/html");
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp, pathname).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("permissions-policy")).toContain("camera=()");
    }
    // And the browser gets it on the document it renders.
    const document = await page().goto(`${origin()}/admin/`);
    expect(document?.headers()["content-security-policy"]).toContain("script-src 'self'");
  });

  it("refuses a wrong admin token, then signs in with the right one", async () => {
    await page().getByLabel("Admin token").waitFor();
    await screenshot(page(), "dashboard-sign-in");
    await page().getByLabel("Admin token").fill("not-the-token");
    await page().getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page().getByRole("alert").textContent()).toContain("not accepted");
    await screenshot(page(), "dashboard-sign-in-refused");

    await signIn(page(), env().service);
    await expect.poll(() => page().getByText("No events yet").isVisible()).toBe(true);
    await screenshot(page(), "dashboard-events-empty");
    expect(await axeViolations(page())).toEqual([]);
  });

  it("follows a link taken just as the dashboard appears after sign-in", async () => {
    const quick = await openPage(env().browser);
    // Changes the hash the moment the events list is in the page, before the dashboard's effects
    // have run: a hashchange it must not miss.
    await quick.context.addInitScript({
      content: `new MutationObserver((_, observer) => {
        if (![...document.querySelectorAll("h1")].some((heading) => heading.textContent === "Events")) return;
        observer.disconnect();
        location.hash = "#/webhooks";
      }).observe(document, { childList: true, subtree: true });`,
    });
    await quick.page.goto(`${origin()}/admin/`);
    await quick.page.getByLabel("Admin token").fill(env().service.adminToken);
    await quick.page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => quick.page.getByRole("heading", { name: "Endpoints" }).isVisible()).toBe(true);
    expect(quick.page.url()).toMatch(/#\/webhooks$/);
    await quick.context.close();
  });

  it("refuses a blank event name in words and keeps the form to fix it", async () => {
    // Spaces pass the input's `required`; the name is trimmed, and the server refuses it empty.
    await page().getByLabel("Name").fill("   ");
    await page().getByRole("button", { name: "Create event" }).click();
    await expect.poll(() => page().getByRole("alert").textContent()).toContain("name");
    expect(await page().getByRole("button", { name: "Create event" }).isEnabled()).toBe(true);
    expect(await page().getByRole("heading", { name: "Events", level: 1 }).isVisible()).toBe(true);
  });

  it("creates an event and shows its join link as a QR code that decodes to it", async () => {
    const created = await createEventInDashboard(page(), "Sam & Alex's wedding");
    event = created.event;
    const joinUrl = created.joinUrl;
    expect(joinUrl).toMatch(new RegExp(`^${origin()}/join/[A-Za-z0-9_-]{20,}$`));
    expect(await readQr(page(), ".table-card .qr")).toBe(joinUrl);

    // The link works for guests, and opens the guest app.
    const guestView = (await (await fetch(`${origin()}/api/v1/events/${event.join_token}`)).json()) as { name: string };
    expect(guestView.name).toBe("Sam & Alex's wedding");
    expect(await (await fetch(joinUrl, { headers: { "sec-fetch-mode": "navigate" } })).text()).toContain('<div id="app">');

    await screenshot(page(), "dashboard-join-link");
    await page().emulateMedia({ media: "print" });
    await screenshot(page(), "dashboard-join-link-print");
    await page().emulateMedia({ media: "screen" });
    expect(await axeViolations(page())).toEqual([]);
  });

  it("edits the event's settings, and they persist", async () => {
    await gotoTab("Settings");
    await page().getByLabel("Name", { exact: true }).fill("Sam & Alex — reception");
    await page().getByLabel("Wait for my review").check();
    await page().getByLabel("Guests see a gallery of approved photos").check();
    await page().getByLabel("Largest photo (MiB)").fill("10");
    await page().getByLabel("Photos a day").fill("250");
    await page().getByLabel("HEIF", { exact: true }).uncheck();
    await page().getByLabel("Window closes").fill("2026-12-31T23:30");
    await page().getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => page().getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    await screenshot(page(), "dashboard-settings-saved");

    const saved = await admin(env().service, "GET", `/events/${event.event_id}`);
    expect(saved).toMatchObject({
      name: "Sam & Alex — reception",
      moderation_mode: "review",
      gallery_enabled: true,
      max_file_size: 10 * 1024 * 1024,
      daily_upload_cap_per_device: 250,
      allowed_content_types: ["image/jpeg", "image/png", "image/webp", "image/heic"],
    });
    expect(new Date(saved.uploads_close_at as string).getTime()).toBe(new Date("2026-12-31T23:30").getTime());

    await page().reload();
    await expect.poll(() => page().getByLabel("Largest photo (MiB)").inputValue()).toBe("10");
    expect(await page().getByLabel("Wait for my review").isChecked()).toBe(true);
    expect(await page().getByLabel("Window closes").inputValue()).toBe("2026-12-31T23:30");
    expect(await axeViolations(page())).toEqual([]);
  });

  it("keeps Save disabled while the settings go out, shows the server's refusal in words, and saves on the next try", async () => {
    // The PATCH is held until the form has been seen busy, then goes on to the server.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const eventUrl = `${origin()}/api/v1/admin/events/${event.event_id}`;
    await page().route(eventUrl, async (route) => {
      if (route.request().method() === "PATCH") await held;
      await route.continue();
    });
    const types = ["JPEG", "PNG", "WebP", "HEIC (iPhone)"];
    for (const type of types) await page().getByLabel(type, { exact: true }).uncheck();
    await page().getByRole("button", { name: "Save settings" }).click();
    const saving = page().getByRole("button", { name: "Saving…" });
    await saving.waitFor();
    expect(await saving.isDisabled()).toBe(true);
    release();

    // An event must accept some photo type: the server says which field is wrong.
    await expect.poll(() => page().getByRole("alert").textContent()).toContain("allowed_content_types");
    await screenshot(page(), "dashboard-settings-refused");
    expect(await page().getByRole("button", { name: "Save settings" }).isEnabled()).toBe(true);
    await page().unroute(eventUrl);

    for (const type of types) await page().getByLabel(type, { exact: true }).check();
    await page().getByLabel("Photos a day").fill("300");
    await page().getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => page().getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    expect(await page().getByRole("alert").count()).toBe(0);
    expect(await admin(env().service, "GET", `/events/${event.event_id}`)).toMatchObject({
      daily_upload_cap_per_device: 300,
      allowed_content_types: ["image/jpeg", "image/png", "image/webp", "image/heic"],
    });
  });

  it("closes and reopens uploads from the header", async () => {
    await page().getByRole("button", { name: "Close uploads" }).click();
    await page().getByRole("button", { name: "Open uploads" }).waitFor();
    expect((await admin(env().service, "GET", `/events/${event.event_id}`)).status).toBe("closed");
    await screenshot(page(), "dashboard-uploads-closed");
    await page().getByRole("button", { name: "Open uploads" }).click();
    await page().getByRole("button", { name: "Close uploads" }).waitFor();
    expect((await admin(env().service, "GET", `/events/${event.event_id}`)).status).toBe("open");
  });

  it("shows a guest's upload and photo live, with a hostile filename as plain text", async () => {
    await gotoTab("Live");
    await expect.poll(() => page().locator(".live-state").textContent(), { timeout: 20_000 }).toBe("Live");
    await screenshot(page(), "dashboard-live-empty");

    // An upload in flight: 256 KiB of 1 MiB sent.
    const created = await fetch(event.upload_url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filename: stalledName, size: 1024 * 1024, content_type: "image/jpeg", device_id: "browser-test-stalled" }),
    });
    const stalled = (await created.json()) as { upload_id: string; upload_key: string };
    stalledUploadId = stalled.upload_id;
    const chunk = await fetch(`${event.upload_url}/${stalledUploadId}/chunk`, {
      method: "PUT",
      headers: { "upload-key": stalled.upload_key, "content-range": `bytes 0-${256 * 1024 - 1}/${1024 * 1024}` },
      body: new Uint8Array(256 * 1024),
    });
    expect(chunk.status).toBe(204);
    const inFlight = page().locator(".upload-row").filter({ hasText: stalledName });
    await expect.poll(() => inFlight.locator("progress").getAttribute("value"), { timeout: 15_000 }).toBe(String(256 * 1024));
    expect(await inFlight.textContent()).toContain("Uploading · 262 KB of 1.0 MB");

    photoIds.push(await guestUpload(env().service, event, hostileName));
    const tile = page().locator(".live-photo").filter({ hasText: hostileName });
    await tile.waitFor({ timeout: 30_000 });
    await waitUntilProcessed(env().service, event.event_id, photoIds[0]!);
    // In review mode a processed photo waits for the organiser; the view follows without a reload.
    await expect.poll(() => tile.locator(".badge").textContent(), { timeout: 30_000 }).toBe("Awaiting review");
    await expect.poll(() => tile.locator("img.tile-image").count()).toBe(1);
    await expect.poll(() => page().locator(".upload-row").filter({ hasText: hostileName }).count()).toBeGreaterThan(0);
    expect(await page().locator("img[src='x']").count()).toBe(0);
    await screenshot(page(), "dashboard-live-photo");
  });

  it("lists the photos in the gallery, opens one, and moderates it", async () => {
    for (const name of ["IMG_0002.jpg", "IMG_0003.jpg", "IMG_0004.jpg"]) photoIds.push(await guestUpload(env().service, event, name));
    for (const id of photoIds) await waitUntilProcessed(env().service, event.event_id, id);

    await gotoTab("Photos");
    const tiles = page().locator(".photo-tile");
    await expect.poll(() => tiles.count()).toBe(4);
    // Newest first; the hostile name is text, and no element came of it.
    expect(await tiles.last().locator(".tile-name").textContent()).toBe(hostileName);
    expect(await page().locator("img[src='x']").count()).toBe(0);
    await expect.poll(() => tiles.locator("img.tile-image").evaluateAll((images) => images.every((image) => (image as unknown as { naturalWidth: number }).naturalWidth > 0))).toBe(true);
    await screenshot(page(), "dashboard-gallery");

    await tiles.last().click();
    const dialog = page().getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.getByRole("heading").textContent()).toBe(hostileName);
    await expect.poll(() => dialog.getByText("Canon EOS R6").isVisible()).toBe(true);
    await expect.poll(() => dialog.locator(".photo-dialog-image img").evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    await screenshot(page(), "dashboard-photo-view");

    await dialog.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => dialog.locator(".badge").textContent()).toBe("Approved");
    await dialog.getByRole("button", { name: "Hide" }).click();
    await expect.poll(() => dialog.locator(".badge").textContent()).toBe("Hidden");
    expect((await admin(env().service, "GET", `/events/${event.event_id}/photos/${photoIds[0]}`)).status).toBe("hidden");
    await dialog.getByRole("button", { name: "Show again" }).click();
    await expect.poll(() => dialog.locator(".badge").textContent()).toBe("Approved");
    await page().keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    expect(await axeViolations(page())).toEqual([]);
  });

  it("selects photos with the keyboard and approves them in bulk", async () => {
    const grid = page().getByRole("listbox", { name: "Photos" });
    await grid.locator("[role=option][tabindex='0']").focus();
    await page().keyboard.press("Home");
    await page().keyboard.press("Shift+ArrowRight");
    await page().keyboard.press("Shift+ArrowRight");
    await expect.poll(() => grid.locator("[aria-selected=true]").count()).toBe(3);
    await expect.poll(() => page().locator(".selection-count").textContent()).toBe("3 selected");
    await screenshot(page(), "dashboard-gallery-selected");

    await page().keyboard.press("a");
    await expect.poll(() => page().getByRole("status").filter({ hasText: "3 photos approved." }).count()).toBe(1);
    const approved = await admin<{ photos: unknown[] }>(env().service, "GET", `/events/${event.event_id}/photos?approved=true`);
    expect(approved.photos).toHaveLength(4);

    await page().keyboard.press("Escape");
    await expect.poll(() => grid.locator("[aria-selected=true]").count()).toBe(0);
  });

  it("filters the gallery", async () => {
    await admin(env().service, "POST", `/events/${event.event_id}/photos/${photoIds[1]}/hide`);
    await page().getByText("Filters", { exact: true }).click();
    await page().getByLabel("Status").selectOption("hidden");
    await expect.poll(() => page().locator(".photo-tile").count()).toBe(1);
    expect(await page().locator(".photo-tile .tile-name").textContent()).toBe("IMG_0002.jpg");
    await screenshot(page(), "dashboard-gallery-filtered");
    await page().getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => page().locator(".photo-tile").count()).toBe(4);
  });

  it("deletes a photo from the photo view", async () => {
    await page().locator(".photo-tile").filter({ hasText: "IMG_0004.jpg" }).click();
    await page().getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    // The view moves on to the next photo; the deleted one is gone from the grid and the API.
    await expect.poll(() => page().getByRole("dialog").getByRole("heading").textContent()).not.toBe("IMG_0004.jpg");
    await page().keyboard.press("Escape");
    await expect.poll(() => page().locator(".photo-tile").count()).toBe(3);
    const gone = await fetch(`${origin()}/api/v1/admin/events/${event.event_id}/photos/${photoIds[3]}`, { headers: { authorization: `Bearer ${env().service.adminToken}` } });
    expect(gone.status).toBe(404);
  });

  it("downloads the approved photos as one ZIP", async () => {
    const [download] = await Promise.all([page().waitForEvent("download"), page().getByRole("button", { name: "Download ZIP of approved" }).click()]);
    const entries = Object.keys(unzipSync(new Uint8Array(readFileSync((await download.path())!))));
    // Approved and visible: the hostile one and IMG_0003 (IMG_0002 is hidden, IMG_0004 deleted).
    expect(entries).toHaveLength(2);
    expect(entries.some((name) => name.endsWith("IMG_0003.jpg"))).toBe(true);
    expect(entries.some((name) => name.endsWith(".jpg") && name.includes("img src=x onerror=alert(1)"))).toBe(true);
  });

  it("shows the figures, the uploads chart and the failed uploads", async () => {
    // The guest API cannot make an upload fail on demand: the stalled one is marked failed in D1.
    env().stack.query(`UPDATE upload_sessions SET status = 'failed', failure_reason = 'The connection dropped for good.' WHERE id = '${stalledUploadId}'`);

    await gotoTab("Overview");
    await expect.poll(() => page().locator(".figure").first().textContent()).toContain("Photos3");
    // What R2 holds, by kind: the three photos' originals are there.
    expect(await page().locator(".figure").filter({ hasText: "Stored" }).textContent()).toMatch(/[1-9][\d.]* [KMG]?B originals · .* thumbnails/);
    await page().locator(".chart canvas").first().waitFor();
    const failedRow = page().locator("tr").filter({ hasText: stalledName });
    await failedRow.waitFor();
    expect(await failedRow.textContent()).toContain("The connection dropped for good.");
    expect(await page().locator("b[onmouseover]").count()).toBe(0);
    await screenshot(page(), "dashboard-overview");
    expect(await axeViolations(page())).toEqual([]);
  });

  it("opens the slideshow in a new tab, still signed in", async () => {
    const [slideshow] = await Promise.all([page().waitForEvent("popup"), page().getByRole("link", { name: "Slideshow" }).click()]);
    await expect.poll(() => slideshow.locator("main.slideshow").getAttribute("data-live"), { timeout: 20_000 }).toBe("open");
    await expect.poll(() => slideshow.locator("img.slide.slide-front").count(), { timeout: 20_000 }).toBe(1);
    await slideshow.close();
  });

  it("fits a phone's screen", async () => {
    const phone = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    await signIn(phone.page, env().service);
    await screenshot(phone.page, "dashboard-phone-events");
    await phone.page.goto(`${origin()}/admin/#/events/${event.event_id}/gallery`);
    await expect.poll(() => phone.page.locator(".photo-tile").count()).toBe(3);
    // Nothing wider than the screen: no sideways scrolling of the page.
    expect(await phone.page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(phone.page, "dashboard-phone-gallery");
    expectNoProblems(phone, expectedProblems);
    await phone.context.close();
  });

  it("had no console errors or CSP violations along the way", () => {
    expectNoProblems(watched, expectedProblems);
  });
});

describe("the dashboard on another origin (Cloudflare Pages)", () => {
  it("allows exactly the API's origin in its CSP", async () => {
    const csp = (await fetch(`${site.origin}/`)).headers.get("content-security-policy") ?? "";
    expect(csp).toContain(`connect-src 'self' ${origin()} ${origin().replace(/^http/, "ws")};`);
    expect(csp).toContain(`img-src 'self' data: blob: ${origin()};`);
    expect(csp).toContain("script-src 'self';");
  });

  it("signs in, creates an event, shows a guest's photo and goes live, across origins", async () => {
    const elsewhere = await openPage(env().browser);
    const page = elsewhere.page;
    await signIn(page, env().service, `${site.origin}/`);
    const { event, joinUrl } = await createEventInDashboard(page, "Cross-origin gala");
    // Join links point at the API's origin, where the guest app is.
    expect(joinUrl.startsWith(`${origin()}/join/`)).toBe(true);

    const photoId = await guestUpload(env().service, event, "gala.jpg");
    await waitUntilProcessed(env().service, event.event_id, photoId);

    await page.getByRole("link", { name: "Photos" }).click();
    const thumbnail = page.locator(".photo-tile img.tile-image");
    await expect.poll(() => thumbnail.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    await page.getByRole("link", { name: "Live" }).click();
    await expect.poll(() => page.locator(".live-state").textContent(), { timeout: 20_000 }).toBe("Live");
    await screenshot(page, "dashboard-pages-live");
    expectNoProblems(elsewhere, expectedProblems);
    await elsewhere.context.close();
  });
});
