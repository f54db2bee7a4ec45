/** The slideshow's order (web/dashboard/playlist.ts), in plain Node: newest first, arrivals next, then the loop again. */
import { describe, expect, it } from "vitest";
import { MAX_SLIDES, Playlist, type Slide } from "../../web/dashboard/playlist";

const slide = (photoId: string): Slide => ({ photoId, url: `https://example.test/${photoId}` });
const ids = (playlist: Playlist, turns: number) => Array.from({ length: turns }, () => playlist.next()?.slide.photoId);

describe("the slideshow's playlist", () => {
  it("walks from the newest to the oldest, then starts again, saying when it wrapped", () => {
    const playlist = new Playlist();
    playlist.replaceAll(["c", "b", "a"].map(slide), null);
    expect(ids(playlist, 4)).toEqual(["c", "b", "a", "c"]);
    const wrappedAt = [playlist.next(), playlist.next(), playlist.next()].map((step) => step?.wrapped);
    expect(wrappedAt).toEqual([false, false, true]);
  });

  it("shows a photo that just arrived next, then carries on where it was", () => {
    const playlist = new Playlist();
    playlist.replaceAll(["c", "b", "a"].map(slide), null);
    expect(ids(playlist, 1)).toEqual(["c"]);
    playlist.add(slide("d"));
    playlist.add(slide("e"));
    expect(ids(playlist, 6)).toEqual(["e", "d", "b", "a", "e", "d"]);
  });

  it("shows a preview replaced by its processed image in the preview's place, not as a new arrival", () => {
    const playlist = new Playlist();
    playlist.replaceAll(["c", "b", "a"].map(slide), null);
    playlist.add({ photoId: "d", url: "https://example.test/d/preview" });
    expect(playlist.next()?.slide).toEqual({ photoId: "d", url: "https://example.test/d/preview" });
    playlist.add({ photoId: "d", url: "https://example.test/d/thumb-1024" });
    expect(ids(playlist, 3)).toEqual(["c", "b", "a"]);
    expect(playlist.next()?.slide).toEqual({ photoId: "d", url: "https://example.test/d/thumb-1024" });
  });

  it("drops a photo that was hidden, also from the arrivals", () => {
    const playlist = new Playlist();
    playlist.replaceAll(["c", "b", "a"].map(slide), null);
    playlist.add(slide("d"));
    playlist.remove("d");
    playlist.remove("b");
    expect(ids(playlist, 3)).toEqual(["c", "a", "c"]);
  });

  it("keeps its place across a refresh, and stays bounded", () => {
    const playlist = new Playlist();
    playlist.replaceAll(["c", "b", "a"].map(slide), null);
    expect(ids(playlist, 2)).toEqual(["c", "b"]);
    playlist.replaceAll(["d", "c", "b", "a"].map(slide), "b");
    expect(ids(playlist, 2)).toEqual(["a", "d"]);
    playlist.replaceAll(Array.from({ length: MAX_SLIDES + 50 }, (_, i) => slide(`p${i}`)), null);
    expect(playlist.size).toBe(MAX_SLIDES);
  });

  it("has nothing to show when empty", () => {
    expect(new Playlist().next()).toBeNull();
  });
});
