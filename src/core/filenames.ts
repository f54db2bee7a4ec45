/** Guests' filenames: only ever metadata, never a path, markup or a header's syntax. */

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
 * Names for the entries of an event's ZIP: when the photo was taken (or uploaded), then the
 * guest's name, safe on every desktop OS, and unique within the archive.
 */
export function archiveEntryNames(photos: Array<{ filename: string; takenAt: number | null; createdAt: number }>): string[] {
  const used = new Set<string>();
  return photos.map((photo) => {
    const stamp = new Date(photo.takenAt ?? photo.createdAt).toISOString().slice(0, 19).replace("T", "_").replaceAll(":", "-");
    const safe = cleanFilename(photo.filename).replace(/[<>:"|?*]/g, "_").replace(/[. ]+$/, "") || "photo";
    const dot = safe.lastIndexOf(".");
    const [stem, extension] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ""];
    let name = `${stamp}_${stem}${extension}`;
    for (let copy = 2; used.has(name.toLowerCase()); copy++) name = `${stamp}_${stem} (${copy})${extension}`;
    used.add(name.toLowerCase());
    return name;
  });
}
