/**
 * What is happening right now, over the live channel: the upload health of the guests' phones,
 * uploads in flight with their progress, and photos as they arrive and get processed, without
 * reloading. Each time the channel
 * (re)opens, the current state is read from the API first, since messages sent while it was
 * down are gone.
 */
import { useEffect, useState } from "preact/hooks";
import { activeUploadStatuses, type EventView, type PhotoView, type UploadView } from "../shared/admin-api";
import { formatBytes } from "../shared/format";
import { openLiveChannel, type LiveState, type UploadHealth } from "../shared/live-channel";
import { useApi } from "./context";
import { PhotoTileContent } from "./ui";
import { UploadHealthPanel } from "./upload-health";

/** How much the view keeps: the page runs for hours, so its lists are bounded. */
const KEPT_PHOTOS = 24;
const KEPT_FINISHED_UPLOADS = 10;

const stateText: Record<LiveState, string> = { connecting: "Connecting…", open: "Live", reconnecting: "Connection lost; reconnecting…" };

const isActive = (upload: UploadView) => activeUploadStatuses.includes(upload.status);

/** Puts `item` first, replacing an older version of it; keeps at most `limit`. */
function upsertFirst<T>(items: T[], item: T, same: (a: T, b: T) => boolean, limit: number): T[] {
  return [item, ...items.filter((other) => !same(other, item))].slice(0, limit);
}

export function LiveView({ event }: { event: EventView }) {
  const api = useApi();
  const eventId = event.event_id;
  const [state, setState] = useState<LiveState>("connecting");
  const [inFlight, setInFlight] = useState<UploadView[]>([]);
  const [finished, setFinished] = useState<UploadView[]>([]);
  const [photos, setPhotos] = useState<PhotoView[]>([]);
  /** Sent by the hub on every (re)connect and whenever it changes. */
  const [health, setHealth] = useState<UploadHealth | null>(null);

  useEffect(() => {
    const sameUpload = (a: UploadView, b: UploadView) => a.upload_id === b.upload_id;
    const resync = async () => {
      const [uploads, latest] = await Promise.all([api.listUploads(eventId, [...activeUploadStatuses], null, 100), api.listPhotos(eventId, {}, null, KEPT_PHOTOS)]);
      setInFlight(uploads.items);
      setPhotos(latest.items);
    };
    return openLiveChannel(api, eventId, {
      onState(next) {
        setState(next);
        if (next === "open") void resync().catch(() => {});
      },
      onMessage(message) {
        if (message.type === "upload") {
          const upload = message.upload;
          if (isActive(upload)) {
            // Newest first, as the API lists them; a progress update keeps its row where it is.
            setInFlight((current) => (current.some((other) => sameUpload(other, upload)) ? current.map((other) => (sameUpload(other, upload) ? upload : other)) : [upload, ...current]));
          } else {
            setInFlight((current) => current.filter((other) => !sameUpload(other, upload)));
            setFinished((current) => upsertFirst(current, upload, sameUpload, KEPT_FINISHED_UPLOADS));
          }
        } else if (message.type === "health") {
          setHealth(message.health);
        } else if (message.type === "photo") {
          const photo = message.photo;
          setPhotos((current) =>
            photo.status === "deleted"
              ? current.filter((other) => other.photo_id !== photo.photo_id)
              : upsertFirst(current, photo, (a, b) => a.photo_id === b.photo_id, KEPT_PHOTOS),
          );
        }
      },
    });
  }, [api, eventId]);

  return (
    <div class="stack">
      <p role="status" class={`live-state live-${state}`}>
        {stateText[state]}
      </p>
      <UploadHealthPanel health={health} />
      <section class="card stack" aria-labelledby="in-flight-heading">
        <h2 id="in-flight-heading">Uploading now ({inFlight.length})</h2>
        {inFlight.length === 0 ? <p class="muted">Nobody is uploading at the moment.</p> : <UploadList uploads={inFlight} />}
        {finished.length > 0 && (
          <>
            <h3>Just finished</h3>
            <UploadList uploads={finished} />
          </>
        )}
      </section>
      <section class="card stack" aria-labelledby="new-photos-heading">
        <h2 id="new-photos-heading">Latest photos</h2>
        {photos.length === 0 ? (
          <p class="muted">No photos yet.</p>
        ) : (
          <ul class="live-photos">
            {photos.map((photo) => (
              <li key={photo.photo_id} class="live-photo">
                <PhotoTileContent photo={photo} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

const uploadStateText: Record<UploadView["status"], string> = {
  pending: "Waiting",
  uploading: "Uploading",
  assembling: "Finishing",
  completed: "Arrived",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired",
};

function UploadList({ uploads }: { uploads: UploadView[] }) {
  return (
    <ul class="upload-list">
      {uploads.map((upload) => (
        <li key={upload.upload_id} class="upload-row">
          <div class="row row-spread">
            <span class="breakable upload-name">{upload.filename}</span>
            <span class="muted small">
              {uploadStateText[upload.status]} · {formatBytes(upload.received_bytes)} of {formatBytes(upload.total_size)}
            </span>
          </div>
          <progress max={upload.total_size} value={upload.received_bytes} aria-label={`${upload.filename}: ${uploadStateText[upload.status]}`} />
          {upload.failure_reason && <p class="error-text small breakable">{upload.failure_reason}</p>}
          <p class="muted small breakable">Phone {upload.device_id}</p>
        </li>
      ))}
    </ul>
  );
}
