import { PhotonImage } from "@cf-wasm/photon";
import exifr from "exifr";
import { describe, expect, it } from "vitest";
import {
  buildTiffExif,
  corners,
  makeJpeg,
  makePng,
  makeWebp,
  type FixtureExif,
  type FixtureOptions,
} from "../fixtures/photos";

const EXIF: FixtureExif = {
  make: "Pixelcorp",
  model: "Phone 12 Pro",
  orientation: 6,
  takenAt: "2026:06:14 17:03:22",
  gps: { latitude: -33.856784, longitude: 151.215297 },
};

// Raw tag values: by default exifr turns Orientation into prose and DateTimeOriginal into a Date
// in the runtime's time zone.
const RAW = { gps: true, xmp: true, translateValues: false, reviveValues: false } as const;

// With both present, exifr's merged output keeps the EXIF GPSLatitude array and hides the XMP
// string of the same name: read XMP on its own to see it.
const XMP_ONLY = { tiff: false, xmp: true } as const;
const XMP_GPS = { GPSLatitude: "33,51.407040S", GPSLongitude: "151,12.917820E" };

interface ParsedTags {
  Make?: string;
  Model?: string;
  Orientation?: number;
  DateTimeOriginal?: string;
  GPSLatitudeRef?: string;
  GPSLongitudeRef?: string;
  latitude?: number;
  longitude?: number;
  Comment?: string;
}

async function parse(bytes: Uint8Array): Promise<ParsedTags> {
  const tags: ParsedTags | undefined = await exifr.parse(bytes, RAW);
  return tags ?? {};
}

function expectExif(tags: ParsedTags): void {
  expect(tags).toMatchObject({
    Make: "Pixelcorp",
    Model: "Phone 12 Pro",
    Orientation: 6,
    DateTimeOriginal: "2026:06:14 17:03:22",
    GPSLatitudeRef: "S",
    GPSLongitudeRef: "E",
  });
  expect(tags.latitude).toBeCloseTo(-33.856784, 5);
  expect(tags.longitude).toBeCloseTo(151.215297, 5);
}

function decode(bytes: Uint8Array): { width: number; height: number; pixels: Uint8Array } {
  const image = PhotonImage.new_from_byteslice(bytes);
  try {
    return { width: image.get_width(), height: image.get_height(), pixels: image.get_raw_pixels() };
  } finally {
    image.free();
  }
}

/** JPEG segment markers up to (not including) SOS, in file order. */
function jpegMarkers(jpeg: Uint8Array): number[] {
  const markers: number[] = [];
  for (let offset = 2; jpeg[offset + 1] !== 0xda; offset += 2 + ((jpeg[offset + 2]! << 8) | jpeg[offset + 3]!)) {
    expect(jpeg[offset]).toBe(0xff);
    markers.push(jpeg[offset + 1]!);
  }
  return markers;
}

function pngChunkTypes(png: Uint8Array): string[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  for (let offset = 8; offset < png.length; offset += 12 + view.getUint32(offset)) {
    types.push(String.fromCharCode(...png.subarray(offset + 4, offset + 8)));
  }
  return types;
}

function riffChunks(webp: Uint8Array): Array<{ type: string; data: Uint8Array }> {
  const view = new DataView(webp.buffer, webp.byteOffset, webp.byteLength);
  const chunks: Array<{ type: string; data: Uint8Array }> = [];
  for (let offset = 12; offset < webp.length; ) {
    const size = view.getUint32(offset + 4, true);
    const type = String.fromCharCode(...webp.subarray(offset, offset + 4));
    chunks.push({ type, data: webp.subarray(offset + 8, offset + 8 + size) });
    offset += 8 + size + (size & 1);
  }
  return chunks;
}

function riffChunk(webp: Uint8Array, type: string): Uint8Array {
  const chunk = riffChunks(webp).find((c) => c.type === type);
  if (!chunk) throw new Error(`no ${type} chunk`);
  return chunk.data;
}

function includesText(bytes: Uint8Array, text: string): boolean {
  return new TextDecoder("latin1").decode(bytes).includes(text);
}

const OPTIONS: FixtureOptions = { width: 320, height: 240, exif: EXIF, xmpWithGps: true };

describe("photo fixtures", () => {
  it("builds a big-endian TIFF with word-aligned offsets", async () => {
    const tiff = buildTiffExif(EXIF);
    expect([...tiff.subarray(0, 8)]).toEqual([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
    expect(tiff.length % 2).toBe(0);
    // exifr reads a bare TIFF as a TIFF file.
    expectExif(await parse(tiff));
    const north = await parse(buildTiffExif({ gps: { latitude: 51.50135, longitude: -0.14189 } }));
    expect(north).toMatchObject({ GPSLatitudeRef: "N", GPSLongitudeRef: "W" });
    expect(north.latitude).toBeCloseTo(51.50135, 5);
    expect(north.longitude).toBeCloseTo(-0.14189, 5);
  });

  it("JPEG: Exif and XMP APP1 after JFIF, a COM segment, readable by exifr and photon", async () => {
    const jpeg = makeJpeg({ ...OPTIONS, comment: "guest phone" });
    expect(jpegMarkers(jpeg).slice(0, 4)).toEqual([0xe0, 0xe1, 0xe1, 0xfe]);
    expect(jpegMarkers(jpeg).filter((m) => m === 0xe1)).toHaveLength(2);
    expectExif(await parse(jpeg));
    expect(await exifr.parse(jpeg, XMP_ONLY)).toEqual(XMP_GPS);
    expect(includesText(jpeg, "\xff\xfe\x00\x0dguest phone")).toBe(true);
    expect(decode(jpeg)).toMatchObject({ width: 320, height: 240 });
  });

  it("PNG: eXIf, iTXt and tEXt before IDAT, readable by exifr and photon", async () => {
    const png = makePng({ ...OPTIONS, comment: "guest phone" });
    expect(pngChunkTypes(png)).toEqual(["IHDR", "eXIf", "iTXt", "tEXt", "IDAT", "IEND"]);
    const tags = await parse(png);
    expectExif(tags);
    expect(tags.Comment).toBe("guest phone"); // exifr merges tEXt into its PNG header output
    expect(await exifr.parse(png, { ...XMP_ONLY, ihdr: false })).toEqual(XMP_GPS);
    expect(decode(png)).toMatchObject({ width: 320, height: 240 });
  });

  it("WebP: extended file with VP8X, EXIF and XMP chunks, readable by photon", async () => {
    const webp = makeWebp({ ...OPTIONS, width: 321, height: 241 });
    const view = new DataView(webp.buffer, webp.byteOffset, webp.byteLength);
    expect(new TextDecoder().decode(webp.subarray(0, 4))).toBe("RIFF");
    expect(view.getUint32(4, true)).toBe(webp.length - 8);
    expect(riffChunks(webp).map((c) => c.type)).toEqual(["VP8X", "VP8L", "EXIF", "XMP "]);
    const vp8x = riffChunk(webp, "VP8X");
    expect(vp8x[0]! & 0x0c).toBe(0x0c);
    expect(vp8x[4]! | (vp8x[5]! << 8) | (vp8x[6]! << 16)).toBe(320);
    expect(vp8x[7]! | (vp8x[8]! << 8) | (vp8x[9]! << 16)).toBe(240);
    // exifr 7 has no WebP parser: a pipeline must pull the EXIF chunk out itself, as here.
    await expect(exifr.parse(webp)).rejects.toThrow(/Unknown file format/);
    expectExif(await parse(riffChunk(webp, "EXIF")));
    expect(includesText(riffChunk(webp, "XMP "), 'exif:GPSLatitude="33,51.407040S"')).toBe(true);
    expect(decode(webp)).toMatchObject({ width: 321, height: 241 });
  });

  it("leaves files without metadata untouched and rejects comments in WebP", async () => {
    expect(jpegMarkers(makeJpeg({ width: 16, height: 16 }))).not.toContain(0xe1);
    expect(await exifr.parse(makePng({ width: 16, height: 16 }), RAW)).not.toHaveProperty("Make");
    expect(new TextDecoder().decode(makeWebp({ width: 16, height: 16 }).subarray(12, 16))).toBe("VP8L");
    expect(() => makeWebp({ width: 16, height: 16, comment: "x" })).toThrow(/comment/);
  });

  it("keeps pixels as given: orientation is only a tag", async () => {
    for (const orientation of [1, 6, 8] as const) {
      const jpeg = makeJpeg({ width: 160, height: 120, quality: 90, exif: { orientation } });
      expect(await exifr.orientation(jpeg)).toBe(orientation);
      const { width, height, pixels } = decode(jpeg);
      expect(corners(pixels, width, height)).toEqual({
        topLeft: "red",
        topRight: "green",
        bottomLeft: "blue",
        bottomRight: "white",
      });
    }
  });
});
