/**
 * The event's join token, from the join link's path (`/join/{token}`). The installed app starts
 * at `/join/` (the manifest's start_url cannot know the event), so the token of the last event
 * that opened here is remembered and that event reopens.
 */

const REMEMBERED_KEY = "edge-photo-uploads:join-token";

export function joinTokenFromLocation(): string | null {
  const match = /^\/join\/([^/]+)\/?$/.exec(location.pathname);
  if (match) return decodeURIComponent(match[1]!);
  const remembered = readRemembered();
  if (remembered) history.replaceState(null, "", `/join/${encodeURIComponent(remembered)}${location.hash}`);
  return remembered;
}

/** Called once the token proved to open an event. */
export function rememberJoinToken(token: string): void {
  try {
    localStorage.setItem(REMEMBERED_KEY, token);
  } catch {
    // Storage can be off (private modes): the app then just needs the link each time.
  }
}

function readRemembered(): string | null {
  try {
    return localStorage.getItem(REMEMBERED_KEY);
  } catch {
    return null;
  }
}
