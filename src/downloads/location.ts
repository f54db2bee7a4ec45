/**
 * Originals without their location, for events that do not keep GPS. The places each format
 * keeps coordinates (the Exif GPS IFD; XMP's GPS properties) are blanked in place as the bytes
 * are served: the same length, so ranges and Content-Length stay valid, and the stored original
 * stays exactly as uploaded. Found with one forward read of the file (HEIF: the scrub plan
 * inspect.ts makes, plus a ranged read per metadata item).
 */
import { isVideoType, mediaTypes, type ImageType, type VideoType } from "../lib/media-types";
import { inspect, markerAfterScanData, sniffMedia } from "../processing/inspect";
import { MAX_STRUCTURES, PullReader } from "../processing/pull-reader";
import { inspectVideo, NotAVideoError, r2Source, type VideoInspection } from "../processing/video";
import { crc32 } from "../lib/crc32";

/** New content for [at, at + length) of the file: the given bytes, or one byte repeated. */
export type Patch = { at: number; length: number } & ({ bytes: Uint8Array } | { fill: number });

/** Where a file keeps its location cannot be told for certain: it is not served without it. */
export class LocationUnremovableError extends Error {}

/** Never so many in an image we accept (inspect.ts refuses them): where a location hides among them is not looked for. */
const tooManyStructures = () => new LocationUnremovableError(`more than ${MAX_STRUCTURES} segments or chunks`);

/** A metadata block (an Exif or XMP payload) is read whole only up to this size. */
const METADATA_LIMIT = 1024 * 1024;

/**
 * The patches that blank every GPS coordinate in the stored object `key`. A file that is not an
 * image we accept (a failed photo: a TIFF, a RAW file, a PDF) may keep a location anywhere we do
 * not know to look, so it is refused rather than served as it is.
 */
export async function locationPatches(bucket: R2Bucket, key: string, sniffedType: string | null): Promise<Patch[]> {
  const type = (sniffedType as ImageType | VideoType | null) ?? (await sniffStored(bucket, key));
  if (!type) throw new LocationUnremovableError("not an image type whose location can be found");
  if (isVideoType(type)) return videoPatches(bucket, key, type);
  const object = await bucket.get(key);
  if (!object) return [];
  if (mediaTypes[type].family === "heif") return heifPatches(bucket, key, object.body, object.size);
  const reader = new PullReader(object.body, object.size, () => {});
  try {
    if (type === "image/jpeg") return await jpegPatches(reader, object.size);
    if (type === "image/png") return await pngPatches(reader);
    return await webpPatches(reader);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function sniffStored(bucket: R2Bucket, key: string): Promise<ImageType | VideoType | null> {
  const head = await bucket.get(key, { range: { offset: 0, length: 32 } });
  return head ? sniffMedia(new Uint8Array(await head.arrayBuffer())) : null;
}

/**
 * MP4/QuickTime: video.ts finds every place the movie keeps a location (udta ©xyz and loci, the
 * QuickTime location keys, XMP); each is overwritten in place (text with spaces, numbers with
 * zeros), so no box moves and the media data's offsets stay valid. A movie it cannot read, or
 * whose media data may itself give the position (GPS telemetry, a drone's subtitles), is not
 * served without its location.
 */
async function videoPatches(bucket: R2Bucket, key: string, type: VideoType): Promise<Patch[]> {
  const head = await bucket.head(key);
  if (!head) return [];
  let inspection: VideoInspection;
  try {
    inspection = await inspectVideo(r2Source(bucket, key, head.size), type, { maxPixels: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (error instanceof NotAVideoError) throw new LocationUnremovableError(`its movie cannot be read: ${error.message}`);
    throw error;
  }
  if (inspection.locationInSamples) throw new LocationUnremovableError(inspection.locationInSamples);
  return inspection.locationFields;
}

/** `body` with the patches applied; `offset` is where in the file the body starts (a range). */
export function patchedBody(body: ReadableStream<Uint8Array>, length: number, patches: Patch[], offset = 0): ReadableStream<Uint8Array> {
  if (!patches.length) return body;
  let position = offset;
  const patching = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const end = position + chunk.byteLength;
      const touching = patches.filter((patch) => patch.at < end && patch.at + patch.length > position);
      const out = touching.length ? chunk.slice() : chunk;
      for (const patch of touching) applyPatch(patch, out, position);
      position = end;
      controller.enqueue(out);
    },
  });
  return body.pipeThrough(patching).pipeThrough(new FixedLengthStream(length));
}

/** Writes the part of `patch` that falls on `target`, which holds the file's bytes from `start`. */
function applyPatch(patch: Patch, target: Uint8Array, start: number): void {
  const from = Math.max(patch.at, start);
  const to = Math.min(patch.at + patch.length, start + target.byteLength);
  if (from >= to) return;
  if ("fill" in patch) target.fill(patch.fill, from - start, to - start);
  else target.set(patch.bytes.subarray(from - patch.at, to - patch.at), from - start);
}

/** Bytes as one character each, so string offsets are byte offsets. */
function latin1(bytes: Uint8Array, start = 0, length = bytes.byteLength - start): string {
  let text = "";
  for (let at = start; at < start + length; at += 8192) text += String.fromCharCode(...bytes.subarray(at, Math.min(at + 8192, start + length)));
  return text;
}
const startsWith = (bytes: Uint8Array, text: string) => bytes.byteLength >= text.length && latin1(bytes, 0, text.length) === text;
const shifted = (patches: Patch[], by: number) => patches.map((patch) => ({ ...patch, at: patch.at + by }));
const zeros = (at: number, length: number): Patch => ({ at, length, fill: 0 });
const spaces = (at: number, length: number): Patch => ({ at, length, fill: 0x20 });

/** The Exif block's GPS, blanked; the whole block when it cannot be read as a TIFF. */
function exifPatches(tiff: Uint8Array): Patch[] {
  return tiffLocation(tiff) ?? [zeros(0, tiff.byteLength)];
}

const TIFF_TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };
const GPS_IFD_POINTER = 0x8825;
const XMP_TAG = 0x02bc;

/**
 * Empties the GPS IFD (no entries, its values zeroed) and blanks the location in an XMP packet
 * kept in IFD0; null if the TIFF structure does not hold together.
 */
function tiffLocation(tiff: Uint8Array): Patch[] | null {
  if (tiff.byteLength < 8) return null;
  const order = latin1(tiff, 0, 2);
  if (order !== "II" && order !== "MM") return null;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = order === "II";
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);
  if (u16(2) !== 42) return null;
  const entries = (ifd: number) => {
    if (ifd < 8 || ifd + 2 > tiff.byteLength) return null;
    const count = u16(ifd);
    if (ifd + 2 + count * 12 > tiff.byteLength) return null;
    return Array.from({ length: count }, (_, i) => {
      const at = ifd + 2 + i * 12;
      const size = (TIFF_TYPE_SIZES[u16(at + 2)] ?? 1) * u32(at + 4);
      return { tag: u16(at), at, size, valueAt: size > 4 ? u32(at + 8) : at + 8 };
    });
  };
  const ifd0 = entries(u32(4));
  if (!ifd0) return null;
  const patches: Patch[] = [];
  for (const entry of ifd0) {
    if (entry.tag === XMP_TAG && entry.valueAt + entry.size <= tiff.byteLength) {
      patches.push(...shifted(xmpLocation(tiff.subarray(entry.valueAt, entry.valueAt + entry.size)), entry.valueAt));
    }
    if (entry.tag !== GPS_IFD_POINTER) continue;
    const gpsIfd = u32(entry.at + 8);
    const gps = entries(gpsIfd);
    if (!gps) return null;
    for (const field of gps) {
      if (field.size > 4 && field.valueAt + field.size > tiff.byteLength) return null;
      if (field.size > 4) patches.push(zeros(field.valueAt, field.size));
    }
    // An entry count of 0, then zeros where the entries and the next-IFD offset were.
    patches.push(zeros(gpsIfd, Math.min(2 + gps.length * 12 + 4, tiff.byteLength - gpsIfd)));
  }
  return patches;
}

const LOCATION_NAME = String.raw`[\w.-]*(?:GPS|Latitude|Longitude|Altitude)[\w.-]*`;
/** `prefix:GPSLatitude="…"` attributes and `<prefix:GPSLatitude …>…</prefix:GPSLatitude>` elements. */
const LOCATION_PROPERTIES = new RegExp(
  String.raw`(?<=\s)(?:[\w.-]+:)?${LOCATION_NAME}\s*=\s*(?:"[^"]*"|'[^']*')|<((?:[\w.-]+:)?${LOCATION_NAME})(?:\s[^>]*)?>[^<]*</\1\s*>`,
  "gi",
);
const LOCATION_LEFT = new RegExp(String.raw`[<\s](?:[\w.-]+:)?${LOCATION_NAME}[\s=>/]`, "i");

/**
 * XMP with its location properties turned to spaces (still well-formed XML, the same length);
 * the whole packet when a location name is still there after that (a form this does not know).
 */
function xmpLocation(xmp: Uint8Array): Patch[] {
  const text = latin1(xmp);
  const patches: Patch[] = [];
  let left = text;
  for (const match of text.matchAll(LOCATION_PROPERTIES)) {
    patches.push(spaces(match.index, match[0].length));
    left = left.slice(0, match.index) + " ".repeat(match[0].length) + left.slice(match.index + match[0].length);
  }
  return LOCATION_LEFT.test(left) ? [spaces(0, xmp.byteLength)] : patches;
}

const XMP_NAMESPACE = "http://ns.adobe.com/xap/1.0/\0";
const EXTENDED_XMP_NAMESPACE = "http://ns.adobe.com/xmp/extension/\0";

/**
 * JPEG: the APP1 segments (Exif, XMP, extended XMP) of every image in the file: the primary one,
 * then each image stored right after it (MPF gain maps and previews). Whatever else follows the
 * last image (a motion photo's video, say) is blanked whole: it has no place for a location we
 * could know, and may well hold one.
 */
async function jpegPatches(reader: PullReader, size: number): Promise<Patch[]> {
  const patches: Patch[] = [];
  await reader.skip(2);
  while (await jpegImagePatches(reader, patches)) {
    const next = reader.offset;
    const soi = await reader.bytes(2);
    if (soi?.[0] === 0xff && soi[1] === 0xd8) continue;
    if (next < size) patches.push(zeros(next, size - next));
    break;
  }
  return patches;
}

/** One image, from after its SOI; true once its EOI is passed. */
async function jpegImagePatches(reader: PullReader, patches: Patch[]): Promise<boolean> {
  for (;;) {
    if (reader.tooManyStructures()) throw tooManyStructures();
    if ((await reader.byte()) !== 0xff) return false; // the structure ends here for every reader
    const marker = await reader.byteAfterRun(0xff); // fill bytes may precede a marker
    if (marker === null) return false;
    if (marker === 0xd9) return true;
    if (marker === 0xda) return skipToEoi(reader);
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    const length = await reader.bytes(2);
    if (!length) return false;
    const payloadLength = ((length[0]! << 8) | length[1]!) - 2;
    const payloadAt = reader.offset;
    if (marker !== 0xe1) {
      if (!(await reader.skip(payloadLength))) return false;
      continue;
    }
    const payload = await reader.bytesUpTo(Math.max(0, payloadLength));
    if (startsWith(payload, "Exif\0\0")) patches.push(...shifted(exifPatches(payload.subarray(6)), payloadAt + 6));
    else if (startsWith(payload, XMP_NAMESPACE)) patches.push(...shifted(xmpLocation(payload.subarray(XMP_NAMESPACE.length)), payloadAt + XMP_NAMESPACE.length));
    // Extended XMP is a slice of a larger packet (names may straddle slices): blanked whole.
    else if (startsWith(payload, EXTENDED_XMP_NAMESPACE)) patches.push(spaces(payloadAt + EXTENDED_XMP_NAMESPACE.length, payload.byteLength - EXTENDED_XMP_NAMESPACE.length));
    if (payload.byteLength < payloadLength) return false;
  }
}

/** Through the image data (every scan of a progressive image, and what lies between) to the EOI marker. */
async function skipToEoi(reader: PullReader): Promise<boolean> {
  for (;;) {
    const marker = await markerAfterScanData(reader);
    if (marker === null) return false;
    if (marker === 0xd9) return true;
  }
}

const PNG_TEXT_CHUNKS = new Set(["tEXt", "zTXt", "iTXt"]);
/** Text chunks that carry Exif or XMP: XMP's own, and ImageMagick's hex "raw profiles". */
const PNG_METADATA_KEYWORD = /^(?:XML:com\.adobe\.xmp|Raw profile type (?:exif|app1|xmp))$/i;

/** PNG: the eXIf chunk and the text chunks holding XMP or Exif, each with its CRC recomputed. */
async function pngPatches(reader: PullReader): Promise<Patch[]> {
  const patches: Patch[] = [];
  await reader.skip(8);
  for (;;) {
    if (reader.tooManyStructures()) throw tooManyStructures();
    const header = await reader.bytes(8);
    if (!header) return patches;
    const length = new DataView(header.buffer, header.byteOffset).getUint32(0);
    const type = latin1(header, 4, 4);
    if (type === "IEND") return patches;
    if (type !== "eXIf" && !PNG_TEXT_CHUNKS.has(type)) {
      if (!(await reader.skip(length + 4))) return patches;
      continue;
    }
    const dataAt = reader.offset;
    if (length > METADATA_LIMIT) throw new LocationUnremovableError(`a ${length}-byte ${type} chunk`);
    const data = await reader.bytes(length);
    if (!data || !(await reader.skip(4))) return patches;
    const blanks = type === "eXIf" ? exifPatches(data) : pngTextPatches(type, data);
    if (!blanks.length) continue;
    const chunk = new Uint8Array(4 + length);
    chunk.set(header.subarray(4, 8));
    chunk.set(data, 4);
    for (const blank of blanks) applyPatch(blank, chunk.subarray(4), 0);
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32(chunk));
    patches.push(...shifted(blanks, dataAt), { at: dataAt + length, length: 4, bytes: crc });
  }
}

function pngTextPatches(type: string, data: Uint8Array): Patch[] {
  const keywordEnd = data.indexOf(0);
  if (keywordEnd < 0 || !PNG_METADATA_KEYWORD.test(latin1(data, 0, keywordEnd))) return [];
  if (type === "iTXt" && data[keywordEnd + 1] === 0) {
    // Uncompressed international text: keyword, flag, method, language\0, translated keyword\0, text.
    const languageEnd = data.indexOf(0, keywordEnd + 3);
    const textAt = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1) + 1;
    if (textAt > 0) return shifted(xmpLocation(data.subarray(textAt)), textAt);
  }
  // Compressed, or a hex raw profile: the payload after the keyword goes whole.
  return [spaces(keywordEnd + 1, data.byteLength - keywordEnd - 1)];
}

/** WebP: the EXIF and XMP chunks. */
async function webpPatches(reader: PullReader): Promise<Patch[]> {
  const patches: Patch[] = [];
  const riff = await reader.bytes(12);
  if (!riff) return patches;
  const riffEnd = 8 + new DataView(riff.buffer, riff.byteOffset).getUint32(4, true);
  while (reader.offset < riffEnd) {
    if (reader.tooManyStructures()) throw tooManyStructures();
    const header = await reader.bytes(8);
    if (!header) return patches;
    const fourcc = latin1(header, 0, 4);
    const size = new DataView(header.buffer, header.byteOffset).getUint32(4, true);
    const padded = size + (size & 1);
    if (fourcc !== "EXIF" && fourcc !== "XMP ") {
      if (!(await reader.skip(padded))) return patches;
      continue;
    }
    if (size > METADATA_LIMIT) throw new LocationUnremovableError(`a ${size}-byte ${fourcc} chunk`);
    const dataAt = reader.offset;
    const data = await reader.bytesUpTo(padded);
    // Some writers keep JPEG's "Exif\0\0" prefix in the chunk.
    const tiffAt = startsWith(data, "Exif\0\0") ? 6 : 0;
    const blanks = fourcc === "EXIF" ? shifted(exifPatches(data.subarray(tiffAt, size)), tiffAt) : xmpLocation(data.subarray(0, size));
    patches.push(...shifted(blanks, dataAt));
    if (data.byteLength < padded) return patches;
  }
  return patches;
}

/**
 * HEIF: inspect.ts's scrub plan blanks the Exif and XMP items in place; their ranges are where
 * it inserts zeros. Of those, only the location is blanked here.
 */
async function heifPatches(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, size: number): Promise<Patch[]> {
  const inspection = await inspect(body, "image/heic", { maxPixels: Number.MAX_SAFE_INTEGER, size }).catch(() => null);
  if (!inspection?.scrub) throw new LocationUnremovableError("its HEIF metadata items cannot be located");
  const patches: Patch[] = [];
  let position = 0;
  for (const piece of inspection.scrub) {
    const length = "bytes" in piece ? piece.bytes.byteLength : piece.end - piece.start;
    if ("bytes" in piece) patches.push(...(await heifItemPatches(bucket, key, position, length, inspection.exifItem?.start === position)));
    position += length;
  }
  return patches;
}

async function heifItemPatches(bucket: R2Bucket, key: string, at: number, length: number, isExif: boolean): Promise<Patch[]> {
  if (length > METADATA_LIMIT) return [zeros(at, length)];
  const object = await bucket.get(key, { range: { offset: at, length } });
  if (!object) return [];
  const item = new Uint8Array(await object.arrayBuffer());
  if (!isExif) return shifted(xmpLocation(item), at);
  // An Exif item: a 4-byte offset to the TIFF header, then the TIFF.
  const tiffAt = item.byteLength >= 4 ? 4 + new DataView(item.buffer).getUint32(0) : item.byteLength;
  if (tiffAt > item.byteLength) return [zeros(at, length)];
  return shifted(exifPatches(item.subarray(tiffAt)), at + tiffAt);
}
