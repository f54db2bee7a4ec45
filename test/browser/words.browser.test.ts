/**
 * Names and words (issue 16) in headless Chromium against `wrangler dev`: a guest gives a name
 * (remembered on the phone), uploads and leaves a guestbook message; the organiser sees the name
 * on the photo, filters by it, reads and hides the message, and the slideshow shows approved
 * messages between photos. Hostile names and messages are text in both apps. Screenshots go to
 * test-results/screenshots/words-*.png.
 */
import { readFileSync } from "node:fs";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import { admin, axeViolations, expectNoProblems, guestUpload, openPage, screenshot, setUpBrowserStack, signIn, testJpeg, waitUntilProcessed, type WatchedPage } from "./harness";

const env = setUpBrowserStack("browser-words-");

/** What a guest might type: markup, and a right-to-left override (which the server drops). */
const hostileName = "<img src=x onerror=alert(1)>Ana\u202e";
const storedName = "<img src=x onerror=alert(1)>Ana";
const hostileMessage = "<script>alert(2)</script>\n<b>Congratulations</b>, you two!";

interface PhotoView {
  photo_id: string;
  display_name: string | null;
}
interface MessageView {
  message_id: string;
  body: string;
  display_name: string | null;
  status: string;
}

/** The dashboard's first call goes without a token (behind Cloudflare Access it would succeed): Chromium logs its 401. */
const signInProbe = /status of 401 \(Unauthorized\)/;

let event: CreatedEvent;
let guestPhotoId: string;
let messageId: string;

const noMarkupFromGuests = async (watched: WatchedPage) => {
  expect(await watched.page.locator("img[src='x'], b, script:not([src])").count()).toBe(0);
};

describe("a guest's name and message", () => {
  it("the guest gives a name (remembered), uploads, and leaves a message", async () => {
    event = await env().service.createEvent({ name: "Words party" });
    const watched = await openPage(env().browser, { viewport: { width: 390, height: 844 } });
    const { page } = watched;
    await page.goto(`${env().service.origin}/join/${event.join_token}`);
    await page.getByLabel("Your name (optional)").fill(hostileName);
    await page.setInputFiles('input[type="file"]', [{ name: "WORDS_1.jpg", mimeType: "image/jpeg", buffer: Buffer.from(testJpeg()) }]);
    await expect
      .poll(async () => (await admin<{ photos: PhotoView[] }>(env().service, "GET", `/events/${event.event_id}/photos`)).photos, { timeout: 60_000 })
      .toHaveLength(1);
    const [photo] = (await admin<{ photos: PhotoView[] }>(env().service, "GET", `/events/${event.event_id}/photos`)).photos;
    expect(photo!.display_name).toBe(storedName);
    guestPhotoId = photo!.photo_id;

    await page.getByLabel("Leave a message for the hosts").fill(hostileMessage);
    await page.getByRole("button", { name: "Send message" }).click();
    await expect.poll(() => page.getByText("Thank you! Your message was sent.").isVisible()).toBe(true);
    const { messages } = await admin<{ messages: MessageView[] }>(env().service, "GET", `/events/${event.event_id}/messages`);
    expect(messages).toMatchObject([{ body: hostileMessage, display_name: storedName, status: "visible" }]);
    messageId = messages[0]!.message_id;
    await noMarkupFromGuests(watched);
    await screenshot(page, "words-guest-sent");
    expect(await axeViolations(page)).toEqual([]);

    // The phone remembers the name for the next visit.
    await page.reload();
    await expect.poll(() => page.getByLabel("Your name (optional)").inputValue()).toBe(hostileName);
    expectNoProblems(watched);
    await watched.context.close();
  });

  it("the organiser sees the name on the photo, filters by it, reads and hides the message", async () => {
    const other = await guestUpload(env().service, event, "NONAME.jpg");
    await waitUntilProcessed(env().service, event.event_id, other);
    await waitUntilProcessed(env().service, event.event_id, guestPhotoId);
    const watched = await openPage(env().browser, { acceptDownloads: true });
    const { page } = watched;
    await signIn(page, env().service);
    await page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/gallery`);
    const tiles = page.locator(".photo-tile");
    await expect.poll(() => tiles.count()).toBe(2);
    await expect.poll(() => page.locator(".tile-guest").allTextContents()).toEqual([storedName]);
    await noMarkupFromGuests(watched);

    await page.getByText("Filters", { exact: true }).click();
    await page.getByLabel("Guest's name", { exact: true }).selectOption({ label: `${storedName} (1)` });
    await expect.poll(() => tiles.count()).toBe(1);
    expect(await page.locator(".photo-tile .tile-name").textContent()).toBe("WORDS_1.jpg");
    await screenshot(page, "words-dashboard-name-filter");
    await page.getByLabel("Guest's name", { exact: true }).selectOption({ label: "No name given (1)" });
    await expect.poll(() => page.locator(".photo-tile .tile-name").allTextContents()).toEqual(["NONAME.jpg"]);

    // The ZIP with a folder per name: the markup in the name cannot make a path.
    await page.getByLabel("A folder per guest's name").check();
    const [zip] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download ZIP of approved" }).click()]);
    const entries = Object.keys(unzipSync(readFileSync(await zip.path())));
    expect(entries.map((name) => name.split("/")[0])).toEqual(["_img src=x onerror=alert(1)_Ana", "Unnamed", "messages.csv"]);

    await page.getByRole("link", { name: "Guestbook" }).click();
    const message = page.locator(".message");
    await expect.poll(() => message.locator(".message-body").textContent()).toBe(hostileMessage);
    await noMarkupFromGuests(watched);
    await screenshot(page, "words-dashboard-guestbook");
    const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    expect(readFileSync(await csv.path(), "utf8")).toContain(`"${storedName}","<script>alert(2)</script>\n<b>Congratulations</b>, you two!","visible","yes"`);
    expect(await axeViolations(page)).toEqual([]);
    await message.getByRole("button", { name: "Hide" }).click();
    await expect.poll(() => message.locator(".badge").textContent()).toBe("Hidden");
    const { messages } = await admin<{ messages: MessageView[] }>(env().service, "GET", `/events/${event.event_id}/messages`);
    expect(messages.find((found) => found.message_id === messageId)?.status).toBe("hidden");
    await screenshot(page, "words-dashboard-guestbook-hidden");
    await message.getByRole("button", { name: "Show again" }).click();
    await expect.poll(() => message.locator(".badge").count()).toBe(0);
    expectNoProblems(watched, signInProbe);
    await watched.context.close();
  });

  it("the slideshow shows approved messages between photos when the event says so", async () => {
    await admin(env().service, "PATCH", `/events/${event.event_id}`, { slideshow_messages: true });
    const watched = await openPage(env().browser);
    const { page } = watched;
    await signIn(page, env().service);
    await page.goto(`${env().service.origin}/admin/#/events/${event.event_id}/slideshow`);
    await page.getByLabel("Seconds per photo").selectOption("3");
    const card = page.locator(".slideshow-message");
    await expect.poll(() => card.locator("blockquote").textContent(), { timeout: 40_000 }).toBe(hostileMessage);
    expect(await card.locator("figcaption").textContent()).toBe(`— ${storedName}`);
    await noMarkupFromGuests(watched);
    await screenshot(page, "words-slideshow-message");
    expectNoProblems(watched, signInProbe);
    await watched.context.close();
  });
});
