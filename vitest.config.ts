import { availableParallelism } from "node:os";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// In-runtime tests: the Worker, its Durable Objects and real local bindings (D1, R2, Queues)
// run in workerd, as in `wrangler dev`.
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: "test-admin-token",
            SIGNING_SECRET: "test-signing-secret",
            // A dashboard on another origin, for the CORS tests.
            DASHBOARD_ORIGINS: "https://dashboard.example.test",
            // Access on, against a JWKS the tests serve (test/worker/admin-api.test.ts).
            ACCESS_TEAM_DOMAIN: "https://team.cloudflareaccess.test",
            ACCESS_AUD: "test-access-aud",
            // Short, so the lapse of a dead Worker's lease can be tested without waiting 10 s.
            CHUNK_LEASE_MS: "1500",
            // Webhook receivers the tests run themselves may be plain http on these hosts.
            WEBHOOK_INSECURE_HOSTS: "127.0.0.1,localhost",
            // Short, so an upload stalls (no bytes for this long) within a test (test/worker/upload-health.test.ts).
            UPLOAD_STALL_MS: "2000",
          },
          // Tests deliver queue messages to the handler themselves, one delivery at a time; large
          // batches with the longest wait keep miniflare from delivering them behind a test's back.
          // The per-client limit is small here so a test can spend it; the per-IP one stays as configured.
          ratelimits: { GUEST_CLIENT_LIMITER: { namespace_id: "1002", simple: { limit: 150, period: 60 } } },
          queueConsumers: {
            "photo-processing": { maxBatchSize: 100, maxBatchTimeout: 60 },
            "photo-processing-dlq": { maxBatchSize: 100, maxBatchTimeout: 60 },
            "webhook-deliveries": { maxBatchSize: 100, maxBatchTimeout: 60 },
          },
        },
      }),
    ],
    test: {
      include: ["test/worker/**/*.test.ts"],
      setupFiles: ["./test/worker/apply-migrations.ts"],
      // The fuzz test's knobs (test/worker/fuzz.test.ts): npm run fuzz scales it up; a failure prints its seed and path.
      provide: { FUZZ_RUNS: process.env.FUZZ_RUNS ?? "", FUZZ_SEED: process.env.FUZZ_SEED ?? "", FUZZ_PATH: process.env.FUZZ_PATH ?? "" },
      testTimeout: 60_000,
      // vitest's default (one fewer than the CPUs) runs the files one at a time on a 2-core machine;
      // each file waits on workerd as much as it computes, so two at a time halves the suite.
      maxWorkers: Math.max(2, availableParallelism() - 1),
    },
  };
});
