/**
 * Join links: the URL (and QR code) guests open to upload. Each is shown in full once, when it is
 * created; the ones created in this browser can be shown and printed again (link-store.ts). The
 * print stylesheet turns the shown link into a table card: event name, QR code, URL.
 */
import { useState } from "preact/hooks";
import type { CreatedJoinLink, EventView, JoinLinkView } from "../shared/admin-api";
import { formatDateTime, fromLocalInput } from "../shared/format";
import { useApi } from "./context";
import { rememberedLinks, rememberLink } from "./link-store";
import { useLoad } from "./use-load";
import { useSubmit } from "./use-submit";
import { ErrorNotice, Loading, QrImage } from "./ui";
import { GuestClaims } from "./claims";

export function JoinLinks({ event }: { event: EventView }) {
  const api = useApi();
  const links = useLoad(() => api.listJoinLinks(event.event_id), [api, event.event_id]);
  const [kept, setKept] = useState(() => rememberedLinks(event.event_id));
  const [shownId, setShownId] = useState<string | null>(() => kept[0]?.id ?? null);
  const revoking = useSubmit();
  const revoked = new Set(links.data?.filter((link) => link.revoked_at).map((link) => link.id));
  const shown = kept.find((link) => link.id === shownId && !revoked.has(link.id));

  const created = (link: CreatedJoinLink) => {
    rememberLink(event.event_id, link);
    setKept(rememberedLinks(event.event_id));
    setShownId(link.id);
    links.reload();
  };

  const revoke = async (link: JoinLinkView) => {
    if (!confirm(`Revoke the join link "${link.label ?? "unnamed"}"? Guests who open it will be told it no longer works.`)) return;
    await revoking.run(async () => {
      await api.revokeJoinLink(event.event_id, link.id);
      links.reload();
    });
  };

  return (
    <div class="stack">
      {shown && <TableCard event={event} link={shown} />}
      <section class="card stack no-print" aria-labelledby="links-heading">
        <h2 id="links-heading">Join links</h2>
        <ErrorNotice error={links.error ?? revoking.error} />
        {links.data === undefined ? (
          links.loading && <Loading what="join links" />
        ) : (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Label</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {links.data.map((link) => {
                  const canShow = kept.some((keptLink) => keptLink.id === link.id);
                  return (
                    <tr key={link.id}>
                      <td class="breakable">{link.label ?? "—"}</td>
                      <td>{formatDateTime(link.created_at)}</td>
                      <td>{link.expires_at ? formatDateTime(link.expires_at) : "Never"}</td>
                      <td>{link.revoked_at ? <span class="badge badge-danger">Revoked</span> : <span class="badge badge-ok">Active</span>}</td>
                      <td>
                        <div class="row">
                          {!link.revoked_at && canShow && link.id !== shownId && (
                            <button type="button" class="button button-small" onClick={() => setShownId(link.id)}>
                              Show QR code
                            </button>
                          )}
                          {!link.revoked_at && (
                            <button type="button" class="button button-small button-danger" onClick={() => revoke(link)}>
                              Revoke
                            </button>
                          )}
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <p class="muted small">
          A link's QR code can be shown again only in the browser that created it. For another printout, create a new link.
        </p>
      </section>
      <CreateJoinLink eventId={event.event_id} onCreated={created} />
      <GuestClaims event={event} />
    </div>
  );
}

/** The shown link, large, with what a printed table card needs; the print stylesheet keeps only this. */
function TableCard({ event, link }: { event: EventView; link: CreatedJoinLink }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(link.join_url);
    setCopied(true);
  };
  return (
    <section class="card table-card" aria-labelledby="table-card-heading">
      <h2 id="table-card-heading" class="table-card-title breakable">
        {event.name}
      </h2>
      <p class="table-card-call">Scan to share your photos</p>
      <QrImage class="qr qr-large" svg={link.qr_svg} alt={`QR code for the join link ${link.join_url}`} />
      <p class="table-card-url breakable">
        {link.join_url}
      </p>
      <div class="row no-print">
        <button type="button" class="button button-primary" onClick={() => print()}>
          Print table card
        </button>
        <button type="button" class="button" onClick={copy}>
          Copy link
        </button>
        <a class="button" href={link.join_url} target="_blank" rel="noopener noreferrer">
          Open guest page
        </a>
        <span role="status" class="muted">
          {copied ? "Copied." : ""}
        </span>
      </div>
      <p class="muted small no-print">Label: {link.label ?? "—"}</p>
    </section>
  );
}

function CreateJoinLink({ eventId, onCreated }: { eventId: string; onCreated: (link: CreatedJoinLink) => void }) {
  const api = useApi();
  const [label, setLabel] = useState("");
  const [expiresAt, setExpiresAt] = useState("");
  const { busy, error, run } = useSubmit();

  const submit = (event: Event) => {
    event.preventDefault();
    return run(async () => {
      const expires = fromLocalInput(expiresAt);
      onCreated(await api.createJoinLink(eventId, { ...(label.trim() && { label: label.trim() }), ...(expires && { expires_at: expires }) }));
      setLabel("");
      setExpiresAt("");
    });
  };

  return (
    <form class="card stack no-print" onSubmit={submit} aria-labelledby="new-link-heading">
      <h2 id="new-link-heading">New join link</h2>
      <div class="fields fields-2">
        <div class="field">
          <label for="link-label">
            Label <span class="field-hint">(optional, e.g. "Table 4")</span>
          </label>
          <input id="link-label" maxLength={100} value={label} onInput={(input) => setLabel(input.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="link-expires">
            Expires <span class="field-hint">(optional)</span>
          </label>
          <input id="link-expires" type="datetime-local" value={expiresAt} onInput={(input) => setExpiresAt(input.currentTarget.value)} />
        </div>
      </div>
      <ErrorNotice error={error} />
      <div>
        <button class="button" type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create join link"}
        </button>
      </div>
    </form>
  );
}
