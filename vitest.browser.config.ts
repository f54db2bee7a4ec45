import { defineConfig } from "vitest/config";

// Browser tests (test/browser): the web apps in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) against a real `wrangler dev` serving them, and the apps' own logic
// in plain Node. Each *.browser.test.ts starts its own wrangler and browser, so files run one at
// a time. The web apps are built first.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/browser/build-web.ts"],
    fileParallelism: false,
    hookTimeout: 120_000,
    testTimeout: 120_000,
    // A page on a busy CI machine can take seconds to reach a state; vitest's default is 1 s.
    expect: { poll: { timeout: 20_000, interval: 100 } },
  },
});
