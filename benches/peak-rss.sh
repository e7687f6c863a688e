#!/usr/bin/env bash
# Wall time and peak memory of the release CLI on every generated profile, next to
# `cp -r` of the same tree measured in the same run.
#
#   benches/peak-rss.sh                      every profile at scale 1, then the big run
#   PEAK_RSS_BIG=0 benches/peak-rss.sh       scale 1 only (about 10 minutes on 2 cores)
#   PEAK_RSS_PROFILES="mixed" PEAK_RSS_BIG=0 benches/peak-rss.sh
#
# For each profile of PEAK_RSS_PROFILES (default: redis-mixed ddb-items s3-large
# sqs-messages mixed) at PEAK_RSS_SCALE (default 1), then — unless PEAK_RSS_BIG=0 — for
# `mixed` at PEAK_RSS_BIG_SCALE (default 1.25) with PEAK_RSS_GIANT (default 500000) Redis
# giant collections (one hash, list and set of that many elements, a zset of half and a
# stream of a fifth: the case a decoder that buffers a key would blow up on), which must
# come to at least PEAK_RSS_MIN_BYTES (default 2 GiB), it runs each step in a child
# process under /usr/bin/time -v, with the CLI's default memory settings and adapters
# (all four; no --adapter flag):
#
#   generate           elastickv-snapshot generate --profile P --scale … --fsm S
#   decode             elastickv-snapshot decode --input S --output T
#   cp -r              cp -r T C                  (the baseline: copying the same tree)
#   encode             elastickv-snapshot encode --input T --output E
#   encode-self-test   elastickv-snapshot encode --input T --output F --self-test
#
# and checks that encode gives back the generated snapshot byte for byte (every profile
# is stored as the encoder stores it; cli/tests/profiles_round_trip.rs checks the same
# at small scale). It prints wall time and peak RSS per profile and step, and exits 1 if a
# step fails, a round trip differs, or decode, encode or the self-test peaks above
# PEAK_RSS_BOUND_MIB (default 256: the README's promise, whatever the input size).
#
# Needs about six times the largest snapshot of free disk in PEAK_RSS_DIR (default: a new
# directory under /var/tmp; each profile's files are removed before the next, the
# directory at the end unless KEEP=1): ~15 GB for the big run, which takes 30-60 minutes
# on 2 cores. Timings are only comparable within one run: on a shared machine compare each
# step with the `cp -r` next to it. Not part of .ci/run (too slow); run it before a release.
set -euo pipefail
cd "$(dirname "$0")/.."

profiles="${PEAK_RSS_PROFILES:-redis-mixed ddb-items s3-large sqs-messages mixed}"
scale="${PEAK_RSS_SCALE:-1}"
big="${PEAK_RSS_BIG:-1}"
big_scale="${PEAK_RSS_BIG_SCALE:-1.25}"
giant="${PEAK_RSS_GIANT:-500000}"
bound_mib="${PEAK_RSS_BOUND_MIB:-256}"
min_bytes="${PEAK_RSS_MIN_BYTES:-2147483648}"
work="${PEAK_RSS_DIR:-$(mktemp -d /var/tmp/ekv-peak-rss.XXXXXX)}"
mkdir -p "$work"
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

if [ ! -x /usr/bin/time ]; then
  echo "peak-rss: installing GNU time"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null; fi
fi

cargo build --release --locked -q -p elastickv-snapshot --bin elastickv-snapshot
cli="${CARGO_TARGET_DIR:-target}/release/elastickv-snapshot"

report="$work/report.txt"
printf '%-28s %-17s %9s %13s %9s  %s\n' run step "wall s" "peak RSS MiB" "bound" result >"$report"
failed=0

# measure RUN STEP BOUND CMD… : runs CMD under /usr/bin/time -v and appends a report row.
measure() {
  local run="$1" step="$2" bound="$3"; shift 3
  local log="$work/$step.log" rc=0
  echo "peak-rss: $run: $step: $*"
  /usr/bin/time -v -o "$work/$step.time" "$@" >"$log" 2>&1 || rc=$?
  tail -n 2 "$log" | sed 's/^/    /'
  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" → seconds
  local wall kib mib result=ok
  wall="$(awk '/Elapsed \(wall clock\)/ { print $NF }' "$work/$step.time" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')"
  kib="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$step.time")"
  mib="$(awk -v k="${kib:-0}" 'BEGIN { printf "%.1f", k / 1024 }')"
  if [ "$rc" != 0 ]; then
    result="FAILED (exit $rc): $(tail -n 1 "$log")"; failed=1
  elif [ "$bound" != - ] && [ "${kib:-0}" -gt $((bound * 1024)) ]; then
    result="OVER BOUND"; failed=1
  fi
  printf '%-28s %-17s %9s %13s %9s  %s\n' "$run" "$step" "$wall" "$mib" "$bound" "$result" >>"$report"
}

# profile RUN PROFILE SCALE GIANT [MIN_BYTES]: the five steps and the round-trip check.
profile() {
  local run="$1" name="$2" at="$3" giant_n="$4" min="${5:-0}"
  local fsm="$work/$name.fsm" tree="$work/tree" copy="$work/copy"
  rm -rf "$tree" "$copy" "$work"/*.fsm "$work"/*.fsm.*
  measure "$run" generate - "$cli" generate --profile "$name" --scale "$at" \
    --giant "$giant_n" --fsm "$fsm"
  local bytes
  bytes="$(stat -c %s "$fsm")"
  if [ "$bytes" -lt "$min" ]; then
    echo "peak-rss: $run has $bytes bytes, fewer than $min; raise PEAK_RSS_BIG_SCALE" >&2
    failed=1
    return
  fi
  measure "$run" decode "$bound_mib" "$cli" decode --input "$fsm" --output "$tree"
  measure "$run" "cp -r" - cp -r "$tree" "$copy"
  rm -rf "$copy"
  measure "$run" encode "$bound_mib" "$cli" encode --input "$tree" --output "$work/e.fsm"
  local round_trip="encode(decode) == generate"
  if ! cmp -s "$fsm" "$work/e.fsm"; then round_trip="encode(decode) DIFFERS"; failed=1; fi
  rm -f "$work/e.fsm" "$work/e.fsm.encode_info.json"
  measure "$run" encode-self-test "$bound_mib" "$cli" encode --input "$tree" \
    --output "$work/s.fsm" --self-test
  printf '%-28s %s: %s bytes (%s GiB), %s files in the tree; %s\n' "$run" snapshot "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 2^30 }')" \
    "$(find "$tree" -type f | wc -l)" "$round_trip" >>"$report"
  rm -rf "$tree" "$work"/*.fsm "$work"/*.fsm.*
}

for name in $profiles; do
  profile "$name@$scale" "$name" "$scale" 0
done
if [ "$big" != 0 ]; then
  profile "mixed@$big_scale+giant$giant" mixed "$big_scale" "$giant" "$min_bytes"
fi

echo
echo "peak-rss: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
cat "$report"
if [ "$failed" != 0 ]; then
  KEEP=1
  exit 1
fi
