#!/usr/bin/env bash
# Fuzzes reading parsing and validation (fuzz/fuzz_targets/parse_reading.rs) with libFuzzer
# through cargo-fuzz, for a bounded time:
#
#   scripts/fuzz.sh            # 600 s
#   scripts/fuzz.sh 60         # 60 s
#
# cargo-fuzz needs nightly features; with only a stable toolchain RUSTC_BOOTSTRAP=1 unlocks
# them. A crash leaves its input under fuzz/artifacts/parse_reading/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/parse_reading
cp -n fuzz/seeds/parse_reading/* fuzz/corpus/parse_reading/ 2>/dev/null || true
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_reading fuzz/corpus/parse_reading -- \
  -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
