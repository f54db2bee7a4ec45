// `npm run bench`: uploads the same random files through the guest API (1 MiB chunks by default) and through
// a bare Worker that puts each request body into R2 in one call (bench/bare/), then prints
// throughput and latency side by side. Everything runs locally under `wrangler dev` on a fresh
// temporary persist directory, which is removed at the end. Exits non-zero if any upload fails or
// any stored object's SHA-256 differs from its source.
//
// The service and the bare Worker run under `wrangler dev` from bundles, sharing one persist
// directory and bucket name (scripts/lib/dev-server.ts), so the bare Worker can read back what the
// service assembled. The phases never write from both at once.
//
// Knobs: BENCH_FILES (8), BENCH_FILE_MIB (20), BENCH_CONCURRENCY (4 files or puts in flight),
// BENCH_CHUNK_MIB (1: the guest default; 5, R2's part size, shows the engine without staging).
import { randomBytes } from "node:crypto";
import { MiB, pool, positiveInt, runOnStack, sha256, wranglerVersion } from "./common.mjs";
import { Service, startBareWorker } from "../scripts/lib/dev-server.ts";

const fileCount = positiveInt("BENCH_FILES", 8);
const fileSize = positiveInt("BENCH_FILE_MIB", 20) * MiB;
const concurrency = positiveInt("BENCH_CONCURRENCY", 4);
const chunkSize = positiveInt("BENCH_CHUNK_MIB", 1) * MiB;
const chunkLabel = `${chunkSize / MiB} MiB`;
const deviceId = "bench-device-0001";

// ---- measuring -------------------------------------------------------------------------------

/** fetch + reading the whole answer, timed together; throws unless the status is `expected`. */
async function call(times, what, url, init, expected) {
  const started = performance.now();
  const response = await fetch(url, init);
  const body = Buffer.from(await response.arrayBuffer());
  times?.push(performance.now() - started);
  if (response.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${response.status} ${body.toString("utf8").slice(0, 500)}`);
  }
  return { response, body };
}

function putInit(bytes, headers = {}) {
  return { method: "PUT", body: bytes, headers: { "content-length": String(bytes.byteLength), ...headers } };
}

/** Nearest-rank percentile of a non-empty list. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- the two paths ---------------------------------------------------------------------------

/** One file through the guest API: create, sequential chunks, complete. Returns its R2 key and upload id. */
async function guestUpload(uploadsUrl, { name, bytes, sha256: digest }, times) {
  const created = await call(times?.create, `create ${name}`, uploadsUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: name, size: bytes.length, content_type: "image/jpeg", device_id: deviceId, sha256: digest }),
  }, 201);
  const { upload_id: id, upload_key: key } = JSON.parse(created.body);
  for (let start = 0; start < bytes.length; start += chunkSize) {
    const end = Math.min(start + chunkSize, bytes.length);
    const { response } = await call(
      times?.chunk,
      `chunk ${start}-${end - 1} of ${name}`,
      `${uploadsUrl}/${id}/chunk`,
      putInit(bytes.subarray(start, end), { "upload-key": key, "content-range": `bytes ${start}-${end - 1}/${bytes.length}` }),
      204,
    );
    if (response.headers.get("upload-offset") !== String(end)) {
      throw new Error(`chunk of ${name} ending at ${end}: Upload-Offset is ${response.headers.get("upload-offset")}`);
    }
  }
  const completed = await call(times?.complete, `complete ${name}`, `${uploadsUrl}/${id}/complete`, {
    method: "POST",
    headers: { "upload-key": key },
  }, 201);
  return { key: JSON.parse(completed.body).file_path, id };
}

async function barePut(bare, key, bytes, times) {
  await call(times, `bare put ${key}`, `${bare.origin}/${key}`, putInit(bytes), 204);
  return key;
}

/** Reads `key` back through the bare Worker (it sees the service's bucket) and compares digests. */
async function verify(bare, key, expectedSha256) {
  const { body } = await call(null, `read back ${key}`, `${bare.origin}/${key}`, {}, 200);
  if (sha256(body) !== expectedSha256) throw new Error(`${key}: stored bytes differ from the source (${body.length} bytes read)`);
}

// ---- the run ---------------------------------------------------------------------------------

async function main(stack) {
  const service = await Service.start(stack);
  const bare = await startBareWorker(stack); // after the service: two workerds opening a fresh state at once can hit SQLITE_BUSY
  const event = await service.createEvent({ name: "bench", max_file_size: 64 * MiB, max_concurrent_uploads_per_device: 100, daily_upload_cap_per_device: 100000 });
  const uploadsUrl = `${service.origin}/api/v1/events/${event.join_token}/uploads`;

  const files = Array.from({ length: fileCount }, (_, i) => {
    const bytes = randomBytes(fileSize);
    return { name: `bench-${String(i + 1).padStart(3, "0")}.jpg`, bytes, sha256: sha256(bytes) };
  });
  const slices = files.flatMap((file) =>
    Array.from({ length: Math.ceil(fileSize / chunkSize) }, (_, i) => file.bytes.subarray(i * chunkSize, (i + 1) * chunkSize)),
  );

  // Warm both Workers (bundling, first R2/D1/DO use) so the timed phases see steady state.
  const warm = files[0].bytes.subarray(0, 2 * chunkSize);
  await guestUpload(uploadsUrl, { name: "warm-up.jpg", bytes: warm, sha256: sha256(warm) });
  await pool([0, 1, 2, 3], concurrency, (i) => barePut(bare, `bench/warm-up/${i}`, warm));

  const times = { create: [], chunk: [], complete: [], bareChunk: [] };
  let started = performance.now();
  const guestUploads = await pool(files, concurrency, (file) => guestUpload(uploadsUrl, file, times));
  const guestSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  const bareKeys = await pool(files, concurrency, (file, i) => barePut(bare, `bench/files/${i}`, file.bytes));
  const bareSeconds = (performance.now() - started) / 1000;

  const sliceKeys = await pool(slices, concurrency, (slice, i) => barePut(bare, `bench/chunks/${i}`, slice, times.bareChunk));

  await pool([...guestUploads.map((upload) => upload.key), ...bareKeys], concurrency, (key, i) => verify(bare, key, files[i % fileCount].sha256));
  await pool(sliceKeys, concurrency, (key, i) => verify(bare, key, sha256(slices[i])));

  // Read only now, so that the log lines of the timed uploads have surely arrived.
  const timedIds = new Set(guestUploads.map((upload) => upload.id));
  const routeKinds = {
    "/api/v1/events/:token/uploads": "create",
    "/api/v1/events/:token/uploads/:id/chunk": "chunk",
    "/api/v1/events/:token/uploads/:id/complete": "complete",
  };
  const workerMs = { create: [], chunk: [], complete: [] };
  // The service's own per-request log lines (with `ms`) give the time spent inside the Worker.
  for (const entry of service.server.logs) {
    if (entry.msg === "request" && timedIds.has(entry.upload_id) && routeKinds[entry.route]) workerMs[routeKinds[entry.route]].push(entry.ms);
  }

  // Refuse to print figures from an incomplete run.
  const expectedChunks = slices.length;
  const counts = { create: fileCount, chunk: expectedChunks, complete: fileCount };
  for (const [kind, expected] of Object.entries(counts)) {
    if (times[kind].length !== expected) throw new Error(`timed ${times[kind].length} ${kind} calls, expected ${expected}`);
    if (workerMs[kind].length !== expected) {
      throw new Error(`the service logged ${workerMs[kind].length} ${kind} requests, expected ${expected}`);
    }
  }
  if (times.bareChunk.length !== expectedChunks) throw new Error(`timed ${times.bareChunk.length} bare puts, expected ${expectedChunks}`);

  const totalBytes = fileCount * fileSize;
  const guestRate = totalBytes / 1e6 / guestSeconds;
  const bareRate = totalBytes / 1e6 / bareSeconds;
  const p = (values, q) => percentile(values, q).toFixed(1);
  const columns = (label, cells) => `  ${label.padEnd(22)}${cells.map((cell, i) => cell.padStart(i % 2 ? 8 : 12)).join("")}`;
  const latencyRow = (label, client, worker) =>
    columns(label, [p(client, 50), p(client, 95), worker ? p(worker, 50) : "-", worker ? p(worker, 95) : "-"]);

  console.log(`
upload bench: ${fileCount} files x ${fileSize / MiB} MiB, ${chunkLabel} chunks, ${concurrency} in flight (local wrangler dev ${wranglerVersion()}, node ${process.version})

throughput (MB = 10^6 bytes; guest includes create and complete)
  guest API        ${guestRate.toFixed(1).padStart(7)} MB/s  (${(totalBytes / 1e6).toFixed(1)} MB in ${guestSeconds.toFixed(2)} s)
  bare R2 put      ${bareRate.toFixed(1).padStart(7)} MB/s  (${(totalBytes / 1e6).toFixed(1)} MB in ${bareSeconds.toFixed(2)} s)
  ratio guest/bare ${(guestRate / bareRate).toFixed(2).padStart(7)}       (target >= 0.9)

latency in ms (Worker = the service's own log \`ms\`)
${columns("", ["client p50", "p95", "Worker p50", "p95"])}
${latencyRow("guest create", times.create, workerMs.create)}
${latencyRow(`guest chunk (${chunkLabel})`, times.chunk, workerMs.chunk)}
${latencyRow("guest complete", times.complete, workerMs.complete)}
${latencyRow(`bare put (${chunkLabel})`, times.bareChunk)}
  chunk p50 ratio guest/bare ${(percentile(times.chunk, 50) / percentile(times.bareChunk, 50)).toFixed(2)}x  (target <= 1.3x)

verified SHA-256 of ${fileCount} guest uploads, ${fileCount} bare files and ${slices.length} bare ${chunkLabel} objects: all match
`);
}

await runOnStack("upload-bench-", main);
