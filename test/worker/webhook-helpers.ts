/** Webhook endpoints through the admin API, and deliveries handed to the Worker's queue handler as Queues would. */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, expect, vi } from "vitest";
import worker from "../../src/index";
import { WEBHOOK_QUEUE, type WebhookJob } from "../../src/webhooks/delivery";
import { call } from "./helpers";

export const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

export function admin(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  return call(`/api/v1/admin${path}`, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...bootstrap, ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

export interface CreatedWebhook {
  webhook_id: string;
  event_id: string | null;
  url: string;
  event_types: string[];
  enabled: boolean;
  secret: string;
}

export async function addWebhook(eventId: string | null, body: Record<string, unknown>): Promise<CreatedWebhook> {
  const response = await admin(eventId ? `/events/${eventId}/webhooks` : "/webhooks", { method: "POST", body });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

/**
 * What the Worker sends to the webhook queue, kept here rather than sent (so miniflare never
 * delivers it behind a test's back); `take()` hands over what was queued since the last take.
 */
export function captureWebhookQueue() {
  let queued: string[] = [];
  beforeEach(() => {
    queued = [];
    vi.spyOn(env.WEBHOOK_QUEUE, "sendBatch").mockImplementation(async (messages) => {
      for (const message of messages) queued.push((message.body as WebhookJob).deliveryId);
      return undefined as never;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return {
    take(): string[] {
      const taken = queued;
      queued = [];
      return taken;
    },
  };
}

/** A received request, as a receiver sees it. */
export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Answers the Worker's outgoing requests to `host` with `answer` (a status, or a thrown error
 * for no connection; it may act first, as if meanwhile); every other request goes out as usual.
 */
export function fakeReceiver(host: string, answer: (request: Received, index: number) => number | Error | Promise<number | Error> = () => 200) {
  const received: Received[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).hostname !== host) return realFetch(input, init);
    const seen: Received = { url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() };
    received.push(seen);
    const outcome = await answer(seen, received.length - 1);
    if (outcome instanceof Error) throw outcome;
    return new Response("ok", { status: outcome });
  });
  return received;
}

/** Hands the deliveries to the Worker's queue handler in one batch; returns which were acked and which retried (and the delays asked). */
export async function deliverWebhooks(deliveryIds: string[], attempts = 1) {
  const batch = createMessageBatch<WebhookJob>(
    WEBHOOK_QUEUE,
    deliveryIds.map((deliveryId, i) => ({ id: `w-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts, body: { deliveryId } })),
  );
  // The test runtime's messages do not report the delay a retry asked for; the spies do.
  const retries = batch.messages.map((message) => vi.spyOn(message, "retry"));
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const delays = retries.flatMap((spy) => spy.mock.calls.map(([options]) => options?.delaySeconds));
  return { ...(await getQueueResult(batch, ctx)), delays };
}

export interface DeliveryRow {
  id: string;
  type: string;
  photo_id: string | null;
  status: string;
  attempts: number;
  payload: string;
}

export async function deliveriesOf(webhookId: string): Promise<DeliveryRow[]> {
  const { results } = await env.DB.prepare("SELECT id, type, photo_id, status, attempts, payload FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY seq")
    .bind(webhookId)
    .all<DeliveryRow>();
  return results;
}
