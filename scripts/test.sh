#!/usr/bin/env bash
# The test command (README, `npm test`; .ci/run calls it): installs what is missing, checks
# types, runs the in-runtime test suite, and ends with the totals on a line of their own.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || exit 1
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p test-results

status=0
echo "== typecheck"
npm run --silent typecheck || status=1

echo "== in-runtime tests (workerd, local D1/R2/DO/Queues)"
vitest run --reporter=default --reporter=json --outputFile.json=test-results/worker.json || status=1

node scripts/test-totals.mjs test-results/worker.json || status=1
exit $status
