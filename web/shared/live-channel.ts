/**
 * The event's live channel (POST /events/:id/live gives a short-lived WebSocket URL): upload
 * progress and photo changes as they happen. It keeps itself connected for as long as a page
 * wants it — a slideshow runs for hours — so every way a socket can die ends in a reconnect
 * with a fresh ticket, after a backoff with jitter:
 *   - the server closes it, or the network drops (close / error);
 *   - the connection silently stops carrying anything (no pong to our ping: the watchdog);
 *   - the browser comes back online (reconnect at once, without waiting out the backoff).
 */
import type { AdminApi, PhotoView, UploadView } from "./admin-api";
import type { DeviceHealth, HealthSummary } from "../../src/live/health-summary";

/** The event's upload health, sent on connect and whenever it changes (src/live/health-summary.ts). */
export type UploadHealth = HealthSummary;
export type { DeviceHealth };

export type LiveMessage =
  | { type: "hello"; event_id: string }
  | { type: "upload"; upload: UploadView }
  | { type: "photo"; photo: PhotoView }
  | { type: "health"; health: UploadHealth };

export type LiveState = "connecting" | "open" | "reconnecting";

export interface LiveHandlers {
  onMessage(message: LiveMessage): void;
  /**
   * Each "open" may follow a gap in which messages were missed: a listener that keeps state
   * should reload it then.
   */
  onState(state: LiveState): void;
}

const PING_EVERY_MS = 20_000;
/** No message at all (pongs included) for this long: the connection is dead even if not closed. */
const SILENCE_LIMIT_MS = 45_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** Opens the channel and keeps it open; call the returned function to close it for good. */
export function openLiveChannel(api: AdminApi, eventId: string, handlers: LiveHandlers): () => void {
  let socket: WebSocket | null = null;
  let stopped = false;
  let failures = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let lastHeard = 0;
  let fetchingTicket = false;

  const connect = async () => {
    clearTimeout(retryTimer);
    if (stopped || fetchingTicket || socket) return;
    handlers.onState(failures === 0 ? "connecting" : "reconnecting");
    let url: string;
    fetchingTicket = true;
    try {
      url = (await api.liveTicket(eventId)).url;
    } catch {
      return retry();
    } finally {
      fetchingTicket = false;
    }
    if (stopped) return;
    const current = new WebSocket(url);
    socket = current;
    current.onopen = () => {
      failures = 0;
      lastHeard = Date.now();
      handlers.onState("open");
      pingTimer = setInterval(() => {
        if (Date.now() - lastHeard > SILENCE_LIMIT_MS) abandon(current);
        else current.send("ping");
      }, PING_EVERY_MS);
    };
    current.onmessage = (event) => {
      lastHeard = Date.now();
      if (typeof event.data !== "string" || event.data === "pong") return;
      let message: LiveMessage;
      try {
        message = JSON.parse(event.data) as LiveMessage;
      } catch {
        return;
      }
      handlers.onMessage(message);
    };
    // An error is always followed by close; reconnecting once, from close, is enough.
    current.onclose = () => abandon(current);
  };

  /**
   * Gives up on a socket and reconnects. A dead connection's close event can take minutes (the
   * closing handshake waits for a server that is gone), so the socket is let go of at once.
   */
  const abandon = (dead: WebSocket) => {
    dead.onopen = dead.onmessage = dead.onclose = null;
    dead.close();
    clearInterval(pingTimer);
    if (socket === dead) socket = null;
    retry();
  };

  const retry = () => {
    if (stopped) return;
    failures++;
    handlers.onState("reconnecting");
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1));
    retryTimer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
  };

  // Back online: the old socket probably died with the network; do not wait for the backoff.
  const reconnectNow = () => {
    if (socket) abandon(socket);
    failures = 0;
    void connect();
  };
  window.addEventListener("online", reconnectNow);

  void connect();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    window.removeEventListener("online", reconnectNow);
    socket?.close();
  };
}
