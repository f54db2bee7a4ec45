/**
 * Videos (MP4 and QuickTime, ISO-BMFF): what the container says about itself, read without
 * loading the file. The top-level boxes are walked by their headers through ranged reads, so
 * the media data (`mdat`, nearly all of the file) is stepped over, wherever the `moov` box is
 * (phones write it after the media). Other top-level boxes are scanned in pieces for files
 * riding along (media data is not: it is compressed noise where any short signature turns up by
 * chance). Only `moov` is read whole, up to MAX_MOOV_BYTES; from it:
 * - the headers the metadata needs (mvhd; the video track's tkhd and mdhd) go to mp4box, GPAC's
 *   parser, as a pruned copy: its sample-table parsers size arrays from counts in the file (an
 *   `stsz` claiming 4 billion samples would be 4 billion pushes), so they never see one;
 * - the places a location is kept (udta `©xyz` and `loci`, the QuickTime `meta` keys
 *   `com.apple.quicktime.location.*`, XMP) are found with their byte ranges, for blanking in
 *   place (downloads/location.ts) and for the photo's GPS.
 *
 * Nothing a file says about itself is believed: every length is checked against its parent box
 * and the object's size before anything is read or allocated.
 */
import { ISOFile, MultiBufferStream } from "mp4box/simple";
import { archiveAtStart, endsWithZip, findArchive, MarkupScanner, ZIP_TAIL_BYTES, type VideoType } from "./inspect";
import { MAX_STRUCTURES, ShortReadError } from "./pull-reader";

/** The bytes are not a well-formed video we accept, or claim absurd things (dimensions, duration). */
export class NotAVideoError extends Error {}

/** The most bytes of `moov` read into memory: a phone's hour-long video has a few MiB. */
export const MAX_MOOV_BYTES = 16 * 1024 * 1024;
/** Top-level boxes: a phone writes about five; each one past the first window may cost a ranged read. */
export const MAX_TOP_LEVEL_BOXES = 1024;
/** Top-level boxes other than media data are scanned for other files riding along in pieces of this size. */
const SCAN_PIECE_BYTES = 1024 * 1024;
/** The longest archive or markup signature, and the byte after it: pieces overlap by this much. */
const SIGNATURE_OVERLAP = 16;
/** A duration beyond this is a header lying, not a guest's video. */
export const MAX_VIDEO_SECONDS = 24 * 60 * 60;
/** Per side: 16K is past any camera. */
export const MAX_VIDEO_SIDE = 16_384;
/** Box headers are read in windows of this size, so small boxes in a row cost one read. */
const READ_WINDOW = 64 * 1024;

/** Random access to a stored object. `read` answers exactly `length` bytes from `offset`. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** An R2 object as a ByteSource: one ranged GET per read. */
export function r2Source(bucket: R2Bucket, key: string, size: number): ByteSource {
  return {
    size,
    async read(offset, length) {
      const object = await bucket.get(key, { range: { offset, length } });
      const bytes = object ? new Uint8Array(await object.arrayBuffer()) : new Uint8Array(0);
      if (bytes.byteLength !== length) throw new ShortReadError(`a read of ${length} bytes at ${offset} of the stored original returned ${bytes.byteLength}`);
      return bytes;
    },
  };
}

/** Where a location is kept, and what to overwrite it with (same length): spaces for text, zeros for numbers, or new bytes. */
export type LocationField = { at: number; length: number } & ({ fill: number } | { bytes: Uint8Array });

export interface VideoInspection {
  type: VideoType;
  size: number;
  durationSeconds: number;
  /** The video track's size as stored; `rotation` says how to turn it for display. */
  width: number;
  height: number;
  /** Clockwise degrees, from the track matrix (a phone held upright records 90). */
  rotation: 0 | 90 | 180 | 270;
  /** The sample entry's four-character code: avc1/avc3 (H.264), hvc1/hev1 (HEVC), … */
  codec: string | null;
  /** Milliseconds since the epoch: Apple's creation date key, else the movie header's. */
  createdAt: number | null;
  gps: { latitude: number; longitude: number } | null;
  /** Every place a location (or a block that may hold one, like XMP) is kept. */
  locationFields: LocationField[];
  /**
   * Why a location may be in the media data itself, where it cannot be blanked in place: a track
   * of timed metadata that declares location keys or GPS telemetry (GoPro's gpmd, an iPhone's
   * mebx with location keys), or of text (drones write their position as subtitles). Null if none.
   */
  locationInSamples: string | null;
  /** Other files found riding along (a polyglot); empty for a clean video. */
  threats: string[];
  /** Why the file ends early (a box claims more bytes than are left); null if it does not. */
  truncated: string | null;
}

export interface VideoInspectOptions {
  maxPixels: number;
}

interface Box {
  type: string;
  /** Offsets in the buffer (or the file, at the top level). */
  start: number;
  body: number;
  end: number;
}

/** Bytes as one character each; in slices, since a metadata value may be megabytes (too many arguments for one call). */
function ascii(bytes: Uint8Array, start: number, length: number): string {
  const end = Math.min(start + length, bytes.byteLength);
  let text = "";
  for (let at = start; at < end; at += 8192) text += String.fromCharCode(...bytes.subarray(at, Math.min(at + 8192, end)));
  return text;
}
const u16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u32 = (b: Uint8Array, i: number) => u16(b, i) * 65536 + u16(b, i + 2);
const i32 = (b: Uint8Array, i: number) => u32(b, i) | 0;
/** Box types are four printable Latin-1 characters (QuickTime's use ©, 0xA9). */
const isBoxType = (b: Uint8Array, i: number) => [0, 1, 2, 3].every((k) => (b[i + k]! >= 0x20 && b[i + k]! <= 0x7e) || b[i + k] === 0xa9);

/** A box header at `at` of `bytes`, whose container ends at `to`; `anyType` for a list whose items are named by number (a QuickTime ilst). */
function boxAt(bytes: Uint8Array, at: number, to: number, where: string, anyType = false): Box {
  let length = u32(bytes, at);
  let body = at + 8;
  if (length === 1) {
    if (at + 16 > to) throw new NotAVideoError(`a box header in ${where} is cut off`);
    length = u32(bytes, at + 8) * 2 ** 32 + u32(bytes, at + 12);
    body = at + 16;
  } else if (length === 0) {
    length = to - at;
  }
  if (!anyType && !isBoxType(bytes, at + 4)) throw new NotAVideoError(`${where} holds something that is not a box`);
  if (length < body - at || at + length > to) throw new NotAVideoError(`a ${ascii(bytes, at + 4, 4)} box in ${where} claims ${length} bytes, but ${where} has ${to - at} left`);
  return { type: ascii(bytes, at + 4, 4), start: at, body, end: at + length };
}

/** Counts the boxes read in moov against MAX_STRUCTURES. */
class BoxCounter {
  #count = 0;
  count(): void {
    if (++this.#count > MAX_STRUCTURES) throw new NotAVideoError(`its moov box has more than ${MAX_STRUCTURES} boxes`);
  }
}

function children(bytes: Uint8Array, parent: Box, counter: BoxCounter, from = parent.body): Box[] {
  const found: Box[] = [];
  // Fewer than 8 bytes left end the list (QuickTime allows a 4-byte zero terminator in udta).
  for (let at = from; at + 8 <= parent.end; ) {
    counter.count();
    const box = boxAt(bytes, at, parent.end, `its ${parent.type} box`, parent.type === "ilst");
    found.push(box);
    at = box.end;
  }
  return found;
}

// --- the top level: ranged reads, mdat stepped over ---------------------------------------------

/** Reads windows of a ByteSource, so consecutive small reads share one. */
class WindowedReader {
  #window: Uint8Array = new Uint8Array(0);
  #start = 0;
  constructor(readonly source: ByteSource) {}

  /** `length` bytes at `at`; the caller has checked they exist. */
  async bytes(at: number, length: number): Promise<Uint8Array> {
    if (at < this.#start || at + length > this.#start + this.#window.byteLength) {
      const windowLength = Math.min(Math.max(length, READ_WINDOW), this.source.size - at);
      this.#window = await this.source.read(at, windowLength);
      this.#start = at;
    }
    return this.#window.subarray(at - this.#start, at - this.#start + length);
  }
}

interface TopLevel {
  moov: Box | null;
  /** XMP kept in a top-level uuid box (Adobe's tools put it there). */
  locationFields: LocationField[];
  threats: string[];
  truncated: string | null;
}

async function walkTopLevel(reader: WindowedReader): Promise<TopLevel> {
  const size = reader.source.size;
  const threats: string[] = [];
  const locationFields: LocationField[] = [];
  let moov: Box | null = null;
  let count = 0;
  for (let at = 0; at < size; ) {
    if (++count > MAX_TOP_LEVEL_BOXES) throw new NotAVideoError(`it has more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`);
    const left = size - at;
    const head = await reader.bytes(at, Math.min(16, left));
    const what = archiveAtStart(head);
    if (left < 8 || !isBoxType(head, 4) || what) {
      threats.push(`${what ?? `${left} bytes that are not part of the video`} ${what ? "is appended" : "follow"} after its last box, at byte ${at}`);
      break;
    }
    const type = ascii(head, 4, 4);
    let length = u32(head, 0);
    let headerLength = 8;
    if (length === 1) {
      if (left < 16) return { moov, locationFields, threats, truncated: `the video is truncated: the ${type} box at byte ${at} is cut off in its header` };
      length = u32(head, 8) * 2 ** 32 + u32(head, 12);
      headerLength = 16;
    } else if (length === 0) {
      length = left;
    }
    if (length < headerLength) throw new NotAVideoError(`its ${type} box at byte ${at} claims ${length} bytes, less than its own header`);
    if (length > left) return { moov, locationFields, threats, truncated: `the video is truncated: the ${type} box at byte ${at} claims ${length} bytes, but only ${left} are left` };
    const box = { type, start: at, body: at + headerLength, end: at + length };
    if (type === "moov") {
      if (moov) throw new NotAVideoError(`it has a second moov box, at byte ${at}`);
      moov = box;
    } else if (type !== "mdat") {
      const withUuid = await reader.bytes(at, Math.min(length, headerLength + 16));
      if (isXmpBox(withUuid, { type, start: 0, body: headerLength, end: length })) locationFields.push({ at: box.body + 16, length: box.end - box.body - 16, fill: SPACE });
      threats.push(...(await scanBox(reader, box)));
    }
    at += length;
  }
  return { moov, locationFields, threats, truncated: null };
}

/** Archives and markup in bytes that are not media data. */
function scan(bytes: Uint8Array, where: string): string[] {
  const markup = new MarkupScanner();
  markup.push(bytes);
  return threatsFound(findArchive(bytes), markup.found, where);
}

/** A top-level box scanned in overlapping pieces, so a large one is never held whole. */
async function scanBox(reader: WindowedReader, box: Box): Promise<string[]> {
  const markup = new MarkupScanner();
  let archive: string | null = null;
  for (let at = box.start; at < box.end && !archive; at += SCAN_PIECE_BYTES) {
    const piece = await reader.bytes(at, Math.min(SCAN_PIECE_BYTES + SIGNATURE_OVERLAP, box.end - at));
    archive = findArchive(piece);
    markup.push(piece.subarray(0, Math.min(SCAN_PIECE_BYTES, piece.byteLength)));
  }
  return threatsFound(archive, markup.found, `its ${box.type} box`);
}

function threatsFound(archive: string | null, markup: string | null, where: string): string[] {
  return [...(archive ? [`${archive} is embedded in ${where}`] : []), ...(markup ? [`${where} contains markup (${markup})`] : [])];
}

// --- moov: the headers, and where the location is -----------------------------------------------

interface Track {
  handler: string | null;
  tkhd: Box | null;
  mdhd: Box | null;
  sampleEntry: { type: string; width: number; height: number } | null;
  /** What its sample description says, as text (to find location keys a timed-metadata track declares). */
  sampleDescription: string;
}

interface MovieParts {
  mvhd: Box | null;
  tracks: Track[];
  locationFields: LocationField[];
  gps: { latitude: number; longitude: number } | null;
  appleCreationDate: number | null;
}

const XMP_UUID = Uint8Array.from([0xbe, 0x7a, 0xcf, 0xcb, 0x97, 0xa9, 0x42, 0xe8, 0x9c, 0x71, 0x99, 0x94, 0x91, 0xe3, 0xaf, 0xac]);
const isXmpBox = (bytes: Uint8Array, box: Box) => box.type === "uuid" && box.body + 16 <= box.end && XMP_UUID.every((byte, i) => bytes[box.body + i] === byte);
const SPACE = 0x20;
const ZERO = 0;
const FREE = Uint8Array.from("free", (ch) => ch.charCodeAt(0));
/** Metadata keys that are (or may hold) a location: Apple's com.apple.quicktime.location.ISO6709, .name, .note, …, and any other writer's. */
const LOCATION_KEY = /location|gps|latitude|longitude/i;
const CREATION_DATE_KEY = "com.apple.quicktime.creationdate";

function readMovie(moov: Uint8Array): MovieParts {
  const counter = new BoxCounter();
  const root: Box = { type: "moov", start: 0, body: 8, end: moov.byteLength };
  const parts: MovieParts = { mvhd: null, tracks: [], locationFields: [], gps: null, appleCreationDate: null };
  const text = (box: Box, from: number) => ({ at: from, length: box.end - from, fill: SPACE });
  const onLocationText = (value: string) => (parts.gps ??= parseIso6709(value));

  const visitUserData = (udta: Box) => {
    for (const box of children(moov, udta, counter)) {
      if (box.type === "\xa9xyz") {
        // A QuickTime string: 16-bit length, 16-bit language, then the text.
        const from = Math.min(box.body + 4, box.end);
        onLocationText(ascii(moov, from, box.end - from));
        parts.locationFields.push(text(box, from));
      } else if (box.type === "loci") {
        parts.gps ??= readLoci(moov.subarray(box.body, box.end));
        // Zeros alone would read as latitude 0, longitude 0: the box becomes a `free` one, which every reader skips.
        parts.locationFields.push({ at: box.start + 4, length: 4, bytes: FREE }, { at: box.body, length: box.end - box.body, fill: ZERO });
      } else if (box.type === "XMP_") {
        parts.locationFields.push(text(box, box.body));
      } else if (box.type === "meta") {
        visitMeta(box);
      } else {
        visitOther(box);
      }
    }
  };

  /** QuickTime's meta (hdlr, keys, ilst: no version/flags) or ISO's (a full box: 4 bytes of them first). */
  const visitMeta = (meta: Box) => {
    const isQuickTime = meta.body + 8 <= meta.end && ["hdlr", "keys", "ilst", "mhdr"].includes(ascii(moov, meta.body + 4, 4));
    const boxes = children(moov, meta, counter, isQuickTime ? meta.body : meta.body + 4);
    const keys = new Map<number, string>();
    const keysBox = boxes.find((box) => box.type === "keys");
    if (keysBox) {
      // version/flags, count, then entries: 32-bit size, 32-bit namespace, the name. Read to the box's end, not the count's.
      let index = 1;
      for (let at = keysBox.body + 8; at + 8 <= keysBox.end; index++) {
        counter.count();
        const length = u32(moov, at);
        if (length < 8 || at + length > keysBox.end) throw new NotAVideoError("its QuickTime metadata keys are broken");
        keys.set(index, ascii(moov, at + 8, length - 8));
        at += length;
      }
    }
    for (const list of boxes) {
      if (list.type !== "ilst") {
        visitOther(list);
        continue;
      }
      for (const item of children(moov, list, counter)) {
        // Items are named by a key's index (mdta) or by their own type (mdir, e.g. ©xyz).
        const name = keysBox ? (keys.get(u32(moov, item.start + 4)) ?? null) : item.type;
        const isCreationDate = name === CREATION_DATE_KEY;
        // A key we cannot name (an index with no key) may be a location: blanked too.
        const isLocation = name === null || name === "\xa9xyz" || LOCATION_KEY.test(name);
        if (!isCreationDate && !isLocation) continue;
        for (const data of children(moov, item, counter)) {
          // data: a type indicator and a locale (4 bytes each), then the value.
          const valueAt = Math.min(data.body + 8, data.end);
          const value = ascii(moov, valueAt, data.end - valueAt);
          if (isCreationDate) {
            const time = Date.parse(value);
            if (Number.isFinite(time)) parts.appleCreationDate ??= time;
            continue;
          }
          if (data.type === "data") onLocationText(value);
          parts.locationFields.push(text(data, data.type === "data" ? valueAt : data.body));
        }
      }
    }
  };

  /** XMP kept in a uuid box anywhere in moov. */
  const visitOther = (box: Box) => {
    if (isXmpBox(moov, box)) parts.locationFields.push(text(box, box.body + 16));
  };

  for (const box of children(moov, root, counter)) {
    if (box.type === "mvhd") parts.mvhd ??= box;
    else if (box.type === "udta") visitUserData(box);
    else if (box.type === "meta") visitMeta(box);
    else if (box.type === "trak") parts.tracks.push(readTrack(moov, box, counter, visitUserData, visitMeta));
    else visitOther(box);
  }
  return parts;
}

function readTrack(moov: Uint8Array, trak: Box, counter: BoxCounter, visitUserData: (box: Box) => void, visitMeta: (box: Box) => void): Track {
  const track: Track = { handler: null, tkhd: null, mdhd: null, sampleEntry: null, sampleDescription: "" };
  for (const box of children(moov, trak, counter)) {
    if (box.type === "tkhd") track.tkhd ??= box;
    else if (box.type === "udta") visitUserData(box);
    else if (box.type === "meta") visitMeta(box);
    if (box.type !== "mdia") continue;
    for (const media of children(moov, box, counter)) {
      if (media.type === "mdhd") track.mdhd ??= media;
      // hdlr: version/flags, pre_defined, then the handler type (vide, soun, …).
      if (media.type === "hdlr" && media.body + 12 <= media.end) track.handler ??= ascii(moov, media.body + 8, 4);
      if (media.type !== "minf") continue;
      const stbl = children(moov, media, counter).find((child) => child.type === "stbl");
      const stsd = stbl && children(moov, stbl, counter).find((child) => child.type === "stsd");
      // stsd: version/flags, entry count, then the first entry; a visual entry has its width and height 24 bytes into its body.
      if (stsd) track.sampleDescription = ascii(moov, stsd.body, stsd.end - stsd.body);
      if (stsd && stsd.body + 16 <= stsd.end) {
        const entry = boxAt(moov, stsd.body + 8, stsd.end, "its stsd box");
        const visual = entry.body + 28 <= entry.end;
        track.sampleEntry = { type: entry.type, width: visual ? u16(moov, entry.body + 24) : 0, height: visual ? u16(moov, entry.body + 26) : 0 };
      }
    }
  }
  return track;
}

/** 3GPP `loci`: version/flags, language, a NUL-terminated name, role, then 16.16 longitude and latitude. */
function readLoci(body: Uint8Array): { latitude: number; longitude: number } | null {
  const nameEnd = body.indexOf(0, 6);
  if (nameEnd < 0 || nameEnd + 10 > body.byteLength) return null;
  return validCoordinates(i32(body, nameEnd + 6) / 65536, i32(body, nameEnd + 2) / 65536);
}

/** ISO 6709 as phones write it: ±DD.DDDD±DDD.DDDD (also ±DDMM.MM±DDDMM.MM and ±DDMMSS±DDDMMSS), altitude and `/` after. */
export function parseIso6709(value: string): { latitude: number; longitude: number } | null {
  const match = /^\s*([+-])(\d{6}|\d{4}|\d{2})(\.\d+)?([+-])(\d{7}|\d{5}|\d{3})(\.\d+)?/.exec(value);
  if (!match) return null;
  const degrees = (sign: string, digits: string, fraction: string | undefined, degreeDigits: number) => {
    const parts = [digits.slice(0, degreeDigits), digits.slice(degreeDigits, degreeDigits + 2), digits.slice(degreeDigits + 2)].filter(Boolean).map(Number);
    parts[parts.length - 1]! += Number(fraction ?? 0);
    const value = parts[0]! + (parts[1] ?? 0) / 60 + (parts[2] ?? 0) / 3600;
    return sign === "-" ? -value : value;
  };
  return validCoordinates(degrees(match[1]!, match[2]!, match[3], 2), degrees(match[4]!, match[5]!, match[6], 3));
}

const validCoordinates = (latitude: number, longitude: number) =>
  Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180 && !(latitude === 0 && longitude === 0) ? { latitude, longitude } : null;

// --- mp4box: the headers ------------------------------------------------------------------------

function box(type: string, ...parts: Uint8Array[]): Uint8Array {
  const length = 8 + parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(length);
  new DataView(out.buffer).setUint32(0, length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let at = 8;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

interface Headers {
  timescale: number;
  duration: number;
  creationTime: number;
  trackWidth: number;
  trackHeight: number;
  matrix: ArrayLike<number>;
  mediaTimescale: number;
  mediaDuration: number;
}

/** mvhd, and the track's tkhd and mdhd, read by mp4box from a moov holding only them. */
function readHeaders(moov: Uint8Array, mvhd: Box, track: Track): Headers {
  // mp4box reads a header's fields without looking at its size: one too short would be read from the next box's bytes.
  for (const [header, version0, version1] of [[mvhd, 100, 112], [track.tkhd!, 84, 96], [track.mdhd!, 24, 36]] as const) {
    const version = header.body < header.end ? moov[header.body]! : 0;
    if (header.end - header.body < (version === 1 ? version1 : version0)) throw new NotAVideoError(`its ${header.type} box is too short for its fields (${header.end - header.body} bytes)`);
  }
  const whole = (b: Box) => moov.subarray(b.start, b.end);
  const pruned = box("moov", whole(mvhd), box("trak", whole(track.tkhd!), box("mdia", whole(track.mdhd!))));
  const buffer = Object.assign(pruned.buffer, { fileStart: 0 });
  const file = new ISOFile(undefined, true);
  file.stream = new MultiBufferStream();
  file.stream.insertBuffer(buffer as never);
  try {
    file.parse();
  } catch (error) {
    // Whatever else mp4box finds wrong in them.
    throw new NotAVideoError(`its movie headers are broken: ${error instanceof Error ? error.message : String(error)}`);
  }
  const movie = file.moov;
  const trak = movie?.traks?.[0];
  const [mvhdBox, tkhd, mdhd] = [movie?.mvhd, trak?.tkhd, trak?.mdia?.mdhd];
  if (!mvhdBox?.timescale || !tkhd?.matrix || !mdhd) throw new NotAVideoError("its movie headers are broken");
  return {
    timescale: mvhdBox.timescale,
    duration: mvhdBox.duration,
    creationTime: mvhdBox.creation_time,
    trackWidth: tkhd.width / 65536,
    trackHeight: tkhd.height / 65536,
    matrix: tkhd.matrix,
    mediaTimescale: mdhd.timescale,
    mediaDuration: mdhd.duration,
  };
}

/** Seconds from 1904-01-01 (QuickTime's epoch) to 1970-01-01. */
const QUICKTIME_EPOCH_OFFSET = 2_082_844_800;

/**
 * The clockwise quarter turn nearest to what a track matrix does to the picture's x axis (its
 * first column, a and b: an upright phone writes 0 1 / -1 0). A mirror or a skew keeps its
 * nearest turn: players apply the whole matrix; this is what posters and tiles need.
 */
function rotationOf(matrix: ArrayLike<number>): VideoInspection["rotation"] {
  const degrees = (Math.atan2(matrix[1]!, matrix[0]!) * 180) / Math.PI;
  return ((((Math.round(degrees / 90) * 90) % 360) + 360) % 360) as VideoInspection["rotation"];
}

/** Tracks whose samples are pictures, sound, timecodes or hints: no place for a location. */
const MEDIA_HANDLERS = new Set(["vide", "soun", "tmcd", "hint"]);
const TEXT_HANDLERS = new Set(["text", "sbtl", "subt", "clcp"]);
const SAMPLE_LOCATION = /location|gps|gpmd|\xa9xyz|latitude|longitude/i;

function locationInSamples(tracks: Track[]): string | null {
  for (const track of tracks) {
    if (track.handler !== null && MEDIA_HANDLERS.has(track.handler)) continue;
    if (track.handler !== null && TEXT_HANDLERS.has(track.handler)) return `it has a ${track.handler} track, whose text may give the position`;
    if (SAMPLE_LOCATION.test(track.sampleDescription)) return `it has a ${track.handler ?? "metadata"} track (${track.sampleEntry?.type ?? "?"}) whose samples may give the position`;
  }
  return null;
}

// --- the inspection -----------------------------------------------------------------------------

/**
 * Reads a video's structure and metadata: a few ranged reads (the top-level headers, `moov`,
 * boxes other than media data), never the media. Throws NotAVideoError with a reason for anything
 * it cannot accept (ShortReadError, from r2Source, is a storage fault: worth retrying).
 */
export async function inspectVideo(source: ByteSource, type: VideoType, options: VideoInspectOptions): Promise<VideoInspection> {
  const reader = new WindowedReader(source);
  const top = await walkTopLevel(reader);
  if (!top.moov) throw new NotAVideoError(top.truncated ?? "it has no moov box: no movie to read");
  const moovLength = top.moov.end - top.moov.start;
  if (moovLength > MAX_MOOV_BYTES) throw new NotAVideoError(`its moov box claims ${moovLength} bytes, over the limit of ${MAX_MOOV_BYTES}`);
  const moovBytes = await reader.bytes(top.moov.start, moovLength);
  // The moov box's own header may be 16 bytes (a 64-bit size): its children start after it.
  const moov = moovBytes.subarray(top.moov.body - top.moov.start - 8);
  const threats = [...top.threats, ...scan(moov, "its moov box")];
  // A ZIP whose entries hide in the media data still needs its end record at the end of the file.
  const tailLength = Math.min(ZIP_TAIL_BYTES, source.size);
  if (endsWithZip(await reader.bytes(source.size - tailLength, tailLength))) threats.push("a ZIP archive ends it");
  const parts = readMovie(moov);
  const shift = top.moov.body - 8;

  const candidates = parts.tracks.filter((track) => track.handler === "vide" && track.tkhd && track.mdhd);
  if (!parts.mvhd) throw new NotAVideoError("its moov box has no movie header (mvhd)");
  if (!candidates.length) throw new NotAVideoError("it has no video track");
  const track = candidates[0]!;
  const headers = readHeaders(moov, parts.mvhd, track);

  let width = Math.floor(headers.trackWidth);
  let height = Math.floor(headers.trackHeight);
  if (!(width >= 1 && height >= 1)) [width, height] = [track.sampleEntry?.width ?? 0, track.sampleEntry?.height ?? 0];
  if (!(width >= 1 && height >= 1)) throw new NotAVideoError("no video dimensions found in its track header or sample description");
  if (width > MAX_VIDEO_SIDE || height > MAX_VIDEO_SIDE) throw new NotAVideoError(`the video is ${width}×${height} pixels, over the limit of ${MAX_VIDEO_SIDE} a side`);
  if (width * height > options.maxPixels) throw new NotAVideoError(`the video is ${width}×${height} pixels, over the limit of ${options.maxPixels}`);
  const rotation = rotationOf(headers.matrix);

  // The movie's duration; a header that does not state one (0, or all ones) leaves it to the track's media header.
  const stated = (duration: number, timescale: number) => (timescale > 0 && duration > 0 && duration !== 0xffffffff && duration < 2 ** 53 ? duration / timescale : null);
  const durationSeconds = stated(headers.duration, headers.timescale) ?? stated(headers.mediaDuration, headers.mediaTimescale);
  if (durationSeconds === null) throw new NotAVideoError("its duration is not stated in its movie or track header");
  if (durationSeconds > MAX_VIDEO_SECONDS) throw new NotAVideoError(`it claims a duration of ${Math.round(durationSeconds)} s, over the limit of ${MAX_VIDEO_SECONDS} s`);

  const movieCreated = headers.creationTime > QUICKTIME_EPOCH_OFFSET ? (headers.creationTime - QUICKTIME_EPOCH_OFFSET) * 1000 : null;
  return {
    type,
    size: source.size,
    durationSeconds,
    width,
    height,
    rotation,
    codec: track.sampleEntry?.type ?? null,
    createdAt: parts.appleCreationDate ?? movieCreated,
    gps: parts.gps,
    locationInSamples: locationInSamples(parts.tracks),
    locationFields: [...top.locationFields, ...parts.locationFields.map((field) => ({ ...field, at: field.at + shift }))].filter((field) => field.length > 0),
    threats,
    truncated: top.truncated,
  };
}
