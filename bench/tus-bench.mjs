// `npm run bench:tus`: uploads the same random files with tus-js-client to this service's tus
// endpoint (under `wrangler dev`, from a bundle, on a fresh temporary state) and to @tus/server
// with @tus/file-store (bench/tus-node-server.mjs, storing in the same temporary directory), and
// through this service's guest API in chunks of the same size, with the same concurrency, one
// round per chunk size, and prints the throughputs and their ratios. Exits non-zero if any upload
// fails or any stored file's SHA-256 differs from its source.
//
// The reference is a tus server doing the least a tus server can: append each PATCH to a local
// file. The service streams into R2 multipart parts through a Durable Object per upload, all
// emulated locally (workerd, miniflare), so the ratio measures that whole local stack, not
// production R2.
//
// Knobs: BENCH_FILES (8), BENCH_FILE_MIB (20), BENCH_CONCURRENCY (4 uploads in flight),
// BENCH_CHUNK_MIB (5,1: tus-js-client's chunkSize and the guest API's chunk per round; "all" = one
// PATCH or chunk per file).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { Upload } from "tus-js-client";
import { Service, root, startBareWorker } from "../scripts/lib/dev-server.ts";
import { call, guestUpload, MiB, pool, putInit, positiveInt, runOnStack, sha256, wranglerVersion } from "./common.mjs";

const fileCount = positiveInt("BENCH_FILES", 8);
const fileSize = positiveInt("BENCH_FILE_MIB", 20) * MiB;
const concurrency = positiveInt("BENCH_CONCURRENCY", 4);
const chunkSizes = (process.env.BENCH_CHUNK_MIB ?? "5,1").split(",").map((value) => {
  if (value.trim() === "all") return Infinity;
  const mib = Number(value);
  if (!(mib > 0)) throw new Error(`BENCH_CHUNK_MIB: "${value}" is neither a positive number of MiB nor "all"`);
  return mib * MiB;
});

const versionOf = (name) => JSON.parse(readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")).version;
const chunkLabel = (chunkSize) => (chunkSize === Infinity ? "whole file" : `${chunkSize / MiB} MiB`);

/** Starts bench/tus-node-server.mjs storing in `directory`; resolves once it listens. */
async function startTusNodeServer(directory) {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, "tus-node-server.mjs"), directory], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const [line] = await Promise.race([
    createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then(({ value }) => [value]),
    exited.then((code) => Promise.reject(new Error(`@tus/server exited with ${code} before listening`))),
  ]);
  return {
    origin: JSON.parse(line).origin,
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** One file through tus-js-client, no retries (a failure must fail the bench); resolves to its upload URL. */
function tusUpload(endpoint, file, chunkSize, deviceId) {
  return new Promise((resolve, reject) => {
    const upload = new Upload(file.bytes, {
      endpoint,
      chunkSize,
      retryDelays: null,
      metadata: { filename: file.name, filetype: "image/jpeg", device_id: deviceId },
      onSuccess: () => resolve(upload.url),
      onError: reject,
    });
    upload.start();
  });
}

async function timed(work) {
  const started = performance.now();
  const result = await work();
  return { result, seconds: (performance.now() - started) / 1000 };
}

async function main(stack) {
  const nodeDir = path.join(stack.dir, "tus-node-files");
  const tusNode = await startTusNodeServer(nodeDir);
  try {
    const service = await Service.start(stack);
    const bare = await startBareWorker(stack); // after the service: two workerds opening a fresh state at once can hit SQLITE_BUSY
    const event = await service.createEvent({ name: "tus bench", max_file_size: 64 * MiB, max_concurrent_uploads_per_device: 100, daily_upload_cap_per_device: 100000 });
    const targets = {
      service: `${service.origin}/api/v1/events/${event.join_token}/tus/`,
      node: `${tusNode.origin}/files/`,
    };
    const uploadsUrl = `${service.origin}/api/v1/events/${event.join_token}/uploads`;

    const files = Array.from({ length: fileCount }, (_, i) => {
      const bytes = randomBytes(fileSize);
      return { name: `tus-bench-${String(i + 1).padStart(3, "0")}.jpg`, bytes, sha256: sha256(bytes) };
    });

    // Warm both servers (first requests, first D1/R2/DO use) so the timed rounds see steady state.
    const warm = { name: "warm-up.jpg", bytes: files[0].bytes.subarray(0, 2 * MiB) };
    for (const endpoint of Object.values(targets)) await pool([0, 1, 2, 3], concurrency, () => tusUpload(endpoint, warm, MiB, "bench-warm-up"));
    await guestUpload(uploadsUrl, { ...warm, sha256: sha256(warm.bytes) }, MiB, undefined, "bench-warm-up");

    const rounds = [];
    for (const chunkSize of chunkSizes) {
      const round = { chunkSize };
      for (const [target, endpoint] of Object.entries(targets)) {
        round[target] = await timed(() => pool(files, concurrency, (file, i) => tusUpload(endpoint, file, chunkSize, `bench-device-${i}`)));
      }
      const guestChunk = Math.min(chunkSize, fileSize);
      round.guest = await timed(() => pool(files, concurrency, (file, i) => guestUpload(uploadsUrl, file, guestChunk, undefined, `bench-guest-${i}`)));
      rounds.push(round);
    }

    // The reference for all: each file in one R2 put through bench/bare.
    const bareRun = await timed(() => pool(files, concurrency, (file, i) => call(null, `bare put ${i}`, `${bare.origin}/tus-bench/bare/${i}`, putInit(file.bytes), 204)));

    // The service's objects through bench/bare (it shares the bucket), keyed by D1; @tus/file-store's files by upload id.
    const serviceIds = rounds.flatMap((round) => round.service.result.map((url) => path.basename(url).split(".")[0]));
    const keys = new Map(
      stack.query(`SELECT id, r2_key FROM upload_sessions WHERE status = 'completed' AND id IN (${serviceIds.map((id) => `'${id}'`).join(",")})`)
        .map((row) => [row.id, row.r2_key]),
    );
    await pool(serviceIds, concurrency, async (id, i) => {
      if (!keys.has(id)) throw new Error(`service upload ${id} is not completed in D1`);
      const response = await fetch(`${bare.origin}/${keys.get(id)}`);
      const stored = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200 || sha256(stored) !== files[i % fileCount].sha256) throw new Error(`service upload ${id}: stored bytes differ from the source`);
    });
    const guestKeys = rounds.flatMap((round) => round.guest.result.map((upload) => upload.key));
    await pool(guestKeys, concurrency, async (key, i) => {
      const response = await fetch(`${bare.origin}/${key}`);
      const stored = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200 || sha256(stored) !== files[i % fileCount].sha256) throw new Error(`guest API upload ${key}: stored bytes differ from the source`);
    });
    const nodeIds = rounds.flatMap((round) => round.node.result.map((url) => path.basename(url)));
    for (const [i, id] of nodeIds.entries()) {
      if (sha256(readFileSync(path.join(nodeDir, id))) !== files[i % fileCount].sha256) throw new Error(`@tus/server upload ${id}: stored bytes differ from the source`);
    }

    const totalBytes = fileCount * fileSize;
    const rate = (seconds) => totalBytes / 1e6 / seconds;
    const cell = (seconds) => `${rate(seconds).toFixed(1).padStart(7)} MB/s (${seconds.toFixed(2).padStart(5)} s)`;
    console.log(`
tus bench: ${fileCount} files x ${fileSize / MiB} MiB, ${concurrency} uploads in flight, tus-js-client ${versionOf("tus-js-client")}
  service: this Worker's tus endpoint under local wrangler dev ${wranglerVersion()} (workerd, local R2/D1/DO)
  @tus/server ${versionOf("@tus/server")} + @tus/file-store ${versionOf("@tus/file-store")} on node ${process.version}, local disk

throughput (MB = 10^6 bytes; ${(totalBytes / 1e6).toFixed(1)} MB per run, POST + PATCHes)
  chunkSize   ${"service, tus".padEnd(24)}${"service, guest API".padEnd(24)}${"@tus/server".padEnd(24)}tus/guest  service tus/@tus
${rounds.map((round) => `  ${chunkLabel(round.chunkSize).padEnd(12)}${cell(round.service.seconds)}  ${cell(round.guest.seconds)}  ${cell(round.node.seconds)}  ${(round.guest.seconds / round.service.seconds).toFixed(2).padStart(9)}  ${(round.node.seconds / round.service.seconds).toFixed(2).padStart(16)}`).join("\n")}
  bare R2 put  ${cell(bareRun.seconds)}  (one put per file; service tus / bare: ${rounds.map((round) => `${chunkLabel(round.chunkSize)} ${(bareRun.seconds / round.service.seconds).toFixed(2)}`).join(", ")}; guest API / bare: ${rounds.map((round) => `${chunkLabel(round.chunkSize)} ${(bareRun.seconds / round.guest.seconds).toFixed(2)}`).join(", ")})
  (issue 13 target: tus >= 0.9 of the guest API at the same chunk size)

verified SHA-256 of ${serviceIds.length} service tus uploads and ${guestKeys.length} guest API uploads (R2), ${nodeIds.length} @tus/server uploads (disk): all match
`);
  } finally {
    await tusNode.stop();
  }
}

await runOnStack("tus-bench-", main);
