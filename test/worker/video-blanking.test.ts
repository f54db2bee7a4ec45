/**
 * The guests' copy of a video carries no location (issue 15): every place a movie keeps one
 * (udta ©xyz, 3GPP loci, Apple's location keys, XMP) is overwritten in place with neutral bytes
 * of the same length, so no box moves, the media data's offsets stay valid, and the movie still
 * reads the same. A movie whose structure cannot be read is refused (location_unremovable).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LocationUnremovableError, locationPatches, patchedBody } from "../../src/downloads/location";
import { inspectVideo } from "../../src/processing/video";
import { isoBox, memorySource, quickTimeMeta, videos, withMoovChild } from "../fixtures/videos";

const text = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
const options = { maxPixels: 50_000_000 };

/** The guests' copy of `original`, as the download path makes it: patches found in R2, applied while streaming. */
async function guestCopy(original: Uint8Array, type: string | null) {
  const key = `videos/${crypto.randomUUID()}`;
  await env.PHOTOS.put(key, original);
  const patches = await locationPatches(env.PHOTOS, key, type);
  const object = (await env.PHOTOS.get(key))!;
  const copy = new Uint8Array(await new Response(patchedBody(object.body, object.size, patches)).arrayBuffer());
  const stored = new Uint8Array(await (await env.PHOTOS.get(key))!.arrayBuffer());
  return { copy, patches, stored };
}

/** Offsets where two same-length files differ. */
function differences(a: Uint8Array, b: Uint8Array): number[] {
  const at: number[] = [];
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) at.push(i);
  return at;
}

const XMP_UUID = Uint8Array.from([0xbe, 0x7a, 0xcf, 0xcb, 0x97, 0xa9, 0x42, 0xe8, 0x9c, 0x71, 0x99, 0x94, 0x91, 0xe3, 0xaf, 0xac]);

/** An Adobe XMP packet with a location, as a udta `XMP_` box. */
const xmpBox = () =>
  isoBox(
    "XMP_",
    new TextEncoder().encode(
      `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.504N" exif:GPSLongitude="2,17.670E"/></rdf:RDF></x:xmpmeta>`,
    ),
  );

describe("the guests' copy of a video", () => {
  it.each([
    ["©xyz in udta (QuickTime)", "video/quicktime", () => videos.xyz(), /\+48\.8584\+002\.2945/, true],
    ["Apple's ISO6709 key in udta/meta (ffmpeg)", "video/quicktime", () => videos.iso6709(), /\+48\.8584\+002\.2945/, true],
    [
      "Apple's location keys in moov/meta (an iPhone's layout)",
      "video/quicktime",
      () => withMoovChild(videos.moovLast(), quickTimeMeta({ "com.apple.quicktime.location.ISO6709": "-33.8688+151.2093+012.345/", "com.apple.quicktime.location.name": "Opera House", "com.apple.quicktime.make": "Apple" })),
      /-33\.8688\+151\.2093|Opera House/,
      true,
    ],
    ["3GPP loci in udta (MP4)", "video/mp4", () => videos.loci(), /\x00\x02\x4b\x64\x00\x30\xdb\xc0/, true], // 16.16 longitude 2.2945, latitude 48.8584
    ["XMP in udta", "video/quicktime", () => withMoovChild(videos.moovLast(), isoBox("udta", xmpBox())), /GPSLatitude="48/, false],
    ["XMP in a top-level uuid box (Adobe's tools)", "video/mp4", () => Uint8Array.from([...videos.h264(), ...isoBox("uuid", XMP_UUID, xmpBox().subarray(8))]), /GPSLatitude="48/, false],
  ] as const)("%s: blanked in place; same length, same movie, nothing else changed", async (_place, type, make, location, locationRead) => {
    const original = make();
    expect(text(original)).toMatch(location);
    const { copy, patches, stored } = await guestCopy(original, type);
    expect(copy.byteLength).toBe(original.byteLength);
    expect(text(copy)).not.toMatch(location);
    // Only bytes inside the patches changed: every box header and offset is where it was.
    const inPatch = (at: number) => patches.some((patch) => at >= patch.at && at < patch.at + patch.length);
    expect(differences(original, copy).filter((at) => !inPatch(at))).toEqual([]);
    // The movie reads the same, without its location; the stored original is untouched.
    const before = await inspectVideo(memorySource(original), type, options);
    const after = await inspectVideo(memorySource(copy), type, options);
    // XMP is blanked whole, not read: the movie's own places are.
    expect(before.gps !== null).toBe(locationRead);
    expect(after).toMatchObject({ gps: null, durationSeconds: before.durationSeconds, width: before.width, height: before.height, createdAt: before.createdAt, threats: [] });
    expect(differences(stored, original)).toEqual([]);
  });

  it("the 3GPP loci box becomes a free box of its length: zeros alone would read as latitude 0, longitude 0", async () => {
    const original = videos.loci();
    const { copy } = await guestCopy(original, "video/mp4");
    const at = text(original).indexOf("loci") - 4;
    const length = new DataView(original.buffer).getUint32(at);
    expect(text(copy.subarray(at, at + 8))).toBe(text(original.subarray(at, at + 4)) + "free");
    expect([...copy.subarray(at + 8, at + length)].every((byte) => byte === 0)).toBe(true);
    expect(text(copy)).not.toContain("loci");
  });

  it("the other metadata stays: the make key next to a blanked location key is untouched", async () => {
    const original = withMoovChild(videos.moovLast(), quickTimeMeta({ "com.apple.quicktime.location.ISO6709": "-33.8688+151.2093/", "com.apple.quicktime.make": "Apple" }));
    const { copy } = await guestCopy(original, "video/quicktime");
    expect(text(copy).endsWith("Apple")).toBe(true); // the make key is the last item
    expect(text(copy)).toContain("com.apple.quicktime.location.ISO6709"); // the key's name stays; its value goes
  });

  it("a video without a location is served as it is; the type is sniffed when the record has none", async () => {
    const original = videos.moovLast();
    const { copy, patches } = await guestCopy(original, null);
    expect(patches).toEqual([]);
    expect(differences(original, copy)).toEqual([]);
  });

  /** The moov-last fixture with a second track: a copy of its video track, with this handler, sample entry type and text in its sample entry. */
  function withTrack(handler: string, entryType: string, entryText = "") {
    const original = videos.moovLast();
    const trakAt = text(original).indexOf("trak") - 4;
    const trak = original.slice(trakAt, trakAt + new DataView(original.buffer).getUint32(trakAt));
    const latin1 = (value: string) => Uint8Array.from(value, (ch) => ch.charCodeAt(0));
    trak.set(latin1(handler), text(trak).indexOf("hdlr") + 12);
    const entryAt = text(trak).indexOf("avc1");
    trak.set(latin1(entryType), entryAt);
    trak.set(latin1(entryText), entryAt + 90); // over the avcC's bytes, inside the entry
    return withMoovChild(original, trak);
  }

  it.each([
    ["GoPro's GPS telemetry (gpmd)", "meta", "gpmd", "", /^it has a meta track \(gpmd\) whose samples may give the position$/],
    ["timed metadata declaring Apple's location key (mebx)", "meta", "mebx", "mdtacom.apple.quicktime.location.ISO6709", /^it has a meta track \(mebx\) whose samples may give the position$/],
    ["a subtitle track (drones write their position as text)", "sbtl", "tx3g", "", /^it has a sbtl track, whose text may give the position$/],
  ])("a location in the media data, where it cannot be blanked: %s is refused", async (_what, handler, entryType, entryText, reason) => {
    const key = `videos/${crypto.randomUUID()}`;
    await env.PHOTOS.put(key, withTrack(handler, entryType, entryText));
    await expect(locationPatches(env.PHOTOS, key, "video/quicktime")).rejects.toThrow(LocationUnremovableError);
    await expect(locationPatches(env.PHOTOS, key, "video/quicktime")).rejects.toThrow(reason);
  });

  it("timed metadata without location keys (an iPhone's orientation track) and a timecode track are no reason to refuse", async () => {
    for (const file of [withTrack("meta", "mebx", "mdtacom.apple.quicktime.video-orientation"), withTrack("tmcd", "tmcd")]) {
      const { copy, patches } = await guestCopy(file, "video/quicktime");
      expect(patches).toEqual([]);
      expect(differences(file, copy)).toEqual([]);
    }
  });

  it("a movie whose structure cannot be read is refused rather than served with what it may hold", async () => {
    const broken = videos.xyz();
    const moovAt = text(broken).lastIndexOf("moov") - 4;
    // A box inside moov claims more bytes than moov has.
    new DataView(broken.buffer).setUint32(moovAt + 8, 0x7fffffff);
    const key = `videos/${crypto.randomUUID()}`;
    await env.PHOTOS.put(key, broken);
    await expect(locationPatches(env.PHOTOS, key, "video/quicktime")).rejects.toThrow(LocationUnremovableError);
    await expect(locationPatches(env.PHOTOS, key, "video/quicktime")).rejects.toThrow(/its movie cannot be read: .*claims 2147483647 bytes/);
  });
});
