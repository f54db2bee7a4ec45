/**
 * The event's photos, newest first, loaded page by page as the organiser scrolls; filters; a
 * photo view; moderation of one photo or many. The grid is a multi-select listbox, so it works
 * from the keyboard:
 *   arrows move · Space selects · Shift+arrows select a range · Ctrl/⌘+A selects all loaded ·
 *   Escape clears · Enter opens · A approves · H hides · U shows again · Delete deletes
 * (the selection, or the focused photo when nothing is selected).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { EventView, ModerationAction, PhotoFilters, PhotoStatus, PhotoView } from "../shared/admin-api";
import { formatBytes, fromLocalInput } from "../shared/format";
import { useApi } from "./context";
import { PhotoDialog } from "./photo-dialog";
import { useCursorPages } from "./use-pages";
import { useSubmit } from "./use-submit";
import { ErrorNotice, PhotoTileContent } from "./ui";
import { useLoad } from "./use-load";

const actionWords: Record<ModerationAction, { verb: string; done: string }> = {
  approve: { verb: "Approve", done: "approved" },
  hide: { verb: "Hide", done: "hidden" },
  unhide: { verb: "Show again", done: "shown again" },
  delete: { verb: "Delete", done: "deleted" },
};

const shortcutActions: Record<string, ModerationAction> = { a: "approve", h: "hide", u: "unhide", Delete: "delete", Backspace: "delete" };

/** The filter form's values; empty strings mean "any". */
interface FilterValues {
  status: "" | PhotoStatus;
  approved: "" | "true" | "false";
  device_id: string;
  /** A guest's name, or UNNAMED for photos without one. */
  display_name: string;
  uploaded_from: string;
  uploaded_to: string;
  taken_from: string;
  taken_to: string;
}

/** The name filter's value for photos without a name (a name never holds a line break). */
const UNNAMED = "\n";

const noFilters: FilterValues = { status: "", approved: "", device_id: "", display_name: "", uploaded_from: "", uploaded_to: "", taken_from: "", taken_to: "" };

function apiFilters(values: FilterValues): PhotoFilters {
  const instant = (value: string) => fromLocalInput(value) ?? undefined;
  return {
    ...(values.status && { status: [values.status] }),
    ...(values.approved && { approved: values.approved === "true" }),
    ...(values.device_id.trim() && { device_id: values.device_id.trim() }),
    // The API takes an empty name for "no name".
    ...(values.display_name && { display_name: values.display_name === UNNAMED ? "" : values.display_name }),
    uploaded_from: instant(values.uploaded_from),
    uploaded_to: instant(values.uploaded_to),
    taken_from: instant(values.taken_from),
    taken_to: instant(values.taken_to),
  };
}

export function Gallery({ event }: { event: EventView }) {
  const api = useApi();
  const eventId = event.event_id;
  const [filters, setFilters] = useState<FilterValues>(noFilters);
  const filterKey = JSON.stringify(filters);
  const photos = useCursorPages((cursor) => api.listPhotos(eventId, apiFilters(filters), cursor), [api, eventId, filterKey]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [focusIndex, setFocusIndex] = useState(0);
  const [anchor, setAnchor] = useState(0);
  const [openId, setOpenId] = useState<string | null>(null);
  const { busy, error, run } = useSubmit();
  const [outcome, setOutcome] = useState("");
  const grid = useRef<HTMLUListElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const items = photos.items;
  // The focused photo; deletions can leave the stored index past the end of the list.
  const current = Math.min(focusIndex, Math.max(0, items.length - 1));

  // A new filter is a new list: nothing selected, focus on its first photo.
  useEffect(() => {
    setSelected(new Set());
    setFocusIndex(0);
    setAnchor(0);
  }, [filterKey]);

  // Infinite scroll: the next page loads when the end of the grid comes near. A failed page
  // stops it until the organiser retries, so errors do not turn into a request loop.
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !photos.hasMore || photos.error) return;
    const observer = new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && photos.loadMore(), { rootMargin: "800px" });
    observer.observe(target);
    return () => observer.disconnect();
  }, [photos.hasMore, photos.error, photos.loadMore, items.length]);

  /** Applies `action` to the photos; false when it was not done (confirmation refused, busy, failed). */
  const moderate = async (ids: string[], action: ModerationAction): Promise<boolean> => {
    if (ids.length === 0 || busy) return false;
    if (action === "delete" && !confirm(`Delete ${ids.length === 1 ? "this photo" : `these ${ids.length} photos`} for good? The files are removed too.`)) return false;
    return run(async () => {
      const results = await api.moderateMany(eventId, ids, action);
      const changed = new Map(results.filter((result) => result.ok && result.photo).map((result) => [result.photo_id, result.photo!]));
      photos.update((loaded) =>
        loaded.flatMap((photo) => {
          const next = changed.get(photo.photo_id);
          if (!next) return [photo];
          return next.status === "deleted" ? [] : [next];
        }),
      );
      if (action === "delete") setSelected((chosen) => new Set([...chosen].filter((id) => !changed.has(id))));
      const refused = results.filter((result) => !result.ok);
      const noun = (n: number) => (n === 1 ? "1 photo" : `${n} photos`);
      setOutcome(
        `${noun(changed.size)} ${actionWords[action].done}.` +
          (refused.length ? ` ${noun(refused.length)} could not be: ${[...new Set(refused.map((result) => result.error?.message))].join(" ")}` : ""),
      );
    });
  };

  const targets = () => (selected.size > 0 ? [...selected] : items[current] ? [items[current]!.photo_id] : []);

  const focusOption = (index: number) => {
    const clamped = Math.max(0, Math.min(items.length - 1, index));
    setFocusIndex(clamped);
    (grid.current?.children[clamped] as HTMLElement | undefined)?.focus();
    return clamped;
  };

  const selectRange = (from: number, to: number) => {
    const [low, high] = from < to ? [from, to] : [to, from];
    setSelected(new Set(items.slice(low, high + 1).map((photo) => photo.photo_id)));
  };

  const toggle = (index: number) => {
    const id = items[index]?.photo_id;
    if (!id) return;
    setAnchor(index);
    setSelected((chosen) => {
      const next = new Set(chosen);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  };

  /** Photos per row as laid out now, for Up and Down. */
  const columns = () => {
    const options = [...(grid.current?.children ?? [])] as HTMLElement[];
    const top = options[0]?.offsetTop;
    return Math.max(1, options.filter((option) => option.offsetTop === top).length);
  };

  const onKeyDown = (key: KeyboardEvent) => {
    if (items.length === 0) return;
    const modified = key.ctrlKey || key.metaKey || key.altKey;
    const shortcut = modified ? undefined : shortcutActions[key.key.length === 1 ? key.key.toLowerCase() : key.key];
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() };
    if (key.key in moves) {
      key.preventDefault();
      const moved = focusOption(current + moves[key.key]!);
      if (key.shiftKey) selectRange(anchor, moved);
      else setAnchor(moved);
    } else if (key.key === "Home" || key.key === "End") {
      key.preventDefault();
      setAnchor(focusOption(key.key === "Home" ? 0 : items.length - 1));
    } else if (key.key === " ") {
      key.preventDefault();
      toggle(current);
    } else if (key.key === "Enter") {
      key.preventDefault();
      setOpenId(items[current]?.photo_id ?? null);
    } else if (key.key === "Escape") {
      setSelected(new Set());
    } else if (key.key.toLowerCase() === "a" && (key.ctrlKey || key.metaKey)) {
      key.preventDefault();
      setSelected(new Set(items.map((photo) => photo.photo_id)));
    } else if (shortcut) {
      key.preventDefault();
      void moderate(targets(), shortcut);
    }
  };

  const onOptionClick = (index: number, click: MouseEvent) => {
    setFocusIndex(index);
    if (click.shiftKey) selectRange(anchor, index);
    else if (click.ctrlKey || click.metaKey) toggle(index);
    else setOpenId(items[index]!.photo_id);
  };

  const openIndex = items.findIndex((photo) => photo.photo_id === openId);
  const selection = [...selected];

  const closePhoto = () => {
    setOpenId(null);
    focusOption(openIndex);
  };

  /** From the photo view: a deleted photo leaves the list, so the view moves on to the next one. */
  const moderateOpen = async (action: ModerationAction) => {
    const following = items[openIndex + 1] ?? items[openIndex - 1];
    if ((await moderate([items[openIndex]!.photo_id], action)) && action === "delete") {
      if (following) setOpenId(following.photo_id);
      else closePhoto();
    }
  };

  return (
    <div class="stack">
      <Filters eventId={eventId} values={filters} onChange={setFilters} />
      <div class="row row-spread gallery-toolbar" role="group" aria-label="Selected photos">
        <div class="row">
          <span class="selection-count">{selected.size > 0 ? `${selected.size} selected` : `${items.length}${photos.hasMore ? "+" : ""} photos`}</span>
          {(Object.keys(actionWords) as ModerationAction[]).map((action) => (
            <button
              key={action}
              type="button"
              class={action === "delete" ? "button button-small button-danger" : "button button-small"}
              disabled={selected.size === 0 || busy}
              onClick={() => moderate(selection, action)}
            >
              {actionWords[action].verb}
            </button>
          ))}
          <button type="button" class="button button-small" disabled={items.length === 0} onClick={() => setSelected(new Set(items.map((photo) => photo.photo_id)))}>
            Select all
          </button>
          <button type="button" class="button button-small" disabled={selected.size === 0} onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
        <ZipDownload eventId={eventId} />
      </div>
      <p class="muted small" id="gallery-help">
        Click a photo to open it; Ctrl/⌘-click or Space to select. Keys: arrows, Shift+arrows, Ctrl/⌘+A, Enter; A approve, H hide, U show again, Delete.
      </p>
      <p role="status" class="muted">
        {outcome}
      </p>
      <ErrorNotice error={error ?? photos.error}>
        {photos.error && (
          <button type="button" class="button button-small" onClick={photos.loadMore}>
            Try again
          </button>
        )}
      </ErrorNotice>
      {items.length === 0 && !photos.loading && !photos.error ? (
        <p class="muted">No photos {filterKey === JSON.stringify(noFilters) ? "yet" : "match these filters"}.</p>
      ) : (
        <ul
          ref={grid}
          class="photo-grid"
          role="listbox"
          aria-multiselectable="true"
          aria-label="Photos"
          aria-describedby="gallery-help"
          onKeyDown={onKeyDown}
        >
          {items.map((photo, index) => (
            <li
              key={photo.photo_id}
              role="option"
              class="photo-tile"
              aria-selected={selected.has(photo.photo_id)}
              tabIndex={index === current ? 0 : -1}
              onClick={(click) => onOptionClick(index, click)}
              onFocus={() => setFocusIndex(index)}
            >
              <span
                class="tile-check"
                aria-hidden="true"
                onClick={(click) => {
                  click.stopPropagation();
                  setFocusIndex(index);
                  toggle(index);
                }}
              />
              <PhotoTileContent photo={photo} />
            </li>
          ))}
        </ul>
      )}
      <div ref={sentinel} class="sentinel" />
      {photos.loading && <p class="muted" role="status">Loading photos…</p>}
      {openIndex >= 0 && (
        <PhotoDialog
          photo={items[openIndex]!}
          busy={busy}
          onModerate={moderateOpen}
          onClose={closePhoto}
          onStep={(step) => setOpenId(items[openIndex + step]!.photo_id)}
          hasNewer={openIndex > 0}
          hasOlder={openIndex < items.length - 1}
        />
      )}
    </div>
  );
}

function Filters({ eventId, values, onChange }: { eventId: string; values: FilterValues; onChange: (values: FilterValues) => void }) {
  const api = useApi();
  const names = useLoad(() => api.listNames(eventId), [api, eventId]);
  const active = Object.values(values).filter(Boolean).length;
  const set = (key: keyof FilterValues) => (input: Event) => onChange({ ...values, [key]: (input.currentTarget as HTMLInputElement).value });
  const dates: [keyof FilterValues, string][] = [
    ["uploaded_from", "Uploaded from"],
    ["uploaded_to", "Uploaded until"],
    ["taken_from", "Taken from"],
    ["taken_to", "Taken until"],
  ];
  return (
    <details class="card filters">
      <summary>Filters{active > 0 && ` (${active} active)`}</summary>
      <form class="fields filter-fields" onSubmit={(submit) => submit.preventDefault()}>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" value={values.status} onChange={set("status")}>
            <option value="">Any</option>
            <option value="preview">Preview</option>
            <option value="ready">Ready</option>
            <option value="processing">Processing</option>
            <option value="hidden">Hidden</option>
            <option value="failed">Failed</option>
          </select>
        </div>
        <div class="field">
          <label for="filter-approved">Approval</label>
          <select id="filter-approved" value={values.approved} onChange={set("approved")}>
            <option value="">Any</option>
            <option value="true">Approved</option>
            <option value="false">Not approved</option>
          </select>
        </div>
        <div class="field">
          <label for="filter-name">Guest's name</label>
          <select id="filter-name" value={values.display_name} onChange={set("display_name")}>
            <option value="">Anyone</option>
            {names.data?.map(({ display_name, photos }) => (
              <option key={display_name ?? UNNAMED} value={display_name ?? UNNAMED}>
                {display_name ?? "No name given"} ({photos})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-device">Phone (device id)</label>
          <input id="filter-device" value={values.device_id} onChange={set("device_id")} />
        </div>
        {dates.map(([key, label]) => (
          <div class="field" key={key}>
            <label for={`filter-${key}`}>{label}</label>
            <input id={`filter-${key}`} type="datetime-local" value={values[key]} onChange={set(key)} />
          </div>
        ))}
        <div class="field filter-reset">
          <button type="button" class="button" onClick={() => onChange(noFilters)}>
            Clear filters
          </button>
        </div>
      </form>
    </details>
  );
}

/** Downloads the approved photos as one ZIP, streamed by the Worker from a signed URL. */
function ZipDownload({ eventId }: { eventId: string }) {
  const api = useApi();
  const { busy, error, run } = useSubmit();
  const [message, setMessage] = useState("");
  const [byName, setByName] = useState(false);
  const download = () =>
    run(async () => {
      setMessage("");
      const archive = await api.zipDownload(eventId, byName ? "names" : "none");
      if (archive.photo_count === 0) {
        setMessage("There are no approved photos to download yet.");
        return;
      }
      setMessage(`Downloading ${archive.photo_count} approved photos (${formatBytes(archive.bytes)})…`);
      location.assign(archive.url);
    });
  return (
    <div class="row">
      <button type="button" class="button button-small" disabled={busy} onClick={download}>
        Download ZIP of approved
      </button>
      <label class="check small">
        <input type="checkbox" checked={byName} onChange={(input) => setByName(input.currentTarget.checked)} />
        A folder per guest's name
      </label>
      <span role="status" class="muted small">
        {error?.message ?? message}
      </span>
    </div>
  );
}
