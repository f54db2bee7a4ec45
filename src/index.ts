/** The Worker's entry points: HTTP (Hono app), cron (sweeper), and its Durable Object classes. */
import { app } from "./http/app";
import { sweepExpiredSessions } from "./jobs/sweeper";

export { UploadSession } from "./core/upload-session";

export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweepExpiredSessions(env));
  },
} satisfies ExportedHandler<Env>;
