/**
 * Webhooks: the endpoints an organiser's other tools listen on, for one event (its tab) or for
 * every event (global, #/webhooks). An endpoint's signing secret is shown once, when it is
 * created or rotated; the delivery log shows each delivery with the status of every attempt.
 */
import { useState } from "preact/hooks";
import { webhookEventTypes, type CreatedWebhook, type WebhookDelivery, type WebhookEventType, type WebhookView } from "../shared/admin-api";
import { formatDateTime } from "../shared/format";
import { useApi } from "./context";
import { useLoad } from "./use-load";
import { useCursorPages } from "./use-pages";
import { useSubmit } from "./use-submit";
import { ErrorNotice, Loading } from "./ui";

const typeHints: Record<WebhookEventType, string> = {
  "photo.ready": "a photo is processed and ready",
  "photo.failed": "a photo could not be processed",
  "photo.moderated": "a photo is approved, hidden, shown again or deleted",
  "message.created": "a guest leaves a guestbook message",
  "event.closed": "the event stops taking uploads",
};

/** `eventId` null: the global endpoints, which hear from every event. */
export function Webhooks({ eventId }: { eventId: string | null }) {
  const api = useApi();
  const webhooks = useLoad(() => api.listWebhooks(eventId), [api, eventId]);
  const [secret, setSecret] = useState<CreatedWebhook | null>(null);
  const [logOf, setLogOf] = useState<string | null>(null);
  const acting = useSubmit();
  const [notice, setNotice] = useState("");

  const act = (action: () => Promise<unknown>, done?: string) =>
    acting.run(async () => {
      setNotice("");
      await action();
      webhooks.reload();
      if (done) setNotice(done);
    });

  const toggle = (hook: WebhookView) => act(() => api.updateWebhook(eventId, hook.webhook_id, { enabled: !hook.enabled }), hook.enabled ? "Disabled: nothing more is sent to it." : "Enabled.");
  const test = (hook: WebhookView) =>
    act(async () => {
      await api.testWebhook(eventId, hook.webhook_id);
      setLogOf(hook.webhook_id);
    }, "Test message queued: its attempts appear in the delivery log below.");
  const rotate = (hook: WebhookView) => {
    if (!confirm(`Make a new signing secret for ${hook.url}? For the next 24 hours deliveries are signed with both, so there is time to update your receiver.`)) return;
    return act(async () => setSecret(await api.rotateWebhookSecret(eventId, hook.webhook_id)));
  };
  const remove = (hook: WebhookView) => {
    if (!confirm(`Delete the webhook ${hook.url} and its delivery log?`)) return;
    return act(async () => {
      await api.deleteWebhook(eventId, hook.webhook_id);
      if (logOf === hook.webhook_id) setLogOf(null);
      if (secret?.webhook_id === hook.webhook_id) setSecret(null);
    }, "Deleted.");
  };
  const shownLog = webhooks.data?.find((hook) => hook.webhook_id === logOf);

  return (
    <div class="stack">
      {secret && <SecretOnce created={secret} onDone={() => setSecret(null)} />}
      <section class="card stack" aria-labelledby="webhooks-heading">
        {/* The global page's own title already says "Global webhooks". */}
        <h2 id="webhooks-heading">{eventId === null ? "Endpoints" : "Webhooks"}</h2>
        <p class="muted">
          {eventId === null ? "These endpoints hear from every event. " : ""}
          Each message is a signed JSON POST (Standard Webhooks): verify the <code>webhook-signature</code> header with the endpoint's secret. Failed deliveries
          are retried for about 20 minutes.
        </p>
        <ErrorNotice error={webhooks.error ?? acting.error} />
        <p role="status" class="muted">
          {notice}
        </p>
        {webhooks.data === undefined ? (
          webhooks.loading && <Loading what="webhooks" />
        ) : webhooks.data.length === 0 ? (
          <p class="muted">No webhooks yet.</p>
        ) : (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Events</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {webhooks.data.map((hook) => (
                  <tr key={hook.webhook_id}>
                    <td class="breakable">
                      <div>{hook.url}</div>
                      {hook.description && <div class="muted small">{hook.description}</div>}
                    </td>
                    <td class="small">{hook.event_types.join(", ")}</td>
                    <td>{hook.enabled ? <span class="badge badge-ok">Enabled</span> : <span class="badge badge-warn">Disabled</span>}</td>
                    <td>
                      <div class="row">
                        <button type="button" class="button button-small" disabled={acting.busy} onClick={() => toggle(hook)}>
                          {hook.enabled ? "Disable" : "Enable"}
                        </button>
                        <button type="button" class="button button-small" disabled={acting.busy} onClick={() => test(hook)}>
                          Send test
                        </button>
                        <button type="button" class="button button-small" aria-pressed={logOf === hook.webhook_id} onClick={() => setLogOf(logOf === hook.webhook_id ? null : hook.webhook_id)}>
                          Delivery log
                        </button>
                        <button type="button" class="button button-small" disabled={acting.busy} onClick={() => rotate(hook)}>
                          New secret
                        </button>
                        <button type="button" class="button button-small button-danger" disabled={acting.busy} onClick={() => remove(hook)}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {shownLog && <DeliveryLog key={shownLog.webhook_id} eventId={eventId} hook={shownLog} />}
      <AddWebhook
        eventId={eventId}
        onCreated={(created) => {
          setSecret(created);
          setNotice("");
          webhooks.reload();
        }}
      />
    </div>
  );
}

/** The secret, this once: the receiver needs it to verify signatures. */
function SecretOnce({ created, onDone }: { created: CreatedWebhook; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(created.secret);
    setCopied(true);
  };
  return (
    <section class="card stack" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Signing secret</h2>
      <p>
        For <span class="breakable">{created.url}</span>. It is shown only now: put it in your receiver's settings. If it is lost, make a new one (the old
        one keeps working for 24 hours).
      </p>
      <p>
        <code class="breakable secret-value">{created.secret}</code>
      </p>
      <div class="row">
        <button type="button" class="button" onClick={copy}>
          Copy secret
        </button>
        <button type="button" class="button" onClick={onDone}>
          Done
        </button>
        <span role="status" class="muted">
          {copied ? "Copied." : ""}
        </span>
      </div>
    </section>
  );
}

function DeliveryLog({ eventId, hook }: { eventId: string | null; hook: WebhookView }) {
  const api = useApi();
  const deliveries = useCursorPages((cursor) => api.listWebhookDeliveries(eventId, hook.webhook_id, cursor), [api, eventId, hook.webhook_id]);
  return (
    <section class="card stack" aria-labelledby="deliveries-heading">
      <div class="row row-spread">
        <h2 id="deliveries-heading">
          Delivery log <span class="muted small breakable">{hook.url}</span>
        </h2>
        <button type="button" class="button button-small" onClick={deliveries.reload} disabled={deliveries.loading}>
          Refresh
        </button>
      </div>
      <ErrorNotice error={deliveries.error} />
      {deliveries.items.length === 0 ? (
        deliveries.loading ? <Loading what="deliveries" /> : <p class="muted">Nothing sent yet.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Emitted</th>
                <th scope="col">Type</th>
                <th scope="col">Outcome</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.items.map((delivery) => (
                <tr key={delivery.delivery_id}>
                  <td>{formatDateTime(delivery.created_at)}</td>
                  <td>
                    <div>{delivery.type}</div>
                    {delivery.photo_id && <div class="muted small breakable">photo {delivery.photo_id}</div>}
                  </td>
                  <td>
                    <DeliveryBadge delivery={delivery} />
                  </td>
                  <td>
                    <ol class="attempts small">
                      {delivery.attempts.map((attempt) => (
                        <li key={attempt.attempt}>
                          <span class={attempt.status_code !== null && attempt.status_code < 300 ? "attempt-ok" : "attempt-failed"}>
                            {attempt.status_code ?? "no answer"}
                          </span>{" "}
                          <span class="muted">
                            {attempt.duration_ms} ms · {formatDateTime(attempt.at)}
                            {attempt.error ? ` · ${attempt.error}` : ""}
                          </span>
                        </li>
                      ))}
                    </ol>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {deliveries.hasMore && deliveries.items.length > 0 && (
        <div>
          <button type="button" class="button" onClick={deliveries.loadMore} disabled={deliveries.loading}>
            Show more
          </button>
        </div>
      )}
    </section>
  );
}

function DeliveryBadge({ delivery }: { delivery: WebhookDelivery }) {
  if (delivery.status === "succeeded") return <span class="badge badge-ok">Delivered</span>;
  if (delivery.status === "failed") return <span class="badge badge-danger">Failed</span>;
  return (
    <span class="badge badge-warn">
      {delivery.attempts.length === 0 ? "Queued" : `Retrying${delivery.next_attempt_at ? ` at ${formatDateTime(delivery.next_attempt_at)}` : ""}`}
    </span>
  );
}

function AddWebhook({ eventId, onCreated }: { eventId: string | null; onCreated: (created: CreatedWebhook) => void }) {
  const api = useApi();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [types, setTypes] = useState<WebhookEventType[]>(["photo.ready"]);
  const { busy, error, run } = useSubmit();

  const flip = (type: WebhookEventType, on: boolean) => setTypes((current) => (on ? [...current, type] : current.filter((kept) => kept !== type)));
  const submit = (event: Event) => {
    event.preventDefault();
    return run(async () => {
      onCreated(await api.createWebhook(eventId, { url: url.trim(), event_types: types, ...(description.trim() && { description: description.trim() }) }));
      setUrl("");
      setDescription("");
    });
  };

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="new-webhook-heading">
      <h2 id="new-webhook-heading">Add a webhook</h2>
      <div class="fields fields-2">
        <div class="field">
          <label for="webhook-url">
            URL <span class="field-hint">(https)</span>
          </label>
          <input id="webhook-url" type="url" required maxLength={2048} placeholder="https://hooks.example.com/photos" value={url} onInput={(input) => setUrl(input.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="webhook-description">
            Description <span class="field-hint">(optional)</span>
          </label>
          <input id="webhook-description" maxLength={200} value={description} onInput={(input) => setDescription(input.currentTarget.value)} />
        </div>
      </div>
      <fieldset class="stack">
        <legend>Send these events</legend>
        {webhookEventTypes.map((type) => (
          <label class="check" key={type}>
            <input type="checkbox" checked={types.includes(type)} onChange={(change) => flip(type, change.currentTarget.checked)} />
            <code>{type}</code> <span class="muted small">{typeHints[type]}</span>
          </label>
        ))}
      </fieldset>
      <ErrorNotice error={error} />
      <div>
        <button class="button" type="submit" disabled={busy || types.length === 0}>
          {busy ? "Adding…" : "Add webhook"}
        </button>
      </div>
    </form>
  );
}
