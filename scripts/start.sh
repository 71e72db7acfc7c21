#!/bin/sh
# `npm start`: works on a fresh clone. Installs the locked dependencies when missing, builds when the
# sources changed since the last build, then runs the broker with the demo producer on
# http://localhost:8080 (extra arguments go to the CLI: npm start -- --help).
set -e
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# Build only when something tsc reads is newer than the last successful build (directories count: a
# deleted or added file changes its folder's mtime). The stamp is taken before tsc starts, so an edit
# made during the build triggers the next one.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer "$stamp" | head -n 1)" ]; then
  mkdir -p dist
  touch "$stamp.next"
  npm run --silent build
  mv "$stamp.next" "$stamp"
fi
# No host of its own: like the Go example's ":8080" it listens on all interfaces (IPv4 and IPv6), so
# `localhost` works whichever address a client resolves it to; --host/SSE_BROKER_HOST/HOST narrow it.
# exec: node is npm's direct child, so the SIGTERM npm forwards reaches the broker and npm exits with the
# broker's code (0 after a clean shutdown); package.json's "start" execs this script for the same reason.
exec node dist/cli/main.js "$@"
