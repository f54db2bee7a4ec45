/** An event at a glance: its figures, uploads over time, and the uploads that failed and why. */
import type { EventStats, EventView } from "../shared/admin-api";
import { formatBytes, formatDateTime, formatPercent } from "../shared/format";
import { useApi } from "./context";
import { UploadsChart } from "./uploads-chart";
import { useLoad } from "./use-load";
import { useCursorPages } from "./use-pages";
import { ErrorNotice, Loading } from "./ui";

export function Overview({ event }: { event: EventView }) {
  const api = useApi();
  const stats = useLoad(() => api.stats(event.event_id), [api, event.event_id]);

  return (
    <div class="stack">
      <section class="card stack" aria-labelledby="figures-heading">
        <div class="row row-spread">
          <h2 id="figures-heading">Figures</h2>
          <button type="button" class="button button-small" onClick={stats.reload}>
            Refresh
          </button>
        </div>
        <ErrorNotice error={stats.error} />
        {stats.data ? <Figures stats={stats.data} /> : stats.loading && <Loading what="figures" />}
      </section>
      <section class="card stack" aria-labelledby="chart-heading">
        <h2 id="chart-heading">Uploads over time</h2>
        {stats.data && <UploadsChart timeline={stats.data.uploads_over_time} />}
      </section>
      <FailedUploads eventId={event.event_id} />
    </div>
  );
}

function Figures({ stats }: { stats: EventStats }) {
  const figures: [string, string, string?][] = [
    ["Photos", stats.photos.total.toLocaleString(), `${stats.photos.preview} preview · ${stats.photos.ready} ready · ${stats.photos.processing} processing · ${stats.photos.hidden} hidden · ${stats.photos.failed} failed`],
    [
      "Stored",
      formatBytes(stats.stored_bytes.total),
      `${formatBytes(stats.stored_bytes.originals)} originals · ${formatBytes(stats.stored_bytes.scrubbed_copies)} guests' copies · ${formatBytes(stats.stored_bytes.thumbnails)} thumbnails · ${formatBytes(stats.stored_bytes.in_flight)} arriving`,
    ],
    ["Guests' phones", stats.devices.toLocaleString()],
    ["Uploading now", stats.uploads.in_flight.toLocaleString()],
    ["Uploads that failed", formatPercent(stats.upload_failure_rate), `${stats.uploads.failed} failed · ${stats.uploads.expired} expired · ${stats.uploads.completed} completed`],
    ["Photos refused by processing", formatPercent(stats.processing_failure_rate)],
  ];
  return (
    <dl class="figures">
      {figures.map(([label, value, detail]) => (
        <div class="figure" key={label}>
          <dt>{label}</dt>
          <dd class="figure-value">{value}</dd>
          {detail && <dd class="muted small">{detail}</dd>}
        </div>
      ))}
    </dl>
  );
}

/** Failed and expired uploads, newest first, with the reason in the guest's and the server's words. */
function FailedUploads({ eventId }: { eventId: string }) {
  const api = useApi();
  const failed = useCursorPages((cursor) => api.listUploads(eventId, ["failed", "expired"], cursor), [api, eventId]);

  return (
    <section class="card stack" aria-labelledby="failed-heading">
      <h2 id="failed-heading">Failed uploads</h2>
      <ErrorNotice error={failed.error} />
      {failed.items.length === 0 ? (
        failed.loading ? <Loading what="failed uploads" /> : !failed.error && <p class="muted">No failed uploads.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Reason</th>
                <th scope="col">Received</th>
                <th scope="col">Phone</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {failed.items.map((upload) => (
                <tr key={upload.upload_id}>
                  <td class="breakable cell-name">{upload.filename}</td>
                  <td>
                    <span class={upload.status === "failed" ? "badge badge-danger" : "badge badge-warn"}>{upload.status === "failed" ? "Failed" : "Expired"}</span>{" "}
                    <span class="breakable">{upload.failure_reason ?? (upload.status === "expired" ? "The guest stopped before it finished." : "")}</span>
                  </td>
                  <td>
                    {formatBytes(upload.received_bytes)} of {formatBytes(upload.total_size)}
                  </td>
                  <td class="breakable small">{upload.device_id}</td>
                  <td>{formatDateTime(upload.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {failed.hasMore && failed.items.length > 0 && (
        <div>
          <button type="button" class="button" disabled={failed.loading} onClick={failed.loadMore}>
            {failed.loading ? "Loading…" : "Show more"}
          </button>
        </div>
      )}
    </section>
  );
}
