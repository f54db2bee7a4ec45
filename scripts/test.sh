#!/usr/bin/env bash
# The test command (README, `npm test`; .ci/run calls it): installs what is missing, checks
# types, builds the web apps, checks the production bundle, runs the in-runtime test suite, then
# the end-to-end and browser (Chromium) suites side by side, and ends with the totals on a line
# of their own.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"
# Reports from an earlier run must not stand in for a suite that fails to run now.
mkdir -p test-results
rm -f test-results/{worker,e2e,browser}.{json,log,screen}

# Debian's chromium (playwright-core drives it in the browser suite) and ffmpeg (it makes the
# 60 MB test video, test/fixtures/large-video.ts), installed when missing while the first suites
# run; CI runs as root.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/ffmpeg ] || missing+=(ffmpeg)
apt_pid=
if [ ${#missing[@]} -gt 0 ]; then
  { apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }; } >test-results/apt.log 2>&1 &
  apt_pid=$!
fi

status=0
echo "== typecheck"
npm run --silent typecheck || status=1

# Before any suite: wrangler.toml serves web/dist, and the in-runtime suite reads wrangler.toml.
echo "== web build"
node scripts/build-web.mjs --budget || status=1

echo "== deploy check (the production bundle, as \`wrangler deploy --env production\` would make it)"
node scripts/check-deploy.mjs || status=1

# One suite: a line per test file and each failure (with its console output) on its standard
# output; vitest's full output, workerd's and wrangler's included, in test-results/<suite>.log.
suite() {
  local name=$1 config=$2
  vitest run -c "$config" --reporter=./scripts/quiet-reporter.mjs --reporter=default \
    --reporter=json --outputFile.json="test-results/$name.json" 3>&1 >"test-results/$name.log" 2>&1
}

echo "== in-runtime tests (workerd, local D1/R2/DO/Queues)"
suite worker vitest.config.ts || status=1
echo "  (full output: test-results/worker.log)"

if [ -n "$apt_pid" ] && ! wait "$apt_pid"; then
  echo "  installing ${missing[*]} failed: test-results/apt.log"
  status=1
fi

# The end-to-end and browser suites mostly wait (on throttled links, retries, servers starting),
# so they run side by side; each one's lines are shown when it ends. The web apps were built
# above, so the browser suite does not build them again under the running servers.
echo "== end-to-end and browser suites, side by side"
suite e2e vitest.e2e.config.ts >test-results/e2e.screen 2>&1 &
e2e_pid=$!
WEB_BUILT=1 suite browser vitest.browser.config.ts >test-results/browser.screen 2>&1 &
browser_pid=$!
wait "$e2e_pid" || status=1
echo "== end-to-end tests (tus-js-client against wrangler dev, killed and restarted too)"
cat test-results/e2e.screen
echo "  (full output: test-results/e2e.log)"
wait "$browser_pid" || status=1
echo "== browser tests (the dashboard and the guest app in headless Chromium against wrangler dev)"
cat test-results/browser.screen
echo "  (full output: test-results/browser.log)"

node scripts/test-totals.mjs test-results/worker.json test-results/e2e.json test-results/browser.json || status=1
exit $status
