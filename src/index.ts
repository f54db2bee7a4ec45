/** The Worker's entry points: HTTP (Hono app), queues (processing), cron (sweeper), and its Durable Objects. */
import type { PhotoJob } from "./core/completion";
import { app } from "./http/app";
import { handlePhotoBatch } from "./jobs/processing";
import { sweep } from "./jobs/sweeper";

export { UploadSession } from "./core/upload-session";
export { EventHub } from "./live/event-hub";

export default {
  fetch: app.fetch,
  queue: handlePhotoBatch,
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweep(env));
  },
} satisfies ExportedHandler<Env, PhotoJob>;
