/**
 * EventHub: one Durable Object per event, the live channel organisers' dashboards listen on.
 * Upload sessions and the processing consumer publish to it; it fans each message out to the
 * event's WebSockets. It uses the hibernation API, so an idle event's sockets cost nothing: the
 * object sleeps between messages and pings are answered without waking it.
 */
import { DurableObject } from "cloudflare:workers";
import { photoView, uploadView, type UploadFacts } from "../admin/views";
import type { PhotoRow } from "../db/schema";
import { photoUrls } from "../downloads/photo-files";

/** What publishers send: rows, rendered here per listener's origin (photo URLs are absolute). */
export type LiveUpdate = { kind: "upload"; upload: UploadFacts } | { kind: "photo"; photo: PhotoRow };

interface Listener {
  eventId: string;
  origin: string;
}

export class EventHub extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** A dashboard connects (the Worker has checked who it is). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const listener: Listener = { eventId: request.headers.get("x-event-id") ?? "", origin: request.headers.get("x-public-origin") ?? new URL(request.url).origin };
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(listener);
    server.send(JSON.stringify({ type: "hello", event_id: listener.eventId }));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends an update to every listener; answers how many there are, so publishers can skip progress nobody watches. */
  async publish(update: LiveUpdate): Promise<number> {
    const sockets = this.ctx.getWebSockets();
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
