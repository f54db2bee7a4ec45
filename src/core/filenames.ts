/** Guests' filenames: only ever metadata, never a path, markup or a header's syntax. */
import { extensionOf } from "../lib/media-types";

/** Removes control, bidi-override and path characters: the filename is only ever metadata. */
export function cleanFilename(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? "";
  const cleaned = base
    .normalize("NFC")
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "")
    .trim()
    .slice(0, 255);
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "upload" : cleaned;
}

/**
 * The one name a photo's file is saved under: the guest's name without its extension, safe on
 * every desktop OS, then `suffix` and the extension of the type sniffed from its bytes (`.bin`
 * when it was not sniffed). The guest's extension never survives, so `party.html` holding a
 * JPEG downloads as `party.jpg`, and nothing a guest names can be saved as a page.
 */
export function downloadName(filename: string, sniffedType: string | null, suffix = ""): string {
  const safe = cleanFilename(filename).replace(/[<>:"|?*]/g, "_");
  const stem = safe.replace(/\.[^.\s]{1,10}$/, "").replace(/[. ]+$/, "").slice(0, 200) || "photo";
  return `${stem}${suffix}.${extensionOf(sniffedType)}`;
}

/**
 * Names for the entries of an event's ZIP: when the photo was taken (or uploaded), then its
 * download name, inside its folder if it has one, unique within the archive.
 */
export function archiveEntryNames(
  photos: Array<{ filename: string; contentType: string | null; takenAt: number | null; createdAt: number; folder?: string }>,
): string[] {
  const used = new Set<string>();
  return photos.map((photo) => {
    const stamp = new Date(photo.takenAt ?? photo.createdAt).toISOString().slice(0, 19).replace("T", "_").replaceAll(":", "-");
    const name = `${photo.folder ? `${photo.folder}/` : ""}${stamp}_${downloadName(photo.filename, photo.contentType)}`;
    const dot = name.lastIndexOf(".");
    let unique = name;
    for (let copy = 2; used.has(unique.toLowerCase()); copy++) unique = `${name.slice(0, dot)} (${copy})${name.slice(dot)}`;
    used.add(unique.toLowerCase());
    return unique;
  });
}
