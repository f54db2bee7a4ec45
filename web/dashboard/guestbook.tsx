/**
 * The guestbook tab: guests' messages, newest first, to approve (events in review), hide and show
 * again, and to export as CSV. Messages are guests' text: shown as text, never as markup.
 */
import { useState } from "preact/hooks";
import type { EventView, MessageAction, MessageView } from "../shared/admin-api";
import { formatDateTime } from "../shared/format";
import { useApi } from "./context";
import { useCursorPages } from "./use-pages";
import { useSubmit } from "./use-submit";
import { ErrorNotice } from "./ui";

const actionLabels: Record<MessageAction, string> = { approve: "Approve", hide: "Hide", unhide: "Show again" };

/** What an organiser may do to a message in its current state. */
function actionsFor(message: MessageView): MessageAction[] {
  if (message.status === "hidden") return ["unhide"];
  return message.approved ? ["hide"] : ["approve", "hide"];
}

export function Guestbook({ event }: { event: EventView }) {
  const api = useApi();
  const eventId = event.event_id;
  const messages = useCursorPages((cursor) => api.listMessages(eventId, {}, cursor), [api, eventId]);
  const { busy, error, run } = useSubmit();
  const [notice, setNotice] = useState("");

  const act = (message: MessageView, action: MessageAction) =>
    run(async () => {
      const updated = await api.moderateMessage(eventId, message.message_id, action);
      messages.update((items) => items.map((item) => (item.message_id === updated.message_id ? updated : item)));
      setNotice(`Message ${action === "approve" ? "approved" : action === "hide" ? "hidden" : "shown again"}.`);
    });

  const exportCsv = () =>
    run(async () => {
      const blob = await api.messagesCsv(eventId);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${event.name} messages.csv`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    });

  return (
    <section class="stack" aria-labelledby="guestbook-heading">
      <div class="row row-spread">
        <h2 id="guestbook-heading">Guestbook</h2>
        <button type="button" class="button button-small" disabled={busy} onClick={exportCsv}>
          Export CSV
        </button>
      </div>
      <p class="muted small">
        {event.moderation_mode === "review" ? "Messages wait for your approval before the slideshow shows them." : "Messages are approved as they arrive; hide any you don't want shown."}{" "}
        {event.slideshow_messages ? "The slideshow shows approved messages between photos." : "The slideshow does not show messages (see Settings)."}
      </p>
      <ErrorNotice error={error ?? messages.error} />
      <p role="status" class="muted small">
        {notice}
      </p>
      {messages.items.length === 0 && !messages.loading && !messages.error ? (
        <p class="muted">No messages yet.</p>
      ) : (
        <ul class="message-list">
          {messages.items.map((message) => (
            <li key={message.message_id} class={`card message${message.status === "hidden" ? " message-hidden" : ""}`}>
              <p class="message-body breakable">{message.body}</p>
              <div class="row row-spread">
                <span class="small">
                  <strong class="breakable">{message.display_name ?? "No name given"}</strong>
                  <span class="muted"> · {formatDateTime(message.created_at)}</span>{" "}
                  {message.status === "hidden" ? <span class="badge badge-danger">Hidden</span> : !message.approved && <span class="badge badge-warn">Waiting for approval</span>}
                </span>
                <span class="row">
                  {actionsFor(message).map((action) => (
                    <button key={action} type="button" class="button button-small" disabled={busy} onClick={() => act(message, action)}>
                      {actionLabels[action]}
                    </button>
                  ))}
                </span>
              </div>
            </li>
          ))}
        </ul>
      )}
      {messages.hasMore && !messages.loading && messages.items.length > 0 && (
        <button type="button" class="button" onClick={messages.loadMore}>
          Show more
        </button>
      )}
      {messages.loading && (
        <p class="muted" role="status">
          Loading messages…
        </p>
      )}
    </section>
  );
}
