/**
 * Every setting an event has (PATCH /events/:id), in units people think in: MiB, KiB, hours,
 * local date and time. Only the fields that changed are sent.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { contentTypes, type ContentType, type EventSettings, type EventView } from "../shared/admin-api";
import { fromLocalInput, toLocalInput } from "../shared/format";
import { useApi } from "./context";
import { useSubmit } from "./use-submit";
import { ErrorNotice } from "./ui";

const MiB = 1024 * 1024;
const KiB = 1024;

/** The form's values: what the inputs hold, as strings, booleans and lists. */
interface FormValues {
  name: string;
  starts_at: string;
  ends_at: string;
  status: "open" | "closed";
  uploads_open_at: string;
  uploads_close_at: string;
  allowed_content_types: ContentType[];
  max_file_size_mib: string;
  max_concurrent_uploads_per_device: string;
  daily_upload_cap_per_device: string;
  moderation_mode: "auto" | "review";
  gallery_enabled: boolean;
  slideshow_messages: boolean;
  gallery_opens_at: string;
  /** Empty: no limit. */
  max_photos_per_guest: string;
  keep_gps: boolean;
  chunk_size_kib: string;
  session_ttl_hours: string;
  videos_allowed: boolean;
  max_video_size_mib: string;
  max_video_duration_min: string;
}

function formValues(event: EventView): FormValues {
  return {
    name: event.name,
    starts_at: toLocalInput(event.starts_at),
    ends_at: toLocalInput(event.ends_at),
    status: event.status === "open" ? "open" : "closed",
    uploads_open_at: toLocalInput(event.uploads_open_at),
    uploads_close_at: toLocalInput(event.uploads_close_at),
    allowed_content_types: event.allowed_content_types,
    max_file_size_mib: String(Math.round((event.max_file_size / MiB) * 100) / 100),
    max_concurrent_uploads_per_device: String(event.max_concurrent_uploads_per_device),
    daily_upload_cap_per_device: String(event.daily_upload_cap_per_device),
    moderation_mode: event.moderation_mode,
    gallery_enabled: event.gallery_enabled,
    slideshow_messages: event.slideshow_messages,
    gallery_opens_at: toLocalInput(event.gallery_opens_at),
    max_photos_per_guest: event.max_photos_per_guest === null ? "" : String(event.max_photos_per_guest),
    keep_gps: event.keep_gps,
    chunk_size_kib: String(Math.round(event.chunk_size / KiB)),
    session_ttl_hours: String(Math.round((event.session_ttl_seconds / 3600) * 100) / 100),
    videos_allowed: event.videos_allowed,
    max_video_size_mib: String(Math.round((event.max_video_size / MiB) * 100) / 100),
    max_video_duration_min: String(Math.round((event.max_video_duration_s / 60) * 100) / 100),
  };
}

/** The API's settings for the form's values. */
function settingsOf(values: FormValues): Required<EventSettings> {
  return {
    name: values.name.trim(),
    starts_at: fromLocalInput(values.starts_at),
    ends_at: fromLocalInput(values.ends_at),
    status: values.status,
    uploads_open_at: fromLocalInput(values.uploads_open_at),
    uploads_close_at: fromLocalInput(values.uploads_close_at),
    allowed_content_types: contentTypes.filter((type) => values.allowed_content_types.includes(type)),
    max_file_size: Math.round(Number(values.max_file_size_mib) * MiB),
    max_concurrent_uploads_per_device: Number(values.max_concurrent_uploads_per_device),
    daily_upload_cap_per_device: Number(values.daily_upload_cap_per_device),
    moderation_mode: values.moderation_mode,
    gallery_enabled: values.gallery_enabled,
    slideshow_messages: values.slideshow_messages,
    gallery_opens_at: fromLocalInput(values.gallery_opens_at),
    max_photos_per_guest: values.max_photos_per_guest.trim() === "" ? null : Number(values.max_photos_per_guest),
    keep_gps: values.keep_gps,
    chunk_size: Math.round(Number(values.chunk_size_kib) * KiB),
    session_ttl_seconds: Math.round(Number(values.session_ttl_hours) * 3600),
    videos_allowed: values.videos_allowed,
    max_video_size: Math.round(Number(values.max_video_size_mib) * MiB),
    max_video_duration_s: Math.round(Number(values.max_video_duration_min) * 60),
  };
}

/** The settings whose values differ (lists and times compared by value). */
function changedSettings(before: Required<EventSettings>, after: Required<EventSettings>): EventSettings {
  const changes: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof EventSettings)[]) {
    if (JSON.stringify(after[key]) !== JSON.stringify(before[key])) changes[key] = after[key];
  }
  return changes as EventSettings;
}

const typeLabels: Record<ContentType, string> = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/webp": "WebP",
  "image/heic": "HEIC (iPhone)",
  "image/heif": "HEIF",
};

export function EventSettingsForm({ event, onSaved }: { event: EventView; onSaved: (event: EventView) => void }) {
  const api = useApi();
  const [values, setValues] = useState(() => formValues(event));
  const { busy, error, run } = useSubmit();
  const [saved, setSaved] = useState(false);
  // What the server holds, in the form's own rounding, so an untouched form has no changes.
  const baseline = useMemo(() => settingsOf(formValues(event)), [event]);
  const changes = changedSettings(baseline, settingsOf(values));
  const dirty = Object.keys(changes).length > 0;
  const archived = event.status === "archived";

  // The header's open/close switch changes the event under the form: follow it.
  useEffect(() => setValues((current) => ({ ...current, status: event.status === "open" ? "open" : "closed" })), [event.status]);

  const set = <K extends keyof FormValues>(key: K, value: FormValues[K]) => {
    setSaved(false);
    setValues((current) => ({ ...current, [key]: value }));
  };
  const text = (key: keyof FormValues) => (input: Event) => set(key, (input.currentTarget as HTMLInputElement).value as never);

  const submit = (submitted: Event) => {
    submitted.preventDefault();
    return run(async () => {
      const updated = await api.updateEvent(event.event_id, changes);
      onSaved(updated);
      setValues(formValues(updated));
      setSaved(true);
    });
  };

  return (
    <div class="stack">
      <form class="stack" onSubmit={submit} aria-labelledby="settings-heading">
        <h2 id="settings-heading">Settings</h2>
        <fieldset class="fields fields-2">
          <legend>Event</legend>
          <div class="field">
            <label for="setting-name">Name</label>
            <input id="setting-name" required maxLength={200} value={values.name} onInput={text("name")} />
          </div>
          <div />
          <div class="field">
            <label for="setting-starts">Starts</label>
            <input id="setting-starts" type="datetime-local" value={values.starts_at} onInput={text("starts_at")} />
          </div>
          <div class="field">
            <label for="setting-ends">Ends</label>
            <input id="setting-ends" type="datetime-local" value={values.ends_at} onInput={text("ends_at")} />
          </div>
        </fieldset>

        <fieldset class="fields fields-2">
          <legend>Uploads</legend>
          <div class="field" role="radiogroup" aria-labelledby="setting-status-label">
            <span id="setting-status-label" class="label">Guests may upload</span>
            <label class="check">
              <input type="radio" name="status" checked={values.status === "open"} disabled={archived} onChange={() => set("status", "open")} />
              Yes, within the window below
            </label>
            <label class="check">
              <input type="radio" name="status" checked={values.status === "closed"} disabled={archived} onChange={() => set("status", "closed")} />
              No, uploads are closed
            </label>
          </div>
          <fieldset class="plain">
            <legend class="label">Accepted photo types</legend>
            {contentTypes.map((type) => (
              <label class="check" key={type}>
                <input
                  type="checkbox"
                  checked={values.allowed_content_types.includes(type)}
                  onChange={(input) =>
                    set(
                      "allowed_content_types",
                      input.currentTarget.checked ? [...values.allowed_content_types, type] : values.allowed_content_types.filter((kept) => kept !== type),
                    )
                  }
                />
                {typeLabels[type]}
              </label>
            ))}
          </fieldset>
          <div class="field">
            <label for="setting-open-at">
              Window opens <span class="field-hint">(empty: now)</span>
            </label>
            <input id="setting-open-at" type="datetime-local" value={values.uploads_open_at} onInput={text("uploads_open_at")} />
          </div>
          <div class="field">
            <label for="setting-close-at">
              Window closes <span class="field-hint">(empty: never)</span>
            </label>
            <input id="setting-close-at" type="datetime-local" value={values.uploads_close_at} onInput={text("uploads_close_at")} />
          </div>
          <div class="field">
            <label for="setting-max-size">Largest photo (MiB)</label>
            <input id="setting-max-size" type="number" min="0.01" step="any" required value={values.max_file_size_mib} onInput={text("max_file_size_mib")} />
          </div>
        </fieldset>

        <fieldset class="fields fields-2">
          <legend>Videos</legend>
          <div class="field">
            <label class="check">
              <input type="checkbox" checked={values.videos_allowed} onChange={(input) => set("videos_allowed", input.currentTarget.checked)} />
              Guests may upload videos (MP4, QuickTime)
            </label>
          </div>
          <div class="field">
            <label for="setting-max-video-size">Largest video (MiB)</label>
            <input id="setting-max-video-size" type="number" min="0.01" step="any" required disabled={!values.videos_allowed} value={values.max_video_size_mib} onInput={text("max_video_size_mib")} />
          </div>
          <div class="field">
            <label for="setting-max-video-duration">Longest video (minutes)</label>
            <input
              id="setting-max-video-duration"
              type="number"
              min="0.1"
              max="1440"
              step="any"
              required
              disabled={!values.videos_allowed}
              value={values.max_video_duration_min}
              onInput={text("max_video_duration_min")}
            />
          </div>
        </fieldset>

        <fieldset class="fields fields-2">
          <legend>Each guest's phone</legend>
          <div class="field">
            <label for="setting-concurrent">Uploads at once</label>
            <input
              id="setting-concurrent"
              type="number"
              min="1"
              max="100"
              required
              value={values.max_concurrent_uploads_per_device}
              onInput={text("max_concurrent_uploads_per_device")}
            />
          </div>
          <div class="field">
            <label for="setting-daily-cap">Photos a day</label>
            <input
              id="setting-daily-cap"
              type="number"
              min="1"
              max="100000"
              required
              value={values.daily_upload_cap_per_device}
              onInput={text("daily_upload_cap_per_device")}
            />
          </div>
          <div class="field">
            <label for="setting-max-photos">
              Photos for the whole event <span class="field-hint">(empty: no limit; e.g. 24, like a disposable camera)</span>
            </label>
            <input
              id="setting-max-photos"
              type="number"
              min="1"
              max="100000"
              value={values.max_photos_per_guest}
              onInput={text("max_photos_per_guest")}
            />
          </div>
        </fieldset>

        <fieldset class="fields fields-2">
          <legend>Moderation and privacy</legend>
          <div class="field" role="radiogroup" aria-labelledby="setting-moderation-label">
            <span id="setting-moderation-label" class="label">New photos</span>
            <label class="check">
              <input type="radio" name="moderation" checked={values.moderation_mode === "auto"} onChange={() => set("moderation_mode", "auto")} />
              Approved automatically
            </label>
            <label class="check">
              <input type="radio" name="moderation" checked={values.moderation_mode === "review"} onChange={() => set("moderation_mode", "review")} />
              Wait for my review
            </label>
          </div>
          <div class="field">
            <label class="check">
              <input type="checkbox" checked={values.gallery_enabled} onChange={(input) => set("gallery_enabled", input.currentTarget.checked)} />
              Guests see a gallery of approved photos
            </label>
            <label for="setting-gallery-opens">
              Reveal the gallery at <span class="field-hint">(empty: at once; until then each guest sees only their own)</span>
            </label>
            <input id="setting-gallery-opens" type="datetime-local" value={values.gallery_opens_at} onInput={text("gallery_opens_at")} />
            <label class="check">
              <input type="checkbox" checked={values.slideshow_messages} onChange={(input) => set("slideshow_messages", input.currentTarget.checked)} />
              The slideshow shows approved guestbook messages between photos
            </label>
            <label class="check">
              <input type="checkbox" checked={values.keep_gps} onChange={(input) => set("keep_gps", input.currentTarget.checked)} />
              Keep photos' GPS positions (organisers only)
            </label>
          </div>
        </fieldset>

        <details class="card">
          <summary>Advanced</summary>
          <div class="fields fields-2">
            <div class="field">
              <label for="setting-chunk">Chunk size (KiB)</label>
              <input id="setting-chunk" type="number" min="256" step="1" required value={values.chunk_size_kib} onInput={text("chunk_size_kib")} />
            </div>
            <div class="field">
              <label for="setting-ttl">
                Unfinished uploads kept for (hours)
              </label>
              <input id="setting-ttl" type="number" min="0.1" max="168" step="any" required value={values.session_ttl_hours} onInput={text("session_ttl_hours")} />
            </div>
          </div>
        </details>

        <ErrorNotice error={error} />
        <div class="row">
          <button class="button button-primary" type="submit" disabled={busy || !dirty}>
            {busy ? "Saving…" : "Save settings"}
          </button>
          <span role="status" class="muted">
            {saved ? "Saved." : dirty ? "Unsaved changes." : ""}
          </span>
        </div>
      </form>
      <ArchiveEvent event={event} onArchived={onSaved} />
    </div>
  );
}

/** Archiving is final: guests can no longer upload, and the event cannot be reopened. */
function ArchiveEvent({ event, onArchived }: { event: EventView; onArchived: (event: EventView) => void }) {
  const api = useApi();
  const { error, run } = useSubmit();
  if (event.status === "archived") {
    return <p class="notice">This event is archived: guests can no longer upload, and it cannot be reopened.</p>;
  }
  const archive = async () => {
    if (!confirm(`Archive "${event.name}" for good? Guests will no longer be able to upload, and it cannot be reopened.`)) return;
    await run(async () => onArchived(await api.archiveEvent(event.event_id)));
  };
  return (
    <section class="card stack" aria-labelledby="archive-heading">
      <h2 id="archive-heading">Archive</h2>
      <p class="muted">When the event is over: uploads stop for good and the event leaves the list (its photos stay).</p>
      <ErrorNotice error={error} />
      <div>
        <button type="button" class="button button-danger" onClick={archive}>
          Archive event
        </button>
      </div>
    </section>
  );
}
