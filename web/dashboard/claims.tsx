/**
 * Guests' claim codes ("my uploads on any phone"): each opens one phone's uploads on another
 * device. Organisers see which phones made one and when it was last used, never the code, and
 * can revoke one (a lost or shared code): it opens nothing from then on.
 */
import type { ClaimView, EventView } from "../shared/admin-api";
import { formatDateTime } from "../shared/format";
import { useApi } from "./context";
import { useLoad } from "./use-load";
import { useSubmit } from "./use-submit";
import { ErrorNotice, Loading } from "./ui";

export function GuestClaims({ event }: { event: EventView }) {
  const api = useApi();
  const claims = useLoad(() => api.listClaims(event.event_id), [api, event.event_id]);
  const revoking = useSubmit();

  const revoke = async (claim: ClaimView) => {
    if (!confirm(`Revoke the code of phone ${claim.device_id}? Whoever holds it can no longer see or take back that phone's photos.`)) return;
    await revoking.run(async () => {
      await api.revokeClaim(event.event_id, claim.id);
      claims.reload();
    });
  };

  return (
    <section class="card stack no-print" aria-labelledby="claims-heading">
      <h2 id="claims-heading">Guests' codes for their uploads</h2>
      <p class="muted small">A guest can make a code on their phone to see and take back their photos from another device. Codes are never shown here.</p>
      <ErrorNotice error={claims.error ?? revoking.error} />
      {claims.data === undefined ? (
        claims.loading && <Loading what="codes" />
      ) : claims.data.length === 0 ? (
        <p>No guest has made a code yet.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Phone</th>
                <th scope="col">Photos</th>
                <th scope="col">Made</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {claims.data.map((claim) => (
                <tr key={claim.id}>
                  <td class="breakable">{claim.device_id}</td>
                  <td>{claim.photos}</td>
                  <td>{formatDateTime(claim.created_at)}</td>
                  <td>{claim.last_used_at ? formatDateTime(claim.last_used_at) : "Never"}</td>
                  <td>{claim.revoked_at ? <span class="badge badge-danger">Revoked</span> : <span class="badge badge-ok">Active</span>}</td>
                  <td>
                    {!claim.revoked_at && (
                      <button type="button" class="button button-small button-danger" onClick={() => revoke(claim)} aria-label={`Revoke the code of phone ${claim.device_id}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
