import { useEffect } from "preact/hooks";
import type { EventView } from "../shared/admin-api";
import { useApi } from "./context";
import { Gallery } from "./gallery";
import { JoinLinks } from "./join-links";
import { LiveView } from "./live";
import { Guestbook } from "./guestbook";
import { Overview } from "./overview";
import { eventHref, type EventTab } from "./router";
import { EventSettingsForm } from "./settings";
import { useLoad } from "./use-load";
import { useSubmit } from "./use-submit";
import { Webhooks } from "./webhooks";
import { ErrorNotice, EventStatusBadge, Loading } from "./ui";

const tabLabels: Record<EventTab, string> = {
  overview: "Overview",
  gallery: "Photos",
  messages: "Guestbook",
  live: "Live",
  links: "Join links",
  webhooks: "Webhooks",
  settings: "Settings",
};

/** One event: its name, the open/close switch, and the tab the route names. */
export function EventPage({ eventId, tab }: { eventId: string; tab: EventTab }) {
  const api = useApi();
  const event = useLoad(() => api.getEvent(eventId), [api, eventId]);

  useEffect(() => {
    if (event.data) document.title = `${tabLabels[tab]} · ${event.data.name} · Photo uploads`;
  }, [event.data, tab]);

  if (!event.data) {
    return (
      <>
        <p class="no-print">
          <a href="#/">← Events</a>
        </p>
        {event.loading ? <Loading what="the event" /> : <ErrorNotice error={event.error} />}
      </>
    );
  }
  const current = event.data;
  return (
    <div class="stack">
      <div class="no-print stack">
        <p>
          <a href="#/">← Events</a>
        </p>
        <div class="row row-spread">
          <div class="row">
            <h1 class="breakable event-title">{current.name}</h1>
            <EventStatusBadge status={current.status} />
          </div>
          <div class="row">
            <UploadSwitch event={current} onChange={event.setData} />
            {/* rel="opener": a tab opened with an opener gets a copy of this tab's sessionStorage,
                and so the sign-in; without one (target=_blank's default) it would ask again. */}
            <a class="button" href={eventHref(eventId, "slideshow")} target="_blank" rel="opener">
              Slideshow
            </a>
          </div>
        </div>
        <nav aria-label="Event sections">
          <ul class="tabs">
            {(Object.keys(tabLabels) as EventTab[]).map((name) => (
              <li key={name}>
                <a href={eventHref(eventId, name)} aria-current={name === tab ? "page" : undefined}>
                  {tabLabels[name]}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </div>
      {tab === "overview" && <Overview event={current} />}
      {tab === "gallery" && <Gallery event={current} />}
      {tab === "messages" && <Guestbook event={current} />}
      {tab === "live" && <LiveView event={current} />}
      {tab === "links" && <JoinLinks event={current} />}
      {tab === "webhooks" && <Webhooks eventId={current.event_id} />}
      {tab === "settings" && <EventSettingsForm event={current} onSaved={event.setData} />}
    </div>
  );
}

/** Opens or closes the upload window at once (the event's `status`). */
function UploadSwitch({ event, onChange }: { event: EventView; onChange: (event: EventView) => void }) {
  const api = useApi();
  const { busy, error, run } = useSubmit();
  if (event.status === "archived") return null;
  const next = event.status === "open" ? "closed" : "open";
  const toggle = () => run(async () => onChange(await api.updateEvent(event.event_id, { status: next })));
  return (
    <>
      <button type="button" class={next === "open" ? "button button-primary" : "button"} disabled={busy} onClick={toggle}>
        {next === "open" ? "Open uploads" : "Close uploads"}
      </button>
      <ErrorNotice error={error} />
    </>
  );
}
