#!/usr/bin/env bash
# Peak memory of the release CLI with one value of the largest size the format allows.
#
#   benches/large-value-rss.sh
#
# Runs cli/tests/large_values.rs (which `cargo test` runs with a 64 MiB value) against
# the release binary with a LARGE_VALUE_MIB (default 256) value: a small generated tree
# plus one large string, then plus one large hash field (as text and as base64), each
# step in a child process whose peak RSS (VmHWM) is polled while it runs:
#
#   string encode, encode --self-test, decode of the sorted snapshot, decode of the
#   same entries out of order (through the external sort); hash encode (text and
#   base64 field), hash decode (text and base64 field)
#
# with --sort-memory LARGE_VALUE_SORT_MEMORY (default 16MiB). A step fails above
# LARGE_VALUE_BASE_MIB (default 32) + 1.25 × the value: the value is held once.
# Needs about 2 GB of disk in LARGE_VALUE_DIR (default: the system temp dir)
# and half a minute once built.
set -euo pipefail
cd "$(dirname "$0")/.."

export EKV_LARGE_VALUE_MIB="${LARGE_VALUE_MIB:-256}"
export EKV_LARGE_VALUE_SORT_MEMORY="${LARGE_VALUE_SORT_MEMORY:-16MiB}"
export EKV_LARGE_VALUE_BASE_MIB="${LARGE_VALUE_BASE_MIB:-32}"
if [ -n "${LARGE_VALUE_DIR:-}" ]; then export EKV_LARGE_VALUE_DIR="$LARGE_VALUE_DIR"; fi

cargo test --release --locked -q -p elastickv-snapshot --test large_values -- \
  --nocapture --test-threads 1 2>&1 | grep -oE 'large-value:.*|test result.*|panicked.*|peak RSS over.*'
exit "${PIPESTATUS[0]}"
