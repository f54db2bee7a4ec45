/**
 * The R2 layout. Keys are built from server-generated ids only, never from user input, so a
 * later delete or export can find every object from a database row.
 */
export const r2Keys = {
  /** The assembled upload, as the guest sent it (private). */
  upload: (eventId: string, uploadId: string) => `uploads/${eventId}/${uploadId}`,
  /** Prefix of the not-yet-full tail segments of an in-flight upload. */
  stagingPrefix: (uploadId: string) => `staging/${uploadId}/`,
  /** One tail segment: bytes [start, end) of the upload, written by one chunk attempt. */
  stagingSegment: (uploadId: string, start: number, end: number, attempt: string) =>
    `staging/${uploadId}/${start}-${end}-${attempt}`,
  /** Everything processing derives from a photo lives under one prefix, found from the photo row. */
  photoPrefix: (eventId: string, photoId: string) => `photos/${eventId}/${photoId}/`,
  scrubbed: (eventId: string, photoId: string, extension: string) => `photos/${eventId}/${photoId}/scrubbed.${extension}`,
  thumbnail: (eventId: string, photoId: string, edge: number) => `photos/${eventId}/${photoId}/thumb-${edge}.webp`,
  /** The preview the guest's device made, shown until the thumbnails exist. */
  preview: (eventId: string, photoId: string, extension: string) => `photos/${eventId}/${photoId}/preview.${extension}`,
};

/** The prefixes whose objects each belong to one upload: its staged tail, or its assembled original. */
export const uploadObjectPrefixes = ["staging/", "uploads/"] as const;

const uploadObjectKey = /^(?:staging\/([0-9a-f-]{36})\/[^/]+|uploads\/[0-9a-f-]{36}\/([0-9a-f-]{36}))$/;

/** The upload an object under `staging/` or `uploads/` belongs to; null for a key of any other shape. */
export function uploadIdOfKey(key: string): string | null {
  const match = uploadObjectKey.exec(key);
  return match ? (match[1] ?? match[2])! : null;
}
