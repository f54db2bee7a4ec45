/**
 * A video's metadata (issue 15), read without loading the file: duration, dimensions, rotation,
 * creation time and location, wherever the moov box is, through ranged reads that step over the
 * media data.
 */
import { describe, expect, it } from "vitest";
import { inspectVideo, type VideoInspection } from "../../src/processing/video";
import { FIXTURE_CREATED_AT, FIXTURE_LOCATION, memorySource, quickTimeMeta, videos, withMoovChild } from "../fixtures/videos";

const options = { maxPixels: 50_000_000 };
const near = (gps: VideoInspection["gps"]) => ({ latitude: expect.closeTo(gps!.latitude, 3), longitude: expect.closeTo(gps!.longitude, 3) });

describe("what a video says about itself", () => {
  it.each([
    ["h264", "video/mp4", "avc1"],
    ["hevc", "video/mp4", "hvc1"],
    ["moovLast", "video/quicktime", "avc1"],
  ] as const)("%s: 1 s, 160×120, not rotated, its creation time, no location", async (name, type, codec) => {
    const inspection = await inspectVideo(memorySource(videos[name]()), type, options);
    expect(inspection).toMatchObject({ type, durationSeconds: 1, width: 160, height: 120, rotation: 0, codec, createdAt: FIXTURE_CREATED_AT, gps: null, locationInSamples: null, threats: [], truncated: null });
    expect(inspection.locationFields).toEqual([]);
  });

  it("a phone held upright: the track matrix turns it 90° clockwise", async () => {
    expect(await inspectVideo(memorySource(videos.rotated()), "video/mp4", options)).toMatchObject({ width: 160, height: 120, rotation: 90 });
  });

  it.each([
    ["xyz", "video/quicktime", "©xyz in udta"],
    ["iso6709", "video/quicktime", "Apple's ISO6709 key"],
    ["loci", "video/mp4", "3GPP loci"],
  ] as const)("%s: the location (%s) is read, and where it is kept is known", async (name, type, _place) => {
    const inspection = await inspectVideo(memorySource(videos[name]()), type, options);
    expect(inspection.gps).toEqual(near(FIXTURE_LOCATION));
    expect(inspection.locationFields.length).toBeGreaterThan(0);
  });

  it("moov after mdat: only the box headers, moov and the file's tail are read, not the media data", async () => {
    const original = videos.moovLast();
    // 20 MiB of media data in front of the moov box (the mdat's size and the chunk offsets grown to match).
    const padding = 20 * 1024 * 1024;
    const text = new TextDecoder("latin1").decode(original);
    const mdatAt = text.indexOf("mdat") - 4;
    const grown = new Uint8Array(original.byteLength + padding);
    const mdatEnd = mdatAt + new DataView(original.buffer).getUint32(mdatAt);
    grown.set(original.subarray(0, mdatEnd));
    grown.set(original.subarray(mdatEnd), mdatEnd + padding);
    const view = new DataView(grown.buffer);
    view.setUint32(mdatAt, view.getUint32(mdatAt) + padding);
    const source = memorySource(grown);
    const inspection = await inspectVideo(source, "video/quicktime", options);
    expect(inspection).toMatchObject({ durationSeconds: 1, width: 160, height: 120, createdAt: FIXTURE_CREATED_AT });
    expect(source.bytesRead).toBeLessThan(256 * 1024);
    expect(source.reads).toBeLessThanOrEqual(4);
  });

  it("a moov box with a 64-bit size (size 1, a 16-byte header) is read", async () => {
    const original = videos.h264();
    const text = new TextDecoder("latin1").decode(original);
    const moovAt = text.indexOf("moov") - 4;
    const moovLength = new DataView(original.buffer).getUint32(moovAt);
    // moov as a large-size box: 16-byte header; the chunk offsets (stco) move by 8.
    const moov = new Uint8Array(moovLength + 8);
    const view = new DataView(moov.buffer);
    view.setUint32(0, 1);
    moov.set(original.subarray(moovAt + 4, moovAt + 8), 4);
    view.setUint32(12, moovLength + 8);
    moov.set(original.subarray(moovAt + 8, moovAt + moovLength), 16);
    const file = new Uint8Array([...original.subarray(0, moovAt), ...moov, ...original.subarray(moovAt + moovLength)]);
    const inspection = await inspectVideo(memorySource(file), "video/mp4", options);
    expect(inspection).toMatchObject({ durationSeconds: 1, width: 160, height: 120, codec: "avc1" });
  });

  it("a video with a sound track but the picture first or second: the video track is the one read", async () => {
    // The h264 fixture's video track, preceded by a copy of it marked as sound ("soun").
    const original = videos.h264();
    const text = new TextDecoder("latin1").decode(original);
    const trakAt = text.indexOf("trak") - 4;
    const trakLength = new DataView(original.buffer).getUint32(trakAt);
    const sound = original.slice(trakAt, trakAt + trakLength);
    const hdlr = new TextDecoder("latin1").decode(sound).indexOf("hdlr");
    sound.set(Uint8Array.from("soun", (ch) => ch.charCodeAt(0)), hdlr + 12);
    new DataView(sound.buffer).setUint32(new TextDecoder("latin1").decode(sound).indexOf("tkhd") + 80, 320 * 65536); // a width only the wrong track has
    const moovAt = text.indexOf("moov") - 4;
    const file = new Uint8Array([...original.subarray(0, trakAt), ...sound, ...original.subarray(trakAt)]);
    new DataView(file.buffer).setUint32(moovAt, new DataView(original.buffer).getUint32(moovAt) + trakLength);
    const inspection = await inspectVideo(memorySource(file), "video/mp4", options);
    expect(inspection).toMatchObject({ width: 160, height: 120 });
  });

  it("an iPhone's layout (meta in moov): the ISO6709 key, and the creation date key preferred to the movie header's", async () => {
    const meta = quickTimeMeta({
      "com.apple.quicktime.make": "Apple",
      "com.apple.quicktime.location.ISO6709": "-33.8688+151.2093+012.345/",
      "com.apple.quicktime.creationdate": "2026-06-14T21:45:00+0200",
    });
    const inspection = await inspectVideo(memorySource(withMoovChild(videos.moovLast(), meta)), "video/quicktime", options);
    expect(inspection.gps).toEqual(near({ latitude: -33.8688, longitude: 151.2093 }));
    expect(inspection.createdAt).toBe(Date.UTC(2026, 5, 14, 19, 45, 0));
  });
});

describe("an ISO 6709 string", () => {
  it.each([
    ["+48.8584+002.2945+035.000/", 48.8584, 2.2945],
    ["-33.8688+151.2093/", -33.8688, 151.2093],
    ["+4851.504+00217.670/", 48 + 51.504 / 60, 2 + 17.67 / 60],
    ["+485130.2-0021740.2/", 48 + 51 / 60 + 30.2 / 3600, -(2 + 17 / 60 + 40.2 / 3600)],
  ])("%s", async (value, latitude, longitude) => {
    const { parseIso6709 } = await import("../../src/processing/video");
    expect(parseIso6709(value)).toEqual({ latitude: expect.closeTo(latitude, 6), longitude: expect.closeTo(longitude, 6) });
  });

  it.each(["", "nowhere", "+91.0000+000.0000/", "+00.0000+181.0000/"])("%j is no location", async (value) => {
    const { parseIso6709 } = await import("../../src/processing/video");
    expect(parseIso6709(value)).toBeNull();
  });
});
