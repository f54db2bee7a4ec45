/**
 * Photo metadata from a bare TIFF (the EXIF block), with exifr. The inspector finds the block
 * wherever the format keeps it (JPEG APP1, PNG eXIf, WebP EXIF, HEIF Exif item) and hands over
 * just those bytes. Personal fields stay server-side.
 */
import exifr from "exifr";

export interface PhotoMetadata {
  takenAt: number | null;
  cameraMake: string | null;
  cameraModel: string | null;
  /** EXIF orientation 1–8 (1: as stored); null when the file has none. */
  orientation: number | null;
  gps: { latitude: number; longitude: number } | null;
}

export const noMetadata: PhotoMetadata = { takenAt: null, cameraMake: null, cameraModel: null, orientation: null, gps: null };

interface ExifFields {
  Make?: string;
  Model?: string;
  Orientation?: number;
  DateTimeOriginal?: Date;
  CreateDate?: Date;
  latitude?: number;
  longitude?: number;
}

/** A HEIF Exif item's payload: a 4-byte offset to the TIFF header, then the TIFF. */
export function readHeifExifItem(item: Uint8Array): Promise<PhotoMetadata> {
  const offset = item.byteLength >= 4 ? new DataView(item.buffer, item.byteOffset).getUint32(0) : 0;
  return readExif(item.subarray(4 + offset));
}

/**
 * Reads a bare TIFF, or one behind JPEG's "Exif\0\0". A photo without readable metadata is
 * still a photo: errors, and a TIFF whose entries claim more bytes than it holds (exifr would
 * size arrays from those counts), yield empty metadata.
 */
export async function readExif(block: Uint8Array): Promise<PhotoMetadata> {
  // Some writers keep JPEG's APP1 prefix in WebP EXIF and PNG eXIf chunks.
  const tiff = String.fromCharCode(...block.subarray(0, 6)) === "Exif\0\0" ? block.subarray(6) : block;
  if (!entriesFitIn(tiff)) return noMetadata;
  let fields: ExifFields | undefined;
  try {
    fields = await exifr.parse(tiff, {
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
    return noMetadata;
  }
  if (!fields) return noMetadata;
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

/** Bytes per value of each TIFF field type (1 BYTE … 13 IFD). */
const TIFF_TYPE_SIZES = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4];
const EXIF_IFD_POINTER = 0x8769;
const GPS_IFD_POINTER = 0x8825;

/** False if an entry of IFD0, the Exif IFD or the GPS IFD (those exifr reads) claims more bytes than the TIFF has. */
function entriesFitIn(tiff: Uint8Array): boolean {
  if (tiff.byteLength < 8) return false;
  const little = tiff[0] === 0x49;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const ifds = [view.getUint32(4, little)];
  for (let i = 0; i < ifds.length; i++) {
    const at = ifds[i]!;
    if (at + 2 > tiff.byteLength) continue; // exifr fails on it without allocating
    const count = view.getUint16(at, little);
    for (let entry = at + 2; entry < at + 2 + count * 12 && entry + 12 <= tiff.byteLength; entry += 12) {
      const valueBytes = (TIFF_TYPE_SIZES[view.getUint16(entry + 2, little)] ?? 0) * view.getUint32(entry + 4, little);
      if (valueBytes > tiff.byteLength) return false;
      const tag = view.getUint16(entry, little);
      if (i === 0 && (tag === EXIF_IFD_POINTER || tag === GPS_IFD_POINTER)) ifds.push(view.getUint32(entry + 8, little));
    }
  }
  return true;
}
