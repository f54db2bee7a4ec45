/** A dashboard's side of the live channel, for tests: tickets and a listening WebSocket. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call } from "./helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

export interface LiveMessage {
  type: string;
  event_id?: string;
  upload?: { upload_id: string; status: string; received_bytes: number; total_size: number; filename: string };
  photo?: { photo_id: string; status: string; approved: boolean; urls: { thumb_256: string | null } };
}

/** The upgrade request a browser would send for a ws(s):// URL. */
export function upgrade(url: string, headers: Record<string, string> = {}) {
  const { pathname, search } = new URL(url.replace(/^ws/, "http"));
  return call(pathname + search, { headers: { upgrade: "websocket", ...headers } });
}

/** A dashboard's WebSocket, collecting what it hears. */
export async function listen(url: string, headers: Record<string, string> = {}) {
  const response = await upgrade(url, headers);
  expect(response.status, response.status === 101 ? "" : await response.text()).toBe(101);
  const socket = response.webSocket!;
  const messages: LiveMessage[] = [];
  const texts: string[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  socket.addEventListener("message", (event) => {
    const text = String(event.data);
    texts.push(text);
    if (text !== "pong") messages.push(JSON.parse(text));
  });
  socket.accept();
  /** Waits until a message matching `match` arrives. */
  async function next(match: (message: LiveMessage) => boolean, what: string): Promise<LiveMessage> {
    for (let waited = 0; waited < 5000; waited += 20) {
      const found = messages.find(match);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no ${what} arrived; heard ${JSON.stringify(messages)}`);
  }
  return { socket, messages, texts, next, closed };
}

export async function ticket(eventId: string, credential: Record<string, string> = bootstrap): Promise<string> {
  const response = await call(`/api/v1/admin/events/${eventId}/live`, { method: "POST", headers: credential });
  expect(response.status).toBe(200);
  const { url } = await response.json<{ url: string }>();
  expect(url).toMatch(/^wss:\/\/photos\.test\/api\/v1\/live\/events\/.+\?exp=\d+&sig=[\w-]+&ticket=[\w-]{43}$/);
  return url;
}

