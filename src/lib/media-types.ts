/**
 * The media types the service knows, one row each: everything the code asks of a type (its
 * file extension, the name people know its format by, its family, whether photon decodes it).
 * A new type is a new row; a `kind` other than "image" (video) stays out of `ImageType`, so code
 * keyed by image type (the parsers, the location scrubbers) is not asked to handle it.
 */
interface MediaTypeRow {
  kind: "image" | "video";
  /** For keys and download names. */
  extension: string;
  /** The format's name in messages (a family shares its first row's). */
  label: string;
  /** Types whose bytes are the same container: a file declared as one may be sniffed as another. */
  family: string;
  /** photon (WebAssembly, in the Worker) can decode it for thumbnails. */
  photonDecodes: boolean;
  /** A format browsers encode, accepted for a guest's preview (core/previews.ts). */
  preview?: true;
}

export const mediaTypes = {
  "image/jpeg": { kind: "image", extension: "jpg", label: "JPEG", family: "jpeg", photonDecodes: true, preview: true },
  "image/png": { kind: "image", extension: "png", label: "PNG", family: "png", photonDecodes: true },
  "image/webp": { kind: "image", extension: "webp", label: "WebP", family: "webp", photonDecodes: true, preview: true },
  "image/heic": { kind: "image", extension: "heic", label: "HEIC", family: "heif", photonDecodes: false },
  "image/heif": { kind: "image", extension: "heif", label: "HEIF", family: "heif", photonDecodes: false },
  "video/mp4": { kind: "video", extension: "mp4", label: "MP4", family: "mp4", photonDecodes: false },
  "video/quicktime": { kind: "video", extension: "mov", label: "QuickTime", family: "mp4", photonDecodes: false },
} as const satisfies Record<string, MediaTypeRow>;

export type MediaType = keyof typeof mediaTypes;
export type ImageType = { [T in MediaType]: (typeof mediaTypes)[T]["kind"] extends "image" ? T : never }[MediaType];
export type VideoType = { [T in MediaType]: (typeof mediaTypes)[T]["kind"] extends "video" ? T : never }[MediaType];

const allTypes = Object.keys(mediaTypes) as MediaType[];

/** The image types, as a non-empty list (for zod enums and event defaults). */
export const imageTypes = allTypes.filter((type): type is ImageType => mediaTypes[type].kind === "image") as [ImageType, ...ImageType[]];

/** The video types (their structure and metadata are read by processing/video.ts). */
export const videoTypes = allTypes.filter((type): type is VideoType => mediaTypes[type].kind === "video") as [VideoType, ...VideoType[]];
export const isVideoType = (type: string | null): type is VideoType => videoTypes.includes(type as VideoType);

/** A Content-Type as compared and stored: lowercase, without parameters. */
export const mediaType = (contentType: string) => contentType.toLowerCase().split(";")[0]!.trim();

const rowOf = (type: string | null) => (type !== null && Object.hasOwn(mediaTypes, type) ? mediaTypes[type as MediaType] : null);

/** Whether a guest's preview may be of this type. */
export const isPreviewType = (type: string): type is ImageType => (rowOf(type) as MediaTypeRow | null)?.preview === true;

/** The file extension for a type we accept; `bin` for anything else. */
export const extensionOf = (type: string | null): string => rowOf(type)?.extension ?? "bin";

/** Whether bytes sniffed as `sniffed` may stand for a file declared as `declared`. */
export const sameFamily = (sniffed: string, declared: string) => sniffed === declared || (rowOf(sniffed)?.family ?? sniffed) === rowOf(declared)?.family;

/** "JPEG, PNG, WebP or HEIC": the formats of the image types, one name per family. */
export function imageFormatNames(): string {
  const names = imageTypes
    .filter((type, i) => imageTypes.findIndex((other) => mediaTypes[other].family === mediaTypes[type].family) === i)
    .map((type) => mediaTypes[type].label);
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

/** "MP4 or QuickTime": the video formats, one name per type. */
export function videoFormatNames(): string {
  const names = videoTypes.map((type) => mediaTypes[type].label);
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}
