#!/usr/bin/env bash
# Builds the admin console (console/dist, served by the local gateway at /console/): npm ci when
# the lockfile changed, then the Vite build. Without npm the API still serves; only the console
# is missing, and this says so.
set -euo pipefail
cd "$(dirname "$0")/../console"

if ! command -v npm >/dev/null; then
  echo "npm is not on PATH, so the console at /console/ is not built (install Node.js 20 with npm; the API serves without it)." >&2
  exit 0
fi
if [[ ! -f node_modules/.clavis-installed || package-lock.json -nt node_modules/.clavis-installed ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.clavis-installed
fi
npm run --silent build > ../target/console-build.log 2>&1 || {
  cat ../target/console-build.log >&2
  echo "the console build failed; its output is above" >&2
  exit 1
}
