/**
 * An event that does not keep GPS lets no coordinate out in any download of an original (the
 * whole file, a range of it, the event's ZIP), while the stored original stays as uploaded.
 */
import { env } from "cloudflare:workers";
import exifr from "exifr";
import { PhotonImage } from "@cf-wasm/photon";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { makeHeic, makeJpeg, makePng, makeWebp, type FixtureExif } from "../fixtures/photos";
import { call, createEvent, sha256Hex } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, method = "GET") => call(`/api/v1/admin${path}`, { method, headers: bootstrap });
const fetchUrl = (url: string, headers: Record<string, string> = {}) => {
  const { pathname, search } = new URL(url);
  return call(pathname + search, { headers });
};

const exif: FixtureExif = { make: "Pixelcam", model: "P9 Pro", takenAt: "2026:06:14 17:03:22", gps: { latitude: 48.858222, longitude: -2.2945 } };
const text = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);

/** The Exif exifr finds in a file; for WebP (which exifr cannot open) in its EXIF chunk. */
async function exifOf(bytes: Uint8Array, type: string) {
  let source = bytes;
  if (type === "image/webp") {
    const at = text(bytes).indexOf("EXIF");
    source = bytes.subarray(at + 8, at + 8 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(at + 4, true));
  }
  return ((await exifr.parse(source, { tiff: true, gps: true, xmp: true, translateValues: false })) ?? {}) as Record<string, unknown>;
}

/** True if every PNG chunk's CRC matches its type and data (decoders may drop or refuse chunks that fail it). */
function pngCrcsHold(bytes: Uint8Array): boolean {
  const table = Array.from({ length: 256 }, (_, n) => {
    for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
    return n >>> 0;
  });
  const crc32 = (data: Uint8Array) => (data.reduce((crc, byte) => table[(crc ^ byte) & 0xff]! ^ (crc >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  for (let at = 8; at < bytes.byteLength; at += 12 + view.getUint32(at)) {
    const length = view.getUint32(at);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) return false;
  }
  return true;
}

async function expectNoLocation(bytes: Uint8Array, type: string) {
  const found = await exifOf(bytes, type);
  expect(found.latitude).toBeUndefined();
  expect(found.longitude).toBeUndefined();
  expect(Object.keys(found).filter((name) => /gps|latitude|longitude/i.test(name))).toEqual([]);
  expect(text(bytes)).not.toMatch(/GPSLatitude|GPSLongitude/);
  // Only the location goes: the camera stays.
  expect(found.Make).toBe("Pixelcam");
}

const formats = [
  { type: "image/jpeg", bytes: () => makeJpeg({ width: 320, height: 240, exif, xmpWithGps: true }) },
  { type: "image/png", bytes: () => makePng({ width: 120, height: 90, exif, xmpWithGps: true }) },
  { type: "image/webp", bytes: () => makeWebp({ width: 120, height: 90, exif, xmpWithGps: true }) },
  { type: "image/heic", bytes: () => makeHeic({ width: 640, height: 480, exif }) },
];

async function storedPhoto(type: string, bytes: Uint8Array, settings: Record<string, unknown> = {}) {
  const event = await createEvent(settings);
  const { job, photoId } = await uploadPhoto(bytes, { token: event.join_token, contentType: type, filename: "at-home" });
  await deliver([job]);
  const view = await (await admin(`/events/${event.event_id}/photos/${photoId}`)).json<{ status: string; urls: { original: string } }>();
  expect(view.status).toBe("ready");
  return { event, photoId, original: view.urls.original };
}

async function zipEntry(eventId: string): Promise<Uint8Array> {
  const { url } = await (await admin(`/events/${eventId}/download`, "POST")).json<{ url: string }>();
  const entries = Object.values(unzipSync(new Uint8Array(await (await fetchUrl(url)).arrayBuffer())));
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

describe("with keep_gps off, originals leave without their location", () => {
  for (const format of formats) {
    it(`${format.type}: the download and the ZIP entry carry no GPS; the stored original is untouched`, async () => {
      const uploaded = format.bytes();
      expect((await exifOf(uploaded, format.type)).latitude).toBeCloseTo(48.858222, 5);
      const { event, photoId, original } = await storedPhoto(format.type, uploaded);

      const whole = await fetchUrl(original);
      expect(whole.status).toBe(200);
      expect(whole.headers.get("content-length")).toBe(String(uploaded.byteLength));
      const served = new Uint8Array(await whole.arrayBuffer());
      expect(served.byteLength).toBe(uploaded.byteLength);
      await expectNoLocation(served, format.type);
      if (format.type === "image/png") expect(pngCrcsHold(served)).toBe(true);
      if (format.type !== "image/heic") {
        const decoded = PhotonImage.new_from_byteslice(served);
        expect([decoded.get_width(), decoded.get_height()]).toEqual([format.type === "image/jpeg" ? 320 : 120, format.type === "image/jpeg" ? 240 : 90]);
        decoded.free();
      }

      expect(await zipEntry(event.event_id)).toEqual(served);

      const row = await env.DB.prepare("SELECT original_key FROM photos WHERE id = ?").bind(photoId).first<{ original_key: string }>();
      expect(await sha256Hex((await env.PHOTOS.get(row!.original_key))!.body)).toBe(await sha256Hex(uploaded));
    });
  }

  it("image/jpeg: images stored after the primary one (MPF gain maps) lose theirs too, and a motion photo's video is blanked", async () => {
    const primary = makeJpeg({ width: 320, height: 240, exif, xmpWithGps: true });
    const gainMap = makeJpeg({ width: 80, height: 60, exif });
    const video = Uint8Array.from("\0\0\0\x10ftypmp42\0\0\0\0\0\0\0\x20\xa9xyz\0\x12\x15\xc7+48.8582-002.2945/", (char) => char.charCodeAt(0));
    const uploaded = new Uint8Array([...primary, ...gainMap, ...video]);
    const { original } = await storedPhoto("image/jpeg", uploaded);
    const served = new Uint8Array(await (await fetchUrl(original)).arrayBuffer());
    expect(served.byteLength).toBe(uploaded.byteLength);
    await expectNoLocation(served.subarray(0, primary.byteLength), "image/jpeg");
    const servedGainMap = served.subarray(primary.byteLength, primary.byteLength + gainMap.byteLength);
    await expectNoLocation(servedGainMap, "image/jpeg");
    PhotonImage.new_from_byteslice(servedGainMap).free();
    expect(served.subarray(primary.byteLength + gainMap.byteLength)).toEqual(new Uint8Array(video.byteLength));
  });

  it("image/jpeg: XMP location written as elements, or in forms not known here, goes too", async () => {
    const xmp = (body: string) =>
      `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ` +
      `xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">${body}</rdf:Description></rdf:RDF></x:xmpmeta>`;
    const elements = xmp(`<exif:GPSLatitude>48,51.493320N</exif:GPSLatitude><exif:GPSLongitude>2,17.670000W</exif:GPSLongitude><dc:format>image/jpeg</dc:format>`);
    const nested = xmp(`<exif:GPSLatitude><rdf:Alt><rdf:li>48,51.493320N</rdf:li></rdf:Alt></exif:GPSLatitude>`);
    for (const packet of [elements, nested]) {
      const jpeg = makeJpeg({ width: 320, height: 240, exif });
      const payload = Uint8Array.from(`http://ns.adobe.com/xap/1.0/\0${packet}`, (char) => char.charCodeAt(0));
      const segment = new Uint8Array([0xff, 0xe1, (payload.byteLength + 2) >> 8, (payload.byteLength + 2) & 0xff, ...payload]);
      const uploaded = new Uint8Array([...jpeg.subarray(0, 2), ...segment, ...jpeg.subarray(2)]);
      const { original } = await storedPhoto("image/jpeg", uploaded);
      const served = new Uint8Array(await (await fetchUrl(original)).arrayBuffer());
      await expectNoLocation(served, "image/jpeg");
      expect(text(served)).not.toContain("48,51.493320N");
      if (packet === elements) expect(text(served)).toContain("<dc:format>image/jpeg</dc:format>");
    }
  });

  it("ranges are ranges of the location-free bytes, and revalidation uses their own ETag", async () => {
    const uploaded = makeJpeg({ width: 320, height: 240, exif, xmpWithGps: true });
    const { original } = await storedPhoto("image/jpeg", uploaded);
    const whole = await fetchUrl(original);
    const served = new Uint8Array(await whole.arrayBuffer());
    const etag = whole.headers.get("etag")!;
    expect(etag).toMatch(/-patched"$/);

    const middle = Math.floor(uploaded.byteLength / 2);
    const first = await fetchUrl(original, { range: `bytes=0-${middle - 1}` });
    const rest = await fetchUrl(original, { range: `bytes=${middle}-` });
    expect([first.status, rest.status]).toEqual([206, 206]);
    expect(first.headers.get("content-length")).toBe(String(middle));
    const joined = new Uint8Array(uploaded.byteLength);
    joined.set(new Uint8Array(await first.arrayBuffer()));
    joined.set(new Uint8Array(await rest.arrayBuffer()), middle);
    expect(joined).toEqual(served);
    // A range that ends inside the Exif still has no coordinates in it.
    const head = await fetchUrl(original, { range: "bytes=0-1023" });
    expect(new Uint8Array(await head.arrayBuffer())).toEqual(served.subarray(0, 1024));

    expect((await fetchUrl(original, { "if-none-match": etag })).status).toBe(304);
    // The stored object's own ETag names other bytes: the full download, not "not modified".
    const stored = etag.replace(/-patched"$/, '"');
    expect((await fetchUrl(original, { "if-none-match": stored })).status).toBe(200);
    expect((await fetchUrl(original, { "if-match": stored })).status).toBe(412);
  });
});

describe("where a file's location cannot be told for certain", () => {
  it("its original is refused with location_unremovable, and its ZIP entry is zeros of its length", async () => {
    // A WebP whose XMP chunk is larger than any metadata this reads whole.
    const webp = makeWebp({ width: 120, height: 90, exif, xmpWithGps: true });
    const xmp = new Uint8Array(8 + 1024 * 1024 + 2).fill(0x20);
    xmp.set(Uint8Array.from("XMP ", (char) => char.charCodeAt(0)));
    new DataView(xmp.buffer).setUint32(4, xmp.byteLength - 8, true);
    const uploaded = new Uint8Array([...webp, ...xmp]);
    new DataView(uploaded.buffer).setUint32(4, uploaded.byteLength - 8, true);
    const { event, original } = await storedPhoto("image/webp", uploaded);
    const refused = await fetchUrl(original);
    expect(refused.status).toBe(422);
    expect((await refused.json<{ error: { code: string } }>()).error.code).toBe("location_unremovable");
    expect(await zipEntry(event.event_id)).toEqual(new Uint8Array(uploaded.byteLength));
  });
});

describe("with keep_gps on", () => {
  it("the original and its ZIP entry keep their GPS, byte for byte", async () => {
    const uploaded = makeJpeg({ width: 320, height: 240, exif, xmpWithGps: true });
    const { event, original } = await storedPhoto("image/jpeg", uploaded, { keep_gps: true });
    const whole = await fetchUrl(original);
    expect(whole.headers.get("etag")).not.toMatch(/-patched"$/);
    const served = new Uint8Array(await whole.arrayBuffer());
    expect(served).toEqual(uploaded);
    expect((await exifOf(served, "image/jpeg")).latitude).toBeCloseTo(48.858222, 5);
    expect(await zipEntry(event.event_id)).toEqual(uploaded);
  });
});
