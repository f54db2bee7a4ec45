/**
 * `npm run bench:processing`: what processing costs, and what it would cost elsewhere.
 * 1. The whole pipeline (sniff, hash, metadata, scrubbed copy, thumbnails) on 12 MP and 24 MP
 *    photos in `wrangler dev`, timed by the consumer's own job log line.
 * 2. sharp doing the same work in Node (hash, metadata, oriented 1024 and 256 px WebP) as the
 *    reference, and the ratio.
 * 3. photon's peak wasm memory for decode + resize at 2, 12 and 24 MP, each in a fresh process:
 *    why photos over 4 MP go to the Images binding instead.
 * Knob: BENCH_RUNS (3) photos of each size.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import path from "node:path";
import sharp from "sharp";
import { DevStack, Service } from "../scripts/lib/dev-server.ts";
import { photoLikeJpeg } from "./photo-like.ts";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function sharpReference(bytes: Buffer): Promise<number> {
  const started = performance.now();
  createHash("sha256").update(bytes).digest("hex");
  await sharp(bytes).metadata();
  const large = await sharp(bytes).rotate().resize(1024, 1024, { fit: "inside" }).webp({ quality: 85 }).toBuffer();
  await sharp(large).resize(256, 256, { fit: "inside" }).webp({ quality: 85 }).toBuffer();
  return performance.now() - started;
}

interface PipelineRun {
  ms: number;
  path: string;
  /** Our own code's share: reading, inspecting and hashing the original (the scrubbed copy runs beside the thumbnails). */
  inspectMs: number;
  thumbnailsMs: number;
}

async function pipelineMs(service: Service, token: string, bytes: Buffer, index: number): Promise<PipelineRun> {
  const base = `${service.origin}/api/v1/events/${token}/uploads`;
  const created = await fetch(base, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: `bench-${index}.jpg`, size: bytes.byteLength, content_type: "image/jpeg", device_id: `bench-processing-${index}` }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const { upload_id, upload_key } = (await created.json()) as { upload_id: string; upload_key: string };
  const chunk = await fetch(`${base}/${upload_id}/chunk`, {
    method: "PUT",
    headers: { "upload-key": upload_key, "content-range": `bytes 0-${bytes.byteLength - 1}/${bytes.byteLength}` },
    body: bytes,
  });
  if (chunk.status !== 204) throw new Error(`chunk: ${chunk.status} ${await chunk.text()}`);
  const completed = await fetch(`${base}/${upload_id}/complete`, { method: "POST", headers: { "upload-key": upload_key } });
  if (completed.status !== 201) throw new Error(`complete: ${completed.status} ${await completed.text()}`);
  const { photo_id } = (await completed.json()) as { photo_id: string };
  const job = await jobLine(service, photo_id);
  if (job.outcome !== "ready") throw new Error(`photo ${photo_id} ended ${String(job.outcome)}: ${String(job.reason)}`);
  return { ms: Number(job.ms), path: String(job.path), inspectMs: Number(job.inspect_ms), thumbnailsMs: Number(job.thumbnails_ms) };
}

/** The consumer's log line for the photo, once processing has run (the local queue batches for ~2 s). */
async function jobLine(service: Service, photoId: string) {
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; ) {
    const line = service.server.logs.find((entry) => entry.msg === "job" && entry.photo_id === photoId);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no processing log line for photo ${photoId} within 180 s`);
}

function photonPeak(megapixels: number): { peakWasmMB: number; inputMB: number; ms: number } {
  const output = execFileSync(process.execPath, [path.join(import.meta.dirname, "photon-memory.ts"), String(megapixels)], { encoding: "utf8" });
  return JSON.parse(output.trim().split("\n").at(-1)!);
}

const stack = DevStack.create("bench-processing-");
try {
  const service = await Service.start(stack);
  const event = await service.createEvent({ max_file_size: 64 * 1024 * 1024, max_concurrent_uploads_per_device: 100 });
  console.log(`\nprocessing bench: ${runs} photos per size, whole pipeline in local wrangler dev vs sharp in Node ${process.version}\n`);
  // Warm-up: the first photo also loads the local Images emulation's sharp; it is not counted.
  const warmup = await photoLikeJpeg(2);
  await pipelineMs(service, event.join_token, warmup.bytes, 1);
  await sharpReference(warmup.bytes);
  console.log("  size  input MB   pipeline ms  (inspect + hash | thumbnails via)   sharp ms   ratio (target <= 1.5x)");
  for (const megapixels of [12, 24]) {
    const photo = await photoLikeJpeg(megapixels);
    const ours: PipelineRun[] = [];
    const reference: number[] = [];
    for (let i = 0; i < runs; i++) {
      // Each photo differs by a byte, so none is linked as a duplicate of another.
      const bytes = Buffer.concat([photo.bytes, Buffer.from([i])]);
      ours.push(await pipelineMs(service, event.join_token, bytes, megapixels * 100 + i));
      reference.push(await sharpReference(bytes));
    }
    const total = median(ours.map((run) => run.ms));
    const inspect = median(ours.map((run) => run.inspectMs));
    const thumbnails = median(ours.map((run) => run.thumbnailsMs));
    console.log(
      `  ${String(megapixels).padStart(2)} MP ${(photo.bytes.byteLength / 2 ** 20).toFixed(1).padStart(8)} ${String(total).padStart(12)}  (${inspect} ms | ${thumbnails} ms ${ours[0]!.path})`.padEnd(70) +
        `${median(reference).toFixed(0).padStart(8)}   ${(total / median(reference)).toFixed(2)}x`,
    );
  }
  console.log("\n  Locally the Images binding is miniflare's emulation: sharp in the wrangler process behind a loopback");
  console.log("  RPC, so 'thumbnails via images-binding' measures that emulation, not Cloudflare's Images service.");
  console.log("\n  photon decode + resize to 1024 px, peak wasm memory (fresh process each):");
  for (const megapixels of [2, 4, 12, 24]) {
    const { peakWasmMB, inputMB, ms } = photonPeak(megapixels);
    const fits = peakWasmMB + inputMB < 128 ? "fits" : "does not fit";
    console.log(`  ${String(megapixels).padStart(2)} MP  input ${inputMB.toFixed(1).padStart(5)} MB  peak wasm ${peakWasmMB.toFixed(0).padStart(4)} MB  ${String(ms).padStart(5)} ms  -> ${fits} a 128 MB isolate with the input beside it`);
  }
  console.log("\n  The pipeline sends photos over 4 MP to the Images binding, so 12 and 24 MP never decode in the isolate.\n");
} finally {
  await stack.stop();
}
