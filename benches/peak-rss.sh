#!/usr/bin/env bash
# Peak memory of the release CLI on a generated snapshot of at least 1 GiB.
#
#   benches/peak-rss.sh
#
# Generates a `redis-mixed` snapshot with `elastickv-snapshot generate` (the profile is
# proptests/src/workload/redis.rs: scale PEAK_RSS_SCALE, default 5 = 1M strings of 16–512
# bytes, 100k hashes/lists/sets of 10, 50k zsets of 10, 10k streams of 20, plus one hash,
# list and set of PEAK_RSS_GIANT (default 500k) elements, a zset of half and a stream of a
# fifth as many: ≈ 1.1 GB, 1.36M keys), then runs, each in a child process under
# /usr/bin/time -v:
#
#   generate           elastickv-snapshot generate --profile redis-mixed --scale … --giant … --fsm S
#   decode             elastickv-snapshot decode --adapter redis --input S --output T
#   encode             elastickv-snapshot encode --adapter redis --input T --output E
#   encode-self-test   elastickv-snapshot encode --adapter redis --input T --output F --self-test
#
# with the CLI's default memory settings, prints wall time and peak RSS per step, and exits
# 1 if any step fails or peaks above PEAK_RSS_BOUND_MIB (default 512: the README's promise,
# whatever the input size). Needs ~15 GB of free disk in PEAK_RSS_DIR (default: a new
# directory under /var/tmp, removed afterwards unless KEEP=1) and about 10 minutes on 2 cores.
# Not part of .ci/run (too slow); run it before a release.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${PEAK_RSS_SCALE:-5}"
giant="${PEAK_RSS_GIANT:-500000}"
bound_mib="${PEAK_RSS_BOUND_MIB:-512}"
min_bytes="${PEAK_RSS_MIN_BYTES:-1073741824}"
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
bin="${CARGO_TARGET_DIR:-target}/release"

# measure NAME CMD… : runs CMD under /usr/bin/time -v, output in $work/NAME.log.
declare -A wall rss status
measure() {
  local name="$1"; shift
  local log="$work/$name.log" rc=0
  echo "peak-rss: $name: $*"
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$log" 2>&1 || rc=$?
  status[$name]=$rc
  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" → seconds
  wall[$name]="$(awk '/Elapsed \(wall clock\)/ { print $NF }' "$work/$name.time" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')"
  rss[$name]="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.time")"
  tail -n 3 "$log" | sed 's/^/    /'
}

snapshot="$work/redis-mixed.fsm"
measure generate "$bin/elastickv-snapshot" generate --profile redis-mixed \
  --scale "$scale" --giant "$giant" --fsm "$snapshot"
bytes="$(stat -c %s "$snapshot")"
if [ "$bytes" -lt "$min_bytes" ]; then
  echo "peak-rss: the snapshot has $bytes bytes, fewer than $min_bytes; raise PEAK_RSS_SCALE" >&2
  exit 2
fi

measure decode "$bin/elastickv-snapshot" decode --adapter redis \
  --input "$snapshot" --output "$work/tree"
measure encode "$bin/elastickv-snapshot" encode --adapter redis \
  --input "$work/tree" --output "$work/encoded.fsm"
rm -f "$work/encoded.fsm"
measure encode-self-test "$bin/elastickv-snapshot" encode --adapter redis \
  --input "$work/tree" --output "$work/self-tested.fsm" --self-test

echo
echo "snapshot: $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 2^30 }') GiB), scale $scale, giant $giant"
printf '%-18s %10s %14s %12s  %s\n' step "wall s" "peak RSS MiB" "bound MiB" result
failed=0
for name in generate decode encode encode-self-test; do
  mib="$(awk -v k="${rss[$name]:-0}" 'BEGIN { printf "%.1f", k / 1024 }')"
  result=ok
  bound="$bound_mib"
  if [ "$name" = generate ]; then bound="-"; fi
  if [ "${status[$name]}" != 0 ]; then
    result="FAILED (exit ${status[$name]}, see $work/$name.log)"; failed=1
  elif [ "$bound" != - ] && [ "${rss[$name]:-0}" -gt $((bound_mib * 1024)) ]; then
    result="OVER BOUND"; failed=1
  fi
  printf '%-18s %10s %14s %12s  %s\n' "$name" "${wall[$name]}" "$mib" "$bound" "$result"
done
if [ "$failed" != 0 ]; then
  KEEP=1
  exit 1
fi
