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
rm -f test-results/{worker,e2e,browser}.{json,log}

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

# One suite: a line per test file and each failure (with its console output) on screen; vitest's
# full output, workerd's and wrangler's included, in test-results/<suite>.log.
suite() {
  local name=$1 config=$2
  vitest run -c "$config" --reporter=./scripts/quiet-reporter.mjs --reporter=default \
    --reporter=json --outputFile.json="test-results/$name.json" 3>&1 >"test-results/$name.log" 2>&1 || status=1
  echo "  (full output: test-results/$name.log)"
}

echo "== in-runtime tests (workerd, local D1/R2/DO/Queues)"
suite worker vitest.config.ts

if [ -n "$apt_pid" ] && ! wait "$apt_pid"; then
  echo "  installing ${missing[*]} failed: test-results/apt.log"
  status=1
fi

echo "== end-to-end tests (tus-js-client against wrangler dev, killed and restarted too)"
suite e2e vitest.e2e.config.ts

echo "== browser tests (the dashboard and the guest app in headless Chromium against wrangler dev)"
suite browser vitest.browser.config.ts

node scripts/test-totals.mjs test-results/worker.json test-results/e2e.json test-results/browser.json || status=1
exit $status
