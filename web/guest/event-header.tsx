import type { EventInfo } from "../engine/index.ts";
import { formatDateTime, formatSize, t, typeName } from "./i18n.ts";

/** The event's name, whether it takes photos now (and until or from when), and its limits in plain words. */
export function EventHeader({ info }: { info: EventInfo }) {
  const { limits } = info;
  return (
    <header class="event-header">
      <h1 class="breakable">{info.name}</h1>
      <p>
        <span class={info.accepting_uploads ? "badge badge-ok" : "badge badge-warn"}>{info.accepting_uploads ? t.statusOpen : t.statusClosed}</span>
      </p>
      {info.accepting_uploads ? (
        <p class="small muted">
          {t.limits(formatSize(limits.max_file_size), t.typeList(limits.allowed_content_types.filter((type) => type.startsWith("image/")).map(typeName)))}{" "}
          {limits.videos_allowed && `${t.videoLimits(formatSize(limits.max_video_size), String(Math.round((limits.max_video_duration_s / 60) * 10) / 10))} `}
          {t.dailyLimit(limits.daily_upload_cap_per_device)}
          {info.uploads_close_at && ` ${t.closesAt(formatDateTime(info.uploads_close_at))}`}
        </p>
      ) : (
        <p class="notice notice-warn">{closedWords(info)}</p>
      )}
    </header>
  );
}

/** Why nothing can be uploaded now: the window has not opened, has closed, or the organisers closed the event. */
function closedWords(info: EventInfo): string {
  const now = Date.now();
  if (info.status === "open" && info.uploads_open_at && Date.parse(info.uploads_open_at) > now) return t.opensAt(formatDateTime(info.uploads_open_at));
  if (info.status === "open" && info.uploads_close_at && Date.parse(info.uploads_close_at) <= now) return t.closedAt(formatDateTime(info.uploads_close_at));
  return t.closedBody;
}
