/**
 * The live view's upload health panel in headless Chromium against `wrangler dev`: phones
 * uploading, one re-sending a chunk (retrying), then all of them silent until they stall and the
 * panel says the venue's Wi-Fi looks overloaded, then two moving again. Uploads stall here after
 * UPLOAD_STALL_MS = 6 s instead of 30. Screenshots: test-results/screenshots/dashboard-health-*.png.
 */
import { describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { axeViolations, expectNoProblems, guestUpload, openPage, screenshot, setUpBrowserStack, signIn } from "./harness";

const env = setUpBrowserStack("browser-health-", () => ({ UPLOAD_STALL_MS: "6000" }));
const KiB = 1024;

interface StartedUpload {
  deviceId: string;
  url: string;
  key: string;
  size: number;
}

/** A guest's upload of `size` bytes begun from `deviceId`, with its first 256 KiB sent. */
async function beginUpload(event: CreatedEvent, deviceId: string, size = 1024 * KiB): Promise<StartedUpload> {
  const created = await fetch(event.upload_url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: `${deviceId}.jpg`, size, content_type: "image/jpeg", device_id: deviceId }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { upload_id: id, upload_key: key } = (await created.json()) as { upload_id: string; upload_key: string };
  const upload = { deviceId, url: `${event.upload_url}/${id}`, key, size };
  expect(await sendRange(upload, 0, 256 * KiB)).toBe(204);
  return upload;
}

async function sendRange(upload: StartedUpload, start: number, end: number): Promise<number> {
  const response = await fetch(`${upload.url}/chunk`, {
    method: "PUT",
    headers: { "upload-key": upload.key, "content-range": `bytes ${start}-${end - 1}/${upload.size}` },
    body: new Uint8Array(end - start),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("the live view's upload health", () => {
  it("shows phones uploading, retrying and stalled, and says when the venue's Wi-Fi looks overloaded", async () => {
    const { service, browser } = env();
    const event = await service.createEvent({ name: "Health check" });
    const watched = await openPage(browser);
    const { page } = watched;
    await signIn(page, service);
    await page.goto(`${service.origin}/admin/#/events/${event.event_id}/live`);
    await expect.poll(() => page.locator(".live-state").textContent(), { timeout: 20_000 }).toBe("Live");
    const panel = page.locator("section.upload-health");
    await expect.poll(() => panel.textContent()).toContain("No phone is uploading or has failed lately.");

    // One photo arrives: counted in its minute (this one, or the last if the minute just turned).
    await guestUpload(service, event, "arrived.jpg");
    const minuteRow = (name: string) => panel.locator(".health-minutes tbody tr").filter({ has: page.getByRole("rowheader", { name }) }).locator("td");
    await expect.poll(async () => (await minuteRow("Arrived").allTextContents()).reduce((sum, text) => sum + Number(text), 0)).toBe(1);
    expect(await minuteRow("Success").allTextContents()).toContain("100%");

    // Four phones begin; the first one's answer is lost and it sends its chunk again.
    const phones = ["phone-aurora", "phone-basil", "phone-cedar", "phone-dune"];
    const uploads: StartedUpload[] = [];
    for (const phone of phones) uploads.push(await beginUpload(event, phone));
    expect(await sendRange(uploads[0]!, 0, 256 * KiB)).toBe(204);
    const row = (phone: string) => panel.locator("tr.health-device").filter({ hasText: phone });
    await expect.poll(() => row("phone-aurora").getAttribute("data-state")).toBe("retrying");
    await expect.poll(() => panel.locator("tr.health-device").count()).toBe(4);
    expect(await row("phone-basil").getAttribute("data-state")).toBe("uploading");
    expect(await row("phone-aurora").locator(".badge").textContent()).toBe("Retrying");
    expect(await panel.getByRole("alert").count()).toBe(0);
    await screenshot(page, "dashboard-health-uploading");

    // Then nothing more from any of them: no traffic at all, and the panel still finds the stalls.
    const alert = panel.getByRole("alert");
    await expect.poll(() => alert.textContent(), { timeout: 30_000 }).toBe("Venue Wi-Fi looks overloaded: 4 phones stalled");
    for (const phone of phones) expect(await row(phone).getAttribute("data-state")).toBe("stalled");
    expect(await row("phone-dune").locator(".badge").textContent()).toBe("Stalled");
    await screenshot(page, "dashboard-health-overloaded");
    expect(await axeViolations(page)).toEqual([]);

    // Two phones get through again: two stalled phones are not the venue's network.
    for (const upload of uploads.slice(0, 2)) expect(await sendRange(upload, 256 * KiB, 512 * KiB)).toBe(204);
    await expect.poll(() => alert.count()).toBe(0);
    await expect.poll(() => row("phone-aurora").getAttribute("data-state")).toBe("uploading");
    expect(await row("phone-cedar").getAttribute("data-state")).toBe("stalled");
    await screenshot(page, "dashboard-health-recovering");
    // The dashboard's first call goes without a token (behind Cloudflare Access it would succeed).
    expectNoProblems(watched, /status of 401 \(Unauthorized\)/);
  });
});
