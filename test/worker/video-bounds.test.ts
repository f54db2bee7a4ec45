/**
 * Videos that lie about themselves (issue 15): each is answered at once with a clear reason,
 * reading a few KiB at most, never the lengths it claims. And videos that carry another file
 * (a polyglot) or claim absurd dimensions or durations (a bomb) are told apart from clean ones.
 */
import { describe, expect, it } from "vitest";
import { inspectVideo, MAX_MOOV_BYTES, MAX_TOP_LEVEL_BOXES, NotAVideoError } from "../../src/processing/video";
import { MAX_STRUCTURES } from "../../src/processing/pull-reader";
import { isoBox, memorySource, quickTimeMeta, videos, withMoovChild } from "../fixtures/videos";

const options = { maxPixels: 50_000_000 };
const text = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
const bytes = (value: string) => Uint8Array.from(value, (ch) => ch.charCodeAt(0));
const join = (...parts: Uint8Array[]) => isoBox("____", ...parts).subarray(8);
/** Where box `type` starts (its size field): the first occurrence, or the last. */
const boxAt = (file: Uint8Array, type: string, last = false) => (last ? text(file).lastIndexOf(type) : text(file).indexOf(type)) - 4;
// A guard against a parse that runs away (minutes), not a speed target: benchmarks measure speed, and a
// loaded CI machine makes tight wall-clock bounds flaky.
const TIME_BOUND_MS = 5000;

/** Inspects, expecting a rejection matching `reason`, within the time bound, having read at most `maxBytesRead`. */
async function rejects(file: Uint8Array, reason: RegExp, maxBytesRead = 256 * 1024, type: "video/mp4" | "video/quicktime" = "video/quicktime") {
  const source = memorySource(file);
  const started = performance.now();
  const error = await inspectVideo(source, type, options).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(performance.now() - started).toBeLessThan(TIME_BOUND_MS);
  expect(error).toBeInstanceOf(NotAVideoError);
  expect((error as Error).message).toMatch(reason);
  expect(source.bytesRead).toBeLessThanOrEqual(maxBytesRead);
}

async function inspected(file: Uint8Array, type: "video/mp4" | "video/quicktime" = "video/quicktime") {
  const started = performance.now();
  const inspection = await inspectVideo(memorySource(file), type, options);
  expect(performance.now() - started).toBeLessThan(TIME_BOUND_MS);
  return inspection;
}

describe("lengths a video claims", () => {
  it("a moov box claiming 4 GiB in a 4 KiB file: truncated, at once", async () => {
    const file = videos.moovLast();
    new DataView(file.buffer).setUint32(boxAt(file, "moov", true), 0xffffffff);
    await rejects(file, /^the video is truncated: the moov box at byte \d+ claims 4294967295 bytes, but only \d+ are left$/);
  });

  it("a moov box really over the cap (17 MiB, in the file) is refused without being read", async () => {
    const file = withMoovChild(videos.moovLast(), isoBox("free", new Uint8Array(17 * 1024 * 1024)));
    const source = memorySource(file);
    await expect(inspectVideo(source, "video/quicktime", options)).rejects.toThrow(new RegExp(`^its moov box claims \\d+ bytes, over the limit of ${MAX_MOOV_BYTES}$`));
    expect(source.largestRead).toBeLessThanOrEqual(64 * 1024);
  });

  it("an mdat with a 64-bit size (size 1) beyond the file: truncated, and no moov after it to read", async () => {
    const file = videos.moovLast();
    const mdatAt = boxAt(file, "mdat");
    // Size 1, then a 64-bit size of 2^40 where the first 8 bytes of media were.
    const view = new DataView(file.buffer);
    view.setUint32(mdatAt, 1);
    view.setUint32(mdatAt + 8, 256);
    view.setUint32(mdatAt + 12, 0);
    await rejects(file, /^the video is truncated: the mdat box at byte \d+ claims 1099511627776 bytes, but only \d+ are left$/);
  });

  it("a 64-bit size past 2^53 is still just a claim beyond the file", async () => {
    const file = videos.moovLast();
    const mdatAt = boxAt(file, "mdat");
    const view = new DataView(file.buffer);
    view.setUint32(mdatAt, 1);
    view.setUint32(mdatAt + 8, 0xffffffff);
    view.setUint32(mdatAt + 12, 0xffffffff);
    await rejects(file, /^the video is truncated: the mdat box at byte \d+ claims 18446744073709552000 bytes/);
  });

  it("a box of size 0 runs to the end of the file: an mdat of size 0 before moov swallows it", async () => {
    const file = videos.moovLast();
    new DataView(file.buffer).setUint32(boxAt(file, "mdat"), 0);
    await rejects(file, /^it has no moov box: no movie to read$/);
    // The same as the last box is what the format allows.
    const last = videos.h264();
    new DataView(last.buffer).setUint32(boxAt(last, "mdat"), 0);
    expect(await inspected(last, "video/mp4")).toMatchObject({ durationSeconds: 1, truncated: null, threats: [] });
  });

  it("a box smaller than its own header", async () => {
    const file = videos.moovLast();
    new DataView(file.buffer).setUint32(boxAt(file, "wide"), 4);
    await rejects(file, /^its wide box at byte 20 claims 4 bytes, less than its own header$/);
  });

  it("a box inside moov claiming more than moov holds", async () => {
    const file = videos.moovLast();
    new DataView(file.buffer).setUint32(boxAt(file, "trak"), 0x7fffffff);
    await rejects(file, /^a trak box in its moov box claims 2147483647 bytes, but its moov box has \d+ left$/);
  });

  it("a file cut off in the middle of its media data, before its moov", async () => {
    const file = videos.moovLast();
    await rejects(file.slice(0, 1000), /^the video is truncated: the mdat box at byte 28 claims \d+ bytes, but only 972 are left$/);
  });

  it("a file cut off after its moov, in its media data: read, and marked truncated", async () => {
    const file = videos.h264();
    expect(await inspected(file.slice(0, file.byteLength - 100), "video/mp4")).toMatchObject({ durationSeconds: 1, truncated: expect.stringMatching(/^the video is truncated: the mdat box at byte \d+ claims \d+ bytes, but only \d+ are left$/) });
  });
});

describe("counts a video claims", () => {
  it(`${MAX_STRUCTURES + 1} boxes in moov: refused after counting them, not parsed`, async () => {
    const free = isoBox("free");
    const many = new Uint8Array(free.byteLength * (MAX_STRUCTURES + 1));
    for (let i = 0; i < MAX_STRUCTURES + 1; i++) many.set(free, i * free.byteLength);
    await rejects(withMoovChild(videos.moovLast(), isoBox("udta", many)), new RegExp(`^its moov box has more than ${MAX_STRUCTURES} boxes$`), 2 * 1024 * 1024);
  });

  it(`more than ${MAX_TOP_LEVEL_BOXES} top-level boxes: refused after a few reads, not one per box`, async () => {
    const file = join(videos.h264(), ...Array.from({ length: MAX_TOP_LEVEL_BOXES }, () => isoBox("free")));
    const source = memorySource(file);
    await expect(inspectVideo(source, "video/mp4", options)).rejects.toThrow(`it has more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`);
    expect(source.reads).toBeLessThanOrEqual(2);
  });

  it("100,000 boxes nested in each other: nothing is descended into that the grammar does not name", async () => {
    // trak in mdia in trak …: each header's size is what is left from it.
    const depth = 100_000;
    const nested = new Uint8Array(8 * depth);
    const view = new DataView(nested.buffer);
    for (let level = 0; level < depth; level++) {
      view.setUint32(level * 8, nested.byteLength - level * 8);
      nested.set(bytes(level % 2 ? "mdia" : "trak"), level * 8 + 4);
    }
    const inspection = await inspected(withMoovChild(videos.moovLast(), nested));
    expect(inspection).toMatchObject({ durationSeconds: 1, width: 160, height: 120 });
  });

  it("a keys box claiming 4 billion keys is read to its end, not for 4 billion turns", async () => {
    const meta = quickTimeMeta({ "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945/" });
    const keysAt = text(meta).indexOf("keys") - 4;
    new DataView(meta.buffer).setUint32(keysAt + 12, 0xffffffff);
    expect((await inspected(withMoovChild(videos.moovLast(), meta))).gps).not.toBeNull();
  });

  it("metadata values of megabytes (a location text, a key's value, a sample description) are read, not a crash", async () => {
    const huge = "+48.8584+002.2945/" + " ".repeat(4 * 1024 * 1024);
    const xyz = isoBox("udta", isoBox("\xa9xyz", bytes("\0\x10\0\0"), bytes(huge)));
    const meta = quickTimeMeta({ "com.apple.quicktime.location.name": huge });
    const inspection = await inspected(withMoovChild(videos.moovLast(), join(xyz, meta)));
    expect(inspection.gps).not.toBeNull();
    expect(inspection.locationFields.map((field) => field.length)).toEqual([huge.length, huge.length]);
    const stsd = videos.moovLast();
    const trakAt = boxAt(stsd, "trak");
    const trak = stsd.slice(trakAt, trakAt + new DataView(stsd.buffer).getUint32(trakAt));
    trak.set(bytes("meta"), text(trak).indexOf("hdlr") + 12);
    const withTrack = withMoovChild(stsd, trak);
    // The copied track's sample description grows by 4 MiB of padding, its boxes' sizes with it.
    const grownAt = boxAt(withTrack, "trak", true);
    const grown = new Uint8Array(withTrack.byteLength + 4 * 1024 * 1024);
    const entryAt = text(withTrack).lastIndexOf("avc1") - 4;
    grown.set(withTrack.subarray(0, entryAt));
    grown.set(isoBox("free", new Uint8Array(4 * 1024 * 1024 - 8)), entryAt);
    grown.set(withTrack.subarray(entryAt), entryAt + 4 * 1024 * 1024);
    const view = new DataView(grown.buffer);
    for (const type of ["moov", "trak", "mdia", "minf", "stbl", "stsd"]) {
      const at = type === "moov" ? boxAt(grown, "moov", true) : text(grown).lastIndexOf(type, entryAt) - 4;
      expect(at).toBeGreaterThanOrEqual(type === "moov" ? 0 : grownAt);
      view.setUint32(at, view.getUint32(at) + 4 * 1024 * 1024);
    }
    expect(await inspected(grown)).toMatchObject({ durationSeconds: 1, locationInSamples: null });
  });

  it("a sample table claiming 4 billion samples never reaches mp4box (which would push each)", async () => {
    const file = videos.moovLast();
    const stszAt = boxAt(file, "stsz", true);
    const view = new DataView(file.buffer);
    view.setUint32(stszAt + 12, 1); // one size for all samples
    view.setUint32(stszAt + 16, 0xffffffff); // and 4 billion of them
    expect(await inspected(file)).toMatchObject({ durationSeconds: 1 });
  });
});

describe("bombs: what the headers claim about the picture and its length", () => {
  const tkhdSize = (file: Uint8Array, width: number, height: number) => {
    const tkhd = boxAt(file, "tkhd");
    new DataView(file.buffer).setUint32(tkhd + 84, width * 65536);
    new DataView(file.buffer).setUint32(tkhd + 88, height * 65536);
    return file;
  };

  it("a side over 16384 pixels", async () => {
    await rejects(tkhdSize(videos.moovLast(), 30_000, 120), /^the video is 30000×120 pixels, over the limit of 16384 a side$/);
  });

  it("more pixels than the limit", async () => {
    await rejects(tkhdSize(videos.moovLast(), 16_000, 16_000), /^the video is 16000×16000 pixels, over the limit of 50000000$/);
  });

  it("no dimensions at all (track header and sample description both zero)", async () => {
    const file = tkhdSize(videos.moovLast(), 0, 0);
    const avc1 = boxAt(file, "avc1");
    new DataView(file.buffer).setUint32(avc1 + 32, 0);
    await rejects(file, /^no video dimensions found in its track header or sample description$/);
  });

  it("a track header without a size falls back to the sample description's", async () => {
    expect(await inspected(tkhdSize(videos.moovLast(), 0, 0))).toMatchObject({ width: 160, height: 120 });
  });

  it("a duration of 136 years", async () => {
    const file = videos.moovLast();
    const mvhd = boxAt(file, "mvhd");
    const view = new DataView(file.buffer);
    view.setUint32(mvhd + 20, 1); // timescale 1 per second
    view.setUint32(mvhd + 24, 0xfffffffe);
    await rejects(file, /^it claims a duration of 4294967294 s, over the limit of 86400 s$/);
  });

  it("a duration not stated anywhere", async () => {
    const file = videos.moovLast();
    const view = new DataView(file.buffer);
    view.setUint32(boxAt(file, "mvhd") + 24, 0);
    view.setUint32(boxAt(file, "mdhd") + 24, 0);
    await rejects(file, /^its duration is not stated in its movie or track header$/);
  });

  it("a movie header too short for its fields is not read from the next box's bytes", async () => {
    const file = videos.moovLast();
    const mvhd = boxAt(file, "mvhd");
    // mvhd shrunk to 40 bytes, the rest of its old space a free box.
    const view = new DataView(file.buffer);
    const length = view.getUint32(mvhd);
    view.setUint32(mvhd, 40);
    view.setUint32(mvhd + 40, length - 40);
    file.set(bytes("free"), mvhd + 44);
    await rejects(file, /^its mvhd box is too short for its fields \(32 bytes\)$/);
  });

  it("a skewed or mirrored track matrix keeps its nearest quarter turn", async () => {
    const skewed = videos.moovLast();
    new DataView(skewed.buffer).setInt32(boxAt(skewed, "tkhd") + 52, 0x8000); // b = 0.5 next to a = 1
    expect((await inspected(skewed)).rotation).toBe(0);
    const mirrored = videos.rotated();
    new DataView(mirrored.buffer).setInt32(boxAt(mirrored, "tkhd") + 60, 0x10000); // c = 1: x down, y right
    expect((await inspected(mirrored, "video/mp4")).rotation).toBe(90);
    const upsideDown = videos.moovLast();
    const view = new DataView(upsideDown.buffer);
    view.setInt32(boxAt(upsideDown, "tkhd") + 48, -0x10000);
    view.setInt32(boxAt(upsideDown, "tkhd") + 64, -0x10000);
    expect((await inspected(upsideDown)).rotation).toBe(180);
  });

  it("no video track (sound only)", async () => {
    const file = videos.moovLast();
    file.set(bytes("soun"), boxAt(file, "hdlr") + 16);
    await rejects(file, /^it has no video track$/);
  });
});

describe("polyglots: another file riding along", () => {
  const zip = () => {
    // A stored (uncompressed) one-entry ZIP: local header, data, central directory, end record.
    const name = bytes("a.html");
    const data = bytes("<html><script>alert(1)</script></html>");
    const local = join(bytes("PK\x03\x04"), new Uint8Array(22), Uint8Array.from([name.byteLength, 0, 0, 0]), name, data);
    const central = join(bytes("PK\x01\x02"), new Uint8Array(24), Uint8Array.from([name.byteLength, 0]), new Uint8Array(12), Uint8Array.from([0, 0, 0, 0]), name);
    const end = join(bytes("PK\x05\x06"), new Uint8Array(6), Uint8Array.from([1, 0]), new Uint8Array(4), Uint8Array.from([local.byteLength, 0, 0, 0]), new Uint8Array(2));
    return join(local, central, end);
  };

  it("a clean video has no threats", async () => {
    for (const [name, type] of [["h264", "video/mp4"], ["moovLast", "video/quicktime"], ["iso6709", "video/quicktime"]] as const) {
      expect((await inspected(videos[name](), type)).threats).toEqual([]);
    }
  });

  it("a ZIP appended after the last box (ZIP readers find it from the end)", async () => {
    const { threats } = await inspected(join(videos.moovLast(), zip()));
    expect(threats).toEqual([expect.stringMatching(/^a ZIP archive is appended after its last box, at byte \d+$/), "a ZIP archive ends it"]);
  });

  it("a ZIP inside a free box at the end", async () => {
    const { threats } = await inspected(join(videos.h264(), isoBox("free", zip())), "video/mp4");
    expect(threats).toEqual(["a ZIP archive is embedded in its free box", "its free box contains markup (<html)", "a ZIP archive ends it"]);
  });

  it("a ZIP whose entries hide in the media data, its end record at the end of the file", async () => {
    const file = videos.h264();
    const mdatAt = boxAt(file, "mdat");
    const archive = zip();
    // The media data's last bytes become the archive (the last box is mdat in this file).
    file.set(archive.subarray(archive.byteLength - 22), file.byteLength - 22);
    expect(mdatAt + new DataView(file.buffer).getUint32(mdatAt)).toBe(file.byteLength);
    expect((await inspected(file, "video/mp4")).threats).toEqual(["a ZIP archive ends it"]);
  });

  it("HTML in a top-level box, and script in the movie's metadata", async () => {
    const html = isoBox("skip", bytes("<!DOCTYPE html><html><body>hi</body></html>"));
    expect((await inspected(join(videos.h264(), html), "video/mp4")).threats).toEqual(["its skip box contains markup (<!doctype html)"]);
    const comment = isoBox("udta", isoBox("\xa9cmt", bytes("\0\x10\0\0<script src=//x>")));
    expect((await inspected(withMoovChild(videos.moovLast(), comment))).threats).toEqual(["its moov box contains markup (<script)"]);
  });

  it("bytes after the last box that are no box at all", async () => {
    const { threats } = await inspected(join(videos.moovLast(), bytes("\x01\x02\x03\x04\x05\x06\x07\x08garbage")));
    expect(threats).toEqual([expect.stringMatching(/^15 bytes that are not part of the video follow after its last box, at byte \d+$/)]);
  });

  it("a large box that is not media is scanned in pieces: clean, it is no threat; a signature across a piece's edge is found", async () => {
    const MiB = 1024 * 1024;
    const clean = join(videos.h264(), isoBox("free", new Uint8Array(3 * MiB)));
    const source = memorySource(clean);
    expect((await inspectVideo(source, "video/mp4", options)).threats).toEqual([]);
    expect(source.largestRead).toBeLessThanOrEqual(MiB + 16);
    for (const [signature, threat] of [
      ["PK\x03\x04", "a ZIP archive is embedded in its free box"],
      ["<script>", "its free box contains markup (<script)"],
    ] as const) {
      const body = new Uint8Array(3 * MiB);
      // Straddling the edge between the second and third pieces (pieces start at the box's header).
      body.set(bytes(signature), 2 * MiB - 8 - 2);
      expect((await inspected(join(videos.h264(), isoBox("free", body)), "video/mp4")).threats).toEqual([threat]);
    }
  });
});
