/**
 * Webhooks delivered for real: `wrangler dev` runs the service (its queues included) and a
 * plain Node HTTP server on 127.0.0.1 is the organiser's receiver. It verifies every request's
 * signature with the standardwebhooks library, answers each message's first attempt with 500
 * and later ones with 200, and records the order in which one photo's messages arrive.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DevStack, Service, type CreatedEvent } from "../../scripts/lib/dev-server";
import { makeJpeg } from "../fixtures/photos";

interface Arrival {
  id: string;
  answered: number;
  verified: boolean;
  body: { type: string; data: { photo_id?: string; action?: string; event_id?: string } } | null;
}

let stack: DevStack;
let service: Service;
let event: CreatedEvent;
let receiver: Server;
let receiverUrl: string;
const arrivals: Arrival[] = [];
let secret = "";

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const payload = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      let body: Arrival["body"] = null;
      try {
        body = new Webhook(secret).verify(payload, headers) as Arrival["body"];
      } catch {
        body = null;
      }
      const id = headers["webhook-id"] ?? "";
      const answered = arrivals.some((arrival) => arrival.id === id) ? 200 : 500;
      arrivals.push({ id, answered, verified: body !== null, body });
      response.writeHead(answered, { "content-type": "text/plain" }).end(answered === 200 ? "thanks" : "not now");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/photos`;

  stack = DevStack.create("e2e-webhooks-");
  service = await Service.start(stack, { WEBHOOK_INSECURE_HOSTS: "127.0.0.1" });
  event = await service.createEvent({ name: "e2e webhooks" });
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function admin<T>(method: string, pathname: string, body?: unknown): Promise<T> {
  const response = await fetch(`${service.origin}/api/v1/admin${pathname}`, {
    method,
    headers: { authorization: `Bearer ${service.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.ok, `${method} ${pathname}: ${response.status} ${text.slice(0, 300)}`).toBe(true);
  return JSON.parse(text) as T;
}

/** A guest's upload through the guest API, in one chunk; the photo id. */
async function upload(bytes: Uint8Array): Promise<string> {
  const base = `${service.origin}/api/v1/events/${event.join_token}/uploads`;
  const created = await fetch(base, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ filename: "IMG_0001.jpg", size: bytes.length, content_type: "image/jpeg", device_id: `e2e-webhooks-${Date.now()}` }),
  });
  expect(created.status).toBe(201);
  const { upload_id: id, upload_key: key } = (await created.json()) as { upload_id: string; upload_key: string };
  const chunk = await fetch(`${base}/${id}/chunk`, { method: "PUT", headers: { "upload-key": key, "content-range": `bytes 0-${bytes.length - 1}/${bytes.length}` }, body: bytes });
  expect(chunk.status).toBe(204);
  const completed = await fetch(`${base}/${id}/complete`, { method: "POST", headers: { "upload-key": key } });
  expect(completed.status).toBe(201);
  return ((await completed.json()) as { photo_id: string }).photo_id;
}

const delivered = (type: string) => arrivals.filter((arrival) => arrival.answered === 200 && arrival.body?.type === type);

describe("webhooks to a receiver on 127.0.0.1", () => {
  it("a photo's messages arrive signed, retried after a 500, and in order; event.closed too", async () => {
    const created = await admin<{ webhook_id: string; secret: string }>("POST", `/events/${event.event_id}/webhooks`, {
      url: receiverUrl,
      event_types: ["photo.ready", "photo.moderated", "event.closed"],
    });
    secret = created.secret;

    const photoId = await upload(makeJpeg({ width: 320, height: 240 }));
    await expect.poll(async () => (await admin<{ status: string }>("GET", `/events/${event.event_id}/photos/${photoId}`)).status, { timeout: 60_000, interval: 250 }).toBe("ready");
    // Moderated at once, while photo.ready is still waiting for its retry: these must wait for it.
    await admin("POST", `/events/${event.event_id}/photos/${photoId}/hide`);
    await admin("POST", `/events/${event.event_id}/photos/${photoId}/unhide`);
    await admin("PATCH", `/events/${event.event_id}`, { status: "closed" });

    await expect.poll(() => delivered("photo.moderated").length + delivered("event.closed").length, { timeout: 150_000, interval: 500 }).toBe(3);

    expect(arrivals.every((arrival) => arrival.verified), "every request verifies with the endpoint's secret").toBe(true);
    // Every message was tried twice: 500, then 200, under the same webhook-id.
    const byId = Map.groupBy(arrivals, (arrival) => arrival.id);
    expect(byId.size).toBe(4);
    for (const attempts of byId.values()) expect(attempts.map((arrival) => arrival.answered)).toEqual([500, 200]);

    // The photo's messages, attempts included, in the order they happened: none overtook another.
    const forPhoto = arrivals.filter((arrival) => arrival.body?.data.photo_id === photoId);
    expect(forPhoto.map((arrival) => `${arrival.body!.type} ${arrival.body!.data.action ?? ""}`.trim())).toEqual([
      "photo.ready",
      "photo.ready",
      "photo.moderated hide",
      "photo.moderated hide",
      "photo.moderated unhide",
      "photo.moderated unhide",
    ]);
    expect(delivered("event.closed")[0]!.body!.data.event_id).toBe(event.event_id);

    // The delivery log says the same, attempt by attempt.
    const log = await admin<{ deliveries: Array<{ type: string; status: string; attempts: Array<{ status_code: number | null }> }> }>(
      "GET",
      `/events/${event.event_id}/webhooks/${created.webhook_id}/deliveries`,
    );
    expect(log.deliveries).toHaveLength(4);
    for (const delivery of log.deliveries) {
      expect(delivery.status, delivery.type).toBe("succeeded");
      expect(delivery.attempts.map((attempt) => attempt.status_code)).toEqual([500, 200]);
    }
    // The secret never reached the service's logs.
    expect(JSON.stringify(service.server.logs)).not.toContain(secret.slice("whsec_".length));
  });
});
