/**
 * Organisers' webhooks: who may manage endpoints, what URLs are refused, what is emitted when,
 * how deliveries are signed, retried, given up and kept in order per photo, and that nothing
 * about webhooks can hold up or fail an upload's processing.
 */
import { createScheduledController, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { DEAD_LETTER_QUEUE } from "../../src/jobs/processing";
import { DELIVERY_RETENTION_MS, MAX_ATTEMPTS } from "../../src/webhooks/delivery";
import { emitMessageCreated } from "../../src/webhooks/emit";
import { makeJpeg } from "../fixtures/photos";
import { createEvent, errorCode, fileBytes } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";
import { addWebhook, admin, captureWebhookQueue, deliveriesOf, deliverWebhooks, fakeReceiver } from "./webhook-helpers";

const queue = captureWebhookQueue();
const receiverHost = "hooks.example.test";
const receiverUrl = `https://${receiverHost}/photos?source=wedding`;
const allTypes = ["photo.ready", "photo.failed", "photo.moderated", "message.created", "event.closed"];

async function newToken(eventIds?: string[]) {
  const response = await admin("/tokens", { method: "POST", body: { name: "photographer", ...(eventIds && { event_ids: eventIds }) } });
  expect(response.status).toBe(201);
  return { authorization: `Bearer ${(await response.json<{ token: string }>()).token}` };
}

/** A ready photo in the event, through upload and processing. */
async function readyPhoto(joinToken: string) {
  const uploaded = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: joinToken });
  await deliver([uploaded.job]);
  return uploaded;
}

describe("managing endpoints: who may", () => {
  it("an organiser's token scoped to event A manages A's endpoints, never B's, nor global ones", async () => {
    const a = await createEvent();
    const b = await createEvent();
    const scopedToA = await newToken([a.event_id]);
    const created = await admin(`/events/${a.event_id}/webhooks`, { method: "POST", headers: scopedToA, body: { url: receiverUrl, event_types: ["photo.ready"] } });
    expect(created.status).toBe(201);
    const endpoint = await created.json<{ webhook_id: string }>();
    expect((await admin(`/events/${a.event_id}/webhooks/${endpoint.webhook_id}`, { method: "PATCH", headers: scopedToA, body: { enabled: false } })).status).toBe(200);

    const bEndpoint = await addWebhook(b.event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    for (const [method, path] of [
      ["GET", `/events/${b.event_id}/webhooks`],
      ["POST", `/events/${b.event_id}/webhooks`],
      ["DELETE", `/events/${b.event_id}/webhooks/${bEndpoint.webhook_id}`],
      ["GET", `/events/${b.event_id}/webhooks/${bEndpoint.webhook_id}/deliveries`],
    ] as const) {
      const response = await admin(path, { method, headers: scopedToA, ...(method === "POST" ? { body: { url: receiverUrl, event_types: ["photo.ready"] } } : {}) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(await errorCode(response)).toBe("event_not_found");
    }
    // B's endpoint through A's path: not found either (an endpoint belongs to one event).
    const crossed = await admin(`/events/${a.event_id}/webhooks/${bEndpoint.webhook_id}`, { method: "DELETE", headers: scopedToA });
    expect(crossed.status).toBe(404);
    expect(await errorCode(crossed)).toBe("webhook_not_found");
    expect(await deliveriesOf(bEndpoint.webhook_id)).toEqual([]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE id = ?").bind(bEndpoint.webhook_id).first<{ n: number }>())!.n).toBe(1);

    for (const [method, path] of [["GET", "/webhooks"], ["POST", "/webhooks"]] as const) {
      const response = await admin(path, { method, headers: scopedToA, ...(method === "POST" ? { body: { url: receiverUrl, event_types: ["photo.ready"] } } : {}) });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(await errorCode(response)).toBe("forbidden");
    }
  });

  it("global endpoints are a global admin's, and are not reachable through an event's path", async () => {
    const event = await createEvent();
    const globalToken = await newToken();
    const created = await admin("/webhooks", { method: "POST", headers: globalToken, body: { url: receiverUrl, event_types: ["event.closed"] } });
    expect(created.status).toBe(201);
    const endpoint = await created.json<{ webhook_id: string; event_id: string | null }>();
    expect(endpoint.event_id).toBeNull();
    const listed = await (await admin("/webhooks")).json<{ webhooks: Array<{ webhook_id: string }> }>();
    expect(listed.webhooks.map((hook) => hook.webhook_id)).toContain(endpoint.webhook_id);
    expect((await admin(`/events/${event.event_id}/webhooks/${endpoint.webhook_id}`, { method: "PATCH", body: { enabled: false } })).status).toBe(404);
    expect((await admin(`/webhooks/${endpoint.webhook_id}`, { method: "DELETE" })).status).toBe(200);
    expect((await admin(`/webhooks/${endpoint.webhook_id}`, { method: "DELETE" })).status).toBe(404);
  });
});

describe("managing endpoints: what is refused", () => {
  it.each([
    ["plain http to a host not listed for development", "http://hooks.example.test/in", "invalid_webhook_url"],
    ["a user name and password in the URL", "https://user:secret@hooks.example.test/in", "invalid_webhook_url"],
    ["a user name alone", "https://token@hooks.example.test/in", "invalid_webhook_url"],
    ["another scheme", "ftp://hooks.example.test/in", "invalid_webhook_url"],
    ["a fragment (never sent, so never what the receiver sees)", "https://hooks.example.test/in#token", "invalid_webhook_url"],
    ["not a URL", "hooks.example.test/in", "invalid_webhook_url"],
    ["a URL longer than 2048 characters", `https://hooks.example.test/${"a".repeat(2048)}`, "invalid_webhook_url"],
    ["a URL longer than the body allows", `https://hooks.example.test/${"a".repeat(5000)}`, "invalid_request"],
  ])("%s", async (_what, url, code) => {
    const { event_id } = await createEvent();
    const response = await admin(`/events/${event_id}/webhooks`, { method: "POST", body: { url, event_types: ["photo.ready"] } });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe(code);
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE event_id = ?").bind(event_id).first<{ n: number }>())!;
    expect(n).toBe(0);
  });

  it("plain http is allowed only to the hosts WEBHOOK_INSECURE_HOSTS lists (the tests' own receivers)", async () => {
    const { event_id } = await createEvent();
    expect(env.WEBHOOK_INSECURE_HOSTS).toBe("127.0.0.1,localhost");
    await addWebhook(event_id, { url: "http://127.0.0.1:8787/hook", event_types: ["photo.ready"] });
    await addWebhook(event_id, { url: "http://localhost/hook", event_types: ["photo.ready"] });
    const updated = await admin(`/events/${event_id}/webhooks/${(await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] })).webhook_id}`, {
      method: "PATCH",
      body: { url: "http://10.0.0.1/hook" },
    });
    expect(await errorCode(updated)).toBe("invalid_webhook_url");
  });

  it("event types must be known and at least one; unknown fields are refused", async () => {
    const { event_id } = await createEvent();
    for (const body of [
      { url: receiverUrl, event_types: [] },
      { url: receiverUrl, event_types: ["photo.uploaded"] },
      { url: receiverUrl },
      { url: receiverUrl, event_types: ["photo.ready"], secret: "whsec_mine" },
    ]) {
      const response = await admin(`/events/${event_id}/webhooks`, { method: "POST", body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(response)).toBe("invalid_request");
    }
  });

  it("at most 10 endpoints per event (and 10 global)", async () => {
    const { event_id } = await createEvent();
    for (let i = 0; i < 10; i++) await addWebhook(event_id, { url: `${receiverUrl}&n=${i}`, event_types: ["photo.ready"] });
    const eleventh = await admin(`/events/${event_id}/webhooks`, { method: "POST", body: { url: receiverUrl, event_types: ["photo.ready"] } });
    expect(eleventh.status).toBe(409);
    expect(await errorCode(eleventh)).toBe("webhook_limit");
    // Another event has its own ten.
    await addWebhook((await createEvent()).event_id, { url: receiverUrl, event_types: ["photo.ready"] });

    const existing = (await (await admin("/webhooks")).json<{ webhooks: unknown[] }>()).webhooks.length;
    const globals = [];
    for (let i = existing; i < 10; i++) globals.push(await addWebhook(null, { url: receiverUrl, event_types: ["event.closed"] }));
    const eleventhGlobal = await admin("/webhooks", { method: "POST", body: { url: receiverUrl, event_types: ["event.closed"] } });
    expect(eleventhGlobal.status).toBe(409);
    expect(await errorCode(eleventhGlobal)).toBe("webhook_limit");
    for (const hook of globals) await admin(`/webhooks/${hook.webhook_id}`, { method: "DELETE" });
  });
});

describe("the signing secret", () => {
  it("is generated by the server, shown at creation only, never listed, never logged, and rotatable with a day's overlap", async () => {
    const logs = [vi.spyOn(console, "log"), vi.spyOn(console, "warn"), vi.spyOn(console, "error")];
    const { event_id } = await createEvent();
    const created = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await (await admin(`/events/${event_id}/webhooks`)).text();
    expect(listed).toContain(created.webhook_id);
    expect(listed).not.toContain(created.secret);
    expect(listed).not.toContain("secret");

    const rotated = await (await admin(`/events/${event_id}/webhooks/${created.webhook_id}/rotate-secret`, { method: "POST" })).json<{ secret: string }>();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    // For a day, deliveries carry both signatures: a receiver verifies with either secret while it switches.
    const received = fakeReceiver(receiverHost);
    const sendTest = async () => {
      expect((await admin(`/events/${event_id}/webhooks/${created.webhook_id}/test`, { method: "POST" })).status).toBe(202);
      await deliverWebhooks(queue.take());
      return received.at(-1)!;
    };
    const during = await sendTest();
    expect(during.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(new Webhook(rotated.secret).verify(during.body, during.headers)).toMatchObject({ type: "webhook.test" });
    expect(new Webhook(created.secret).verify(during.body, during.headers)).toMatchObject({ type: "webhook.test" });
    // Then the old secret no longer verifies anything.
    await env.DB.prepare("UPDATE webhook_endpoints SET previous_secret_until = ? WHERE id = ?").bind(Date.now() - 1, created.webhook_id).run();
    const after = await sendTest();
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(new Webhook(rotated.secret).verify(after.body, after.headers)).toMatchObject({ type: "webhook.test" });
    expect(() => new Webhook(created.secret).verify(after.body, after.headers)).toThrow();

    const logged = logs.flatMap((spy) => spy.mock.calls.map((args) => args.join(" "))).join("\n");
    expect(logged).toContain("webhook_delivery");
    for (const secret of [created.secret, rotated.secret, created.secret.slice(6), rotated.secret.slice(6)]) expect(logged).not.toContain(secret);
    // The URL can carry the receiver's own token in its query: it is not logged either.
    expect(logged).not.toContain("source=wedding");
  });
});

describe("emission and delivery", () => {
  it("photo.ready: signed per Standard Webhooks, verifiable with the standardwebhooks library, with the photo's data", async () => {
    const { event_id, join_token } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const other = await addWebhook((await createEvent()).event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const received = fakeReceiver(receiverHost);
    const { photoId } = await readyPhoto(join_token);

    const queued = queue.take();
    expect(queued).toHaveLength(1);
    expect(await deliveriesOf(other.webhook_id)).toEqual([]);
    const result = await deliverWebhooks(queued);
    expect(result.explicitAcks).toHaveLength(1);
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.url).toBe(receiverUrl);
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["webhook-id"]).toBe(queued[0]);
    expect(Math.abs(Number(request!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    const body = new Webhook(endpoint.secret).verify(request!.body, request!.headers);
    expect(body).toMatchObject({
      type: "photo.ready",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { event_id, photo_id: photoId, status: "ready", approved: true, content_type: "image/jpeg", width: 64, height: 48 },
    });
    // A tampered body does not verify.
    expect(() => new Webhook(endpoint.secret).verify(request!.body.replace("ready", "failed"), request!.headers)).toThrow();
    expect(await deliveriesOf(endpoint.webhook_id)).toMatchObject([{ type: "photo.ready", photo_id: photoId, status: "succeeded", attempts: 1 }]);
  });

  it("photo.failed, photo.moderated, event.closed and message.created reach the endpoints subscribed to them, global ones included", async () => {
    const { event_id, join_token } = await createEvent();
    const all = await addWebhook(event_id, { url: receiverUrl, event_types: allTypes });
    const readyOnly = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const global = await addWebhook(null, { url: receiverUrl, event_types: ["event.closed"] });
    const disabled = await addWebhook(event_id, { url: receiverUrl, event_types: allTypes, enabled: false });

    const rejected = await uploadPhoto(fileBytes(4000), { token: join_token });
    await deliver([rejected.job]);
    const ready = await readyPhoto(join_token);
    expect((await admin(`/events/${event_id}/photos/${ready.photoId}/hide`, { method: "POST" })).status).toBe(200);
    await emitMessageCreated(env, { id: "m1", eventId: event_id, text: "Congratulations!", authorName: "Ana", photoIds: [], visible: true, createdAt: Date.now() });
    expect((await admin(`/events/${event_id}`, { method: "PATCH", body: { status: "closed" } })).status).toBe(200);
    // Closing an event already closed is no news.
    expect((await admin(`/events/${event_id}/archive`, { method: "POST" })).status).toBe(200);

    const payloads = (rows: Array<{ payload: string }>) => rows.map((row) => JSON.parse(row.payload) as { type: string; data: Record<string, unknown> });
    const toAll = payloads(await deliveriesOf(all.webhook_id));
    expect(toAll.map((body) => body.type)).toEqual(["photo.failed", "photo.ready", "photo.moderated", "message.created", "event.closed"]);
    expect(toAll[0]!.data).toMatchObject({ photo_id: rejected.photoId, status: "failed", failure_reason: expect.stringContaining("not a JPEG") });
    expect(toAll[2]!.data).toMatchObject({ photo_id: ready.photoId, action: "hide", status: "hidden" });
    expect(toAll[3]!.data).toMatchObject({ message_id: "m1", text: "Congratulations!", author_name: "Ana" });
    expect(toAll[4]!.data).toMatchObject({ event_id, status: "closed" });
    expect(payloads(await deliveriesOf(readyOnly.webhook_id)).map((body) => body.type)).toEqual(["photo.ready"]);
    expect(payloads(await deliveriesOf(global.webhook_id)).map((body) => body.type)).toEqual(["event.closed"]);
    expect(await deliveriesOf(disabled.webhook_id)).toEqual([]);
    await admin(`/webhooks/${global.webhook_id}`, { method: "DELETE" });
  });

  it("photo.failed when the dead-letter queue gives a photo up, once however often it arrives there", async () => {
    const { event_id, join_token } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.failed"] });
    const uploaded = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: join_token });
    await deliver([uploaded.job], { queue: DEAD_LETTER_QUEUE });
    await deliver([uploaded.job], { queue: DEAD_LETTER_QUEUE });
    const rows = await deliveriesOf(endpoint.webhook_id);
    expect(rows.map((row) => [row.type, row.photo_id])).toEqual([["photo.failed", uploaded.photoId]]);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ data: { status: "failed", failure_reason: expect.stringContaining("repeated attempts") } });
  });

  it("a receiver that fails is retried with backoff, each attempt logged, and given up after the last attempt", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const received = fakeReceiver(receiverHost, (_request, i) => (i === 0 ? 500 : i === 1 ? new TypeError("connection refused") : 503));
    const test = await (await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" })).json<{ delivery_id: string; status: string }>();
    expect(test.status).toBe("pending");
    const [deliveryId] = queue.take();
    expect(deliveryId).toBe(test.delivery_id);

    const delays: Array<number | undefined> = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const result = await deliverWebhooks([deliveryId!], attempt);
      if (attempt < MAX_ATTEMPTS) {
        expect(result.retryMessages, `attempt ${attempt}`).toHaveLength(1);
        delays.push(...result.delays);
      } else {
        expect(result.explicitAcks).toHaveLength(1);
      }
    }
    expect(delays).toEqual([10, 30, 90, 270, 810]);
    expect(received).toHaveLength(MAX_ATTEMPTS);
    // The same webhook-id on every attempt, so a receiver can tell a retry from a new message.
    expect(new Set(received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([deliveryId]));

    const log = await (await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/deliveries`)).json<{
      deliveries: Array<{ delivery_id: string; status: string; attempts: Array<{ attempt: number; status_code: number | null; error: string | null; duration_ms: number }> }>;
    }>();
    expect(log.deliveries).toHaveLength(1);
    expect(log.deliveries[0]).toMatchObject({ delivery_id: deliveryId, status: "failed" });
    expect(log.deliveries[0]!.attempts.map((attempt) => [attempt.attempt, attempt.status_code])).toEqual([
      [1, 500],
      [2, null],
      [3, 503],
      [4, 503],
      [5, 503],
      [6, 503],
    ]);
    expect(log.deliveries[0]!.attempts[1]!.error).toBe("the receiver could not be reached");
    // Once given up, a late message changes nothing.
    await deliverWebhooks([deliveryId!], 7);
    expect(received).toHaveLength(MAX_ATTEMPTS);
  });

  it("a redirect is not followed: it counts as a failed attempt", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const received = fakeReceiver(receiverHost, () => 307);
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    expect((await deliverWebhooks(queue.take())).retryMessages).toHaveLength(1);
    expect(received).toHaveLength(1);
    const { error } = (await env.DB.prepare("SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ?").bind(endpoint.webhook_id).first<{ error: string }>())!;
    expect(error).toBe("redirects are not followed");
  });

  it("a photo's later delivery waits until its earlier one is done, then is sent by it", async () => {
    const { event_id, join_token } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready", "photo.moderated"] });
    let receiverUp = false;
    const received = fakeReceiver(receiverHost, () => (receiverUp ? 200 : 500));
    const ready = await readyPhoto(join_token);
    await admin(`/events/${event_id}/photos/${ready.photoId}/hide`, { method: "POST" });
    await admin(`/events/${event_id}/photos/${ready.photoId}/unhide`, { method: "POST" });
    const [first, second, third] = queue.take();

    // All three arrive at once; only the first is attempted (and fails).
    const result = await deliverWebhooks([third!, second!, first!]);
    expect(received.map((request) => request.headers["webhook-id"])).toEqual([first]);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.explicitAcks).toHaveLength(2);
    expect(queue.take()).toEqual([]);

    // The first succeeds on its retry and then queues the second, which queues the third.
    receiverUp = true;
    await deliverWebhooks([first!], 2);
    expect(queue.take()).toEqual([second]);
    await deliverWebhooks([second!]);
    expect(queue.take()).toEqual([third]);
    await deliverWebhooks([third!]);
    const bodies = received.slice(1).map((request) => new Webhook(endpoint.secret).verify(request.body, request.headers) as { type: string; data: { action?: string } });
    expect(bodies.map((body) => `${body.type} ${body.data.action ?? ""}`.trim())).toEqual(["photo.ready", "photo.moderated hide", "photo.moderated unhide"]);
    expect((await deliveriesOf(endpoint.webhook_id)).map((row) => row.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
  });

  it("an endpoint disabled after emission is not called; send test still reaches it", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["message.created"] });
    const received = fakeReceiver(receiverHost);
    await emitMessageCreated(env, { id: "m2", eventId: event_id, text: "hi", authorName: null, photoIds: [], visible: true, createdAt: Date.now() });
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}`, { method: "PATCH", body: { enabled: false } });
    await deliverWebhooks(queue.take());
    expect(received).toHaveLength(0);
    expect((await deliveriesOf(endpoint.webhook_id)).map((row) => row.status)).toEqual(["failed"]);
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    await deliverWebhooks(queue.take());
    expect(received).toHaveLength(1);
  });

  it("deleting an endpoint deletes its deliveries and log; a message still queued for it does nothing", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    const received = fakeReceiver(receiverHost, () => 500);
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    const [deliveryId] = queue.take();
    await deliverWebhooks([deliveryId!]);
    expect((await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}`, { method: "DELETE" })).status).toBe(200);
    expect((await deliverWebhooks([deliveryId!], 2)).explicitAcks).toHaveLength(1);
    expect(received).toHaveLength(1);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?").bind(deliveryId).first<{ n: number }>())!.n).toBe(0);
  });
  it("an endpoint deleted while its attempt is in flight leaves no attempt behind in the log", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    fakeReceiver(receiverHost, async () => {
      expect((await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}`, { method: "DELETE" })).status).toBe(200);
      return 500;
    });
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    const [deliveryId] = queue.take();
    await deliverWebhooks([deliveryId!]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?").bind(deliveryId).first<{ n: number }>())!.n).toBe(0);
    expect(await deliveriesOf(endpoint.webhook_id)).toEqual([]);
  });
});

describe("webhooks never hold up uploads or processing", () => {
  it("a receiver that is down changes nothing for the photo: processing finishes before any delivery is attempted", async () => {
    const { event_id, join_token } = await createEvent();
    await addWebhook(event_id, { url: receiverUrl, event_types: allTypes });
    const received = fakeReceiver(receiverHost, () => new TypeError("network down"));
    const uploaded = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: join_token });
    const result = await deliver([uploaded.job]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(received).toHaveLength(0);
    const photo = await admin(`/events/${event_id}/photos/${uploaded.photoId}`);
    expect(await photo.json()).toMatchObject({ status: "ready" });
  });

  it("when writing the delivery fails (queue or database down), processing and moderation still succeed", async () => {
    const { event_id, join_token } = await createEvent();
    await addWebhook(event_id, { url: receiverUrl, event_types: allTypes });
    const errors = vi.spyOn(console, "error");
    vi.mocked(env.WEBHOOK_QUEUE.sendBatch).mockRejectedValue(new Error("Queue send failed"));
    const uploaded = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: join_token });
    const result = await deliver([uploaded.job]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(0);
    const hidden = await admin(`/events/${event_id}/photos/${uploaded.photoId}/hide`, { method: "POST" });
    expect(hidden.status).toBe(200);
    expect(await hidden.json()).toMatchObject({ status: "hidden" });
    expect(errors.mock.calls.map((args) => String(args[0])).filter((line) => line.includes("webhook_emit_failed"))).toHaveLength(2);
  });
});

describe("the sweeper", () => {
  it("re-sends deliveries whose message was lost, and prunes the log past its retention", async () => {
    const { event_id } = await createEvent();
    const endpoint = await addWebhook(event_id, { url: receiverUrl, event_types: ["photo.ready"] });
    fakeReceiver(receiverHost);
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    await admin(`/events/${event_id}/webhooks/${endpoint.webhook_id}/test`, { method: "POST" });
    const [delivered, lost] = queue.take();
    await deliverWebhooks([delivered!]);
    const longAgo = Date.now() - DELIVERY_RETENTION_MS - 1000;
    await env.DB.prepare("UPDATE webhook_deliveries SET updated_at = ? WHERE endpoint_id = ?").bind(longAgo, endpoint.webhook_id).run();

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController(), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(queue.take()).toContain(lost);
    const rows = await deliveriesOf(endpoint.webhook_id);
    expect(rows.map((row) => [row.id, row.status])).toEqual([[lost, "pending"]]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = ?").bind(delivered).first<{ n: number }>())!.n).toBe(0);
  });
});
