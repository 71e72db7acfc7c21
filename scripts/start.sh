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
# A dev machine's demo is for this machine: listen on loopback unless told otherwise (--host, which wins,
# or SSE_BROKER_HOST/HOST). The installed `sse-broker` command itself listens on all interfaces.
if [ -z "${SSE_BROKER_HOST:-}${HOST:-}" ]; then
  export SSE_BROKER_HOST=127.0.0.1
fi
# exec: node is npm's direct child, so the SIGTERM npm forwards reaches the broker and npm exits with the
# broker's code (0 after a clean shutdown); package.json's "start" execs this script for the same reason.
exec node dist/cli/main.js "$@"
