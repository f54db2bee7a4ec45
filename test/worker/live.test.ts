import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, errorCode, MiB, sendChunk, startUpload, fileBytes } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

interface LiveMessage {
  type: string;
  event_id?: string;
  upload?: { upload_id: string; status: string; received_bytes: number; total_size: number; filename: string };
  photo?: { photo_id: string; status: string; approved: boolean; urls: { thumb_256: string | null } };
}

/** A dashboard's WebSocket, collecting what it hears. */
async function listen(url: string, headers: Record<string, string> = {}) {
  const { pathname, search } = new URL(url.replace(/^ws/, "http"));
  const response = await call(pathname + search, { headers: { upgrade: "websocket", ...headers } });
  expect(response.status, response.status === 101 ? "" : await response.text()).toBe(101);
  const socket = response.webSocket!;
  const messages: LiveMessage[] = [];
  const texts: string[] = [];
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
  return { socket, messages, texts, next };
}

async function ticket(eventId: string): Promise<string> {
  const response = await call(`/api/v1/admin/events/${eventId}/live`, { method: "POST", headers: bootstrap });
  expect(response.status).toBe(200);
  const { url } = await response.json<{ url: string }>();
  expect(url).toMatch(/^wss:\/\/photos\.test\/api\/v1\/live\/events\/.+\?exp=\d+&sig=/);
  return url;
}

describe("the live channel", () => {
  it("tells a connected dashboard about upload progress, a new photo, processing and moderation", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    await live.next((m) => m.type === "hello" && m.event_id === event.event_id, "hello");

    // Progress of an upload in flight.
    const bytes = fileBytes(3 * MiB, 7);
    const upload = await startUpload(event.join_token, bytes.byteLength, { filename: "progress.jpg" });
    expect((await sendChunk(upload, bytes, 0, MiB)).status).toBe(204);
    const progress = await live.next((m) => m.upload?.upload_id === upload.id, "upload progress");
    expect(progress.upload).toMatchObject({ status: "uploading", received_bytes: MiB, total_size: 3 * MiB, filename: "progress.jpg" });

    // A photo: created (processing), then ready with its thumbnail URL.
    const uploaded = await uploadPhoto(makeJpeg({ width: 160, height: 120 }), { token: event.join_token });
    await live.next((m) => m.upload?.upload_id === uploaded.upload.id && m.upload.status === "completed", "upload completed");
    await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "processing", "new photo");
    await deliver([uploaded.job]);
    const ready = await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "ready", "photo ready");
    expect(ready.photo!.urls.thumb_256).toMatch(/^https:\/\/photos\.test\/api\/v1\/files\/photos\//);

    const hide = await call(`/api/v1/admin/events/${event.event_id}/photos/${uploaded.photoId}/hide`, { method: "POST", headers: bootstrap });
    expect(hide.status).toBe(200);
    await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "hidden", "photo hidden");

    // Keep-alive pings are answered.
    live.socket.send("ping");
    for (let waited = 0; !live.texts.includes("pong") && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(live.texts).toContain("pong");
    live.socket.close(1000, "done");
  });

  it("hears only its own event", async () => {
    const [mine, other] = await Promise.all([createEvent(), createEvent()]);
    const live = await listen(await ticket(mine.event_id));
    const uploaded = await uploadPhoto(makeJpeg({ width: 100, height: 80 }), { token: other.join_token });
    const own = await uploadPhoto(makeJpeg({ width: 100, height: 80 }), { token: mine.join_token });
    await live.next((m) => m.photo?.photo_id === own.photoId, "own photo");
    expect(live.messages.some((m) => m.photo?.photo_id === uploaded.photoId || m.upload?.upload_id === uploaded.upload.id)).toBe(false);
    live.socket.close(1000, "done");
  });

  it("admits scripts with credentials on the upgrade, and refuses tampered tickets and anonymous upgrades", async () => {
    const event = await createEvent();
    const direct = await listen(`https://photos.test/api/v1/admin/events/${event.event_id}/live`, bootstrap);
    await direct.next((m) => m.type === "hello", "hello");
    direct.socket.close(1000, "done");

    const url = new URL((await ticket(event.event_id)).replace(/^wss/, "https"));
    const otherEvent = await createEvent();
    const bent = await call(url.pathname.replace(event.event_id, otherEvent.event_id) + url.search, { headers: { upgrade: "websocket" } });
    expect(bent.status).toBe(403);
    expect(await errorCode(bent)).toBe("invalid_signature");
    const anonymous = await call(`/api/v1/admin/events/${event.event_id}/live`, { headers: { upgrade: "websocket" } });
    expect(anonymous.status).toBe(401);
    const plain = await call(url.pathname + url.search);
    expect(plain.status).toBe(426);
  });
});
