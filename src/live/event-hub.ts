/**
 * EventHub: one Durable Object per event, the live channel organisers' dashboards listen on.
 * Upload sessions and the processing consumer publish to it; it fans each message out to the
 * event's WebSockets. It uses the hibernation API, so an idle event's sockets cost nothing: the
 * object sleeps between messages and pings are answered without waking it.
 *
 * It also keeps the event's live tickets (single use: a ticket is forgotten when redeemed or when
 * it expires), and every socket remembers the credential that opened it: an alarm re-checks them
 * every RECHECK_MS while sockets are open, and closes those whose credential was revoked or has
 * expired.
 *
 * And it keeps the event's upload health (live/upload-health.ts) from the sessions'
 * announcements, sending listeners a summary when it changes: after announcements (at most once
 * a second), and from the alarm when time alone changes it (an upload stalls: no traffic at all).
 */
import { DurableObject } from "cloudflare:workers";
import { credentialStanding, type AdminCredential, type CredentialStanding } from "../admin/auth";
import { photoView, uploadView, type UploadFacts } from "../views/photos";
import type { PhotoRow } from "../db/schema";
import { photoUrls } from "../downloads/photo-files";
import { errorFields, logLine } from "../lib/log";
import { UploadHealth, uploadStallMs, type HealthSummary } from "./upload-health";

/** What publishers send: rows, rendered here per listener's origin (photo URLs are absolute). */
export type LiveUpdate =
  | {
      kind: "upload";
      upload: UploadFacts;
      /** When bytes last landed, and when the device last re-sent a chunk (upload health only; not sent to listeners). */
      lastBytesAt: number | null;
      retriedAt: number | null;
    }
  | { kind: "photo"; photo: PhotoRow };

export const isWebSocketUpgrade = (request: Request) => request.headers.get("upgrade")?.toLowerCase() === "websocket";

/** How the Worker tells the hub who connects (on its own request; never a client's header). */
export const listenerHeader = "x-live-listener";

export interface Listener {
  eventId: string;
  origin: string;
  credential: AdminCredential;
}

interface StoredTicket {
  credential: AdminCredential;
  expiresAt: number;
}

/** How often open sockets' credentials are checked again: well within the minute a revocation may take. */
export const RECHECK_MS = 30_000;
/** The close code of a socket whose credential ended (4000–4999: the application's own). */
export const CREDENTIAL_ENDED_CLOSE = 4401;
/** Listeners get a changed health summary at most this often; the alarm wakes the hub no more often for it. */
export const HEALTH_PUSH_INTERVAL_MS = 1000;

const ticketKey = (ticketHash: string) => `ticket:${ticketHash}`;

export class EventHub extends DurableObject<Env> {
  readonly #health: UploadHealth;
  /** The last summary sent (without its time), so an unchanged one is not sent again. */
  #healthSent: string | null = null;
  #healthSentAt = 0;
  #healthTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    this.#health = new UploadHealth(ctx.storage.sql, uploadStallMs(env));
  }

  /** A dashboard connects (the Worker has checked who it is, and says so in `listenerHeader`). */
  override async fetch(request: Request): Promise<Response> {
    if (!isWebSocketUpgrade(request)) return new Response("Expected a WebSocket upgrade", { status: 426 });
    const listener = JSON.parse(request.headers.get(listenerHeader) ?? "null") as Listener | null;
    if (!listener) return new Response("Who is listening?", { status: 400 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(listener);
    server.send(JSON.stringify({ type: "hello", event_id: listener.eventId }));
    server.send(JSON.stringify({ type: "health", health: this.#health.summary(Date.now()) }));
    await this.scheduleAlarm();
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Remembers a live ticket (by its hash) until it is redeemed or expires. */
  async issueTicket(ticketHash: string, ticket: StoredTicket): Promise<void> {
    await this.ctx.storage.put(ticketKey(ticketHash), ticket);
    await this.scheduleAlarm();
  }

  /** The credential that issued a ticket, once: a second redemption, or a late one, gets null. */
  async redeemTicket(ticketHash: string): Promise<AdminCredential | null> {
    const ticket = await this.ctx.storage.get<StoredTicket>(ticketKey(ticketHash));
    if (!ticket) return null;
    await this.ctx.storage.delete(ticketKey(ticketHash));
    return ticket.expiresAt > Date.now() ? ticket.credential : null;
  }

  /** The event's upload health now (what listeners were last sent, or are about to be). */
  async healthSummary(): Promise<HealthSummary> {
    return this.#health.summary(Date.now());
  }

  /**
   * Closes the sockets whose credential has ended, forgets expired tickets, and sends listeners
   * the health summary if time changed it. Idempotent.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    await this.closeEndedSockets(now);
    const tickets = await this.ctx.storage.list<StoredTicket>({ prefix: "ticket:" });
    const expired = [...tickets].filter(([, ticket]) => ticket.expiresAt <= now).map(([key]) => key);
    if (expired.length) await this.ctx.storage.delete(expired);
    this.#sendHealth();
    await this.scheduleAlarm();
  }

  /** Each distinct credential is checked once; one that cannot be checked now keeps its sockets until the next alarm. */
  private async closeEndedSockets(now: number): Promise<void> {
    const standings = new Map<string, Promise<CredentialStanding | "unknown">>();
    for (const socket of this.ctx.getWebSockets()) {
      const { eventId, credential } = socket.deserializeAttachment() as Listener;
      const key = JSON.stringify(credential);
      if (!standings.has(key)) {
        standings.set(
          key,
          credentialStanding(this.env, credential, now).catch((error: unknown) => {
            logLine("warn", "live_recheck_failed", { event_id: eventId, ...errorFields(error) });
            return "unknown" as const;
          }),
        );
      }
      const standing = await standings.get(key)!;
      if (standing !== "revoked" && standing !== "expired") continue;
      try {
        socket.close(CREDENTIAL_ENDED_CLOSE, `credential_${standing}`);
      } catch {
        // Already closing.
      }
    }
  }

  /**
   * Keeps the alarm set while there are sockets to re-check or tickets to forget (every
   * RECHECK_MS at most), and, while someone listens, for the next moment time alone changes the
   * upload health (no sooner than HEALTH_PUSH_INTERVAL_MS from now). An earlier alarm is kept.
   */
  private async scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const current = await this.ctx.storage.getAlarm();
    const open = this.ctx.getWebSockets().some((socket) => socket.readyState === WebSocket.OPEN);
    const tickets = (await this.ctx.storage.list({ prefix: "ticket:", limit: 1 })).size > 0;
    const wanted: number[] = [];
    if (open || tickets) wanted.push(now + RECHECK_MS);
    const healthChange = open ? this.#health.nextChangeAt(now) : null;
    if (healthChange !== null) wanted.push(Math.max(healthChange, now + HEALTH_PUSH_INTERVAL_MS));
    if (!wanted.length) return;
    const at = Math.min(...wanted);
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /** Sends listeners the health summary if it changed since the last one sent. */
  #sendHealth(): void {
    const summary = this.#health.summary(Date.now());
    const { generated_at: _time, ...rest } = summary;
    const unchanged = JSON.stringify(rest);
    if (unchanged === this.#healthSent) return;
    this.#healthSent = unchanged;
    this.#healthSentAt = Date.now();
    const text = JSON.stringify({ type: "health", health: summary });
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(text);
      } catch {
        // Closing or closed.
      }
    }
  }

  /** After an announcement: the summary now, or at the end of the push interval if one was just sent. */
  #sendHealthSoon(): void {
    if (this.#healthTimer) return;
    const wait = this.#healthSentAt + HEALTH_PUSH_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.#sendHealth();
    this.#healthTimer = setTimeout(() => {
      this.#healthTimer = null;
      this.#sendHealth();
    }, wait);
  }

  /** Sends an update to every listener; answers how many there are, so publishers can skip progress nobody watches. */
  async publish(update: LiveUpdate): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    if (update.kind === "upload") {
      const { upload } = update;
      const now = Date.now();
      this.#health.record(
        { uploadId: upload.id, deviceId: upload.deviceId, status: upload.status, createdAt: upload.createdAt ?? now, lastBytesAt: update.lastBytesAt, retriedAt: update.retriedAt },
        now,
      );
      if (sockets.length) {
        this.#sendHealthSoon();
        await this.scheduleAlarm();
      }
    }
    const rendered = new Map<string, string>();
    for (const socket of sockets) {
      const { origin } = socket.deserializeAttachment() as Listener;
      let text = rendered.get(origin);
      if (text === undefined) {
        text = JSON.stringify(
          update.kind === "upload"
            ? { type: "upload", upload: uploadView(update.upload) }
            : { type: "photo", photo: photoView(update.photo, await photoUrls(this.env, origin, update.photo, "organiser")) },
        );
        rendered.set(origin, text);
      }
      try {
        socket.send(text);
      } catch {
        // Closing or closed: its close handler tidies up.
      }
    }
    return sockets.length;
  }

  override async webSocketMessage(): Promise<void> {
    // Listeners only listen; "ping" is answered without waking this object.
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}
