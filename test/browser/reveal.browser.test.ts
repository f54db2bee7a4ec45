/**
 * Reveal later, the per-guest photo allowance and claim codes, in headless Chromium against
 * `wrangler dev`: a gallery that counts down and opens at its moment with no reload; "N of M
 * photos left" down to none; a code made on one phone opening its photos in a second browser
 * context, which takes one back; the organiser setting both in the dashboard and revoking the
 * code. Screenshots go to test-results/screenshots/reveal-*.png.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { admin, axeViolations, expectNoProblems, guestUpload, openPage, screenshot, setUpBrowserStack, signIn, testJpeg, waitUntilProcessed, type WatchedPage } from "./harness";

const env = setUpBrowserStack("browser-reveal-");
const joinUrl = (event: CreatedEvent) => `${env().service.origin}/join/${event.join_token}`;
// The refusals a test provokes on purpose show as failed requests in the console (the dashboard
// asks without a token before signing in: 401; a revoked code: 410).
const expectedProblems = /status of (401 \(Unauthorized\)|410 \(Gone\))/;

async function openPhone(): Promise<WatchedPage> {
  return openPage(env().browser, { viewport: { width: 390, height: 844 } });
}

const photo = (name: string) => ({ name, mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) });

async function pick(page: Page, names: string[]): Promise<void> {
  await page.setInputFiles('input[type="file"]', names.map(photo));
}

describe("reveal later", () => {
  it("counts down while the gallery is closed, then opens it at the moment without a reload", async () => {
    const opensAt = new Date(Date.now() + 15_000).toISOString();
    const event = await env().service.createEvent({ name: "Reveal party", gallery_enabled: true, gallery_opens_at: opensAt });
    const other = await guestUpload(env().service, event, "someone-else.jpg");
    await waitUntilProcessed(env().service, event.event_id, other);

    const watched = await openPhone();
    const { page } = watched;
    await page.goto(`${joinUrl(event)}#photos`);
    await expect.poll(() => page.getByText(/Everyone's photos are revealed in \d+ min \d+ s/).isVisible()).toBe(true);
    expect(await page.getByText("Until then you see only your own, under Upload.").isVisible()).toBe(true);
    expect(await page.locator(".gallery-grid img").count()).toBe(0);
    await screenshot(page, "reveal-countdown");
    expect(await axeViolations(page)).toEqual([]);

    // The moment passes: the page asks again by itself and shows everyone's photos.
    await expect.poll(() => page.locator(".gallery-grid img").count(), { timeout: 40_000 }).toBe(1);
    expect(await page.getByText(/revealed in/).count()).toBe(0);
    await screenshot(page, "reveal-opened");
    expectNoProblems(watched);
    await watched.context.close();
  });
});

describe("photos per guest, and my uploads on another phone", () => {
  it("shows N of M left down to none, makes a code that opens the photos in another browser, which takes one back; the organiser revokes it", async () => {
    const event = await env().service.createEvent({ name: "POV wedding", max_photos_per_guest: 3 });
    const first = await openPhone();
    await first.page.goto(joinUrl(event));
    await expect.poll(() => first.page.getByText("3 of 3 photos left").isVisible()).toBe(true);
    expect(await first.page.getByRole("heading", { name: "Your uploads on another device" }).count()).toBe(0);

    await pick(first.page, ["POV_1.jpg"]);
    await expect.poll(() => first.page.getByText("2 of 3 photos left").isVisible()).toBe(true);
    await screenshot(first.page, "reveal-photos-left");
    await pick(first.page, ["POV_2.jpg", "POV_3.jpg"]);
    await expect.poll(() => first.page.getByText("You have used all 3 of your photos for this event.").isVisible()).toBe(true);
    expect(await first.page.getByRole("button", { name: "Choose photos" }).count()).toBe(0);
    await expect.poll(() => first.page.getByText("Done", { exact: true }).count(), { timeout: 60_000 }).toBe(3);
    await screenshot(first.page, "reveal-no-photos-left");

    // The code, shown once, and its link.
    await first.page.getByRole("button", { name: "Make a code" }).click();
    const code = ((await first.page.locator(".claim-code").textContent()) ?? "").trim();
    expect(code).toMatch(/^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    const link = await first.page.getByRole("link", { name: "Link for the other device" }).getAttribute("href");
    expect(link).toBe(`${joinUrl(event)}#claim=${code.replace("-", "")}`);
    await screenshot(first.page, "reveal-claim-code");
    expect(await axeViolations(first.page)).toEqual([]);

    // Another device: a fresh browser context, opening the link.
    const second = await openPhone();
    await second.page.goto(link!);
    await expect.poll(() => second.page.getByRole("heading", { name: "Uploads from your other phone" }).isVisible()).toBe(true);
    await expect.poll(() => second.page.locator(".gallery-grid li").count()).toBe(3);
    // The code left the address bar at once.
    expect(second.page.url()).not.toContain(code.replace("-", ""));
    expect(second.page.url()).toMatch(/#mine$/);
    await expect.poll(() => second.page.locator(".gallery-grid img").evaluateAll((images) => images.filter((image) => (image as HTMLImageElement).naturalWidth > 0).length)).toBe(3);
    await screenshot(second.page, "reveal-claimed-uploads");
    expect(await axeViolations(second.page)).toEqual([]);

    await second.page.getByRole("button", { name: /^Take back/ }).first().click();
    await expect.poll(() => second.page.locator(".gallery-grid li").count()).toBe(2);
    const { photos } = await admin<{ photos: Array<{ status: string }> }>(env().service, "GET", `/events/${event.event_id}/photos?status=deleted`);
    expect(photos).toHaveLength(1);

    // A third device types the code (lower case, without the dash) instead.
    const third = await openPhone();
    await third.page.goto(`${joinUrl(event)}#mine`);
    await third.page.getByLabel("Code (8 characters)").fill(code.replace("-", "").toLowerCase());
    await third.page.getByRole("button", { name: "Open" }).click();
    await expect.poll(() => third.page.locator(".gallery-grid li").count()).toBe(2);

    // The organiser sees the code's phone, never the code, and revokes it.
    const dashboard = await openPage(env().browser);
    await signIn(dashboard.page, env().service);
    await dashboard.page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/links`);
    const row = dashboard.page.getByRole("row").filter({ hasText: "Active" }).filter({ has: dashboard.page.getByRole("button", { name: /Revoke the code of phone/ }) });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByRole("cell").nth(1).textContent()).toBe("2");
    expect(await dashboard.page.content()).not.toContain(code.replace("-", ""));
    await screenshot(dashboard.page, "reveal-dashboard-claims");
    await row.getByRole("button", { name: /Revoke the code of phone/ }).click();
    await expect.poll(() => dashboard.page.getByText("Revoked").count()).toBeGreaterThan(0);
    await screenshot(dashboard.page, "reveal-dashboard-claim-revoked");

    await second.page.reload();
    await expect.poll(() => second.page.getByRole("alert").textContent()).toContain("This code no longer works");
    await screenshot(second.page, "reveal-claim-revoked");
    expectNoProblems(first);
    expectNoProblems(second, expectedProblems);
    expectNoProblems(dashboard, expectedProblems);
    for (const watched of [first, second, third, dashboard]) await watched.context.close();
  });

  it("are set in the dashboard's settings, and persist", async () => {
    const event = await env().service.createEvent({ name: "Settings party" });
    const dashboard = await openPage(env().browser);
    await signIn(dashboard.page, env().service);
    await dashboard.page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/settings`);
    await dashboard.page.getByLabel(/Photos for the whole event/).fill("24");
    await dashboard.page.getByLabel(/Reveal the gallery at/).fill("2030-06-21T22:00");
    await dashboard.page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => dashboard.page.getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    await screenshot(dashboard.page, "reveal-dashboard-settings");
    const saved = await admin<{ max_photos_per_guest: number | null; gallery_opens_at: string | null }>(env().service, "GET", `/events/${event.event_id}`);
    expect(saved.max_photos_per_guest).toBe(24);
    expect(new Date(saved.gallery_opens_at!).getTime()).toBe(new Date("2030-06-21T22:00").getTime());

    // Emptied: no limit, no wait.
    await dashboard.page.reload();
    await expect.poll(() => dashboard.page.getByLabel(/Photos for the whole event/).inputValue()).toBe("24");
    await dashboard.page.getByLabel(/Photos for the whole event/).fill("");
    await dashboard.page.getByLabel(/Reveal the gallery at/).fill("");
    await dashboard.page.getByRole("button", { name: "Save settings" }).click();
    await expect.poll(() => dashboard.page.getByRole("status").filter({ hasText: "Saved." }).count()).toBe(1);
    expect(await admin(env().service, "GET", `/events/${event.event_id}`)).toMatchObject({ max_photos_per_guest: null, gallery_opens_at: null });
    expect(await axeViolations(dashboard.page)).toEqual([]);
    expectNoProblems(dashboard, expectedProblems);
    await dashboard.context.close();
  });
});
