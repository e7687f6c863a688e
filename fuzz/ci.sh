#!/usr/bin/env bash
# Fuzzing in CI: build the libFuzzer target, replay what is committed, then explore.
#
#   fuzz/ci.sh                  from anywhere; works on stable (no sanitizer)
#
# 1. installs cargo-fuzz if missing (`cargo install --locked cargo-fuzz`, a few minutes);
# 2. builds the multiplexed target `run` (`cargo fuzz build -s none run`: release, with
#    debug assertions and overflow checks);
# 3. replays fuzz/corpus/ and fuzz/regressions/ through it once (`-runs=0`; files under
#    `<dir>/<oracle>/` with that oracle pinned) — deterministic, this is the gate;
# 4. fuzzes every oracle of elastickv_fuzz::ORACLES, pinned with FUZZER=<oracle>, for
#    FUZZ_SECONDS each (default 60; HARNESS_DEPTH=deep: 600), FUZZ_JOBS at a time (default:
#    the number of cores), starting from the committed corpus. New inputs go to a scratch
#    corpus (FUZZ_SCRATCH, default a temporary directory) so fuzz/corpus/ is never written.
#
# Any crash, leak of a panic, timeout (FUZZ_TIMEOUT s per input, default 60) or
# out-of-memory (FUZZ_RSS_MB, default 2048) fails the script. The input is kept as
# fuzz/artifacts/run/<oracle>/crash-<sha1> (upload it from CI), and the script prints how to
# turn it into a regression test under fuzz/regressions/<oracle>/. Executions per oracle
# come from libFuzzer's final stats (-print_final_stats=1).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${HARNESS_DEPTH:-}" = deep ]; then default_seconds=600; else default_seconds=60; fi
seconds="${FUZZ_SECONDS:-$default_seconds}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
timeout="${FUZZ_TIMEOUT:-60}"
rss_mb="${FUZZ_RSS_MB:-2048}"
scratch="${FUZZ_SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/ekv-fuzz.XXXXXX")}"
artifacts="fuzz/artifacts/run"
stamp="$scratch/started"
touch "$stamp"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi
echo "fuzz: $(cargo fuzz --version)"

# The oracles, in selector order, from the table in fuzz/src/lib.rs.
mapfile -t oracles < <(
  sed -n '/^pub const ORACLES/,/^];/p' fuzz/src/lib.rs | sed -n 's/^ *("\([a-z0-9_]*\)",.*/\1/p'
)
if [ "${#oracles[@]}" = 0 ]; then
  echo "fuzz: found no oracles in fuzz/src/lib.rs" >&2
  exit 2
fi
echo "fuzz: oracles: ${oracles[*]}"

echo "fuzz: building (cargo fuzz build -s none run)"
build_started=$SECONDS
cargo fuzz build -s none run
echo "fuzz: built in $((SECONDS - build_started))s"
host="$(rustc -vV | sed -n 's/^host: //p')"
bin="${CARGO_TARGET_DIR:-target}/$host/release/run"
[ -x "$bin" ] || { echo "fuzz: no fuzz binary at $bin" >&2; exit 2; }

how_to_regress() { # oracle artifact
  cat <<EOF

  finding in oracle '$1': $2
  reproduce:   FUZZER=$1 cargo run -p elastickv-fuzz --bin run -- $2
  minimise:    FUZZER=$1 cargo fuzz tmin -s none run $2
  regression:  cp <minimised file> fuzz/regressions/$1/<what-it-breaks>
               and name it in the \`regressions!\` list of fuzz/tests/corpus_replay.rs
               (a named \`cargo test -p elastickv-fuzz\` test from then on; commit it with the fix)
EOF
}

# --- 1. replay: every committed input once --------------------------------------------------
mkdir -p "$artifacts/replay"
replay() { # label dir [oracle]
  local label="$1" dir="$2" oracle="${3:-}" log="$scratch/replay-${1//\//-}.log"
  local empty="$scratch/replay-empty"
  mkdir -p "$empty"
  # An empty scratch directory comes first: libFuzzer only ever writes to the first one.
  if ! env ${oracle:+FUZZER=$oracle} "$bin" -runs=0 -timeout="$timeout" -rss_limit_mb="$rss_mb" \
      -artifact_prefix="$artifacts/replay/" "$empty" "$dir" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "fuzz: replay of $dir FAILED" >&2
    return 1
  fi
  echo "fuzz: replayed $label: $(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 || echo '?')"
}
replay_failed=0
for root in fuzz/corpus fuzz/regressions; do
  [ -d "$root" ] || continue
  # Files directly under the root are routed by their first byte.
  if find "$root" -maxdepth 1 -type f ! -name '*.md' | grep -q .; then
    flat="$scratch/flat-$(basename "$root")"
    mkdir -p "$flat"
    find "$root" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$flat/" \;
    replay "$(basename "$root")" "$flat" || replay_failed=1
  fi
  for dir in "$root"/*/; do
    [ -d "$dir" ] || continue
    name="$(basename "$dir")"
    if printf '%s\n' "${oracles[@]}" | grep -qx "$name"; then
      replay "$(basename "$root")/$name" "$dir" "$name" || replay_failed=1
    else
      replay "$(basename "$root")/$name" "$dir" || replay_failed=1
    fi
  done
done
if [ "$replay_failed" != 0 ]; then
  while IFS= read -r f; do how_to_regress "(see the log above)" "$f"; done \
    < <(find "$artifacts/replay" -type f -newer "$stamp")
  exit 1
fi

# --- 2. explore: each oracle for a fixed budget ---------------------------------------------
fuzz_one() { # oracle
  local oracle="$1" corpus="$scratch/corpus-$1" log="$scratch/fuzz-$1.log"
  local seeds=(fuzz/corpus/run)
  [ -d "fuzz/corpus/$oracle" ] && seeds+=("fuzz/corpus/$oracle")
  mkdir -p "$corpus" "$artifacts/$oracle"
  FUZZER="$oracle" "$bin" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout="$timeout" -rss_limit_mb="$rss_mb" -artifact_prefix="$artifacts/$oracle/" \
    "$corpus" "${seeds[@]}" >"$log" 2>&1
}

echo "fuzz: ${seconds}s per oracle, $jobs at a time (scratch corpus: $scratch)"
declare -A pid_of
for oracle in "${oracles[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$oracle" &
  pid_of[$oracle]=$!
done

failed=()
printf '\n%-16s %12s %10s %8s  %s\n' oracle executions exec/s rss_mb result
for oracle in "${oracles[@]}"; do
  status=0
  wait "${pid_of[$oracle]}" || status=$?
  log="$scratch/fuzz-$oracle.log"
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  result=ok
  if [ "$status" != 0 ]; then result="FAILED (exit $status)"; failed+=("$oracle"); fi
  printf '%-16s %12s %10s %8s  %s\n' "$oracle" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$(stat peak_rss_mb)" "$result"
done

if [ "${#failed[@]}" != 0 ]; then
  for oracle in "${failed[@]}"; do
    echo
    echo "---- $oracle: last lines of the libFuzzer log"
    tail -n 40 "$scratch/fuzz-$oracle.log"
    while IFS= read -r f; do how_to_regress "$oracle" "$f"; done \
      < <(find "$artifacts/$oracle" -type f -newer "$stamp")
  done
  echo
  echo "fuzz: FAILED: ${failed[*]} (inputs kept under $artifacts/)" >&2
  exit 1
fi
new="$(find "$scratch" -path "$scratch/corpus-*" -type f | wc -l)"
echo
echo "fuzz: OK, $new new corpus inputs in $scratch (not committed; minimise with cargo fuzz cmin)"
