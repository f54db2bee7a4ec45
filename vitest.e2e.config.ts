import { defineConfig } from "vitest/config";

// End-to-end tests (test/e2e): stock clients in plain Node against a real `wrangler dev` of the
// service. Each file starts its own wrangler processes, so files run one at a time.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    environment: "node",
    fileParallelism: false,
    // Starting wrangler (bundle, migrations, two processes) and 25 MiB uploads take seconds, a
    // crash-and-resume most of a minute.
    hookTimeout: 120_000,
    testTimeout: 180_000,
  },
});
