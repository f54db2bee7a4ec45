/**
 * Videos are told from images by their ftyp box (issue 15): MP4 and QuickTime answer with their
 * media type, while the ISO-BMFF still-image formats (HEIC, HEIF, AVIF) stay images, or nothing.
 */
import { describe, expect, it } from "vitest";
import { extensionOf } from "../../src/lib/media-types";
import { sniffMedia, sniffType } from "../../src/processing/inspect";
import { makeHeic, makeJpeg } from "../fixtures/photos";
import { videos } from "../fixtures/videos";

/** An ftyp box with these brands, as the first bytes of a file. */
function ftyp(major: string, ...compatible: string[]): Uint8Array {
  const brands = [major, "\0\0\x02\0", ...compatible].join("");
  const box = new Uint8Array(8 + brands.length);
  new DataView(box.buffer).setUint32(0, box.byteLength);
  box.set(Uint8Array.from(`ftyp${brands}`, (ch) => ch.charCodeAt(0)), 4);
  return box;
}

describe("sniffing videos from the ftyp box", () => {
  it("ffmpeg's MP4s (H.264 and HEVC) and QuickTime files answer with their media type", () => {
    expect(sniffMedia(videos.h264())).toBe("video/mp4");
    expect(sniffMedia(videos.hevc())).toBe("video/mp4");
    expect(sniffMedia(videos.rotated())).toBe("video/mp4");
    expect(sniffMedia(videos.moovLast())).toBe("video/quicktime");
    expect(sniffMedia(videos.iso6709())).toBe("video/quicktime");
  });

  it.each([
    [["isom", "isom", "iso2", "avc1", "mp41"], "video/mp4"],
    [["mp42", "mp42", "isom"], "video/mp4"],
    [["iso5", "iso6", "mp41"], "video/mp4"],
    [["M4V ", "M4V ", "M4A ", "mp42", "isom"], "video/mp4"],
    [["hvc1", "iso6"], "video/mp4"],
    [["XAVC", "mp42", "iso2"], "video/mp4"], // an unknown major brand, known compatible ones
    [["qt  ", "qt  "], "video/quicktime"],
  ])("brands %j are %s", (brands, type) => {
    expect(sniffMedia(ftyp(brands[0]!, ...brands.slice(1)))).toBe(type);
  });

  it.each([
    [["heic", "mif1", "heic"], "image/heic"],
    [["mif1", "mif1", "heic"], "image/heic"],
    [["heix", "mif1"], "image/heic"],
    [["msf1", "msf1", "iso8"], "image/heif"],
    [["mif1", "mif1", "miaf"], "image/heif"],
    // HEIF writers often list ISO base brands too: the image brand wins.
    [["mif1", "mif1", "isom", "mp41"], "image/heif"],
    [["isom", "isom", "heic"], "image/heic"],
    // AVIF is ISO-BMFF too: not an image we take, and never a video.
    [["avif", "avif", "mif1", "miaf"], "image/heif"],
    [["avif", "avif", "miaf", "isom", "mp41"], null],
    [["avis", "avis", "msf1"], "image/heif"],
    [["avis", "avis", "iso6", "mp41"], null],
    [["3gp4", "3gp4"], null],
    [["crx ", "crx "], null], // a Canon raw file
  ])("brands %j stay %s", (brands, type) => {
    expect(sniffMedia(ftyp(brands[0]!, ...brands.slice(1)))).toBe(type);
  });

  it("the image-only sniffer still answers images, and nothing for a video (until videos are wired in)", () => {
    expect(sniffType(makeHeic({ width: 64, height: 48 }))).toBe("image/heic");
    expect(sniffType(makeJpeg({ width: 8, height: 8 }))).toBe("image/jpeg");
    expect(sniffType(videos.h264())).toBeNull();
    expect(sniffType(videos.moovLast())).toBeNull();
  });

  it("videos keep their own extension in keys and download names", () => {
    expect(extensionOf(sniffMedia(videos.h264()))).toBe("mp4");
    expect(extensionOf(sniffMedia(videos.moovLast()))).toBe("mov");
    expect(extensionOf("image/jpeg")).toBe("jpg");
    expect(extensionOf("toString")).toBe("bin");
    expect(extensionOf(null)).toBe("bin");
  });
});
