/**
 * JPEG fill bytes (issue 12): JPEG allows any number of 0xFF fill bytes before a marker. The parsers
 * (inspect.ts in scan mode, location.ts's skipToEoi) step over a run of them one awaited
 * `PullReader.byte()` at a time: ~0.4 µs a byte, so a valid 64×48 photo padded with 20 MiB of
 * fill before its EOI becomes `ready` after ~7 s of inspection, and then costs ~8 s of CPU
 * before every download of its original starts (keep_gps off, the default) and again inside
 * every ZIP of the event. Linear in the file size: an event allowing larger files turns it into
 * processing past its 60 s timeout (retries) and ZIPs past the CPU limit.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, errorCode } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

/** A small valid JPEG with `fill` 0xFF fill bytes before its EOI marker (legal: markers may be preceded by fill). */
function paddedJpeg(fill: number): Uint8Array {
  const jpeg = makeJpeg({ width: 64, height: 48 });
  const bytes = new Uint8Array(jpeg.byteLength + fill);
  bytes.set(jpeg.subarray(0, -2));
  bytes.fill(0xff, jpeg.byteLength - 2, jpeg.byteLength - 2 + fill);
  bytes.set([0xff, 0xd9], bytes.byteLength - 2);
  return bytes;
}

/** A small valid JPEG whose image data ends with `pairs` stuffed 0xFF 0x00 pairs (an 0xFF data byte each) before its EOI. */
function stuffedJpeg(pairs: number): Uint8Array {
  const jpeg = makeJpeg({ width: 64, height: 48 });
  const bytes = new Uint8Array(jpeg.byteLength + 2 * pairs);
  bytes.set(jpeg.subarray(0, -2));
  for (let at = jpeg.byteLength - 2; at < bytes.byteLength - 2; at += 2) bytes[at] = 0xff;
  bytes.set([0xff, 0xd9], bytes.byteLength - 2);
  return bytes;
}

/** A small valid JPEG with `count` empty comment segments (FF FE 00 02, legal) before its first. */
function emptySegmentsJpeg(count: number): Uint8Array {
  const jpeg = makeJpeg({ width: 64, height: 48 });
  const bytes = new Uint8Array(jpeg.byteLength + 4 * count);
  bytes.set(jpeg.subarray(0, 2));
  for (let at = 2; at < 2 + 4 * count; at += 4) bytes.set([0xff, 0xfe, 0, 2], at);
  bytes.set(jpeg.subarray(2), 2 + 4 * count);
  return bytes;
}

/** How long the original's download takes to answer (keep_gps off: its location is blanked as it is served). */
async function originalDownloadMs(photoId: string, eventId: string): Promise<number> {
  const view = await (await call(`/api/v1/admin/events/${eventId}/photos/${photoId}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).json<{ urls: { original: string } }>();
  const { pathname, search } = new URL(view.urls.original);
  const started = Date.now();
  const response = await call(pathname + search);
  const ms = Date.now() - started;
  await response.body?.cancel();
  expect(response.status).toBe(200);
  return ms;
}

describe("attack: a run of JPEG fill bytes", () => {
  it("a ready photo's original starts downloading at once, however many fill bytes it holds", async () => {
    const { job, photoId } = await uploadPhoto(paddedJpeg(20 * 1024 * 1024));
    await deliver([job]);
    const row = await env.DB.prepare("SELECT status, event_id FROM photos WHERE id = ?").bind(photoId).first<{ status: string; event_id: string }>();
    expect(row!.status).toBe("ready"); // a valid photo, in every ZIP of the event
    const view = await (await call(`/api/v1/admin/events/${row!.event_id}/photos/${photoId}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).json<{ urls: { original: string } }>();
    const { pathname, search } = new URL(view.urls.original);
    const started = Date.now();
    const response = await call(pathname + search);
    const toHeaders = Date.now() - started;
    await response.body?.cancel();
    expect(response.status).toBe(200);
    // Finding the location blocks in 20 MiB is one indexOf pass (tens of ms); here it is seconds.
    expect(toHeaders).toBeLessThan(2000);
  }, 120_000);

  it("image data of nothing but stuffed 0xFF bytes is inspected, and its original served, in one pass", async () => {
    const { job, photoId } = await uploadPhoto(stuffedJpeg(10 * 1024 * 1024));
    const started = Date.now();
    await deliver([job]);
    const inspectedMs = Date.now() - started;
    const row = await env.DB.prepare("SELECT status, event_id FROM photos WHERE id = ?").bind(photoId).first<{ status: string; event_id: string }>();
    expect(row!.status).not.toBe("processing");
    // A byte-at-a-time scan takes seconds for each of these; a plain loop per chunk, well under one.
    expect(inspectedMs).toBeLessThan(6000); // with the scrubbed copy and thumbnails; byte by byte, over 10 s
    expect(await originalDownloadMs(photoId, row!.event_id)).toBeLessThan(2000);
  }, 120_000);

  it("a JPEG of millions of empty segments fails processing at once, and its original is refused rather than scanned", async () => {
    const { job, photoId } = await uploadPhoto(emptySegmentsJpeg(5 * 1024 * 1024));
    const started = Date.now();
    await deliver([job]);
    const inspectedMs = Date.now() - started;
    const row = await env.DB.prepare("SELECT status, event_id FROM photos WHERE id = ?").bind(photoId).first<{ status: string; event_id: string }>();
    expect(row!.status).toBe("failed");
    expect(inspectedMs).toBeLessThan(2000); // segment by segment, seconds
    const view = await (await call(`/api/v1/admin/events/${row!.event_id}/photos/${photoId}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).json<{ urls: { original: string } }>();
    const { pathname, search } = new URL(view.urls.original);
    const asked = Date.now();
    const download = await call(pathname + search);
    expect(Date.now() - asked).toBeLessThan(2000);
    expect(download.status).toBe(422);
    expect(await errorCode(download)).toBe("location_unremovable");
  }, 120_000);
});
