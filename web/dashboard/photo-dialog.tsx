/**
 * One photo, large, with everything known about it, and its moderation actions. A modal
 * <dialog>: the browser keeps focus inside and closes it on Escape; ← and → step through the
 * gallery's photos.
 */
import { useEffect, useRef } from "preact/hooks";
import type { ModerationAction, PhotoView } from "../shared/admin-api";
import { formatBytes, formatDateTime, formatDuration } from "../shared/format";
import { PhotoStateBadge } from "./ui";

export function PhotoDialog(props: {
  photo: PhotoView;
  busy: boolean;
  onModerate: (action: ModerationAction) => void;
  onClose: () => void;
  /** Moves to the next older (1) or newer (-1) photo of the gallery, when there is one. */
  onStep: (step: 1 | -1) => void;
  hasNewer: boolean;
  hasOlder: boolean;
}) {
  const { photo, busy, onModerate, onClose, onStep, hasNewer, hasOlder } = props;
  const step = (direction: 1 | -1) => {
    if (direction === 1 ? hasOlder : hasNewer) onStep(direction);
  };
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const onKeyDown = (key: KeyboardEvent) => {
    const target = key.target as HTMLElement;
    if (target.tagName === "INPUT" || target.tagName === "SELECT") return;
    if (key.key === "ArrowRight") step(1);
    if (key.key === "ArrowLeft") step(-1);
  };

  const facts: [string, string][] = [
    ["Guest's name", photo.display_name ?? "—"],
    ["File name", photo.filename],
    ["Type", photo.content_type],
    ["Size", formatBytes(photo.size)],
    ...(photo.duration_s !== null ? [["Duration", formatDuration(photo.duration_s)] as [string, string]] : []),
    ["Dimensions", photo.width && photo.height ? `${photo.width} × ${photo.height}` : "—"],
    ["Taken", formatDateTime(photo.taken_at)],
    ["Camera", photo.camera ?? "—"],
    ["Uploaded", formatDateTime(photo.uploaded_at)],
    ["Phone (device id)", photo.device_id],
  ];
  if (photo.gps) facts.push(["GPS", `${photo.gps.latitude.toFixed(5)}, ${photo.gps.longitude.toFixed(5)}`]);
  if (photo.duplicate_of) facts.push(["Duplicate of", photo.duplicate_of]);
  if (photo.failure_reason) facts.push(["Why it failed", photo.failure_reason]);

  const canApprove = (photo.status === "ready" && !photo.approved) || photo.status === "hidden";
  const preview = photo.urls.thumb_1024;
  // A ready video plays from its signed URL (range requests seek); the poster, when there is one, shows first.
  const video = photo.media_kind === "video" && photo.status !== "processing" ? (photo.urls.original ?? photo.urls.scrubbed ?? null) : null;

  return (
    <dialog ref={dialog} class="photo-dialog" aria-labelledby="photo-dialog-title" onClose={onClose} onKeyDown={onKeyDown}>
      <div class="photo-dialog-body">
        <div class="photo-dialog-image">
          {video ? (
            <video key={photo.photo_id} src={video} poster={preview ?? undefined} controls preload="metadata" aria-label={`Video ${photo.filename}`} />
          ) : preview ? (
            <img src={preview} alt={`Photo ${photo.filename}`} />
          ) : (
            <p class="muted">{photo.status === "processing" ? "Still processing: no preview yet." : "No preview for this photo; download the original to see it."}</p>
          )}
        </div>
        <div class="stack photo-dialog-side">
          <div class="dialog-header">
            <h2 id="photo-dialog-title" class="breakable">
              {photo.filename}
            </h2>
            <button type="button" class="button button-small" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
          <div>
            <PhotoStateBadge photo={photo} />
          </div>
          <dl class="facts">
            {facts.map(([label, value]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd class="breakable">{value}</dd>
              </div>
            ))}
          </dl>
          <div class="row">
            {canApprove && (
              <button type="button" class="button button-primary" disabled={busy} onClick={() => onModerate("approve")}>
                Approve
              </button>
            )}
            {photo.status === "ready" && (
              <button type="button" class="button" disabled={busy} onClick={() => onModerate("hide")}>
                Hide
              </button>
            )}
            {photo.status === "hidden" && (
              <button type="button" class="button" disabled={busy} onClick={() => onModerate("unhide")}>
                Show again
              </button>
            )}
            <button type="button" class="button button-danger" disabled={busy} onClick={() => onModerate("delete")}>
              Delete
            </button>
          </div>
          {photo.urls.original && (
            <div>
              <a class="button" href={photo.urls.original} download={photo.download_name}>
                Download original
              </a>
            </div>
          )}
          <div class="row">
            <button type="button" class="button button-small" disabled={!hasNewer} onClick={() => step(-1)}>
              ← Newer
            </button>
            <button type="button" class="button button-small" disabled={!hasOlder} onClick={() => step(1)}>
              Older →
            </button>
          </div>
        </div>
      </div>
    </dialog>
  );
}
