#!/usr/bin/env bash
# Runs the service: builds the dashboard when it is missing or older than its sources, then
# starts the server (release build). Configure with environment variables (README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f frontend/dist/index.html ] ||
   [ -n "$(find frontend/src frontend/index.html frontend/package-lock.json -newer frontend/dist/index.html -print -quit)" ]; then
  [ -d frontend/node_modules ] || npm --prefix frontend ci --no-audit --no-fund
  npm --prefix frontend run build
fi
exec cargo run --release --locked --bin speedometer
