/**
 * Join links created in this browser, kept so their QR codes can be shown and printed again:
 * the API stores only a hash of each token and returns the token, URL and QR code once. A join
 * link is what guests get on the table cards anyway, so keeping it in the organiser's own
 * browser (localStorage, this origin only) reveals nothing a guest does not have.
 */
import type { CreatedJoinLink } from "../shared/admin-api";

const keyFor = (eventId: string) => `join-links:${eventId}`;
/** Enough for every table card of an event; older ones can still be revoked, just not reprinted. */
const KEPT_PER_EVENT = 20;

export function rememberedLinks(eventId: string): CreatedJoinLink[] {
  try {
    const stored = JSON.parse(localStorage.getItem(keyFor(eventId)) ?? "[]") as unknown;
    return Array.isArray(stored) ? (stored as CreatedJoinLink[]) : [];
  } catch {
    return [];
  }
}

export function rememberLink(eventId: string, link: CreatedJoinLink): void {
  const links = [link, ...rememberedLinks(eventId).filter((kept) => kept.id !== link.id)].slice(0, KEPT_PER_EVENT);
  try {
    localStorage.setItem(keyFor(eventId), JSON.stringify(links));
  } catch {
    // Storage full or disabled: the link still works, its QR just cannot be shown again later.
  }
}

/** The newest link created here that is neither revoked nor expired, if any. */
export function usableLink(eventId: string, revokedIds: ReadonlySet<string> = new Set()): CreatedJoinLink | undefined {
  const now = Date.now();
  return rememberedLinks(eventId).find(
    (link) => !revokedIds.has(link.id) && !link.revoked_at && (!link.expires_at || Date.parse(link.expires_at) > now),
  );
}
