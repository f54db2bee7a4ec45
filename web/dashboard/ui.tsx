/** Small pieces several dashboard screens use. */
import type { ComponentChildren } from "preact";
import type { AdminApiError, EventStatus, PhotoView } from "../shared/admin-api";
import { formatDuration, svgDataUrl } from "../shared/format";

/** The message names every field a refused request got wrong ("field: problem; …"), so it is all there is to show. */
export function ErrorNotice({ error, children }: { error: AdminApiError | null; children?: ComponentChildren }) {
  if (!error) return null;
  return (
    <div class="notice notice-error" role="alert">
      <p>{error.message}</p>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

const eventBadge: Record<EventStatus, string> = { open: "badge badge-ok", closed: "badge badge-warn", archived: "badge" };

export function EventStatusBadge({ status }: { status: EventStatus }) {
  return <span class={eventBadge[status]}>{status === "open" ? "Open for uploads" : status === "closed" ? "Closed" : "Archived"}</span>;
}

/** A photo's state in moderation terms: preview, processing, failed, hidden, awaiting review, approved. */
function photoState(photo: PhotoView): { label: string; badge: string } {
  switch (photo.status) {
    case "preview":
      // Shown from the guest's own preview: the original is still on its way.
      return { label: photo.approved ? "Preview · approved" : "Preview", badge: "badge badge-preview" };
    case "processing":
      return { label: "Processing", badge: "badge" };
    case "failed":
      return { label: "Failed", badge: "badge badge-danger" };
    case "hidden":
      return { label: "Hidden", badge: "badge badge-warn" };
    case "deleted":
      return { label: "Deleted", badge: "badge badge-danger" };
    case "ready":
      return photo.approved ? { label: "Approved", badge: "badge badge-ok" } : { label: "Awaiting review", badge: "badge badge-warn" };
  }
}

export function PhotoStateBadge({ photo }: { photo: PhotoView }) {
  const { label, badge } = photoState(photo);
  return (
    <>
      <span class={badge}>{label}</span>
      {photo.preview_flagged && (
        <span class="badge badge-danger" title="The guest's preview did not look like the photo that arrived: check it before showing it.">
          Preview mismatch
        </span>
      )}
    </>
  );
}

/** The server's QR code SVG, shown as an image: markup from the API is never put into the page. */
export function QrImage({ svg, alt, class: className }: { svg: string; alt: string; class?: string }) {
  return <img class={className ?? "qr"} src={svgDataUrl(svg)} alt={alt} />;
}

/** A video's play mark and length over its tile (a neutral tile until it has a poster). */
function VideoMark({ photo }: { photo: PhotoView }) {
  return (
    <span class="tile-video-mark" aria-label={photo.duration_s === null ? "Video" : `Video, ${formatDuration(photo.duration_s)}`}>
      <span class="tile-play" aria-hidden="true">
        ▶
      </span>
      {photo.duration_s !== null && <span class="tile-duration">{formatDuration(photo.duration_s)}</span>}
    </span>
  );
}

/** A photo's thumbnail (or why there is none) with its file name and state, as the grids show it. */
export function PhotoTileContent({ photo }: { photo: PhotoView }) {
  return (
    <>
      {photo.urls.thumb_256 ? (
        <img class="tile-image" src={photo.urls.thumb_256} alt="" loading="lazy" decoding="async" />
      ) : (
        <span class={`tile-image tile-placeholder${photo.media_kind === "video" ? " tile-video" : ""}`} aria-hidden="true">
          {photo.status === "processing" ? "Processing…" : photo.media_kind === "video" ? "" : "No preview"}
        </span>
      )}
      {photo.media_kind === "video" && <VideoMark photo={photo} />}
      <span class="tile-caption">
        {photo.display_name && <span class="tile-guest breakable">{photo.display_name}</span>}
        <span class="tile-name breakable">{photo.filename}</span>
        <PhotoStateBadge photo={photo} />
      </span>
    </>
  );
}
