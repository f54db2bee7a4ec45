// Preview first (issue 15): how long from "the guest picked the files" to "the organiser's live
// socket announces a viewable photo" (a photo message with a thumbnail URL: the guest's preview,
// or the server's thumbnail), p50/p95 over PREVIEW_BENCH_PHOTOS (20) photos of about
// PREVIEW_BENCH_MP (4) megapixels picked at once in the guest app (headless Chromium) on a link
// throttled to PREVIEW_BENCH_KBIT (2000) kbit/s up with CDP network emulation, against
// `wrangler dev` on fresh local state: once with previews, once without.
//
// The guest's page goes through the flaky proxy (test/e2e/lib/flaky-proxy.ts: connections cut
// after 0.6–1.6 MB each way, 2% of answers dropped, as in the browser test of twenty photos), so the
// engine's retries are part of the figure; the proxy's cuts are printed with it.
//
// "Without" is the same guest app with every preview refused (415), so it still makes previews
// (tens of milliseconds a photo, off the main thread) but sends only originals, as before.
// Run: node bench/preview-bench.ts
import { chromium, type Browser } from "playwright-core";
import { Service, type CreatedEvent } from "../scripts/lib/dev-server.ts";
import { FlakyProxy } from "../test/e2e/lib/flaky-proxy.ts";
import { positiveInt, runOnStack } from "./common.mjs";
import { photoLikeJpeg } from "./photo-like.ts";

const photoCount = positiveInt("PREVIEW_BENCH_PHOTOS", 20);
const megapixels = Number(process.env.PREVIEW_BENCH_MP ?? 4);
const uploadBytesPerSecond = (positiveInt("PREVIEW_BENCH_KBIT", 2000) * 1000) / 8;

interface LivePhoto {
  filename: string;
  urls: { thumb_256?: string | null };
}

async function adminCall<T>(service: Service, method: string, pathname: string): Promise<T> {
  const response = await fetch(`${service.origin}/api/v1/admin${pathname}`, { method, headers: { authorization: `Bearer ${service.adminToken}` } });
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Listens on the event's live channel; `viewableAt` gets the first moment each file's photo had an image. */
async function organiserSocket(service: Service, event: CreatedEvent) {
  const { url } = await adminCall<{ url: string }>(service, "POST", `/events/${event.event_id}/live`);
  const socket = new WebSocket(url);
  const viewableAt = new Map<string, number>();
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(String(message.data)) as { type: string; photo?: LivePhoto };
    if (data.type === "photo" && data.photo?.urls.thumb_256 && !viewableAt.has(data.photo.filename)) viewableAt.set(data.photo.filename, Date.now());
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  return { socket, viewableAt };
}

async function run(service: Service, browser: Browser, photos: Array<{ name: string; mimeType: string; buffer: Buffer }>, previews: boolean) {
  const proxy = await FlakyProxy.start({ target: service.origin, cutAfterBytes: () => 600_000 + Math.floor(Math.random() * 1_000_000), dropResponseChance: 0.02 });
  const event = await service.createEvent({ name: `Preview bench (${previews ? "with" : "without"} previews)`, max_concurrent_uploads_per_device: 2 });
  const live = await organiserSocket(service, event);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 40, downloadThroughput: 2_500_000, uploadThroughput: uploadBytesPerSecond });
  if (!previews) {
    await page.route("**/uploads/*/preview", (route) =>
      route.fulfill({ status: 415, contentType: "application/json", body: JSON.stringify({ error: { code: "unsupported_type", message: "No previews in this run." } }) }),
    );
  }
  // The page itself loads whole; its uploads go through the cuts.
  proxy.flaky = false;
  await page.goto(`${proxy.origin}/join/${event.join_token}`);
  await page.getByRole("button", { name: "Choose photos" }).waitFor();
  proxy.flaky = true;
  // The guest's pick is the input's change event: Playwright's copying of the files into the page before it is no part of it.
  await page.evaluate(`document.querySelector('input[type="file"]').addEventListener("change", () => (window.pickedAt = Date.now()), { capture: true, once: true })`);
  await page.setInputFiles('input[type="file"]', photos);
  const pickedAt = await page.evaluate<number>("window.pickedAt");
  const deadline = pickedAt + 15 * 60_000;
  while (live.viewableAt.size < photos.length) {
    if (Date.now() > deadline) throw new Error(`only ${live.viewableAt.size} of ${photos.length} photos became viewable`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  live.socket.close();
  await context.close();
  await proxy.close();
  return { times: [...live.viewableAt.values()].map((at) => at - pickedAt).sort((a, b) => a - b), cuts: proxy.stats.cuts + proxy.stats.droppedResponses };
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

await runOnStack("bench-preview-", async (stack) => {
  const [service, browser] = await Promise.all([
    Service.start(stack),
    chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-background-networking"] }),
  ]);
  try {
    const made = await Promise.all(Array.from({ length: photoCount }, () => photoLikeJpeg(megapixels)));
    const photos = made.map(({ bytes }, i) => ({ name: `BENCH_${String(i + 1).padStart(2, "0")}.jpg`, mimeType: "image/jpeg", buffer: bytes }));
    const total = photos.reduce((sum, photo) => sum + photo.buffer.length, 0);
    console.log(`${photoCount} photos of ${megapixels} MP (${(total / photoCount / 1e6).toFixed(2)} MB each, ${(total / 1e6).toFixed(1)} MB in all) at ${(uploadBytesPerSecond * 8) / 1000} kbit/s up`);
    console.log("pick → organiser's live socket announces a viewable photo (through the flaky proxy; target: p95 under 6 s with previews):");
    for (const previews of [true, false]) {
      const { times, cuts } = await run(service, browser, photos, previews);
      console.log(
        `  ${previews ? "with previews   " : "without previews"}  first ${seconds(times[0]!)}  p50 ${seconds(percentile(times, 50))}  p95 ${seconds(percentile(times, 95))}  last ${seconds(times.at(-1)!)}  (${cuts} connections cut or answers dropped)`,
      );
    }
  } finally {
    await browser.close();
  }
});
