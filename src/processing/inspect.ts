/**
 * One streaming pass over a stored original: what it really is (sniffed from the bytes), its
 * pixel dimensions (from the header, before anything decodes it), its SHA-256, signs that it is
 * a polyglot (an archive or HTML riding along), whether it is truncated, and the plan for a
 * scrubbed copy: byte ranges of the original to keep plus a few new bytes, so the copy is
 * written by streaming ranges, never by re-encoding. The same pass finds the photo's EXIF wherever
 * the format keeps it (before or after the image data, at any offset) and reads it.
 *
 * Nothing a file says about itself is believed: every length and offset is checked against what
 * is left of the object before anything is allocated or read (see PullReader), so a header that
 * claims 4 GiB costs nothing but its rejection.
 */
import { noMetadata, readExif, readHeifExifItem, type PhotoMetadata } from "./metadata";
import { MAX_STRUCTURES, PullReader } from "./pull-reader";
import { crc32 } from "../lib/crc32";
import { hexOf } from "../lib/crypto";
import { isVideoType, videoTypes, type ImageType, type VideoType } from "../lib/media-types";

export { isVideoType, videoTypes, type VideoType };

/** A piece of the scrubbed copy: bytes [start, end) of the original, or new bytes. */
export type ScrubPiece = { start: number; end: number } | { bytes: Uint8Array };

export interface Inspection {
  type: ImageType;
  size: number;
  sha256: string;
  width: number;
  height: number;
  /** Non-image content found (polyglot); empty for a clean image. */
  threats: string[];
  /** Why the image data ends early (no JPEG EOI, PNG IEND, a short RIFF, a length past the end); null if it does not. */
  truncated: string | null;
  /** How to write the scrubbed copy; null where it cannot be made. */
  scrub: ScrubPiece[] | null;
  metadata: PhotoMetadata;
  /** HEIF: where the Exif item's bytes are (downloads/location.ts blanks its GPS there). */
  exifItem?: { start: number; end: number } | null;
}

export class TooManyPixelsError extends Error {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly maxPixels: number,
  ) {
    super(`the image is ${width}×${height} pixels, over the limit of ${maxPixels}`);
  }
}

/** The bytes are not a well-formed image of their type (no dimensions, a malformed header). */
export class NotAnImageError extends Error {}

/** A few bytes as text (box types, chunk names, short identifiers): never a whole buffer. */
function ascii(bytes: Uint8Array, start: number, length: number): string {
  let text = "";
  for (let i = start; i < Math.min(start + length, bytes.byteLength); i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

const bytesOf = (text: string) => Uint8Array.from(text, (ch) => ch.charCodeAt(0));

/** Where `needle` first occurs in `haystack` at or after `from`, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  for (let at = haystack.indexOf(needle[0]!, from); at >= 0 && at + needle.byteLength <= haystack.byteLength; at = haystack.indexOf(needle[0]!, at + 1)) {
    let k = 1;
    while (k < needle.byteLength && haystack[at + k] === needle[k]) k++;
    if (k === needle.byteLength) return at;
  }
  return -1;
}
const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32be = (b: Uint8Array, i: number) => (u16be(b, i) * 65536) + u16be(b, i + 2);
const u32le = (b: Uint8Array, i: number) => b[i]! + b[i + 1]! * 256 + b[i + 2]! * 65536 + b[i + 3]! * 16777216;
const u24le = (b: Uint8Array, i: number) => b[i]! + b[i + 1]! * 256 + b[i + 2]! * 65536;

const HEIC_BRANDS = new Set(["heic", "heix", "hevc", "hevx", "heim", "heis"]);
const HEIF_BRANDS = new Set(["mif1", "msf1", "heif"]);
/** Still-image brands of ISO-BMFF we do not accept (AVIF): never taken for a video either. */
const OTHER_IMAGE_BRANDS = new Set(["avif", "avis", "avio", "MiHE", "MiHB", "MiAC", "jpeg", "jpgs", "j2ki", "j2is"]);
const QUICKTIME_BRAND = "qt  ";
/** MP4 (ISO base media and its MPEG-4, H.264 and HEVC brands, Apple's M4V) and QuickTime. */
const VIDEO_BRANDS = new Set([
  ...["isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "M4VH", "M4VP", QUICKTIME_BRAND],
  ...["hvc1", "hev1", "hvc2", "hev2"],
]);

/** The type the bytes say, image or video, from the ftyp box's first 32 bytes (or the image's magic); null if none we accept. */
export function sniffMedia(head: Uint8Array): ImageType | VideoType | null {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "image/jpeg";
  if (ascii(head, 0, 8) === "\x89PNG\r\n\x1a\n") return "image/png";
  if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 4) === "WEBP") return "image/webp";
  if (ascii(head, 4, 4) === "ftyp") {
    const major = ascii(head, 8, 4);
    const brands = [major];
    for (let i = 16; i + 4 <= Math.min(head.byteLength, u32be(head, 0)); i += 4) brands.push(ascii(head, i, 4));
    // An image brand anywhere makes it an image: a HEIF may well list isom or mp41 among its brands too.
    if (brands.some((brand) => HEIC_BRANDS.has(brand))) return "image/heic";
    if (brands.some((brand) => HEIF_BRANDS.has(brand))) return "image/heif";
    if (brands.some((brand) => OTHER_IMAGE_BRANDS.has(brand))) return null;
    if (major === QUICKTIME_BRAND) return "video/quicktime";
    if (brands.some((brand) => VIDEO_BRANDS.has(brand))) return "video/mp4";
  }
  return null;
}

/** The image type the bytes say; null for anything else (videos included). */
export function sniffType(head: Uint8Array): ImageType | null {
  const type = sniffMedia(head);
  return isVideoType(type) ? null : type;
}

/** Signatures of content that has no business inside a photo. */
const ARCHIVE_SIGNATURES: Array<[Uint8Array, string]> = [
  [bytesOf("PK\x03\x04"), "a ZIP archive"],
  [bytesOf("Rar!\x1a\x07"), "a RAR archive"],
  [bytesOf("7z\xbc\xaf\x27\x1c"), "a 7-Zip archive"],
  [bytesOf("%PDF-"), "a PDF document"],
];
const MARKUP_SIGNATURES = ["<script", "<html", "<?php", "<iframe", "<!doctype html", "<svg", "<body"];

export function findArchive(bytes: Uint8Array): string | null {
  for (const [signature, what] of ARCHIVE_SIGNATURES) if (indexOfBytes(bytes, signature) >= 0) return what;
  return null;
}

/** The archive whose signature the bytes start with, if any. */
export function archiveAtStart(bytes: Uint8Array): string | null {
  for (const [signature, what] of ARCHIVE_SIGNATURES) if (signature.every((byte, i) => bytes[i] === byte)) return what;
  return null;
}

/** Bytes that end a tag's name: without one after it, `<svg` is just four bytes of image data. */
const TAG_END = new Set([0x20, 0x09, 0x0a, 0x0c, 0x0d, 0x3e, 0x2f]);

/**
 * Looks for HTML/script markup across a stream of chunks (matches may straddle chunks). A match
 * is a signature (any case) followed by a byte that ends a tag name: in compressed image data a
 * 4-byte `<svg` alone turns up about once in 550 MB, with the terminator once in ~20 GB.
 */
export class MarkupScanner {
  #carry = new Uint8Array(0);
  found: string | null = null;

  push(chunk: Uint8Array): void {
    if (this.found) return;
    const window = this.#carry.byteLength ? concat(this.#carry, chunk) : chunk;
    for (let at = window.indexOf(0x3c); at >= 0; at = window.indexOf(0x3c, at + 1)) {
      for (const signature of MARKUP_SIGNATURES) {
        if (at + signature.length >= window.byteLength) continue;
        let match = TAG_END.has(window[at + signature.length]!);
        for (let k = 1; k < signature.length && match; k++) {
          const byte = window[at + k]!;
          match = (byte >= 0x41 && byte <= 0x5a ? byte + 32 : byte) === signature.charCodeAt(k);
        }
        if (match) {
          this.found = signature;
          return;
        }
      }
    }
    // The longest signature and its terminator.
    this.#carry = window.slice(Math.max(0, window.byteLength - 15));
  }
}

/** ZIP readers find an archive by its end record, up to 64 KiB of comment before the end. */
export const ZIP_TAIL_BYTES = 22 + 65_535;

/** True if the bytes end with a ZIP end-of-central-directory record that accounts for the end. */
export function endsWithZip(bytes: Uint8Array): boolean {
  for (let at = bytes.byteLength - 22; at >= 0; at--) {
    if (bytes[at] === 0x50 && bytes[at + 1] === 0x4b && bytes[at + 2] === 0x05 && bytes[at + 3] === 0x06) {
      const commentLength = bytes[at + 20]! | (bytes[at + 21]! << 8);
      if (at + 22 + commentLength === bytes.byteLength) return true;
    }
  }
  return false;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Accumulates the scrub plan, merging adjacent kept ranges. */
class ScrubPlan {
  readonly pieces: ScrubPiece[] = [];
  keep(start: number, end: number): void {
    if (end <= start) return;
    const last = this.pieces.at(-1);
    if (last && "end" in last && last.end === start) last.end = end;
    else this.pieces.push({ start, end });
  }
  insert(bytes: Uint8Array): void {
    this.pieces.push({ bytes });
  }
}

interface FormatResult {
  width: number;
  height: number;
  truncated: boolean;
  threats: string[];
  scrub: ScrubPiece[] | null;
  metadata?: PhotoMetadata;
  exifItem?: { start: number; end: number } | null;
}

export interface InspectOptions {
  maxPixels: number;
  /** The object's size in bytes, as storage reports it: every length the file claims is checked against it. */
  size: number;
}

/** The most EXIF bytes read from a WebP EXIF chunk or a HEIF Exif item (a JPEG APP1 holds at most 64 KiB; PNG chunks up to 1 MiB are read for the archive scan anyway). */
const MAX_EXIF_BYTES = 256 * 1024;

/** True when a parsed dimension is a usable pixel count. */
const isDimension = (n: number) => Number.isInteger(n) && n >= 1;

export async function inspect(stream: ReadableStream<Uint8Array>, type: ImageType, options: InspectOptions): Promise<Inspection> {
  const digest = new crypto.DigestStream("SHA-256");
  digest.digest.catch(() => {}); // rejects when an abandoned pass aborts the stream
  const digestWriter = digest.getWriter();
  const markup = new MarkupScanner();
  const reader = new PullReader(stream, options.size, (chunk) => {
    void digestWriter.write(chunk);
    markup.push(chunk);
  });
  const checkPixels = (width: number, height: number) => {
    if (width * height > options.maxPixels) throw new TooManyPixelsError(width, height, options.maxPixels);
  };
  let result: FormatResult;
  try {
    const parsers = { "image/jpeg": parseJpeg, "image/png": parsePng, "image/webp": parseWebp, "image/heic": parseHeif, "image/heif": parseHeif } satisfies Record<ImageType, unknown>;
    const parse = parsers[type];
    result = await parse(reader, checkPixels);
    await reader.drain();
    if (!result.truncated && !(isDimension(result.width) && isDimension(result.height))) {
      throw new NotAnImageError(`no image dimensions found in the ${type.slice(6).toUpperCase()} header`);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    void digestWriter.abort(error).catch(() => {});
    throw error;
  }
  await digestWriter.close();
  const sha256 = hexOf(await digest.digest);
  const threats = [...result.threats];
  if (markup.found) threats.push(`it contains markup (${markup.found})`);
  return { type, size: reader.offset, sha256, ...result, threats, truncated: result.truncated ? truncation(reader) : null, metadata: result.metadata ?? noMetadata };
}

const tooManyStructures = (what: string) => new NotAnImageError(`it has more than ${MAX_STRUCTURES} ${what}`);

function truncation(reader: PullReader): string {
  const claim = reader.shortfall;
  if (!claim) return "the image data is truncated: the file ends before the image does";
  return `the image data is truncated: at byte ${claim.at} it claims ${claim.wanted} more bytes, but only ${claim.left} are left`;
}

/**
 * Through a JPEG's entropy-coded data to the next marker, which it returns (null if the file ends
 * first). In the data 0xFF is followed by 0x00 (stuffing) or RSTn; fill bytes may precede a
 * marker. A plain loop over each buffered chunk, not indexOf: data dense with 0xFF (all stuffing,
 * say) would make that one call per byte pair, several times slower than looking at every byte.
 */
export async function markerAfterScanData(reader: PullReader): Promise<number | null> {
  let afterFf = false;
  let marker: number | null = null;
  const found = await reader.seek((chunk, from) => {
    for (let at = from; at < chunk.byteLength; at++) {
      const byte = chunk[at]!;
      if (!afterFf || byte === 0xff) {
        afterFf = byte === 0xff;
        continue;
      }
      afterFf = false;
      if (byte !== 0x00 && (byte < 0xd0 || byte > 0xd7)) {
        marker = byte;
        return at + 1;
      }
    }
    return -1;
  });
  return found ? marker : null;
}

/** Only the orientation survives scrubbing: a minimal big-endian TIFF with one IFD0 entry. */
export function orientationTiff(orientation: number): Uint8Array {
  // "MM\0*", IFD0 at 8: one entry (tag 0x0112 SHORT count 1), next-IFD offset 0.
  return Uint8Array.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0]);
}

type CheckPixels = (width: number, height: number) => void;

/** Carries the photo's orientation into the scrubbed copy (1 or none: nothing to carry). */
const needsOrientation = (metadata: PhotoMetadata) => metadata.orientation !== null && metadata.orientation !== 1;

async function parseJpeg(reader: PullReader, checkPixels: CheckPixels): Promise<FormatResult> {
  const plan = new ScrubPlan();
  const threats: string[] = [];
  let width = 0;
  let height = 0;
  await reader.skip(2); // SOI, checked by sniffing
  plan.keep(0, 2);
  /** Where the first scan starts: from there to EOI the image data is kept as one range. */
  let scanStart: number | null = null;
  let metadata: PhotoMetadata | undefined;
  const ended = (truncated: boolean, threat?: string) => ({
    width,
    height,
    truncated,
    threats: threat ? [...threats, threat] : threats,
    scrub: plan.pieces,
    metadata,
  });
  for (;;) {
    if (reader.tooManyStructures()) throw tooManyStructures("segments");
    // Find the next marker: once a scan has begun, past its entropy-coded data.
    let marker: number | null;
    if (scanStart !== null) {
      marker = await markerAfterScanData(reader);
      if (marker === null) return ended(true);
    } else {
      const byte = await reader.byte();
      if (byte === null) return ended(true);
      if (byte !== 0xff) throw new NotAnImageError(`its JPEG structure is broken: no marker at byte ${reader.offset - 1}`);
      marker = await reader.byteAfterRun(0xff); // fill bytes may precede a marker
      if (marker === null) return ended(true);
    }
    const markerStart = reader.offset - 2;
    if (marker === 0xd9) {
      if (scanStart === null) return ended(true);
      plan.keep(scanStart, reader.offset);
      // Trailing data (motion-photo video, MPF images) is left out of the scrubbed copy.
      const what = findArchive(await reader.bytesUpTo(16));
      return ended(false, what ? `${what} is appended after the image` : undefined);
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      if (scanStart === null) plan.keep(markerStart, reader.offset);
      continue;
    }
    const lengthBytes = await reader.bytes(2);
    if (!lengthBytes) return ended(true);
    const payloadLength = u16be(lengthBytes, 0) - 2;
    if (payloadLength < 0) throw new NotAnImageError(`its JPEG structure is broken: a segment length of ${payloadLength + 2} at byte ${markerStart + 2}`);
    const isApp = marker >= 0xe0 && marker <= 0xef;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (scanStart === null && (isApp || marker === 0xfe || isSof)) {
      const payload = await reader.bytes(payloadLength);
      if (!payload) return ended(true);
      const segmentEnd = reader.offset;
      if (isSof) {
        if (payload.byteLength < 6) throw new NotAnImageError(`its JPEG structure is broken: a frame header of ${payload.byteLength} bytes`);
        height = u16be(payload, 1);
        width = u16be(payload, 3);
        checkPixels(width, height);
        plan.keep(markerStart, segmentEnd);
        continue;
      }
      const what = findArchive(payload);
      if (what) threats.push(`${what} is embedded in its metadata`);
      const id = ascii(payload, 0, Math.min(payload.byteLength, 14));
      if (marker === 0xe0 && (id.startsWith("JFIF\0") || id.startsWith("JFXX\0"))) plan.keep(markerStart, segmentEnd);
      else if (marker === 0xe2 && id.startsWith("ICC_PROFILE\0")) plan.keep(markerStart, segmentEnd);
      else if (marker === 0xee && id.startsWith("Adobe")) plan.keep(markerStart, segmentEnd);
      else if (marker === 0xe1 && id.startsWith("Exif\0\0") && !metadata) {
        metadata = await readExif(payload);
        if (needsOrientation(metadata)) plan.insert(jpegExifSegment(metadata.orientation!));
      }
      // Everything else (EXIF with GPS, XMP, IPTC, MPF, comments, maker APPn) is left out.
      continue;
    }
    if (!(await reader.skip(payloadLength))) return ended(true);
    if (scanStart === null) {
      if (marker === 0xda) scanStart = markerStart;
      else plan.keep(markerStart, reader.offset);
    }
  }
}

/** An APP1 segment carrying only the orientation. */
function jpegExifSegment(orientation: number): Uint8Array {
  const tiff = orientationTiff(orientation);
  const segment = new Uint8Array(10 + tiff.byteLength);
  segment.set([0xff, 0xe1, 0, segment.byteLength - 2, 0x45, 0x78, 0x69, 0x66, 0, 0]);
  segment.set(tiff, 10);
  return segment;
}

const PNG_DROPPED_CHUNKS = new Set(["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]);

/**
 * PNG: dimensions from IHDR, metadata from the first eXIf chunk wherever it is (before or after
 * IDAT); the scrubbed copy drops the text and EXIF chunks, putting the orientation (alone) where
 * the eXIf chunk was.
 */
async function parsePng(reader: PullReader, checkPixels: CheckPixels): Promise<FormatResult> {
  const plan = new ScrubPlan();
  const threats: string[] = [];
  let width = 0;
  let height = 0;
  let metadata: PhotoMetadata | undefined;
  await reader.skip(8);
  plan.keep(0, 8);
  const ended = (truncated: boolean) => ({ width, height, truncated, threats, scrub: plan.pieces, metadata });
  for (;;) {
    if (reader.tooManyStructures()) throw tooManyStructures("chunks");
    const chunkStart = reader.offset;
    const header = await reader.bytes(8);
    if (!header) return ended(true);
    const length = u32be(header, 0);
    const type = ascii(header, 4, 4);
    if ((chunkStart === 8) !== (type === "IHDR") || (type === "IHDR" && length !== 13)) {
      throw new NotAnImageError("its PNG structure is broken: IHDR must come first, with 13 bytes");
    }
    if (type === "IHDR" || (type !== "IDAT" && length <= 1024 * 1024)) {
      const data = await reader.bytes(length + 4);
      if (!data) return ended(true);
      if (type === "IHDR") {
        width = u32be(data, 0);
        height = u32be(data, 4);
        checkPixels(width, height);
      } else {
        const what = findArchive(data);
        if (what) threats.push(`${what} is embedded in its ${type} chunk`);
      }
      if (type === "eXIf" && !metadata) {
        metadata = await readExif(data.subarray(0, length));
        if (needsOrientation(metadata)) plan.insert(pngChunk("eXIf", orientationTiff(metadata.orientation!)));
      }
    } else if (!(await reader.skip(length + 4))) {
      return ended(true);
    }
    if (!PNG_DROPPED_CHUNKS.has(type)) plan.keep(chunkStart, reader.offset);
    if (type === "IEND") {
      const what = findArchive(await reader.bytesUpTo(16));
      if (what) threats.push(`${what} is appended after the image`);
      return ended(false);
    }
  }
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.byteLength);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.byteLength);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(data, 8);
  view.setUint32(8 + data.byteLength, crc32(chunk.subarray(4, 8 + data.byteLength)));
  return chunk;
}

/**
 * WebP: dimensions from VP8X or the first image chunk's header, metadata from the EXIF chunk,
 * which the container spec puts after the image data. The scrubbed copy leaves out EXIF and XMP.
 */
async function parseWebp(reader: PullReader, checkPixels: CheckPixels): Promise<FormatResult> {
  const threats: string[] = [];
  const kept: ScrubPiece[] = [];
  let keptBytes = 4; // "WEBP"
  let width = 0;
  let height = 0;
  let metadata: PhotoMetadata | undefined;
  const truncated = () => ({ width, height, truncated: true, threats, scrub: null, metadata });
  const riff = await reader.bytes(12);
  if (!riff) return truncated();
  const riffEnd = 8 + u32le(riff, 4);
  if (!reader.has(riffEnd - reader.offset)) return truncated();
  const keep = (piece: ScrubPiece) => {
    kept.push(piece);
    keptBytes += "bytes" in piece ? piece.bytes.byteLength : piece.end - piece.start;
  };
  while (reader.offset < riffEnd) {
    if (reader.tooManyStructures()) throw tooManyStructures("chunks");
    const chunkStart = reader.offset;
    const header = await reader.bytes(8);
    if (!header) return truncated();
    const fourcc = ascii(header, 0, 4);
    const size = u32le(header, 4);
    const padded = size + (size & 1);
    if (!reader.has(padded)) return truncated();
    if (fourcc === "VP8X") {
      if (size !== 10) throw new NotAnImageError(`its WebP structure is broken: VP8X has ${size} bytes, not 10`);
      const data = (await reader.bytes(padded))!;
      width = u24le(data, 4) + 1;
      height = u24le(data, 7) + 1;
      checkPixels(width, height);
      data[0] = data[0]! & ~0x0c; // no EXIF, no XMP
      keep({ bytes: concat(header, data) });
      continue;
    }
    if (fourcc === "VP8 " || fourcc === "VP8L") {
      // Only the frame header is needed; the image data is skipped, never held.
      const frame = await reader.bytesUpTo(Math.min(padded, 10));
      if (!(await reader.skip(padded - frame.byteLength))) return truncated();
      if (width === 0 && fourcc === "VP8 ") {
        width = u16le(frame, 6) & 0x3fff;
        height = u16le(frame, 8) & 0x3fff;
      } else if (width === 0) {
        const bits = u32le(frame, 1);
        width = (bits & 0x3fff) + 1;
        height = ((bits >>> 14) & 0x3fff) + 1;
      }
      checkPixels(width, height);
      keep({ start: chunkStart, end: reader.offset });
      continue;
    }
    if (fourcc === "EXIF" && !metadata && padded <= MAX_EXIF_BYTES) {
      metadata = await readExif((await reader.bytes(padded))!.subarray(0, size));
      continue;
    }
    if (fourcc === "EXIF" || fourcc === "XMP ") {
      await reader.skip(padded);
      continue;
    }
    if (padded <= 1024 * 1024) {
      const what = findArchive((await reader.bytes(padded))!);
      if (what) threats.push(`${what} is embedded in its ${fourcc.trim()} chunk`);
    } else {
      await reader.skip(padded);
    }
    keep({ start: chunkStart, end: reader.offset });
  }
  const what = findArchive(await reader.bytesUpTo(16));
  if (what) threats.push(`${what} is appended after the image`);
  const head = new Uint8Array(12);
  head.set(riff.subarray(0, 4));
  new DataView(head.buffer).setUint32(4, keptBytes, true);
  head.set(riff.subarray(8, 12), 8);
  return { width, height, truncated: false, threats, scrub: [{ bytes: head }, ...kept], metadata };
}

const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);

/**
 * HEIC/HEIF: dimensions from the largest `ispe` property, and the scrub plan, from the header
 * (the first 512 KiB, where camera files keep their meta box), and metadata from the Exif item,
 * wherever iloc puts it. Scrubbing blanks the Exif and XMP items' bytes in place: the file keeps
 * its length, so every item location stays valid, and the orientation (the `irot`/`imir`
 * properties, not EXIF) is untouched.
 */
async function parseHeif(reader: PullReader, checkPixels: CheckPixels): Promise<FormatResult> {
  const head = await reader.bytesUpTo(512 * 1024);
  let width = 0;
  let height = 0;
  const ispe = bytesOf("ispe");
  for (let at = indexOfBytes(head, ispe); at >= 0; at = indexOfBytes(head, ispe, at + 4)) {
    const w = u32be(head, at + 8);
    const h = u32be(head, at + 12);
    if (w * h > width * height) [width, height] = [w, h];
  }
  if (width === 0) throw new NotAnImageError("no image dimensions found in the HEIF header");
  checkPixels(width, height);
  const items = heifPersonalItems(head, reader.size);
  const exif = items?.exif;
  let metadata: PhotoMetadata | undefined;
  if (exif && exif.end - exif.start <= MAX_EXIF_BYTES) {
    // The item is read as the pass goes by it: from the header, or from the stream further on.
    const inHead = head.subarray(exif.start, Math.min(exif.end, head.byteLength));
    if (exif.start > reader.offset) await reader.skip(exif.start - reader.offset);
    const rest = exif.end > reader.offset ? await reader.bytesUpTo(exif.end - Math.max(exif.start, reader.offset)) : new Uint8Array(0);
    metadata = await readHeifExifItem(inHead.byteLength ? concat(inHead, rest) : rest);
  }
  return { width, height, truncated: false, threats: [], scrub: items && blankingPlan(items.personal, reader.size), metadata, exifItem: exif ?? null };
}

interface Box {
  type: string;
  start: number;
  body: number;
  end: number;
}

function* boxes(bytes: Uint8Array, from: number, to: number): Generator<Box> {
  for (let at = from; at + 8 <= to; ) {
    let length = u32be(bytes, at);
    let body = at + 8;
    if (length === 1 && at + 16 <= to) {
      length = u32be(bytes, at + 8) * 2 ** 32 + u32be(bytes, at + 12);
      body = at + 16;
    } else if (length === 0) {
      length = to - at;
    }
    if (length < 8 || at + length > to) return;
    yield { type: ascii(bytes, at + 4, 4), start: at, body, end: at + length };
    at += length;
  }
}

/** Reads an unsigned big-endian integer of 0, 4 or 8 bytes. */
function uint(bytes: Uint8Array, at: number, size: number): number {
  if (size === 0) return 0;
  if (size === 4) return u32be(bytes, at);
  if (size === 8) return u32be(bytes, at) * 2 ** 32 + u32be(bytes, at + 4);
  if (size === 2) return u16be(bytes, at);
  throw new Error(`unsupported integer size ${size}`);
}

/**
 * Where the Exif and XMP items' bytes are (file ranges), from the meta box's iinf and iloc;
 * null if the header cannot be read with certainty.
 */
function heifPersonalItems(
  head: Uint8Array,
  size: number,
): { personal: Array<[number, number]>; exif: { start: number; end: number } | null } | null {
  try {
    const meta = [...boxes(head, 0, head.byteLength)].find((box) => box.type === "meta");
    if (!meta) return null;
    const children = [...boxes(head, meta.body + 4, meta.end)];
    const iinf = children.find((box) => box.type === "iinf");
    const iloc = children.find((box) => box.type === "iloc");
    if (!iinf || !iloc) return null;

    const personal = new Set<number>();
    const exifIds = new Set<number>();
    const entriesAt = iinf.body + 4 + (head[iinf.body] === 0 ? 2 : 4);
    for (const infe of boxes(head, entriesAt, iinf.end)) {
      if (infe.type !== "infe" || head[infe.body]! < 2) continue;
      const version = head[infe.body]!;
      const idSize = version === 2 ? 2 : 4;
      const id = uint(head, infe.body + 4, idSize);
      const itemType = ascii(head, infe.body + 4 + idSize + 2, 4);
      let contentType = "";
      if (itemType === "mime") {
        const nameStart = infe.body + 4 + idSize + 6;
        const nameEnd = head.indexOf(0, nameStart);
        const typeEnd = head.indexOf(0, nameEnd + 1);
        contentType = ascii(head, nameEnd + 1, Math.max(0, typeEnd - nameEnd - 1));
      }
      if (itemType === "Exif") exifIds.add(id);
      if (itemType === "Exif" || (itemType === "mime" && /xmp|rdf\+xml/i.test(contentType))) personal.add(id);
    }

    const version = head[iloc.body]!;
    let at = iloc.body + 4;
    const offsetSize = head[at]! >> 4;
    const lengthSize = head[at]! & 15;
    const baseOffsetSize = head[at + 1]! >> 4;
    const indexSize = version >= 1 ? head[at + 1]! & 15 : 0;
    at += 2;
    const itemCount = version < 2 ? u16be(head, at) : u32be(head, at);
    at += version < 2 ? 2 : 4;
    const blanks: Array<[number, number]> = [];
    let exif: { start: number; end: number } | null = null;
    for (let item = 0; item < itemCount; item++) {
      if (at > iloc.end) return null;
      const id = version < 2 ? u16be(head, at) : u32be(head, at);
      at += version < 2 ? 2 : 4;
      const construction = version >= 1 ? u16be(head, at) & 15 : 0;
      if (version >= 1) at += 2;
      at += 2; // data reference index
      const base = uint(head, at, baseOffsetSize);
      at += baseOffsetSize;
      const extents = u16be(head, at);
      at += 2;
      for (let extent = 0; extent < extents; extent++) {
        // Counts come from the file: stop where the box does, not where they say.
        if (at > iloc.end) return null;
        at += indexSize;
        const offset = uint(head, at, offsetSize);
        at += offsetSize;
        const length = uint(head, at, lengthSize);
        at += lengthSize;
        if (personal.has(id)) {
          if (construction !== 0 || length === 0 || base + offset + length > size) return null;
          blanks.push([base + offset, base + offset + length]);
          if (exifIds.has(id) && extents === 1) exif = { start: base + offset, end: base + offset + length };
        }
      }
    }
    return { personal: blanks, exif };
  } catch {
    return null;
  }
}

/** A copy of the file with the given byte ranges zeroed (same length); null if they overlap. */
function blankingPlan(ranges: Array<[number, number]>, size: number): ScrubPiece[] | null {
  const plan = new ScrubPlan();
  let position = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < position) return null;
    plan.keep(position, start);
    plan.insert(new Uint8Array(end - start));
    position = end;
  }
  plan.keep(position, size);
  return plan.pieces;
}
