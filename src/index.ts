/** The Worker's entry points: HTTP (Hono app), queues (processing, webhooks), cron (sweeper), and its Durable Objects. */
import type { PhotoJob } from "./core/completion";
import { app } from "./http/app";
import { handlePhotoBatch } from "./jobs/processing";
import { sweep } from "./jobs/sweeper";
import { handleWebhookBatch, WEBHOOK_QUEUE, type WebhookJob } from "./webhooks/delivery";

export { UploadSession } from "./core/upload-session";
export { EventHub } from "./live/event-hub";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === WEBHOOK_QUEUE) return handleWebhookBatch(batch as MessageBatch<WebhookJob>, env);
    return handlePhotoBatch(batch as MessageBatch<PhotoJob>, env);
  },
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweep(env));
  },
} satisfies ExportedHandler<Env, PhotoJob | WebhookJob>;
