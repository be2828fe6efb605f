#!/usr/bin/env bash
# The cluster fault scenarios of tests/scenarios/ at full size (KAFKIT_SCENARIO_SIZE=full:
# 200,000 records under leader kills, ...), RUNS times in a row (default 3, as issue 15
# asks), one scenario at a time. Stops at the first failing run. Every run's SCENARIO lines
# (counts and wall time) are appended to $TARGET/scenarios/<time>/report.txt, each run's
# full output kept beside it.
#
#   bench/scenarios.sh [RUNS] [TEST-NAME-FILTER]
#
# KAFKIT_TEST_KAFKA_VERSION picks the broker release as for every suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
runs="${1:-3}"
filter="${2:-}"
out="$CARGO_TARGET_DIR/scenarios/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
export KAFKIT_SCENARIO_SIZE=full
export KAFKIT_SCENARIO_REPORT="$out/report.txt"
cd "$root"
cargo test --release --test scenarios --no-run
for run in $(seq 1 "$runs"); do
  echo "== run $run of $runs" | tee -a "$KAFKIT_SCENARIO_REPORT"
  start=$(date +%s)
  if ! cargo test --release --test scenarios -- --test-threads=1 --nocapture $filter \
      > "$out/run-$run.log" 2>&1; then
    tail -n 60 "$out/run-$run.log"
    echo "run $run failed; output in $out/run-$run.log" >&2
    exit 1
  fi
  echo "run $run passed in $(( $(date +%s) - start )) s" | tee -a "$KAFKIT_SCENARIO_REPORT"
done
echo "all $runs runs passed; report: $KAFKIT_SCENARIO_REPORT"
cat "$KAFKIT_SCENARIO_REPORT"
