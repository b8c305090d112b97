#!/usr/bin/env bash
# Runs every test: the dashboard's unit tests, then the Rust unit and integration tests (which
# start the real server against a fresh MariaDB database per test and drive the built dashboard
# in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm --prefix frontend test
npm --prefix frontend run build
cargo test --locked "$@"
