import { useEffect, useState } from "preact/hooks";
import { formatDateTime } from "../shared/format";
import { useApi } from "./context";
import { rememberLink } from "./link-store";
import { eventHref, globalWebhooksHref } from "./router";
import { useLoad } from "./use-load";
import { useSubmit } from "./use-submit";
import { ErrorNotice, EventStatusBadge, Loading } from "./ui";

/** The events the signed-in organiser may see, and a form to create one. */
export function EventsList() {
  const api = useApi();
  const [includeArchived, setIncludeArchived] = useState(false);
  const events = useLoad(() => api.listEvents(includeArchived), [api, includeArchived]);

  useEffect(() => {
    document.title = "Events · Photo uploads";
  }, []);

  return (
    <div class="stack">
      <div class="row row-spread">
        <h1>Events</h1>
        {/* Global admins only: a token scoped to some events is told so there. */}
        <a href={globalWebhooksHref}>Global webhooks</a>
      </div>
      <CreateEvent />
      <section class="card stack" aria-labelledby="events-heading">
        <div class="row row-spread">
          <h2 id="events-heading">Your events</h2>
          <label class="check">
            <input type="checkbox" checked={includeArchived} onChange={(event) => setIncludeArchived(event.currentTarget.checked)} />
            Show archived
          </label>
        </div>
        <ErrorNotice error={events.error} />
        {events.data === undefined ? (
          events.loading && <Loading what="events" />
        ) : events.data.length === 0 ? (
          <p class="muted">No events yet. Create one above.</p>
        ) : (
          <ul class="event-list">
            {events.data.map((event) => (
              <li key={event.event_id}>
                <a class="event-link breakable" href={eventHref(event.event_id)}>
                  {event.name}
                </a>
                <EventStatusBadge status={event.status} />
                <span class="muted small">Created {formatDateTime(event.created_at)}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

/** Creates an event with the default settings and opens its join link, ready to print. */
function CreateEvent() {
  const api = useApi();
  const [name, setName] = useState("");
  const { busy, error, run } = useSubmit();

  const submit = (event: Event) => {
    event.preventDefault();
    return run(
      async () => {
        const created = await api.createEvent({ name: name.trim() });
        rememberLink(created.event_id, created.join_link);
        location.hash = eventHref(created.event_id, "links");
      },
      { leaves: true },
    );
  };

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="create-heading">
      <h2 id="create-heading">New event</h2>
      <div class="field">
        <label for="new-event-name">Name</label>
        <input
          id="new-event-name"
          required
          maxLength={200}
          placeholder="Sam & Alex's wedding"
          value={name}
          onInput={(event) => setName(event.currentTarget.value)}
        />
        <span class="field-hint">Guests see this name. Everything else can be changed in the event's settings.</span>
      </div>
      <ErrorNotice error={error} />
      <div>
        <button class="button button-primary" type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create event"}
        </button>
      </div>
    </form>
  );
}
