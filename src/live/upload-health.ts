/**
 * Upload health, per event: what the event's hub (live/event-hub.ts) learns from its upload
 * sessions' announcements, kept in the hub's SQLite storage (the hub hibernates, and a stall is
 * exactly the moment nothing wakes it) with a bounded copy in memory, and summarised for the
 * dashboard's live view: per device, uploads in flight, stalled (no bytes for UPLOAD_STALL_MS,
 * 30 s by default), retrying (the device re-sent a chunk since its last bytes) and failed in the
 * last ten minutes; event-wide, arrivals and failures per minute, and whether many devices stalled
 * at once (the venue's network, not one phone).
 *
 * Bounded: at most MAX_TRACKED_UPLOADS uploads in flight (the least recently active is dropped),
 * outcomes only for the last ten minutes (at most MAX_TRACKED_OUTCOMES), an upload silent for an
 * hour is forgotten (its guest has likely left; the session expires at its TTL), and a summary
 * lists at most MAX_LISTED_DEVICES devices, the troubled first.
 */
import type { UploadStatus } from "../db/schema";
import { isoOrNull } from "../lib/time";
import type { DeviceHealth, DeviceState, HealthSummary } from "./health-summary";
export type { DeviceHealth, DeviceState, HealthSummary };

/** What a session tells the hub about an upload, with each announcement. */
export interface UploadActivity {
  uploadId: string;
  deviceId: string;
  status: UploadStatus;
  createdAt: number;
  /** When bytes last landed (null: none yet). */
  lastBytesAt: number | null;
  /** When the device last re-sent a chunk the session could not take as new bytes (a replay, out of order, cut off). */
  retriedAt: number | null;
}

type ActiveStatus = "pending" | "uploading" | "assembling";
type Outcome = "arrived" | "lost" | "cancelled";

interface TrackedUpload {
  uploadId: string;
  deviceId: string;
  status: ActiveStatus;
  createdAt: number;
  lastBytesAt: number | null;
  retriedAt: number | null;
}

interface EndedUpload {
  uploadId: string;
  deviceId: string;
  outcome: Outcome;
  at: number;
}

export const MAX_TRACKED_UPLOADS = 1000;
export const MAX_TRACKED_OUTCOMES = 5000;
export const MAX_LISTED_DEVICES = 50;
/** "Failed in the last 10 minutes", and the minutes of the success rate. */
export const HEALTH_WINDOW_MS = 10 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
/** An upload with no news for this long is no longer tracked. */
export const FORGET_SILENT_MS = 60 * 60 * 1000;
/** Devices whose uploads stalled within this long of each other count as stalling "at once". */
export const STALLED_TOGETHER_MS = 2 * 60 * 1000;
/** At least this many devices stalled at once, and at least half of those with uploads in flight: the venue's network. */
export const OVERLOAD_MIN_DEVICES = 3;

/** How long without bytes an upload in flight is stalled (UPLOAD_STALL_MS, default 30 s). */
export function uploadStallMs(env: Pick<Env, "UPLOAD_STALL_MS">): number {
  const configured = Number(env.UPLOAD_STALL_MS);
  return Number.isFinite(configured) && configured >= 100 ? configured : 30_000;
}

const activeStatuses: ReadonlySet<UploadStatus> = new Set<ActiveStatus>(["pending", "uploading", "assembling"]);
const outcomeOf: Partial<Record<UploadStatus, Outcome>> = { completed: "arrived", failed: "lost", expired: "lost", cancelled: "cancelled" };
const stateOrder: Record<DeviceState, number> = { stalled: 0, retrying: 1, uploading: 2, failed: 3 };

/** When an upload last showed life: its last bytes, or its creation. */
const lastLife = (upload: TrackedUpload) => upload.lastBytesAt ?? upload.createdAt;

const tables = `
  CREATE TABLE IF NOT EXISTS health_uploads (upload_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, status TEXT NOT NULL,
    created_at INTEGER NOT NULL, last_bytes_at INTEGER, retried_at INTEGER, heard_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS health_outcomes (upload_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, outcome TEXT NOT NULL, at INTEGER NOT NULL);
`;

export class UploadHealth {
  readonly #sql: SqlStorage;
  readonly #stallMs: number;
  /** Storage's rows, read once per wake-up. */
  #uploads: Map<string, TrackedUpload & { heardAt: number }> | null = null;
  #outcomes: Map<string, EndedUpload> | null = null;

  constructor(sql: SqlStorage, stallMs: number) {
    this.#sql = sql;
    this.#stallMs = stallMs;
  }

  #load() {
    if (this.#uploads && this.#outcomes) return { uploads: this.#uploads, outcomes: this.#outcomes };
    this.#sql.exec(tables);
    const uploads = new Map<string, TrackedUpload & { heardAt: number }>();
    for (const row of this.#sql.exec<Record<string, string | number | null>>("SELECT * FROM health_uploads")) {
      uploads.set(String(row.upload_id), {
        uploadId: String(row.upload_id),
        deviceId: String(row.device_id),
        status: row.status as ActiveStatus,
        createdAt: Number(row.created_at),
        lastBytesAt: row.last_bytes_at === null ? null : Number(row.last_bytes_at),
        retriedAt: row.retried_at === null ? null : Number(row.retried_at),
        heardAt: Number(row.heard_at),
      });
    }
    const outcomes = new Map<string, EndedUpload>();
    for (const row of this.#sql.exec<Record<string, string | number>>("SELECT * FROM health_outcomes ORDER BY at")) {
      outcomes.set(String(row.upload_id), { uploadId: String(row.upload_id), deviceId: String(row.device_id), outcome: row.outcome as Outcome, at: Number(row.at) });
    }
    this.#uploads = uploads;
    this.#outcomes = outcomes;
    return { uploads, outcomes };
  }

  /** Takes an announcement into account. */
  record(activity: UploadActivity, now: number): void {
    const { uploads, outcomes } = this.#load();
    // Announcements may arrive out of order: an upload that ended stays ended.
    if (outcomes.has(activity.uploadId)) return;
    const outcome = outcomeOf[activity.status];
    if (outcome) {
      uploads.delete(activity.uploadId);
      this.#sql.exec("DELETE FROM health_uploads WHERE upload_id = ?", activity.uploadId);
      outcomes.set(activity.uploadId, { uploadId: activity.uploadId, deviceId: activity.deviceId, outcome, at: now });
      this.#sql.exec("INSERT OR REPLACE INTO health_outcomes (upload_id, device_id, outcome, at) VALUES (?, ?, ?, ?)", activity.uploadId, activity.deviceId, outcome, now);
    } else if (activeStatuses.has(activity.status)) {
      const tracked = { ...activity, status: activity.status as ActiveStatus, heardAt: now };
      if (!uploads.has(tracked.uploadId) && uploads.size >= MAX_TRACKED_UPLOADS) this.#forget(uploads, [leastRecent(uploads.values())!]);
      uploads.set(tracked.uploadId, tracked);
      this.#sql.exec(
        "INSERT OR REPLACE INTO health_uploads (upload_id, device_id, status, created_at, last_bytes_at, retried_at, heard_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        tracked.uploadId,
        tracked.deviceId,
        tracked.status,
        tracked.createdAt,
        tracked.lastBytesAt,
        tracked.retriedAt,
        now,
      );
    }
    this.#pruneOutcomes(now);
  }

  /** Drops outcomes older than the window (or beyond the cap) and uploads silent for an hour. */
  prune(now: number): void {
    const { uploads } = this.#load();
    const silent = [...uploads.values()].filter((upload) => upload.heardAt <= now - FORGET_SILENT_MS);
    if (silent.length) this.#forget(uploads, silent);
    this.#pruneOutcomes(now);
  }

  /** Oldest first, so it stops at the first outcome it keeps. */
  #pruneOutcomes(now: number): void {
    const { outcomes } = this.#load();
    let excess = outcomes.size - MAX_TRACKED_OUTCOMES;
    const stale: string[] = [];
    // The map keeps insertion order, which is arrival order.
    for (const ended of outcomes.values()) {
      if (ended.at > now - HEALTH_WINDOW_MS && excess <= 0) break;
      stale.push(ended.uploadId);
      excess--;
    }
    for (const id of stale) {
      outcomes.delete(id);
      this.#sql.exec("DELETE FROM health_outcomes WHERE upload_id = ?", id);
    }
  }

  #forget(uploads: Map<string, TrackedUpload>, gone: TrackedUpload[]): void {
    for (const upload of gone) {
      uploads.delete(upload.uploadId);
      this.#sql.exec("DELETE FROM health_uploads WHERE upload_id = ?", upload.uploadId);
    }
  }

  /** How many uploads in flight and recent outcomes are kept (for the bounds' tests). */
  tracked(): { uploads: number; outcomes: number } {
    const { uploads, outcomes } = this.#load();
    return { uploads: uploads.size, outcomes: outcomes.size };
  }

  #stalled(upload: TrackedUpload, now: number): boolean {
    return upload.status !== "assembling" && now - lastLife(upload) >= this.#stallMs;
  }

  #retrying(upload: TrackedUpload, now: number): boolean {
    return upload.retriedAt !== null && upload.retriedAt >= (upload.lastBytesAt ?? 0) && now - upload.retriedAt < this.#stallMs;
  }

  summary(now: number): HealthSummary {
    this.prune(now);
    const { uploads, outcomes } = this.#load();
    const devices = new Map<string, DeviceHealth & { lastBytesAt: number | null; stalledAt: number | null }>();
    const deviceOf = (deviceId: string) => {
      let device = devices.get(deviceId);
      if (!device) {
        device = { device_id: deviceId, state: "uploading", in_flight: 0, stalled: 0, retrying: 0, failed: 0, last_bytes_at: null, lastBytesAt: null, stalledAt: null };
        devices.set(deviceId, device);
      }
      return device;
    };
    for (const upload of uploads.values()) {
      const device = deviceOf(upload.deviceId);
      device.in_flight++;
      if (upload.lastBytesAt !== null) device.lastBytesAt = Math.max(device.lastBytesAt ?? 0, upload.lastBytesAt);
      if (this.#retrying(upload, now)) device.retrying++;
      if (this.#stalled(upload, now)) {
        device.stalled++;
        device.stalledAt = Math.max(device.stalledAt ?? 0, lastLife(upload) + this.#stallMs);
      }
    }
    const firstMinute = Math.floor(now / MINUTE_MS) * MINUTE_MS - HEALTH_WINDOW_MS + MINUTE_MS;
    const minutes = Array.from({ length: HEALTH_WINDOW_MS / MINUTE_MS }, (_, i) => ({ minute: new Date(firstMinute + i * MINUTE_MS).toISOString(), arrived: 0, failed: 0 }));
    for (const ended of outcomes.values()) {
      if (ended.outcome === "cancelled") continue;
      const bucket = minutes[Math.floor((ended.at - firstMinute) / MINUTE_MS)];
      if (ended.outcome === "lost") deviceOf(ended.deviceId).failed++;
      if (bucket) bucket[ended.outcome === "arrived" ? "arrived" : "failed"]++;
    }
    const listed = [...devices.values()];
    for (const device of listed) {
      device.state = device.stalled ? "stalled" : device.retrying ? "retrying" : device.in_flight ? "uploading" : "failed";
      device.last_bytes_at = isoOrNull(device.lastBytesAt);
    }
    // Devices with only arrivals have no news for the health panel.
    const shown = listed.filter((device) => device.in_flight || device.failed);
    shown.sort((a, b) => stateOrder[a.state] - stateOrder[b.state] || (b.stalled + b.retrying + b.failed) - (a.stalled + a.retrying + a.failed) || a.device_id.localeCompare(b.device_id));
    const count = (test: (device: DeviceHealth) => boolean) => shown.filter(test).length;
    const inFlight = count((device) => device.in_flight > 0);
    const stalledTogether = shown.filter((device) => device.stalledAt !== null && now - device.stalledAt < STALLED_TOGETHER_MS).length;
    const sum = (field: "in_flight" | "stalled" | "retrying" | "failed") => shown.reduce((total, device) => total + device[field], 0);
    return {
      generated_at: new Date(now).toISOString(),
      stall_after_seconds: this.#stallMs / 1000,
      window_minutes: HEALTH_WINDOW_MS / MINUTE_MS,
      devices_in_flight: inFlight,
      devices_stalled: count((device) => device.stalled > 0),
      devices_retrying: count((device) => device.retrying > 0),
      devices_failed: count((device) => device.failed > 0),
      uploads: { in_flight: sum("in_flight"), stalled: sum("stalled"), retrying: sum("retrying"), failed: sum("failed") },
      overloaded: stalledTogether >= OVERLOAD_MIN_DEVICES && stalledTogether * 2 >= inFlight ? { stalled_devices: stalledTogether } : null,
      minutes,
      devices: shown.slice(0, MAX_LISTED_DEVICES).map(({ lastBytesAt: _l, stalledAt: _s, ...device }) => device),
      devices_listed_of: shown.length,
    };
  }

  /**
   * The next moment the summary changes without any announcement (an upload stalls, a retry or a
   * stall grows old, a failure leaves the window, the minutes move on), or null if none will.
   */
  nextChangeAt(now: number): number | null {
    const { uploads, outcomes } = this.#load();
    const moments: number[] = [];
    for (const upload of uploads.values()) {
      if (upload.status !== "assembling") moments.push(lastLife(upload) + this.#stallMs, lastLife(upload) + this.#stallMs + STALLED_TOGETHER_MS);
      if (upload.retriedAt !== null) moments.push(upload.retriedAt + this.#stallMs);
      moments.push(upload.heardAt + FORGET_SILENT_MS);
    }
    const oldest = outcomes.values().next().value;
    if (oldest) moments.push(oldest.at + HEALTH_WINDOW_MS, Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
    const future = moments.filter((moment) => moment > now);
    return future.length ? Math.min(...future) : null;
  }
}

function leastRecent(uploads: Iterable<TrackedUpload & { heardAt: number }>): TrackedUpload | undefined {
  let found: (TrackedUpload & { heardAt: number }) | undefined;
  for (const upload of uploads) if (!found || upload.heardAt < found.heardAt) found = upload;
  return found;
}
