#!/usr/bin/env bash
# Our decode, encode and self-test against the file system's floor (and the Go tools),
# timed in one run, alternating, so the ratios share the machine's mood.
#
#   benches/compare.sh                 redis-mixed at scale 1 in a temporary directory
#   SCALE=0.25 RUNS=5 benches/compare.sh
#   WORK=/dev/shm/ekv benches/compare.sh        measure the code, not the disk
#   PROFILE=ddb-items SCALE=0.25 benches/compare.sh   another generate profile; its adapter
#                                                      (ADAPTER overrides; `mixed`: all four)
#   GO_DECODE=/path/elastickv-snapshot-decode GO_ENCODE=/path/elastickv-snapshot-encode \
#     benches/compare.sh                          add the Go tools to every round
#
# Each round runs: our decode of the generated snapshot, `cp -r` of the decoded tree, our
# encode of that tree, `tar -c tree | cat > /dev/null`, our encode --self-test, and the Go
# tools when given. It prints every median (seconds) and the ratios the product promises
# (decode vs cp -r, encode vs tar, self-test vs encode, Go vs ours). Wall times on a
# shared VM are noisy: compare ratios of one run, never figures of two.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${SCALE:-1}"
runs="${RUNS:-3}"
profile="${PROFILE:-redis-mixed}"
# The adapter the profile writes: decoding another would time an empty tree.
case "$profile" in
  redis-mixed) default_adapter=redis ;;
  ddb-items) default_adapter=dynamodb ;;
  s3-large) default_adapter=s3 ;;
  sqs-messages) default_adapter=sqs ;;
  *) default_adapter= ;;
esac
adapter="${ADAPTER-$default_adapter}"
adapter_flag=()
[ -z "$adapter" ] || adapter_flag=(--adapter "$adapter")
go_adapter_flag=()
[ -z "$adapter" ] || go_adapter_flag=(-adapter "$adapter")
work="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/ekv-compare.XXXXXX")}"
mkdir -p "$work"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

cargo build --release --quiet -p elastickv-snapshot
bin="${CARGO_TARGET_DIR:-target}/release/elastickv-snapshot"

echo "compare: $profile at scale $scale (adapter: ${adapter:-all}), $runs rounds, work in $work"
"$bin" generate --profile "$profile" --scale "$scale" --fsm "$work/in.fsm" --force >/dev/null
"$bin" decode "${adapter_flag[@]}" --input "$work/in.fsm" --output "$work/tree" >/dev/null
echo "compare: $(du -sh "$work/in.fsm" | cut -f1) snapshot, $(find "$work/tree" -type f | wc -l) files in the tree"

declare -A samples
# time_it NAME CMD...: runs CMD once, appends its wall time in seconds to samples[NAME].
time_it() {
  local name="$1"
  shift
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "compare: $name failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  samples[$name]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') "
}

fresh() { rm -rf "$work/out" "$work/out.fsm" "$work/out.fsm".*; sync; }

tar_read() { tar -C "$work" -c tree | cat >/dev/null; }

for round in $(seq 1 "$runs"); do
  echo "compare: round $round"
  fresh; time_it decode "$bin" decode "${adapter_flag[@]}" --input "$work/in.fsm" --output "$work/out"
  fresh; time_it cp_r cp -r "$work/tree" "$work/out"
  fresh; time_it encode "$bin" encode "${adapter_flag[@]}" --input "$work/tree" --output "$work/out.fsm"
  fresh; time_it tar_read tar_read
  fresh; time_it self_test "$bin" encode "${adapter_flag[@]}" --self-test --scratch-root "$work" --input "$work/tree" --output "$work/out.fsm"
  if [ -n "${GO_DECODE:-}" ]; then
    fresh; time_it go_decode "$GO_DECODE" "${go_adapter_flag[@]}" -input "$work/in.fsm" -output "$work/out"
  fi
  if [ -n "${GO_ENCODE:-}" ]; then
    fresh; time_it go_encode "$GO_ENCODE" "${go_adapter_flag[@]}" -input "$work/tree" -output "$work/out.fsm"
    fresh; time_it go_self_test "$GO_ENCODE" "${go_adapter_flag[@]}" -self-test -scratch-root "$work" -input "$work/tree" -output "$work/out.fsm"
  fi
done
fresh

median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "medians (s):"
for name in decode cp_r encode tar_read self_test go_decode go_encode go_self_test; do
  [ -n "${samples[$name]:-}" ] && printf '  %-13s %8.3f   (%s)\n' "$name" "$(median "$name")" "${samples[$name]% }"
done
echo "ratios (lower is better for ours; goals: decode/cp_r <= 1.2, encode/tar <= 1.5, self-test/encode <= 2):"
printf '  decode / cp -r          %s\n' "$(ratio decode cp_r)"
printf '  encode / tar read       %s\n' "$(ratio encode tar_read)"
printf '  self-test / encode      %s\n' "$(ratio self_test encode)"
if [ -n "${samples[go_decode]:-}" ]; then printf '  Go decode / ours        %s (goal >= 3)\n' "$(ratio go_decode decode)"; fi
if [ -n "${samples[go_encode]:-}" ]; then
  printf '  Go encode / ours        %s (goal >= 5)\n' "$(ratio go_encode encode)"
  printf '  Go self-test / ours    %s (goal >= 10)\n' "$(ratio go_self_test self_test)"
fi
