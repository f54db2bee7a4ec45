#!/usr/bin/env bash
# The test command (README, `npm test`; .ci/run calls it): installs what is missing, checks
# types, builds the web apps, checks the production bundle, runs the in-runtime test suite, then
# the end-to-end suite, then the browser suite (Chromium), and ends with the totals on a line of
# their own.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"
# Reports from an earlier run must not stand in for a suite that fails to run now.
mkdir -p test-results
rm -f test-results/worker.json test-results/e2e.json test-results/browser.json

status=0
echo "== typecheck"
npm run --silent typecheck || status=1

# Before any suite: wrangler.toml serves web/dist, and the in-runtime suite reads wrangler.toml.
echo "== web build"
node scripts/build-web.mjs --budget || status=1

echo "== deploy check (the production bundle, as \`wrangler deploy --env production\` would make it)"
node scripts/check-deploy.mjs || status=1

echo "== in-runtime tests (workerd, local D1/R2/DO/Queues)"
vitest run --reporter=default --reporter=json --outputFile.json=test-results/worker.json || status=1

echo "== end-to-end tests (tus-js-client against wrangler dev, killed and restarted too)"
vitest run -c vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json=test-results/e2e.json || status=1

echo "== browser tests (the dashboard and the guest app in headless Chromium against wrangler dev)"
# Debian's chromium, which playwright-core drives; CI runs as root.
if [ ! -x /usr/bin/chromium ]; then
  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
vitest run -c vitest.browser.config.ts --reporter=default --reporter=json --outputFile.json=test-results/browser.json || status=1

node scripts/test-totals.mjs test-results/worker.json test-results/e2e.json test-results/browser.json || status=1
exit $status
