// What the benches share: knobs, a bounded worker pool, digests, and running on a DevStack that
// is torn down however the run ends.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DevStack, Service, root } from "../scripts/lib/dev-server.ts";

export const MiB = 1024 * 1024;

export function positiveInt(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** Runs `work(item, index)` over `items` with at most `limit` in flight; resolves to the results in order. */
export async function pool(items, limit, work) {
  const results = new Array(items.length);
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return results;
}

export const wranglerVersion = () => JSON.parse(readFileSync(path.join(root, "node_modules/wrangler/package.json"), "utf8")).version;

/**
 * Runs `main(stack)` on a fresh DevStack (temporary persist dir), then stops its Workers and
 * removes the directory, also on Ctrl-C. Sets a non-zero exit code if `main` throws.
 */
export async function runOnStack(prefix, main) {
  const stack = DevStack.create(prefix);
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping wrangler and removing ${stack.dir}`);
      stack.stop().finally(() => process.exit(130));
    });
  }
  try {
    await main(stack);
  } catch (error) {
    if (!interrupted) console.error(`bench failed: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

// ---- the guest API, bare -------------------------------------------------------------------

/** fetch + reading the whole answer, timed together; throws unless the status is `expected`. */
export async function call(times, what, url, init, expected) {
  const started = performance.now();
  const response = await fetch(url, init);
  const body = Buffer.from(await response.arrayBuffer());
  times?.push(performance.now() - started);
  if (response.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${response.status} ${body.toString("utf8").slice(0, 500)}`);
  }
  return { response, body };
}

export function putInit(bytes, headers = {}) {
  return { method: "PUT", body: bytes, headers: { "content-length": String(bytes.byteLength), ...headers } };
}

/**
 * One file through the guest API, as the upload engine sends it: create, sequential chunks of
 * `chunkChoice` bytes (null: the server's chunk_size), the last one completing the upload
 * (`Upload-Complete: ?1`). Times go to `times.create`, `times.chunk` and `times.last` (the last
 * chunk with the completion). Returns its R2 key, upload id and the chunk size it used.
 */
export async function guestUpload(uploadsUrl, { name, bytes, sha256: digest }, chunkChoice, times, deviceId = "bench-device-0001") {
  const created = await call(times?.create, `create ${name}`, uploadsUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: name, size: bytes.length, content_type: "image/jpeg", device_id: deviceId, sha256: digest }),
  }, 201);
  const { upload_id: id, upload_key: key, chunk_size: serverChunkSize } = JSON.parse(created.body);
  const chunkSize = chunkChoice ?? serverChunkSize;
  for (let start = 0; ; start += chunkSize) {
    const end = Math.min(start + chunkSize, bytes.length);
    const last = end === bytes.length;
    const { response, body } = await call(
      last ? times?.last : times?.chunk,
      `chunk ${start}-${end - 1} of ${name}`,
      `${uploadsUrl}/${id}/chunk`,
      putInit(bytes.subarray(start, end), { "upload-key": key, "content-range": `bytes ${start}-${end - 1}/${bytes.length}`, ...(last ? { "upload-complete": "?1" } : {}) }),
      last ? 201 : 204,
    );
    if (response.headers.get("upload-offset") !== String(end)) {
      throw new Error(`chunk of ${name} ending at ${end}: Upload-Offset is ${response.headers.get("upload-offset")}`);
    }
    if (last) return { key: JSON.parse(body).file_path, id, chunkSize };
  }
}

// ---- the counted build (bench/counted/) ---------------------------------------------------------

/**
 * The service with its billed bindings counted: wrangler.toml as it is, but for `main`
 * (bench/counted/index.ts) and its relative paths made absolute, written into the stack's directory.
 */
export async function startCountedService(stack) {
  const original = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const config = original
    .replace(/^main = "src\/index\.ts"$/m, `main = ${JSON.stringify(path.join(root, "bench/counted/index.ts"))}`)
    .replaceAll(/^(migrations_dir|directory) = "([^"]+)"$/gm, (_, key, dir) => `${key} = ${JSON.stringify(path.join(root, dir))}`);
  if (!config.includes("bench/counted/index.ts")) throw new Error('wrangler.toml has no `main = "src/index.ts"` line to point at bench/counted/');
  const file = path.join(stack.dir, "counted-wrangler.toml");
  writeFileSync(file, config);
  return Service.start(stack, {}, file);
}

/** The counted build's operation counters (bench/counted/index.ts); `reset` zeroes them (and returns the last). */
export async function operations(service, { reset = false } = {}) {
  const response = await fetch(`${service.origin}/api/__bench/ops`, { method: reset ? "DELETE" : "GET" });
  if (response.status !== 200) throw new Error(`the service is not the counted build: /api/__bench/ops answered ${response.status}`);
  return response.json();
}

/** Holds the counted build's photo jobs (`hold`), or sends those held (`release`). */
export async function photoJobs(service, action) {
  const response = await fetch(`${service.origin}/api/__bench/queue/${action}`, { method: "POST" });
  if (response.status !== 200) throw new Error(`the service is not the counted build: /api/__bench/queue/${action} answered ${response.status}`);
  return response.json();
}

/** R2's operation classes (https://developers.cloudflare.com/r2/pricing/): deletes and aborts are free. */
const R2_CLASSES = {
  put: "A", createMultipartUpload: "A", uploadPart: "A", completeMultipartUpload: "A", list: "A",
  get: "B", head: "B",
  delete: "free", abortMultipartUpload: "free",
};

/** `{A, B, free, byOperation}` from the counters' R2 operations. */
export function r2ByClass(r2) {
  const classes = { A: 0, B: 0, free: 0 };
  for (const [operation, count] of Object.entries(r2)) {
    const kind = R2_CLASSES[operation];
    if (!kind) throw new Error(`R2 operation ${operation} has no class in bench/common.mjs`);
    classes[kind] += count;
  }
  return { ...classes, byOperation: Object.entries(r2).map(([operation, count]) => `${operation} ${count}`).join(", ") };
}

/**
 * Cloudflare list prices in USD per unit, beyond each plan's included usage (the marginal cost of
 * one more photo), Workers Paid. Read 2026-11-29 from developers.cloudflare.com (Workers,
 * Durable Objects, R2, D1, Queues pricing pages) except where marked. SQLite-backed Durable
 * Objects' rows read and written are priced as D1's. Not counted: Workers CPU time ($0.02 per
 * million CPU ms), Durable Object duration ($12.50 per million GB-s), storage (GB-months).
 */
export const PRICES = {
  date: "2026-11-29",
  workerRequest: 0.3 / 1e6,
  durableObjectRequest: 0.15 / 1e6,
  r2ClassA: 4.5 / 1e6,
  r2ClassB: 0.36 / 1e6,
  d1RowRead: 0.001 / 1e6,
  d1RowWritten: 1.0 / 1e6,
  // Per 64 KB written, read or deleted: a job delivered once is 3 operations.
  queueOperation: 0.4 / 1e6,
  // ASSUMPTION (not re-read for this table): $0.50 per 1,000 unique transformations, after 5,000 a month.
  imagesTransformation: 0.5 / 1e3,
};

/** What commercial guest-photo apps charge for 1,000 uploads (issue 13), for comparison. */
export const COMMERCIAL_PER_1000_UPLOADS = 49;

/**
 * The billed operations in `ops` divided over `photos`, each with its cost per 1,000 photos at
 * PRICES; returns the printable table and the total.
 */
export function costPerThousandPhotos(ops, photos) {
  const r2 = r2ByClass(ops.r2);
  // Queues: every message sent is written once and deleted once; every delivery (retries too) is a read.
  const queueOps = 2 * ops.queue.sent + ops.queue.delivered;
  const rows = [
    ["Worker requests (HTTP + queue batches)", ops.workerRequests + ops.queueInvocations, PRICES.workerRequest],
    ["Durable Object requests (calls + alarms)", ops.durableObjectRequests + ops.durableObjectAlarms, PRICES.durableObjectRequest],
    ["R2 class A", r2.A, PRICES.r2ClassA],
    ["R2 class B", r2.B, PRICES.r2ClassB],
    [`D1 rows read (${ops.d1.rowsReadFromRowsReturned} of ${ops.d1.rowsRead} as rows returned: a lower bound)`, ops.d1.rowsRead, PRICES.d1RowRead],
    ["D1 rows written", ops.d1.rowsWritten, PRICES.d1RowWritten],
    ["Durable Object SQLite rows read (upload sessions)", ops.durableObjectSql.rowsRead, PRICES.d1RowRead],
    ["Durable Object SQLite rows written (upload sessions)", ops.durableObjectSql.rowsWritten, PRICES.d1RowWritten],
    ["Queue operations", queueOps, PRICES.queueOperation],
    ["Images transformations (assumed price)", ops.imagesTransformations, PRICES.imagesTransformation],
  ];
  let total = 0;
  const lines = rows.map(([label, count, price]) => {
    const dollars = (count / photos) * price * 1000;
    total += dollars;
    return `  ${label.padEnd(62)}${(count / photos).toFixed(2).padStart(9)}  $${dollars.toFixed(4).padStart(8)}`;
  });
  const table = [
    `  ${`billed operation (list prices of ${PRICES.date})`.padEnd(62)}${"per photo".padStart(9)}  per 1,000 photos`,
    ...lines,
    `  ${"total".padEnd(62)}${"".padStart(9)}  $${total.toFixed(4).padStart(8)}   (commercial guest-photo apps: ~$${COMMERCIAL_PER_1000_UPLOADS} per 1,000 uploads)`,
    `  R2 operations: ${r2.byOperation}`,
  ].join("\n");
  return { table, total };
}
