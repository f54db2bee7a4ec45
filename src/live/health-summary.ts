/**
 * The shape of the live channel's `health` message, on its own so the dashboard imports it
 * (web/shared/live-channel.ts) rather than restating it: types only, no runtime.
 */
export type DeviceState = "stalled" | "retrying" | "uploading" | "failed";

/** What the dashboard shows (the live channel's `health` message). */
export interface HealthSummary {
  generated_at: string;
  stall_after_seconds: number;
  window_minutes: number;
  devices_in_flight: number;
  devices_stalled: number;
  devices_retrying: number;
  devices_failed: number;
  /** Uploads in flight, stalled, retrying; failed in the window. */
  uploads: { in_flight: number; stalled: number; retrying: number; failed: number };
  /** Many devices stalled at once: the venue's network, most likely. */
  overloaded: { stalled_devices: number } | null;
  /** The window's minutes, oldest first, the current one last. */
  minutes: Array<{ minute: string; arrived: number; failed: number }>;
  /** The troubled first; at most MAX_LISTED_DEVICES of `devices_listed_of`. */
  devices: DeviceHealth[];
  devices_listed_of: number;
}

export interface DeviceHealth {
  device_id: string;
  state: DeviceState;
  in_flight: number;
  stalled: number;
  retrying: number;
  failed: number;
  last_bytes_at: string | null;
}
