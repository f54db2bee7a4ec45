#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than package-lock.json, so
# `npm start` and `npm test` work on a fresh clone. Runs under the machine's Node (20 is fine
# for npm); everything after it runs on the Node 22 that the `node` devDependency provides.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.install-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing dependencies..."
  # Not `npm ci`: npm 11 leaves workerd's optional per-platform packages out of the lock file and
  # then refuses it; `npm install` installs the same locked versions.
  npm install --no-audit --no-fund --loglevel=error
  # Hashed after the install: should npm still rewrite the lock (a new npm, another platform),
  # the next run must not install everything again.
  sha256sum package-lock.json | cut -d' ' -f1 > "$stamp"
fi
