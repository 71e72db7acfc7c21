#!/bin/sh
# `npm start`: works on a fresh clone. Installs the locked dependencies when missing, builds, then runs the
# broker with the demo producer on http://localhost:8080 (extra arguments go to the CLI: npm start -- --help).
set -e
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
exec node dist/cli/main.js "$@"
