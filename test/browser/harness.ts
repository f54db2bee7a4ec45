/**
 * What the browser tests share: the service under `wrangler dev` (scripts/lib/dev-server.ts)
 * serving the built web apps, headless Chromium (Debian's, through playwright-core), pages that
 * record every console error and CSP violation, screenshots, and a guest's upload through the
 * plain guest API.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import jsQR from "jsqr";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { DevStack, root, Service, type CreatedEvent } from "../../scripts/lib/dev-server";
import { makeJpeg } from "../fixtures/photos";

export const screenshotDir = path.join(root, "test-results/screenshots");

export interface BrowserStack {
  stack: DevStack;
  service: Service;
  browser: Browser;
}

/**
 * A test file's service and browser: started before its tests, after the `beforeAll` hooks the
 * file registered earlier (so `vars`, which go to the service, may use what those set up), and
 * stopped after them. A failed test prints the service's last output lines: what the server did
 * is half the story. The answer reads the started stack.
 */
export function setUpBrowserStack(prefix: string, vars: () => Record<string, string> = () => ({})): () => BrowserStack {
  let started: BrowserStack | undefined;
  beforeAll(async () => {
    started = await startBrowserStack(prefix, vars());
  });
  afterAll(async () => {
    await started?.browser.close();
    await started?.stack.stop();
  });
  afterEach(async (context) => {
    if (context.task.result?.state !== "fail" || !started) return;
    console.log(`wrangler dev's last output:\n${started.service.server.recent.join("\n")}`);
    // The pages the failed test left open (a passing test closes its own): where each one was,
    // and what it showed, in test-results/screenshots/failed-*.png.
    const pages = started.browser.contexts().flatMap((browserContext) => browserContext.pages());
    for (const [index, page] of pages.entries()) {
      const name = `failed-${prefix}${index + 1}`;
      await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true, timeout: 10_000 }).catch(() => {});
      console.log(`open page ${index + 1}: ${page.url()} (screenshot: test-results/screenshots/${name}.png)`);
    }
  });
  return () => {
    if (!started) throw new Error("The browser stack is not started: it starts in setUpBrowserStack's beforeAll.");
    return started;
  };
}

async function startBrowserStack(prefix: string, vars: Record<string, string>): Promise<BrowserStack> {
  mkdirSync(screenshotDir, { recursive: true });
  const stack = DevStack.create(prefix);
  try {
    const [service, browser] = await Promise.all([
      Service.start(stack, vars),
      chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update"],
      }),
    ]);
    return { stack, service, browser };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** The headers a `_headers` file gives a path, as Cloudflare Pages applies it: every block whose pattern (exact, or a prefix ending in *) matches. */
function headersFor(file: string, pathname: string): Record<string, string> {
  const headers: Record<string, string> = {};
  let applies = false;
  for (const line of file.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      const pattern = line.trim();
      applies = pattern.endsWith("*") ? pathname.startsWith(pattern.slice(0, -1)) : pathname === pattern;
    } else if (applies) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  return headers;
}

const staticTypes: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".txt": "text/plain" };

export interface StaticSite {
  origin: string;
  /** Builds the standalone dashboard (scripts/build-web.mjs with VITE_API_ORIGIN) into the directory this site serves. */
  buildDashboard(apiOrigin: string): void;
  close(): void;
}

/**
 * The standalone dashboard's build (web/dashboard/dist) served on an origin of its own, as
 * Cloudflare Pages serves it: its files (never `_headers` itself) with `_headers` applied.
 */
export function startDashboardSite(): Promise<StaticSite> {
  const siteDir = path.join(root, "web/dashboard/dist");
  const server = createServer((request, response) => {
    const pathname = new URL(request.url ?? "/", "http://site").pathname;
    const file = path.join(siteDir, pathname.endsWith("/") ? `${pathname}index.html` : pathname);
    if (!file.startsWith(siteDir) || path.basename(file) === "_headers" || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    const headers = headersFor(readFileSync(path.join(siteDir, "_headers"), "utf8"), pathname);
    response.writeHead(200, { ...headers, "content-type": staticTypes[path.extname(file)] ?? "application/octet-stream" });
    response.end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        buildDashboard: (apiOrigin) =>
          execFileSync(process.execPath, [path.join(root, "scripts/build-web.mjs")], { cwd: root, env: { ...process.env, VITE_API_ORIGIN: apiOrigin }, stdio: "inherit" }),
        close: () => server.close(),
      }),
    ),
  );
}

/** A page plus what went wrong in it: console errors, uncaught exceptions, CSP violations. */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/**
 * Listens for CSP violations from before any of the page's own scripts run (an init script
 * comes from the browser, not the page, so the page's CSP does not apply to it).
 */
const reportCspViolations = `
  document.addEventListener("securitypolicyviolation", (event) => {
    console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline"));
  });
`;

export async function openPage(browser: Browser, options: { viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, acceptDownloads: options.acceptDownloads ?? false });
  await context.addInitScript({ content: reportCspViolations });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  // A script that got in through a filename would show itself as a dialog.
  page.on("dialog", (dialog) => {
    if (dialog.type() !== "confirm") problems.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
    void dialog.accept();
  });
  return { context, page, problems };
}

/** A Screen Wake Lock that counts the locks held (`wakeLocksHeld`): headless Chromium grants none. */
export const countingWakeLock = `
  window.wakeLocksHeld = 0;
  Object.defineProperty(navigator, "wakeLock", {
    value: {
      request: async () => {
        window.wakeLocksHeld++;
        return { released: false, async release() { if (!this.released) { this.released = true; window.wakeLocksHeld--; } } };
      },
    },
  });
`;

/** Saves a screenshot of the whole page (or one element) as test-results/screenshots/{name}.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true, animations: "disabled" });
}

/** Decodes the QR code an element shows, from a screenshot of it. */
export async function readQr(page: Page, selector: string): Promise<string | null> {
  const png = PNG.sync.read(await page.locator(selector).screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
}

/** Signs in to the dashboard (the one the service serves, unless `dashboardUrl` says where) with the service's admin token. */
export async function signIn(page: Page, service: Service, dashboardUrl = `${service.origin}/admin/`): Promise<void> {
  await page.goto(dashboardUrl);
  await page.getByLabel("Admin token").fill(service.adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect.poll(() => page.getByRole("heading", { name: "Events", level: 1 }).isVisible()).toBe(true);
}

/** An admin API call with the service's token; the body is the JSON answer. */
export async function admin<T = Record<string, unknown>>(service: Service, method: string, pathname: string, body?: unknown): Promise<T> {
  const response = await fetch(`${service.origin}/api/v1/admin${pathname}`, {
    method,
    headers: { authorization: `Bearer ${service.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

let photoCount = 0;

/** A photo-like JPEG with camera metadata; each call's pixels differ (no duplicates). */
export function testJpeg(): Uint8Array {
  photoCount++;
  return makeJpeg({ width: 640 + photoCount * 8, height: 480, exif: { make: "Canon", model: "EOS R6", takenAt: "2026:06:14 17:03:22" } });
}

/** A unique JPEG of about `size` bytes: the harness's photo with high-byte filler in comment segments. */
export function photoOfSize(size: number): Buffer {
  const jpeg = Buffer.from(testJpeg());
  const comments: Buffer[] = [];
  for (let left = size - jpeg.length; left > 4; left -= comments.at(-1)!.length) {
    const payload = crypto.getRandomValues(new Uint8Array(Math.min(65_533, left - 4))).map((byte) => byte | 0x80);
    comments.push(Buffer.concat([Buffer.from([0xff, 0xfe, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]));
  }
  const at = jpeg[3] === 0xe0 ? 4 + jpeg.readUInt16BE(4) : 2;
  return Buffer.concat([jpeg.subarray(0, at), ...comments, jpeg.subarray(at)]);
}

/** Uploads `bytes` as a guest would, in one chunk of the guest API; resolves with the photo id. */
export async function guestUpload(service: Service, event: CreatedEvent, filename: string, bytes: Uint8Array = testJpeg(), contentType = "image/jpeg"): Promise<string> {
  const base = `${service.origin}/api/v1/events/${event.join_token}/uploads`;
  const created = await fetch(base, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename, size: bytes.length, content_type: contentType, device_id: `browser-test-${photoCount}-${Date.now()}` }),
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const { upload_id: uploadId, upload_key: uploadKey } = (await created.json()) as { upload_id: string; upload_key: string };
  const chunk = await fetch(`${base}/${uploadId}/chunk`, {
    method: "PUT",
    headers: { "upload-key": uploadKey, "content-range": `bytes 0-${bytes.length - 1}/${bytes.length}` },
    body: new Uint8Array(bytes),
  });
  expect(chunk.status, await chunk.text()).toBe(204);
  const completed = await fetch(`${base}/${uploadId}/complete`, { method: "POST", headers: { "upload-key": uploadKey } });
  expect(completed.status).toBe(201);
  return ((await completed.json()) as { photo_id: string }).photo_id;
}

/** Waits until processing is done with a photo (the queue consumer runs by itself in wrangler dev). */
export async function waitUntilProcessed(service: Service, eventId: string, photoId: string): Promise<{ status: string; approved: boolean }> {
  let photo = { status: "processing", approved: false };
  await expect
    .poll(
      async () => {
        photo = await admin(service, "GET", `/events/${eventId}/photos/${photoId}`);
        return photo.status;
      },
      { timeout: 60_000, interval: 250 },
    )
    .not.toBe("processing");
  return photo;
}

/**
 * Fails with the list of problems a page had (console errors, CSP violations, dialogs), except
 * those `expected` matches (say, failed requests while a test has the server down on purpose).
 */
export function expectNoProblems(watched: WatchedPage, expected?: RegExp): void {
  expect(watched.problems.filter((problem) => !expected?.test(problem))).toEqual([]);
}

const axeSource = readFileSync(path.join(root, "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * axe-core's serious and critical WCAG 2 A/AA violations on the page as it is now. axe is
 * evaluated through the DevTools protocol, which the page's CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(`${axeSource}\n;0`);
  return page.evaluate(`
    axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }).then((results) =>
      results.violations
        .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
        .map((violation) => violation.id + ": " + violation.nodes.map((node) => node.target.join(" ")).join(", ")))
  `);
}
