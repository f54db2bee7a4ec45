/**
 * The engine's preview makers (web/engine/previews.ts) in headless Chromium, on a page built
 * from test/browser/preview-page and served with the apps' own security headers (so the CSP's
 * worker-src and media-src are part of the test): a photo turned by its EXIF orientation comes
 * out upright; a detailed 12-megapixel photo becomes a WebP within 50 KB (its size stepped down
 * until it fits), in the worker, without a long task on the main thread; HEIC the browser
 * cannot decode gives none; a video gives the poster frame a moment into it, turned as its
 * container says.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { PhotonImage } from "@cf-wasm/photon";
import { chromium, type Browser, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { securityHeaders } from "../../web/shared/security-headers";
import { upright, storedPattern } from "../fixtures/orientation";
import { corners, makeHeic, makeJpeg, photoPixels } from "../fixtures/photos";

const fixtureDir = path.resolve(import.meta.dirname, "../fixtures");
const fixtures = new Map<string, { type: string; bytes: Uint8Array }>();
let siteDir: string;
let server: Server;
let origin: string;
let browser: Browser;
let page: Page;
const problems: string[] = [];

/**
 * A photo with fine detail everywhere (the fixture pattern plus grain in 4-pixel grains, as
 * foliage or a crowd has), so its 1024-pixel preview does not fit 50 KB at the first quality:
 * the steps down are what is tested.
 */
function detailedPhoto(width: number, height: number): Uint8Array {
  const pixels = photoPixels(width, height);
  const grain = (x: number, y: number, channel: number) => {
    let hash = Math.imul((x >> 2) * 73856093 ^ (y >> 2) * 19349663 ^ channel * 83492791, 0x5bd1e995);
    hash ^= hash >>> 15;
    return ((hash >>> 0) % 97) - 48;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      for (let channel = 0; channel < 3; channel++) pixels[i + channel] = Math.max(0, Math.min(255, pixels[i + channel]! + grain(x, y, channel)));
    }
  }
  const image = new PhotonImage(pixels, width, height);
  try {
    return image.get_bytes_jpeg(90);
  } finally {
    image.free();
  }
}

/*
 * The video fixtures (2 s, 320×240, H.264 baseline, under 3 KB each) were made with ffmpeg 5.1:
 * 0.12 s of black, then red with a blue top-left quadrant; and the same with a phone's portrait
 * rotation (the tkhd matrix 0,1,-1,0: shown turned 90° clockwise).
 *   ffmpeg -f lavfi -i color=black:s=320x240:r=25:d=0.12 -f lavfi -i color=red:s=320x240:r=25:d=1.88 \
 *     -filter_complex "[1:v]drawbox=x=0:y=0:w=160:h=120:color=blue:t=fill[b];[0:v][b]concat=n=2:v=1:a=0,format=yuv420p[v]" \
 *     -map "[v]" -c:v libx264 -profile:v baseline -preset veryslow -crf 28 -movflags +faststart poster-quadrant.mp4
 *   ffmpeg -i poster-quadrant.mp4 -c copy -metadata:s:v rotate=270 poster-rotated.mp4
 */
beforeAll(async () => {
  fixtures.set("turned-6.jpg", { type: "image/jpeg", bytes: makeJpeg({ width: 1600, height: 1200, exif: { orientation: 6 } }) });
  fixtures.set("twelve-mp.jpg", { type: "image/jpeg", bytes: detailedPhoto(4000, 3000) });
  fixtures.set("phone.heic", { type: "image/heic", bytes: makeHeic({ width: 4032, height: 3024, codedBytes: 4096 }) });
  fixtures.set("quadrant.mp4", { type: "video/mp4", bytes: readFileSync(path.join(fixtureDir, "poster-quadrant.mp4")) });
  fixtures.set("rotated.mp4", { type: "video/mp4", bytes: readFileSync(path.join(fixtureDir, "poster-rotated.mp4")) });
  fixtures.set("broken.mp4", { type: "video/mp4", bytes: crypto.getRandomValues(new Uint8Array(20_000)) });

  siteDir = mkdtempSync(path.join(tmpdir(), "preview-page-"));
  await build({
    configFile: false,
    root: path.join(import.meta.dirname, "preview-page"),
    logLevel: "warn",
    build: { outDir: siteDir, emptyOutDir: true, target: "es2022", assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  });
  const headers = securityHeaders();
  const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript" };
  server = createServer((request, response) => {
    const pathname = new URL(request.url ?? "/", "http://site").pathname;
    const fixture = fixtures.get(pathname.replace(/^\/fixtures\//, ""));
    if (pathname.startsWith("/fixtures/") && fixture) {
      response.writeHead(200, { ...headers, "content-type": fixture.type }).end(fixture.bytes);
      return;
    }
    const file = path.join(siteDir, pathname === "/" ? "index.html" : pathname);
    try {
      const bytes = readFileSync(file);
      response.writeHead(200, { ...headers, "content-type": types[path.extname(file)] ?? "application/octet-stream" }).end(bytes);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update"] });
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  await context.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (event) => console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline")));`,
  });
  page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(origin);
  await page.waitForFunction(() => document.body.dataset.ready === "true");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (siteDir) rmSync(siteDir, { recursive: true, force: true });
});

interface Made {
  type: string;
  bytes: number;
  width: number;
  height: number;
  /** The preview scaled to 96 pixels wide, as RGBA. */
  small: { width: number; height: number; pixels: number[] };
  /** The longest main-thread task while it was made, in ms. */
  longestTaskMs: number;
}

/** Makes a preview of fixture `name` in the page (a photo's in the worker, a video's poster on the main thread). */
function makePreview(name: string, kind: "photo" | "video", size: "normal" | "slow" = "normal", on: Page = page): Promise<Made | null> {
  return on.evaluate(
    async ({ name, kind, size }) => {
      const blob = await (await fetch(`/fixtures/${name}`)).blob();
      const file = new File([blob], name, { type: blob.type });
      interface Previews {
        makePhotoPreview(file: Blob, size: unknown): Promise<Blob | null>;
        makeVideoPoster(file: Blob, size: unknown): Promise<Blob | null>;
        previewSizes: Record<string, unknown>;
      }
      const { previews } = window as unknown as { previews: Previews };
      let longestTaskMs = 0;
      const observer = new PerformanceObserver((list) => list.getEntries().forEach((entry) => (longestTaskMs = Math.max(longestTaskMs, entry.duration))));
      observer.observe({ type: "longtask" });
      const made = kind === "photo" ? await previews.makePhotoPreview(file, previews.previewSizes[size]) : await previews.makeVideoPoster(file, previews.previewSizes[size]);
      observer.takeRecords().forEach((entry) => (longestTaskMs = Math.max(longestTaskMs, entry.duration)));
      observer.disconnect();
      if (!made) return null;
      // Decoded as any image would be shown: the preview carries no orientation of its own to apply.
      const bitmap = await createImageBitmap(made);
      const width = 96;
      const height = Math.round((96 * bitmap.height) / bitmap.width);
      const canvas = new OffscreenCanvas(width, height);
      const context = canvas.getContext("2d")!;
      context.drawImage(bitmap, 0, 0, width, height);
      const pixels = [...context.getImageData(0, 0, width, height).data];
      return { type: made.type, bytes: made.size, width: bitmap.width, height: bitmap.height, small: { width, height, pixels }, longestTaskMs };
    },
    { name, kind, size },
  );
}

const cornersOf = (made: Made) => corners(new Uint8Array(made.small.pixels), made.small.width, made.small.height);

describe("photo previews", () => {
  it("apply the EXIF orientation: a photo stored 1600×1200 with orientation 6 gives an upright 768×1024 WebP", async () => {
    const made = (await makePreview("turned-6.jpg", "photo"))!;
    expect(made).not.toBeNull();
    expect(made.type).toBe("image/webp");
    expect([made.width, made.height]).toEqual([768, 1024]);
    const expected = upright(storedPattern(1600, 1200), 6);
    expect(cornersOf(made)).toEqual(corners(expected.pixels, expected.width, expected.height));
    // The turn the test expects is a real one: red (stored top-left) ends top-right.
    expect(cornersOf(made).topRight).toBe("red");
  });

  it("make a detailed 12-megapixel photo into a WebP within 50 KB (stepping down from 1024 px), off the main thread; within 25 KB for a slow link", async () => {
    expect(fixtures.get("twelve-mp.jpg")!.bytes.length).toBeGreaterThan(3_000_000);
    const made = (await makePreview("twelve-mp.jpg", "photo"))!;
    expect(made.type).toBe("image/webp");
    expect(made.bytes).toBeLessThanOrEqual(50_000);
    // So much detail does not fit at 1024 px: the size stepped down (not below the floor).
    expect(Math.max(made.width, made.height)).toBeLessThan(1024);
    expect(Math.max(made.width, made.height)).toBeGreaterThanOrEqual(256);
    expect(made.width / made.height).toBeCloseTo(4 / 3, 1);
    // Decoded and encoded in a preview worker (there are two at most, taking photos in turn); the page never stalled meanwhile.
    const workers = page.workers().map((worker) => new URL(worker.url()).pathname);
    expect(workers.length).toBeGreaterThanOrEqual(1);
    expect(workers.length).toBeLessThanOrEqual(2);
    expect(workers.every((path) => /preview-worker/.test(path))).toBe(true);
    expect(made.longestTaskMs).toBeLessThan(200);
    expect(cornersOf(made)).toEqual({ topLeft: "red", topRight: "green", bottomLeft: "blue", bottomRight: "white" });

    const slow = (await makePreview("twelve-mp.jpg", "photo", "slow"))!;
    expect(slow.bytes).toBeLessThanOrEqual(25_000);
    expect(Math.max(slow.width, slow.height)).toBeLessThanOrEqual(640);
  });

  it("answer null for HEIC the browser cannot decode", async () => {
    expect(await makePreview("phone.heic", "photo")).toBeNull();
    // And the worker carries on with the next photo.
    expect((await makePreview("turned-6.jpg", "photo"))?.type).toBe("image/webp");
  });

  it("answer null at once when the worker cannot start, and start a fresh one for the next photo", async () => {
    const fresh = await page.context().newPage();
    await fresh.route("**/preview-worker-*.js", (route) => route.fulfill({ status: 404 }));
    await fresh.goto(origin);
    await fresh.waitForFunction(() => document.body.dataset.ready === "true");
    const startedAt = Date.now();
    expect(await makePreview("turned-6.jpg", "photo", "normal", fresh)).toBeNull();
    // Not the 30 s a stuck worker is given.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    await fresh.unroute("**/preview-worker-*.js");
    expect((await makePreview("turned-6.jpg", "photo", "normal", fresh))?.type).toBe("image/webp");
    await fresh.close();
  });
});

describe("video posters", () => {
  it("are the frame a moment into the video (not its black first frame), as a WebP of the video's size", async () => {
    const made = (await makePreview("quadrant.mp4", "video"))!;
    expect(made).not.toBeNull();
    expect(made.type).toBe("image/webp");
    expect([made.width, made.height]).toEqual([320, 240]);
    expect(made.bytes).toBeLessThanOrEqual(60_000);
    expect(cornersOf(made)).toEqual({ topLeft: "blue", topRight: "red", bottomLeft: "red", bottomRight: "red" });
  });

  it("are turned as the container says: a phone's portrait video (rotate 90) gives a portrait poster", async () => {
    const made = (await makePreview("rotated.mp4", "video"))!;
    expect([made.width, made.height]).toEqual([240, 320]);
    expect(cornersOf(made)).toEqual({ topLeft: "red", topRight: "blue", bottomLeft: "red", bottomRight: "red" });
  });

  it("answer null for a video the browser cannot play", async () => {
    expect(await makePreview("broken.mp4", "video")).toBeNull();
    expect(problems.filter((problem) => !/MEDIA_ERR|DEMUXER/i.test(problem))).toEqual([]);
  });
});
