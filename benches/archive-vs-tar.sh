#!/usr/bin/env bash
# Whole-command pack throughput against `tar -c | zstd` on the same tree, in one run.
#
#   benches/archive-vs-tar.sh [TREE]
#
# Without TREE, generates one with `elastickv-snapshot generate --profile redis-mixed
# --scale ${ARCHIVE_SCALE:-0.2} --tree` (a decoded Redis tree, tens of thousands of
# files). Then, each under /usr/bin/time (wall seconds, peak RSS), best of
# ${ARCHIVE_RUNS:-3}:
#
#   ours-zstd   elastickv-snapshot archive pack --input TREE --output X.tar.zst
#   tar-zstd    tar -cf - -C TREE . | zstd -3 -q -o Y.tar.zst        (GNU tar, zstd CLI)
#   ours-none   elastickv-snapshot archive pack --input TREE --output X.tar --compression none
#   tar-none    tar -cf Y.tar -C TREE .
#
# and prints the ratio tar-time / ours-time (> 1: ours is faster). Note that ours also
# verifies every CHECKSUMS row (hashes every file) before packing; tar does not.
# The tree lives on tmpfs when /dev/shm exists (ARCHIVE_DIR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p elastickv-snapshot --bin elastickv-snapshot
bin="$PWD/target/release/elastickv-snapshot"
base="${ARCHIVE_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo /var/tmp )}"
work="$(mktemp -d "$base/ekv-archive-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="${1:-}"
if [ -z "$tree" ]; then
  tree="$work/tree"
  "$bin" generate --profile redis-mixed --scale "${ARCHIVE_SCALE:-0.2}" --tree "$tree" >/dev/null
fi
files=$(find "$tree" -type f | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "tree: $files files, $bytes bytes (du)"
runs="${ARCHIVE_RUNS:-3}"

# best wall time (and its peak RSS) of $runs runs of "$@"
measure() {
  local best="" rss=""
  for _ in $(seq "$runs"); do
    rm -f "$work"/out.*
    /usr/bin/time -f "%e %M" -o "$work/time" bash -c "$1" >/dev/null 2>&1
    read -r t m < "$work/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
  done
  echo "$best $rss"
}

read -r oz oz_rss < <(measure "'$bin' archive pack --input '$tree' --output '$work/out.ours.tar.zst'")
read -r tz tz_rss < <(measure "tar -cf - -C '$tree' . | zstd -3 -q -o '$work/out.tar.tar.zst'")
read -r on on_rss < <(measure "'$bin' archive pack --input '$tree' --output '$work/out.ours.tar' --compression none")
read -r tn tn_rss < <(measure "tar -cf '$work/out.tar.tar' -C '$tree' .")
printf '%-10s %8s s %8s KiB peak RSS\n' ours-zstd "$oz" "$oz_rss" tar-zstd "$tz" "$tz_rss" \
  ours-none "$on" "$on_rss" tar-none "$tn" "$tn_rss"
awk -v a="$tz" -v b="$oz" -v c="$tn" -v d="$on" \
  'BEGIN{printf "ratio tar|zstd / ours (zstd): %.2f\nratio tar / ours (none): %.2f\n", a/b, c/d}'
