#!/usr/bin/env bash
# Whole-command pack and unpack throughput against `tar | zstd` on the same tree, as
# ratios measured in one run.
#
#   benches/archive-vs-tar.sh [TREE]
#
# Without TREE, generates one with `elastickv-snapshot generate --profile redis-mixed
# --scale ${ARCHIVE_SCALE:-0.2} --tree` (a decoded Redis tree, tens of thousands of small
# files); `ARCHIVE_PROFILE=s3-large` gives a tree of large objects instead. Then
# ${ARCHIVE_RUNS:-5} rounds, each running every command once in turn (so a shared or
# busy machine slows both sides of a ratio alike), under /usr/bin/time (wall seconds,
# peak RSS):
#
#   pack-zstd     ours: archive pack --input TREE --output X.tar.zst
#       vs        tar -cf - -C TREE . | zstd -3 -q -o Y.tar.zst   (GNU tar, zstd CLI)
#   pack-none     ours: archive pack --input TREE --output X.tar --compression none
#       vs        tar -cf Y.tar -C TREE .
#   unpack-zstd   ours: archive unpack --input X.tar.zst --output DIR
#       vs        zstd -d -c X.tar.zst | tar -xf - -C DIR
#   unpack-none   ours: archive unpack --input X.tar --output DIR --compression none
#       vs        tar -xf X.tar -C DIR
#
# and prints per pair the median wall times, their ratio tar / ours (> 1: ours is
# faster), the median CPU seconds (user + sys, all processes of the side; steadier than
# wall on a busy machine) and the largest peak RSS. Ours does more than tar: pack verifies every file
# against CHECKSUMS (hashing it as it is read), unpack verifies the unpacked tree.
# The work directory is on tmpfs when /dev/shm exists (ARCHIVE_DIR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p elastickv-snapshot --bin elastickv-snapshot
bin="${ARCHIVE_BIN:-$PWD/target/release/elastickv-snapshot}"
base="${ARCHIVE_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo /var/tmp )}"
work="$(mktemp -d "$base/ekv-archive-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="${1:-}"
if [ -z "$tree" ]; then
  tree="$work/tree"
  "$bin" generate --profile "${ARCHIVE_PROFILE:-redis-mixed}" --scale "${ARCHIVE_SCALE:-0.2}" \
    --tree "$tree" >/dev/null
fi
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
echo "tree: $files files, $bytes content bytes; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
runs="${ARCHIVE_RUNS:-5}"

# The reference archives unpack reads, made once.
"$bin" archive pack --input "$tree" --output "$work/ref.tar.zst" 2>/dev/null
"$bin" archive pack --input "$tree" --output "$work/ref.tar" --compression none 2>/dev/null

names=(pack-zstd pack-none unpack-zstd unpack-none)
ours=(
  "'$bin' archive pack --input '$tree' --output '$work/out.tar.zst'"
  "'$bin' archive pack --input '$tree' --output '$work/out.tar' --compression none"
  "'$bin' archive unpack --input '$work/ref.tar.zst' --output '$work/out.d'"
  "'$bin' archive unpack --input '$work/ref.tar' --output '$work/out.d' --compression none"
)
theirs=(
  "tar -cf - -C '$tree' . | zstd -3 -q -o '$work/out.tar.zst'"
  "tar -cf '$work/out.tar' -C '$tree' ."
  "mkdir '$work/out.d' && zstd -d -q -c '$work/ref.tar.zst' | tar -xf - -C '$work/out.d'"
  "mkdir '$work/out.d' && tar -xf '$work/ref.tar' -C '$work/out.d'"
)

# One timed run of "$1": appends "wall rss user sys" to file $2.
timed() {
  rm -rf "$work/out.tar.zst" "$work/out.tar" "$work/out.d"
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" bash -c "$1" >/dev/null 2>&1
  cat "$work/time" >> "$2"
}

for _ in $(seq "$runs"); do
  for i in "${!names[@]}"; do
    timed "${ours[$i]}" "$work/ours.$i"
    timed "${theirs[$i]}" "$work/theirs.$i"
  done
done

median() { cut -d' ' -f1 "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
maxrss() { cut -d' ' -f2 "$1" | sort -n | tail -1; }
cpu() { awk '{printf "%.2f\n", $3 + $4}' "$1" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
printf '%-12s %9s %9s %7s %9s %9s %12s %12s\n' case ours_s tar_s ratio ours_cpu tar_cpu ours_KiB tar_KiB
for i in "${!names[@]}"; do
  o=$(median "$work/ours.$i") t=$(median "$work/theirs.$i")
  printf '%-12s %9s %9s %7s %9s %9s %12s %12s\n' "${names[$i]}" "$o" "$t" \
    "$(awk -v o="$o" -v t="$t" 'BEGIN {printf "%.2f", (o > 0 ? t / o : 0)}')" \
    "$(cpu "$work/ours.$i")" "$(cpu "$work/theirs.$i")" \
    "$(maxrss "$work/ours.$i")" "$(maxrss "$work/theirs.$i")"
done
echo "(medians of $runs alternating rounds; ratio = tar / ours, > 1 means ours is faster;"
echo " cpu = user + sys seconds; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
