/**
 * The projector slideshow in headless Chromium against `wrangler dev`: it starts empty with a
 * large join QR code, shows each newly approved photo without a reload, and keeps doing so
 * after its live connection was cut (the server killed and restarted on the same state).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { CreatedEvent } from "../../scripts/lib/dev-server";
import {
  expectNoProblems,
  guestUpload,
  openPage,
  readQr,
  screenshot,
  setUpBrowserStack,
  signIn,
  waitUntilProcessed,
  type WatchedPage,
} from "./harness";

const env = setUpBrowserStack("browser-slideshow-");
let watched: WatchedPage;
let event: CreatedEvent;
/** The page's WebSockets (one per connection of the live channel): the text frames each received, and whether it closed. */
const sockets: { url: string; frames: string[]; closed: boolean }[] = [];

beforeAll(async () => {
  // Automatic moderation: a photo is approved, and so shown, as soon as it is processed.
  event = await env().service.createEvent({ name: "Projector party" });
  watched = await openPage(env().browser, { viewport: { width: 1280, height: 720 } });
  watched.page.on("websocket", (socket) => {
    const record = { url: socket.url(), frames: [] as string[], closed: false };
    sockets.push(record);
    socket.on("framereceived", (frame) => typeof frame.payload === "string" && record.frames.push(frame.payload));
    socket.on("close", () => (record.closed = true));
  });
});

const page = () => watched.page;
const frontPhotoId = () => page().locator("img.slide.slide-front").getAttribute("data-photo-id");

/**
 * A guest uploads a photo; it is processed (and so approved); the live channel's current socket
 * carries it to the page, and the slideshow shows it.
 */
async function expectShownWhenApproved(filename: string): Promise<string> {
  const photoId = await guestUpload(env().service, event, filename);
  expect((await waitUntilProcessed(env().service, event.event_id, photoId)).approved).toBe(true);
  const announced = (frame: string) => frame.includes('"type":"photo"') && frame.includes(photoId) && frame.includes('"approved":true');
  await expect.poll(() => sockets.at(-1)?.frames.some(announced), { timeout: 15_000 }).toBe(true);
  await expect.poll(frontPhotoId, { timeout: 30_000 }).toBe(photoId);
  // The photo has really loaded, and the crossfade has finished.
  await expect.poll(() => page().locator("img.slide.slide-front").evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
  await page().waitForTimeout(1500);
  return photoId;
}

describe("the slideshow", () => {
  it("starts empty, with a join QR code that decodes to a working join link", async () => {
    await signIn(page(), env().service);
    await page().goto(`${env().service.origin}/admin/#/events/${event.event_id}/slideshow`);
    await expect.poll(() => page().locator("main.slideshow").getAttribute("data-live"), { timeout: 20_000 }).toBe("open");
    await page().getByText("The first photos will appear here.").waitFor();
    await page().getByLabel("Seconds per photo").selectOption("3");

    const joinUrl = await readQr(page(), ".slideshow-qr img");
    expect(joinUrl).toMatch(new RegExp(`^${env().service.origin}/join/`));
    expect((await fetch(`${env().service.origin}/api/v1/events/${joinUrl!.split("/join/")[1]}`)).status).toBe(200);
    await screenshot(page(), "slideshow-empty");
  });

  it("shows each new approved photo without a reload", async () => {
    await expectShownWhenApproved("first.jpg");
    await screenshot(page(), "slideshow-photo");
    await expectShownWhenApproved("second.jpg");
    // Two images take turns, whatever the number of photos.
    expect(await page().locator("img").count()).toBe(3); // two slides and the QR code
  });

  it("reconnects by itself after the connection was cut, and shows the next photo", async () => {
    const before = sockets.length;
    await env().service.server.restart();
    // The old socket died with the server; the page opened a new one by itself.
    await expect.poll(() => sockets.slice(0, before).every((socket) => socket.closed)).toBe(true);
    await expect.poll(() => sockets.length, { timeout: 60_000 }).toBeGreaterThan(before);
    await expect.poll(() => page().locator("main.slideshow").getAttribute("data-live"), { timeout: 60_000 }).toBe("open");
    await expectShownWhenApproved("after-the-cut.jpg");
    await screenshot(page(), "slideshow-after-reconnect");
  });

  it("had no uncaught errors or CSP violations", () => {
    // Requests that failed while the server was down are expected; nothing else is.
    expectNoProblems(watched, /Failed to load resource|WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/);
  });
});
