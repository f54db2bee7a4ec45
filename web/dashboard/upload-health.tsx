/**
 * Upload health on the live view, as the event's hub sums it up (src/live/upload-health.ts):
 * per phone, uploads in flight, stalled, retrying and failed lately; arrivals and failures per
 * minute; and, when many phones stall at once, a sentence that says what it most likely means.
 */
import type { DeviceHealth, UploadHealth } from "../shared/live-channel";
import { formatPercent } from "../shared/format";

const stateBadges: Record<DeviceHealth["state"], { text: string; badge: string }> = {
  stalled: { text: "Stalled", badge: "badge-danger" },
  retrying: { text: "Retrying", badge: "badge-warn" },
  uploading: { text: "Uploading", badge: "badge-ok" },
  failed: { text: "Failed lately", badge: "badge-danger" },
};

const counted = (n: number, one: string, many: string) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
const clockTime = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const minuteTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

export function UploadHealthPanel({ health }: { health: UploadHealth | null }) {
  return (
    <section class="card stack upload-health" aria-labelledby="health-heading">
      <h2 id="health-heading">Upload health</h2>
      {health ? <HealthDetails health={health} /> : <p class="muted">Waiting for the live channel…</p>}
    </section>
  );
}

function HealthDetails({ health }: { health: UploadHealth }) {
  const figures: [string, number, string][] = [
    ["Phones uploading", health.devices_in_flight, `${counted(health.uploads.in_flight, "upload", "uploads")} in flight`],
    ["Phones stalled", health.devices_stalled, `no bytes for ${health.stall_after_seconds} s`],
    ["Phones retrying", health.devices_retrying, "sending chunks again"],
    [`Phones failed, last ${health.window_minutes} min`, health.devices_failed, `${counted(health.uploads.failed, "upload", "uploads")} failed`],
  ];
  return (
    <>
      {health.overloaded && (
        <p class="notice notice-error health-overloaded" role="alert">
          {`Venue Wi-Fi looks overloaded: ${counted(health.overloaded.stalled_devices, "phone", "phones")} stalled`}
        </p>
      )}
      <dl class="figures health-figures">
        {figures.map(([label, value, detail]) => (
          <div class="figure" key={label}>
            <dt>{label}</dt>
            <dd class="figure-value">{value.toLocaleString()}</dd>
            <dd class="muted small">{detail}</dd>
          </div>
        ))}
      </dl>
      <SuccessPerMinute minutes={health.minutes} />
      {health.devices.length === 0 ? <p class="muted">No phone is uploading or has failed lately.</p> : <DeviceTable health={health} />}
    </>
  );
}

function SuccessPerMinute({ minutes }: { minutes: UploadHealth["minutes"] }) {
  return (
    <div class="table-scroll">
      <table class="health-minutes">
        <caption>Uploads finished per minute</caption>
        <thead>
          <tr>
            <th scope="col">Minute</th>
            {minutes.map((minute) => (
              <th scope="col" key={minute.minute}>
                {minuteTime.format(new Date(minute.minute))}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">Arrived</th>
            {minutes.map((minute) => (
              <td key={minute.minute}>{minute.arrived}</td>
            ))}
          </tr>
          <tr>
            <th scope="row">Failed</th>
            {minutes.map((minute) => (
              <td key={minute.minute} class={minute.failed ? "error-text" : undefined}>
                {minute.failed}
              </td>
            ))}
          </tr>
          <tr>
            <th scope="row">Success</th>
            {minutes.map((minute) => {
              const finished = minute.arrived + minute.failed;
              return <td key={minute.minute}>{finished ? formatPercent(minute.arrived / finished) : "—"}</td>;
            })}
          </tr>
        </tbody>
      </table>
    </div>
  );
}

function DeviceTable({ health }: { health: UploadHealth }) {
  return (
    <div class="table-scroll">
      <table class="health-devices">
        <caption>
          {health.devices.length < health.devices_listed_of
            ? `Phones: the ${health.devices.length} most troubled of ${health.devices_listed_of.toLocaleString()}`
            : "Phones"}
        </caption>
        <thead>
          <tr>
            <th scope="col">Phone</th>
            <th scope="col">State</th>
            <th scope="col">In flight</th>
            <th scope="col">Stalled</th>
            <th scope="col">Retrying</th>
            <th scope="col">Failed ({health.window_minutes} min)</th>
            <th scope="col">Last bytes</th>
          </tr>
        </thead>
        <tbody>
          {health.devices.map((device) => (
            <tr key={device.device_id} class="health-device" data-state={device.state}>
              <td class="breakable">{device.device_id}</td>
              <td>
                <span class={`badge ${stateBadges[device.state].badge}`}>{stateBadges[device.state].text}</span>
              </td>
              <td>{device.in_flight}</td>
              <td>{device.stalled}</td>
              <td>{device.retrying}</td>
              <td>{device.failed}</td>
              <td>{device.last_bytes_at ? clockTime.format(new Date(device.last_bytes_at)) : "None yet"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
