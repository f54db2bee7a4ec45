// `npm run load`: a venue's worth of guests at once against `wrangler dev` on fresh local state
// (issues 8 and 13). Prints figures; exits non-zero only if an upload fails or a stored byte differs.
//
//   1. LOAD_GUESTS (100) guests at once, each uploading one photo of 2–7 MB through the guest API
//      with the upload engine (web/engine), then waiting until it is `ready`: once with the
//      engine's own chunking (the server's chunk_size, adapting), once with chunks forced to
//      1 MiB (LOAD_CHUNKS, "default,1"); for each, what a photo cost from create to `ready`,
//      counted through the bench build's wrapped bindings (bench/counted/) and priced at list
//      prices (bench/common.mjs, PRICES);
//   2. the same photos through tus-js-client (1 MiB PATCHes), at the same concurrency;
//   3. the same bytes through bench/bare (one R2 put per file), at the same concurrency, before
//      and after the runs above (the ratios are to the mean of the two), and as
//      many bare creates at once (one D1 insert and one new SQLite Durable Object each: the floor
//      under the guest API's create latency on this machine);
//   4. a LOAD_BIG_MIB (250) MiB upload next to a 25 MiB one (the event's size cap raised): peak
//      workerd RSS of each.
// Every stored original is read back and compared (SHA-256) with its source.
//
// Photo jobs are held (bench/counted/) until every upload of a run has its last byte, then sent at
// once: locally the queue consumer shares the one isolate thread that serves the uploads, which
// production never does, so uploads are measured alone and processing after them ("released →
// ready", from D1's processed_at). Guests' engines poll their batches as on
// phones (every 1–8 s). Latencies are measured at the client (fetch), so they include the local
// network stack.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import sharp from "sharp";
import { Upload } from "tus-js-client";
import { startBareWorker, type DevStack, type DevServer, type Service } from "../scripts/lib/dev-server.ts";
import { UploadEngine } from "../web/engine/engine.ts";
import { isSettled } from "../web/engine/views.ts";
import { costPerThousandPhotos, MiB, operations, photoJobs, positiveInt, runOnStack, sha256, startCountedService, type Operations } from "./common.mjs";

const guests = positiveInt("LOAD_GUESTS", 100);
const bigSize = positiveInt("LOAD_BIG_MIB", 250) * MiB;
/** tus-js-client's chunkSize. */
const TUS_CHUNK = MiB;
/** The engine's chunk ceilings, one guest run each; null: the engine's own (the server's chunk_size). */
const chunkChoices = (process.env.LOAD_CHUNKS ?? "default,1").split(",").map((value) => {
  if (value.trim() === "default") return null;
  const mib = Number(value);
  if (!(mib > 0)) throw new Error(`LOAD_CHUNKS: "${value}" is neither a positive number of MiB nor "default"`);
  return Math.round(mib * MiB);
});
const choiceLabel = (choice: number | null) => (choice === null ? "the engine's own chunking" : `chunks forced to ${choice / MiB} MiB`);

interface Photo {
  name: string;
  bytes: Buffer;
}

/** A real JPEG of about `approxBytes` (noise pixels at quality 100 ≈ 2.9 bytes a pixel), so processing makes a photo of it. */
async function noiseJpeg(approxBytes: number): Promise<Buffer> {
  const width = Math.max(16, Math.round(Math.sqrt((approxBytes / 2.92) * (4 / 3))));
  const height = Math.max(16, Math.round((width * 3) / 4));
  const pixels = randomBytes(width * height * 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer();
}

const percentile = (values: number[], p: number) => {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const ms = (value: number) => `${value.toFixed(0)} ms`;
const p50p95 = (values: number[]) => `p50 ${ms(percentile(values, 50))}, p95 ${ms(percentile(values, 95))} (n=${values.length})`;
const mbps = (bytes: number, millis: number) => bytes / 1e6 / (millis / 1000);

/** Peak resident memory of the service's workerd while `work` runs, sampled every 100 ms. */
async function peakRss<T>(server: DevServer, stack: DevStack, work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  const pids = workerdPids(stack, server);
  let peak = 0;
  const sample = () => {
    for (const pid of pids) {
      try {
        const rss = Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) * 1024;
        peak = Math.max(peak, rss);
      } catch {
        // The process went away.
      }
    }
  };
  sample();
  const timer = setInterval(sample, 100);
  try {
    const result = await work();
    sample();
    return { result, peakMiB: peak / MiB };
  } finally {
    clearInterval(timer);
  }
}

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux everywhere in practice). */
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/**
 * CPU time (user + system) the Worker's workerd processes have used so far, in ms. Locally one
 * workerd thread runs the Worker, its Durable Objects and the emulated R2, D1 and Queues, so CPU
 * per photo, not the link, sets how fast uploads go here.
 */
function workerdCpuMs(server: DevServer, stack: DevStack): number {
  return workerdPids(stack, server).reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return sum + ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  }, 0);
}

/** The workerd processes of the service's `wrangler dev`: same process group as the wrangler serving its port. */
function workerdPids(stack: DevStack, server: DevServer): number[] {
  const processes = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return { pid: Number(pid), group: Number(fields[2]), cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ") };
      } catch {
        return null;
      }
    })
    .filter((entry) => entry !== null);
  const port = new URL(server.origin).port;
  const wrangler = processes.find((entry) => entry.cmdline.includes("wrangler") && entry.cmdline.includes(stack.dir) && entry.cmdline.includes(`--port ${port}`));
  if (!wrangler) throw new Error("cannot find the service's wrangler process");
  const workerds = processes.filter((entry) => entry.group === wrangler.group && entry.cmdline.includes("workerd"));
  if (!workerds.length) throw new Error("cannot find the service's workerd process");
  return workerds.map((entry) => entry.pid);
}

/** Polls the admin API until every named photo of the event is ready. */
async function untilReady(service: Service, eventId: string, names: string[], limitMs = 600_000): Promise<void> {
  const seen = new Set<string>();
  const started = Date.now();
  while (seen.size < names.length) {
    if (Date.now() - started > limitMs) throw new Error(`only ${seen.size} of ${names.length} photos ready after ${limitMs} ms`);
    let cursor: string | null = null;
    do {
      const response = await fetch(`${service.origin}/api/v1/admin/events/${eventId}/photos?limit=200${cursor ? `&cursor=${cursor}` : ""}`, {
        headers: { authorization: `Bearer ${service.adminToken}` },
      });
      const page = (await response.json()) as { photos: Array<{ filename: string; status: string }>; next_cursor: string | null };
      for (const photo of page.photos) if (photo.status === "ready") seen.add(photo.filename);
      const failed = page.photos.find((photo) => photo.status === "failed");
      if (failed) throw new Error(`${failed.filename} failed processing`);
      cursor = page.next_cursor;
    } while (cursor);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Each photo's stored original (found through D1, read through bench/bare) has its source's bytes. */
async function expectStoredOriginals(stack: DevStack, bare: DevServer, eventId: string, photos: Photo[]): Promise<void> {
  const rows = stack.query<{ filename: string; r2_key: string }>(`SELECT filename, r2_key FROM upload_sessions WHERE event_id = '${eventId}' AND status = 'completed'`);
  const keys = new Map(rows.map((row) => [row.filename, row.r2_key]));
  for (const photo of photos) {
    const key = keys.get(photo.name);
    if (!key) throw new Error(`${photo.name}: no completed upload`);
    const stored = Buffer.from(await (await fetch(`${bare.origin}/${key}`)).arrayBuffer());
    if (sha256(stored) !== sha256(photo.bytes)) throw new Error(`${photo.name}: the stored original differs from the source`);
  }
}

/** The guests at once through the upload engine; counts the billed operations from the first create until every photo is ready. */
async function guestApiRun(service: Service, stack: DevStack, photos: Photo[], chunkChoice: number | null) {
  const event = await service.createEvent({ name: `load: guest API, ${choiceLabel(chunkChoice)}` });
  await operations(service, { reset: true });
  await photoJobs(service, "hold");
  const latencies = { create: [] as number[], chunk: [] as number[], last: [] as number[] };
  const lastByteAt = new Map<string, number>();
  let failures = 0;
  const started = Date.now();
  const cpuBefore = workerdCpuMs(service.server, stack);
  const engines = await Promise.all(
    photos.map(async (photo) => {
      const timedFetch: typeof fetch = async (input, init) => {
        const begun = performance.now();
        const response = await fetch(input, init);
        const took = performance.now() - begun;
        const path = new URL(String(input)).pathname;
        // The engine's last chunk completes the upload (Upload-Complete); a separate complete only follows a lost answer.
        const completes = new Headers(init?.headers).get("upload-complete") === "?1" || path.endsWith("/complete");
        if (completes) {
          latencies.last.push(took);
          if (response.ok) lastByteAt.set(photo.name, Date.now());
        } else if (init?.method === "PUT" && path.endsWith("/chunk")) latencies.chunk.push(took);
        else if (init?.method === "POST" && path.endsWith("/uploads")) latencies.create.push(took);
        return response;
      };
      // The engine's own polling of batch snapshots (every 1–8 s), as on guests' phones.
      const engine = await UploadEngine.open({
        origin: service.origin,
        joinToken: event.join_token,
        fetch: timedFetch,
        concurrency: 1,
        ...(chunkChoice === null ? {} : { chunking: { maxBytes: chunkChoice } }),
      });
      await engine.add([new File([photo.bytes], photo.name, { type: "image/jpeg" })]);
      await bytesArrived(engine);
      return engine;
    }),
  );
  const uploadedMs = Math.max(...lastByteAt.values()) - started;
  const cpuPerPhoto = (workerdCpuMs(service.server, stack) - cpuBefore) / photos.length;
  const releasedAt = Date.now();
  await photoJobs(service, "release");
  for (const engine of engines) {
    const final = await engine.settled();
    if (final.files.some((file) => file.state !== "done")) failures++;
    await engine.stop();
  }
  // Every engine settled: each photo is ready (or failed); nothing of the bench's own is counted.
  const counted: Operations = await operations(service);
  const ready = processedTimes(stack, event.event_id);
  const serverCreateMs = service.server.logs
    .filter((entry) => entry.method === "POST" && entry.route === "/api/v1/events/:token/uploads" && entry.event_id === event.event_id)
    .map((entry) => Number(entry.ms));
  return { event, latencies, serverCreateMs, failures, uploadedMs, cpuPerPhoto, counted, toReady: photos.map((photo) => ready.get(photo.name)! - releasedAt) };
}

/** When each photo of the event was processed (D1's `processed_at`, read from the local state). */
function processedTimes(stack: DevStack, eventId: string): Map<string, number> {
  const rows = stack.query<{ filename: string; processed_at: number }>(`SELECT filename, processed_at FROM photos WHERE event_id = '${eventId}' AND processed_at IS NOT NULL`);
  return new Map(rows.map((row) => [row.filename, row.processed_at]));
}

/** Resolves when the engine's file is no longer on its way up: arrived (processing or done), or failed or refused. */
function bytesArrived(engine: UploadEngine): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = engine.subscribe((snapshot) => {
      if (snapshot.files.every((file) => file.state === "processing" || isSettled(file.state))) {
        queueMicrotask(() => unsubscribe());
        resolve();
      }
    });
  });
}

async function tusRun(service: Service, stack: DevStack, photos: Photo[]) {
  const event = await service.createEvent({ name: "load: tus" });
  await photoJobs(service, "hold");
  const latencies = { create: [] as number[], patch: [] as number[] };
  const lastByteAt = new Map<string, number>();
  let failures = 0;
  const started = Date.now();
  const cpuBefore = workerdCpuMs(service.server, stack);
  await Promise.all(
    photos.map(
      (photo, index) =>
        new Promise<void>((resolve) => {
          const begun = new Map<unknown, number>();
          const upload = new Upload(photo.bytes, {
            endpoint: `${service.origin}/api/v1/events/${event.join_token}/tus/`,
            metadata: { filename: photo.name, filetype: "image/jpeg", device_id: `load-tus-device-${index}` },
            chunkSize: TUS_CHUNK,
            retryDelays: [250, 500, 1000, 2000, 4000],
            onBeforeRequest: (request) => void begun.set(request, performance.now()),
            onAfterResponse: (request) => {
              const took = performance.now() - (begun.get(request) ?? performance.now());
              (request.getMethod() === "POST" ? latencies.create : latencies.patch).push(took);
            },
            onSuccess: () => {
              lastByteAt.set(photo.name, Date.now());
              resolve();
            },
            onError: () => {
              failures++;
              resolve();
            },
          });
          upload.start();
        }),
    ),
  );
  const uploadedMs = Math.max(...lastByteAt.values()) - started;
  const cpuPerPhoto = (workerdCpuMs(service.server, stack) - cpuBefore) / photos.length;
  const releasedAt = Date.now();
  await photoJobs(service, "release");
  await untilReady(service, event.event_id, [...lastByteAt.keys()]);
  const ready = processedTimes(stack, event.event_id);
  return { event, latencies, failures, uploadedMs, cpuPerPhoto, toReady: [...lastByteAt.keys()].map((name) => ready.get(name)! - releasedAt) };
}

async function bareRun(bare: DevServer, stack: DevStack, photos: Photo[], label: string) {
  const started = Date.now();
  const cpuBefore = workerdCpuMs(bare, stack);
  const latencies: number[] = [];
  let failures = 0;
  await Promise.all(
    photos.map(async (photo, index) => {
      const begun = performance.now();
      const response = await fetch(`${bare.origin}/load/${label}/${index}`, { method: "PUT", body: photo.bytes });
      latencies.push(performance.now() - begun);
      if (response.status !== 204) failures++;
    }),
  );
  return { latencies, failures, uploadedMs: Date.now() - started, cpuPerPhoto: (workerdCpuMs(bare, stack) - cpuBefore) / photos.length };
}

/**
 * The least a create can be, the same number at once: one D1 insert, then one new SQLite Durable
 * Object written once (bench/bare). Locally both are on this machine's disk and threads, so this
 * is the floor under the guest API's create latency here.
 */
async function bareCreates(bare: DevServer, count: number) {
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: count }, async () => {
      const begun = performance.now();
      const response = await fetch(`${bare.origin}/__create`, { method: "POST" });
      await response.arrayBuffer();
      if (response.status !== 201) throw new Error(`bare create: ${response.status}`);
      latencies.push(performance.now() - begun);
    }),
  );
  return latencies;
}

/** Peak workerd RSS while one file of `size` random bytes goes up through the guest API (processing will reject it: not an image). */
async function bigUpload(service: Service, stack: DevStack, bare: DevServer, size: number) {
  const event = await service.createEvent({ name: `load: ${size / MiB} MiB`, max_file_size: Math.max(300 * MiB, size) });
  const bytes = randomBytes(size);
  const engine = await UploadEngine.open({ origin: service.origin, joinToken: event.join_token, concurrency: 1 });
  const { result, peakMiB } = await peakRss(service.server, stack, async () => {
    await engine.add([new File([bytes], `big-${size / MiB}.jpg`, { type: "image/jpeg" })]);
    const started = Date.now();
    // Settles once processing has looked at it (random bytes: it is rejected as not an image).
    await engine.settled();
    return Date.now() - started;
  });
  await engine.stop();
  const row = stack.query<{ r2_key: string }>(`SELECT r2_key FROM upload_sessions WHERE event_id = '${event.event_id}' AND status = 'completed'`)[0];
  const stored = row ? Buffer.from(await (await fetch(`${bare.origin}/${row.r2_key}`)).arrayBuffer()) : null;
  return { peakMiB, ms: result, digestOk: stored !== null && sha256(stored) === sha256(bytes) };
}

await runOnStack("load-", async (stack: DevStack) => {
  const service = await startCountedService(stack);
  const bare = await startBareWorker(stack);
  console.log(`load: ${guests} guests, one photo of 2–7 MB each; generating photos…`);
  const photos: Photo[] = await Promise.all(
    Array.from({ length: guests }, async (_, i) => ({ name: `LOAD_${String(i + 1).padStart(4, "0")}.jpg`, bytes: await noiseJpeg(2e6 + (5e6 * i) / Math.max(1, guests - 1)) })),
  );
  const totalBytes = photos.reduce((sum, photo) => sum + photo.bytes.length, 0);
  console.log(`  ${(totalBytes / 1e6).toFixed(0)} MB in all`);

  // The bare puts before and after the other runs: their speed drifts over a run (15–21 MB/s
  // between two runs here), so the ratios are to the mean of the two.
  const bareBefore = await bareRun(bare, stack, photos, "before");
  const guestRuns = [];
  for (const choice of chunkChoices) {
    const run = await peakRss(service.server, stack, () => guestApiRun(service, stack, photos, choice));
    await expectStoredOriginals(stack, bare, run.result.event.event_id, photos);
    guestRuns.push({ choice, ...run });
  }
  const tus = await peakRss(service.server, stack, () => tusRun(service, stack, photos));
  await expectStoredOriginals(stack, bare, tus.result.event.event_id, photos);
  const bareAfter = await bareRun(bare, stack, photos, "after");
  const bareCreate = await bareCreates(bare, guests);
  const tusMBps = mbps(totalBytes, tus.result.uploadedMs);
  const bareRates = [bareBefore, bareAfter].map((run) => mbps(totalBytes, run.uploadedMs));
  const bareMBps = (bareRates[0]! + bareRates[1]!) / 2;
  const bareCpu = (bareBefore.cpuPerPhoto + bareAfter.cpuPerPhoto) / 2;
  /** A run's workerd CPU per photo beside the bare put's: the ratio one workerd thread allows it here. */
  const cpuLine = (cpuPerPhoto: number) =>
    `workerd CPU per photo while uploading ${ms(cpuPerPhoto)} (bare put ${ms(bareCpu)}: at most ${(bareCpu / cpuPerPhoto).toFixed(2)} of bare on one workerd thread)`;

  for (const { choice, result, peakMiB } of guestRuns) {
    const guestMBps = mbps(totalBytes, result.uploadedMs);
    console.log(`
guest API (upload engine, ${choiceLabel(choice)}): failures ${result.failures}   (target: 0)
  create   ${p50p95(result.latencies.create)}   (target: p95 < 500 ms; the bare create's p95 here: ${ms(percentile(bareCreate, 95))})
           in the Worker (its request log): ${p50p95(result.serverCreateMs)}
  chunk    ${p50p95(result.latencies.chunk)}
  last chunk, completing ${p50p95(result.latencies.last)}
  ${guestMBps.toFixed(1)} MB/s aggregate, ${(guestMBps / bareMBps).toFixed(2)} of bare (target ≥ 0.8)
  ${cpuLine(result.cpuPerPhoto)}
  processing, jobs released after the last byte → ready ${p50p95(result.toReady)}
  workerd peak RSS ${peakMiB.toFixed(0)} MiB
what a photo costs, create to ready (${guests} photos, operations counted in the bench build)
${costPerThousandPhotos(result.counted, guests).table}`);
  }
  console.log(`
tus-js-client (${TUS_CHUNK / MiB} MiB PATCHes): failures ${tus.result.failures}
  create   ${p50p95(tus.result.latencies.create)}
  PATCH    ${p50p95(tus.result.latencies.patch)}
  ${tusMBps.toFixed(1)} MB/s aggregate, ${(tusMBps / bareMBps).toFixed(2)} of bare
  ${cpuLine(tus.result.cpuPerPhoto)}
  processing, jobs released after the last byte → ready ${p50p95(tus.result.toReady)}
  workerd peak RSS ${tus.peakMiB.toFixed(0)} MiB
bare (one R2 put per file, before and after the runs above): failures ${bareBefore.failures + bareAfter.failures}
  put      ${p50p95([...bareBefore.latencies, ...bareAfter.latencies])}
  ${bareMBps.toFixed(1)} MB/s aggregate (${bareRates.map((rate) => rate.toFixed(1)).join(" before, ")} after; the ratios above are to their mean)
  create (one D1 insert, one new SQLite Durable Object; ${guests} at once, no other traffic) ${p50p95(bareCreate)}
stored originals: SHA-256 of all ${photos.length * (guestRuns.length + 1)} identical to their sources`);

  const small = await bigUpload(service, stack, bare, 25 * MiB);
  const large = await bigUpload(service, stack, bare, bigSize);
  console.log(`
memory flat in size (guest API, one upload at a time):
  25 MiB:  workerd peak RSS ${small.peakMiB.toFixed(0)} MiB (uploaded and looked at in ${(small.ms / 1000).toFixed(1)} s, stored bytes ${small.digestOk ? "identical" : "DIFFERENT"})
  ${bigSize / MiB} MiB: workerd peak RSS ${large.peakMiB.toFixed(0)} MiB (uploaded and looked at in ${(large.ms / 1000).toFixed(1)} s, stored bytes ${large.digestOk ? "identical" : "DIFFERENT"})
  ratio ${(large.peakMiB / small.peakMiB).toFixed(2)} (target ≤ 1.1)`);

  const failed = guestRuns.reduce((sum, run) => sum + run.result.failures, 0) + tus.result.failures + bareBefore.failures + bareAfter.failures;
  if (failed || !small.digestOk || !large.digestOk) throw new Error(`${failed} uploads failed or stored bytes differ`);
});
