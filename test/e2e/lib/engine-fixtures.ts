/**
 * What the upload engine's and the CLI's end-to-end tests share: real JPEGs of a chosen size,
 * and the checks that every source arrived exactly once, byte for byte, read back from the
 * service's D1 (wrangler d1 execute) and R2 (through bench/bare).
 */
import { createHash } from "node:crypto";
import sharp from "sharp";
import { expect } from "vitest";
import type { DevServer, LogEntry } from "../../../scripts/lib/dev-server";
import type { UploadEngine } from "../../../web/engine/engine.ts";
import type { EngineSnapshot } from "../../../web/engine/views.ts";
import type { E2e } from "../helpers";

export interface SourcePhoto {
  name: string;
  bytes: Buffer;
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * A real JPEG of about `approxBytes`: random pixels at quality 100 take ~2.9 bytes a pixel, so
 * a few megabytes stay under 2 MP and process quickly. Every call gives different bytes.
 */
export async function noiseJpeg(approxBytes: number): Promise<Buffer> {
  const width = Math.max(16, Math.round(Math.sqrt((approxBytes / 2.92) * (4 / 3))));
  const height = Math.max(16, Math.round((width * 3) / 4));
  const pixels = new Uint8Array(width * height * 3);
  for (let offset = 0; offset < pixels.length; offset += 65_536) crypto.getRandomValues(pixels.subarray(offset, offset + 65_536));
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer();
}

/** `count` photos named IMG_0001.jpg…, sizes spread evenly from `fromBytes` to `toBytes`. */
export async function noisePhotos(count: number, fromBytes: number, toBytes: number, prefix = "IMG_"): Promise<SourcePhoto[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => ({
      name: `${prefix}${String(index + 1).padStart(4, "0")}.jpg`,
      bytes: await noiseJpeg(fromBytes + ((toBytes - fromBytes) * index) / Math.max(1, count - 1)),
    })),
  );
}

export function fileOf(photo: SourcePhoto, type = "image/jpeg"): File {
  return new File([new Uint8Array(photo.bytes)], photo.name, { type, lastModified: 1_790_000_000_000 });
}

interface UploadRow {
  upload_id: string;
  status: string;
  filename: string;
  r2_key: string;
  total_size: number;
  declared_sha256: string | null;
  photo_id: string | null;
  photo_status: string | null;
}

/** Every upload session of the event, with its photo if it has one. */
export function uploadsOf(e2e: E2e, eventId: string): UploadRow[] {
  return e2e.stack.query<UploadRow>(
    `SELECT s.id AS upload_id, s.status, s.filename, s.r2_key, s.total_size, s.declared_sha256, p.id AS photo_id, p.status AS photo_status
       FROM upload_sessions s LEFT JOIN photos p ON p.upload_id = s.id WHERE s.event_id = '${eventId}'`,
  );
}

/**
 * Each source completed exactly one upload and made exactly one photo, the stored original
 * has its bytes, and the engine declared its SHA-256. Returns the completed upload ids by name.
 */
export async function expectArrivedOnce(e2e: E2e, eventId: string, sources: SourcePhoto[]): Promise<Map<string, string>> {
  const rows = uploadsOf(e2e, eventId);
  const uploadIds = new Map<string, string>();
  for (const source of sources) {
    const completed = rows.filter((row) => row.filename === source.name && row.status === "completed");
    expect(completed, `${source.name}: completed uploads`).toHaveLength(1);
    const row = completed[0]!;
    expect(rows.filter((other) => other.filename === source.name && other.photo_id), `${source.name}: photos`).toHaveLength(1);
    expect(row.declared_sha256, `${source.name}: declared SHA-256`).toBe(sha256(source.bytes));
    const response = await fetch(`${e2e.bare.origin}/${row.r2_key}`);
    const stored = Buffer.from(await response.arrayBuffer());
    expect(response.status, `${source.name}: GET ${row.r2_key}`).toBe(200);
    expect(sha256(stored), `${source.name}: SHA-256 of the stored original`).toBe(sha256(source.bytes));
    uploadIds.set(source.name, row.upload_id);
  }
  return uploadIds;
}

/** The service's log lines for chunk PUTs of one upload. */
/** A chunk request's log line says it was accepted: 204, or the photo (201, 200 when sent again) for a last chunk that completed the upload. */
export const chunkAccepted = (entry: LogEntry): boolean => [204, 201, 200].includes(Number(entry.status));

export function chunkLogs(server: DevServer, uploadId: string): LogEntry[] {
  return server.logs.filter((entry) => entry.msg === "request" && entry.upload_id === uploadId && String(entry.route).endsWith("/chunk"));
}

/**
 * From the service's own log: each chunk of the upload was accepted once (accepted bytes add up
 * to the size), and returns how many chunks were sent again after the server already had them.
 */
export function expectAcceptedOnce(server: DevServer, uploadId: string, size: number): { replays: number } {
  const accepted = chunkLogs(server, uploadId).filter(chunkAccepted);
  const bytes = accepted.reduce((sum, entry) => sum + Number(entry.bytes ?? 0), 0);
  expect(bytes, `bytes accepted for ${uploadId}`).toBe(size);
  return { replays: accepted.filter((entry) => entry.replayed === true).length };
}

/**
 * The engine's final snapshot; if it has not settled within `limitMs`, fails with what each
 * file was doing and the service's last log lines, rather than with a bare test timeout.
 */
export async function settledWithin(engine: UploadEngine, server: DevServer, limitMs = 100_000): Promise<EngineSnapshot> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overdue = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const files = engine.snapshot().files.map((file) => `${file.name} ${file.state} ${file.sentBytes}/${file.size} ${file.error?.code ?? ""}`);
      // The engine's own polling of batch snapshots would drown everything else.
      const logs = server.logs.filter((entry) => !String(entry.route).endsWith("/batches/:batchId")).slice(-30);
      const report = [`not settled after ${limitMs} ms:`, ...files, "last service logs:", ...logs.map((entry) => JSON.stringify(entry)), "wrangler:", ...server.recent.slice(-10)];
      reject(new Error(report.join("\n")));
    }, limitMs);
  });
  try {
    return await Promise.race([engine.settled(), overdue]);
  } finally {
    clearTimeout(timer);
  }
}
