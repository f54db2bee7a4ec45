/** Photo metadata from the file's header bytes, with exifr. Personal fields stay server-side. */
import exifr from "exifr";

export interface PhotoMetadata {
  takenAt: number | null;
  cameraMake: string | null;
  cameraModel: string | null;
  /** EXIF orientation 1–8 (1: as stored); null when the file has none. */
  orientation: number | null;
  gps: { latitude: number; longitude: number } | null;
}

const none: PhotoMetadata = { takenAt: null, cameraMake: null, cameraModel: null, orientation: null, gps: null };

interface ExifFields {
  Make?: string;
  Model?: string;
  Orientation?: number;
  DateTimeOriginal?: Date;
  CreateDate?: Date;
  latitude?: number;
  longitude?: number;
}

/**
 * Reads EXIF (and GPS) from the first bytes of a file, where JPEG, PNG, WebP and HEIC keep it.
 * A photo without readable metadata is still a photo: errors yield empty metadata.
 */
export async function readMetadata(head: Uint8Array): Promise<PhotoMetadata> {
  return parseExif(webpExif(head) ?? head);
}

/** A HEIF Exif item's payload: a 4-byte offset to the TIFF header, then the TIFF. */
export function readHeifExifItem(item: Uint8Array): Promise<PhotoMetadata> {
  const offset = item.byteLength >= 4 ? new DataView(item.buffer, item.byteOffset).getUint32(0) : 0;
  return parseExif(item.subarray(4 + offset));
}

/** `source` is a whole file's head or a bare TIFF, as exifr detects. */
async function parseExif(source: Uint8Array): Promise<PhotoMetadata> {
  let fields: ExifFields | undefined;
  try {
    fields = await exifr.parse(source, {
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      xmp: false,
      icc: false,
      iptc: false,
      jfif: false,
      translateValues: false,
      reviveValues: true,
      pick: ["Make", "Model", "Orientation", "DateTimeOriginal", "CreateDate", "GPSLatitude", "GPSLatitudeRef", "GPSLongitude", "GPSLongitudeRef"],
    });
  } catch {
    return none;
  }
  if (!fields) return none;
  const taken = fields.DateTimeOriginal ?? fields.CreateDate;
  const orientation = Number.isInteger(fields.Orientation) && fields.Orientation! >= 1 && fields.Orientation! <= 8 ? fields.Orientation! : null;
  const gps =
    Number.isFinite(fields.latitude) && Number.isFinite(fields.longitude)
      ? { latitude: fields.latitude!, longitude: fields.longitude! }
      : null;
  return {
    takenAt: taken instanceof Date && !Number.isNaN(taken.getTime()) ? taken.getTime() : null,
    cameraMake: text(fields.Make),
    cameraModel: text(fields.Model),
    orientation,
    gps,
  };
}

const text = (value: unknown) => (typeof value === "string" && value.trim() ? value.trim().slice(0, 100) : null);

/** exifr cannot read WebP: hand it the bare TIFF from the RIFF `EXIF` chunk instead. */
function webpExif(head: Uint8Array): Uint8Array | null {
  const fourcc = (at: number) => String.fromCharCode(...head.subarray(at, at + 4));
  if (fourcc(0) !== "RIFF" || fourcc(8) !== "WEBP") return null;
  for (let at = 12; at + 8 <= head.byteLength; ) {
    const size = head[at + 4]! | (head[at + 5]! << 8) | (head[at + 6]! << 16) | (head[at + 7]! << 24);
    if (fourcc(at) === "EXIF") return head.subarray(at + 8, Math.min(head.byteLength, at + 8 + size));
    at += 8 + size + (size & 1);
  }
  return null;
}
