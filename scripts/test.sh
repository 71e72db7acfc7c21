#!/bin/sh
# `npm test`: the whole suite on a fresh clone. Sets up what it needs (system packages, npm ci), then
# lints/type-checks, builds, and runs every test with node's built-in test runner.
set -e
cd "$(dirname "$0")/.."
sh scripts/ensure-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent check
npm run --silent build
# Load and browser tests open many sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node --import tsx --test --test-concurrency=2 --test-timeout=120000 $(find test -name '*.test.ts' | sort)
