/** Defaults for an event's knobs (DESIGN.md, "Limits and knobs"); each is settable per event. */
import { imageTypes } from "../lib/media-types";
export const MiB = 1024 * 1024;

export const eventDefaults = {
  maxFileSize: 25 * MiB,
  /** The part size: a chunk of it fills one R2 part, streamed straight through (clients may send any size from 256 KiB). */
  chunkSize: 5 * MiB,
  sessionTtlSeconds: 24 * 60 * 60,
  maxConcurrentPerDevice: 2,
  dailyCapPerDevice: 500,
  allowedContentTypes: imageTypes,
  keepGps: false,
  moderationMode: "auto",
  galleryEnabled: false,
  slideshowMessages: false,
  galleryOpensAt: null,
  maxPhotosPerGuest: null,
  /** Videos: taken unless the organiser turns them off, with their own caps (a phone films ~100 MB a minute in 1080p). */
  videosAllowed: true,
  maxVideoSize: 500 * MiB,
  maxVideoDurationSeconds: 10 * 60,
} as const;

/** Hard ceilings no event setting may exceed. */
export const hardLimits = {
  /** R2 allows 10,000 parts of up to 5 GiB; photos and short videos stay far below. */
  maxFileSize: 5 * 1024 * MiB,
  minChunkSize: 256 * 1024,
  maxChunkSize: 100 * MiB,
  maxSessionTtlSeconds: 7 * 24 * 60 * 60,
  /** A video's duration cap may be set up to a day (processing/video.ts refuses longer claims anyway). */
  maxVideoDurationSeconds: 24 * 60 * 60,
} as const;

/**
 * How long a chunk's lease lasts without the writing Worker's heartbeat (CHUNK_LEASE_MS, default
 * 10 s): how long a guest may wait after a Worker died mid-chunk before the chunk can be sent again.
 */
export function leaseMs(env: Pick<Env, "CHUNK_LEASE_MS">): number {
  const configured = Number(env.CHUNK_LEASE_MS);
  return Number.isFinite(configured) && configured >= 500 ? configured : 10_000;
}

/** Partials a device may have in flight (tus-js-client's parallelUploads makes a few per file). */
export const MAX_PARTIALS_IN_FLIGHT = 16;

/**
 * Clients that send no device id (stock tus and IETF clients) cannot be told apart behind a
 * venue's one address, so each such upload is its own device, and all of one IP address's
 * anonymous uploads to an event share this many devices' worth of the event's per-device limits
 * (ANON_DEVICES_PER_ADDRESS, default 25).
 */
export function anonDevicesPerAddress(env: Pick<Env, "ANON_DEVICES_PER_ADDRESS">): number {
  const configured = Number(env.ANON_DEVICES_PER_ADDRESS);
  return Number.isSafeInteger(configured) && configured >= 1 ? configured : 25;
}

/**
 * An anonymous upload that has received no bytes this long after its create stops holding one of
 * its address's slots, and expires if bytes come later: one client behind a venue's address
 * cannot hold every anonymous slot for a day with creates it never sends.
 */
export const ANON_FIRST_BYTES_MS = 5 * 60 * 1000;

/** The id an anonymous uploader gets: `anon-` and its address, hashed (http/capability.ts `uploaderFor`). */
export const ANONYMOUS_DEVICE_PREFIX = "anon-";
export const isAnonymousDevice = (deviceId: string) => deviceId.startsWith(ANONYMOUS_DEVICE_PREFIX);

/** The limits an upload's creator counts against: its device's, or its address's when anonymous. */
export interface UploaderLimits {
  scope: "device" | "address";
  maxConcurrent: number;
  dailyCap: number;
  maxPartials: number;
  /** Photos for the whole event (the event's max_photos_per_guest), or null for no such limit. */
  maxPhotos: number | null;
}

export function uploaderLimits(
  env: Pick<Env, "ANON_DEVICES_PER_ADDRESS">,
  event: { maxConcurrentPerDevice: number; dailyCapPerDevice: number; maxPhotosPerGuest: number | null },
  anonymous: boolean,
): UploaderLimits {
  const devices = anonymous ? anonDevicesPerAddress(env) : 1;
  return {
    scope: anonymous ? "address" : "device",
    maxConcurrent: event.maxConcurrentPerDevice * devices,
    dailyCap: event.dailyCapPerDevice * devices,
    maxPartials: MAX_PARTIALS_IN_FLIGHT * devices,
    maxPhotos: event.maxPhotosPerGuest === null ? null : event.maxPhotosPerGuest * devices,
  };
}
