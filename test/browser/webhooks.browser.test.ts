/**
 * The dashboard's webhook screens in headless Chromium against `wrangler dev`, with a Node
 * receiver on 127.0.0.1 (`/up` answers 200, `/down` 500): adding an endpoint (its secret shown
 * once, and it is the one that verifies the deliveries), a refused URL, send test and the
 * delivery log with each attempt's status, disabling, deleting, and the global webhooks page.
 * Each state is screenshotted into test-results/screenshots/webhooks-*.png.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, axeViolations, expectNoProblems, openPage, screenshot, setUpBrowserStack, signIn, type WatchedPage } from "./harness";

/** Chromium logs as console errors the sign-in's first call without a token (401) and the refused URL (400). */
const expectedProblems = /status of (401 \(Unauthorized\)|400 \(Bad Request\))/;
const hostileDescription = "<img src=x onerror=alert(1)>";

let receiver: Server;
let receiverOrigin: string;
const received: Array<{ path: string; payload: string; headers: Record<string, string> }> = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      received.push({ path: request.url ?? "", payload: Buffer.concat(chunks).toString("utf8"), headers });
      response.writeHead(request.url === "/up" ? 200 : 500).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverOrigin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => receiver?.close(resolve)));

const env = setUpBrowserStack("browser-webhooks-", () => ({ WEBHOOK_INSECURE_HOSTS: "127.0.0.1" }));
let watched: WatchedPage;
let eventId: string;
let secret: string;
const page = () => watched.page;

beforeAll(async () => {
  watched = await openPage(env().browser);
  eventId = (await admin<{ event_id: string }>(env().service, "POST", "/events", { name: "Webhook wedding" })).event_id;
});

async function addWebhook(url: string, description = "") {
  await page().getByLabel("URL").fill(url);
  await page().getByLabel("Description").fill(description);
  await page().getByRole("button", { name: "Add webhook" }).click();
}

const rowOf = (url: string) => page().getByRole("row").filter({ hasText: url });

describe("the dashboard's webhooks", () => {
  it("an event's Webhooks tab starts empty, and refuses a plain-http URL in words", async () => {
    await signIn(page(), env().service);
    await page().goto(`${env().service.origin}/admin/#/events/${eventId}/webhooks`);
    await expect.poll(() => page().getByText("No webhooks yet.").isVisible()).toBe(true);
    await screenshot(page(), "webhooks-empty");

    await addWebhook("http://hooks.example.com/photos");
    await expect.poll(() => page().getByRole("alert").textContent()).toContain("https");
    await screenshot(page(), "webhooks-refused-url");
    expect(await page().getByText("No webhooks yet.").isVisible()).toBe(true);
  });

  it("adds an endpoint and shows its secret once: the secret that verifies its deliveries", async () => {
    await page().getByLabel("photo.failed").check();
    await addWebhook(`${receiverOrigin}/up`, hostileDescription);
    const shown = page().locator(".secret-value");
    await shown.waitFor();
    secret = (await shown.textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    // The hostile description is text, not markup.
    await expect.poll(() => rowOf(`${receiverOrigin}/up`).getByText(hostileDescription).isVisible()).toBe(true);
    expect(await rowOf(`${receiverOrigin}/up`).textContent()).toContain("photo.ready, photo.failed");
    await screenshot(page(), "webhooks-secret-once");
    expect(await axeViolations(page())).toEqual([]);

    await page().getByRole("button", { name: "Done" }).click();
    await page().reload();
    await rowOf(`${receiverOrigin}/up`).waitFor();
    expect(await page().content()).not.toContain(secret);
  });

  it("send test: the delivery log shows it delivered, signed with that secret", async () => {
    await rowOf(`${receiverOrigin}/up`).getByRole("button", { name: "Send test" }).click();
    await expect.poll(() => page().getByRole("status").filter({ hasText: "queued" }).isVisible()).toBe(true);
    const log = page().getByRole("region", { name: /Delivery log/ });
    await expect
      .poll(
        async () => {
          await log.getByRole("button", { name: "Refresh" }).click();
          return log.getByText("Delivered").isVisible();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(true);
    expect(await log.getByRole("row").nth(1).textContent()).toContain("webhook.test");
    expect(await log.locator(".attempt-ok").first().textContent()).toBe("200");
    await screenshot(page(), "webhooks-delivered");

    const test = received.find((request) => request.path === "/up")!;
    expect(new Webhook(secret).verify(test.payload, test.headers)).toMatchObject({ type: "webhook.test", data: { event_id: eventId } });
  });

  it("a receiver that fails shows each attempt's status, retrying; disable, enable, new secret, delete", async () => {
    await addWebhook(`${receiverOrigin}/down`);
    await page().getByRole("button", { name: "Done" }).click();
    const row = rowOf(`${receiverOrigin}/down`);
    await row.getByRole("button", { name: "Send test" }).click();
    const log = page().getByRole("region", { name: /Delivery log/ });
    await expect
      .poll(
        async () => {
          await log.getByRole("button", { name: "Refresh" }).click();
          return log.getByText(/^Retrying/).isVisible();
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(true);
    await expect.poll(() => log.locator(".attempt-failed").first().textContent()).toBe("500");
    await expect.poll(() => log.textContent()).toContain("the receiver answered 500");
    await screenshot(page(), "webhooks-retrying");

    await row.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => row.getByText("Disabled").isVisible()).toBe(true);
    await screenshot(page(), "webhooks-disabled");
    await row.getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => row.getByText("Enabled").isVisible()).toBe(true);

    await row.getByRole("button", { name: "New secret" }).click();
    await expect.poll(() => page().locator(".secret-value").count()).toBe(1);
    const rotated = (await page().locator(".secret-value").textContent())!.trim();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await page().getByRole("button", { name: "Done" }).click();

    await row.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => row.count()).toBe(0);
    const listed = await admin<{ webhooks: Array<{ url: string }> }>(env().service, "GET", `/events/${eventId}/webhooks`);
    expect(listed.webhooks.map((hook) => hook.url)).toEqual([`${receiverOrigin}/up`]);
    expectNoProblems(watched, expectedProblems);
  });

  it("global webhooks have their own page, linked from the events list", async () => {
    await page().goto(`${env().service.origin}/admin/#/`);
    await page().getByRole("link", { name: "Global webhooks" }).click();
    await expect.poll(() => page().getByRole("heading", { name: "Global webhooks", level: 1 }).isVisible()).toBe(true);
    await page().getByLabel("event.closed").check();
    await page().getByLabel("photo.ready").uncheck();
    await addWebhook(`${receiverOrigin}/up`, "Every event's closing, to the archive");
    await page().locator(".secret-value").waitFor();
    await page().getByRole("button", { name: "Done" }).click();
    expect(await rowOf(`${receiverOrigin}/up`).textContent()).toContain("event.closed");
    await screenshot(page(), "webhooks-global");
    const global = await admin<{ webhooks: Array<{ event_id: string | null; event_types: string[] }> }>(env().service, "GET", "/webhooks");
    expect(global.webhooks).toMatchObject([{ event_id: null, event_types: ["event.closed"] }]);
    expectNoProblems(watched, expectedProblems);
  });
});
