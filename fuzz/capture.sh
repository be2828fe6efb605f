#!/usr/bin/env bash
# Seeds the `responses` fuzz target's corpus with real broker answers: starts one Apache Kafka
# broker with the testkit's launcher, runs kafkit's examples and the kafkit tool against it with
# KAFKIT_FUZZ_CAPTURE set (feature `fuzzing`; a transactional copy among them), and keeps up
# to three responses per API and version, each at most 64 KiB, in fuzz/seeds/responses/ (and
# pairs of Metadata responses in fuzz/seeds/metadata_apply/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/seeds/responses
raw=$(mktemp -d)
target=${CARGO_TARGET_DIR:-target}

cargo build -q -p kafkit-testkit --bin kafka-launcher
cargo build -q --features fuzzing --examples
cargo build -q -p kafkit-cli --features kafkit/fuzzing
launcher_out=$(mktemp)
"$target/debug/kafka-launcher" --nodes 1 --ignore-stdin > "$launcher_out" &
launcher=$!
trap 'kill $launcher 2>/dev/null || true; rm -rf "$raw" "$launcher_out"' EXIT
for _ in $(seq 1 180); do
  grep -q '^bootstrap=' "$launcher_out" && break
  sleep 1
done
bootstrap=$(sed -n 's/^bootstrap=//p' "$launcher_out")
[ -n "$bootstrap" ] || { echo "the launcher printed no bootstrap address" >&2; exit 1; }

export KAFKIT_FUZZ_CAPTURE=$raw
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$target/debug/examples/first_message" > /dev/null
printf 'k1:a\nk2:b\nk3:c\n' | "$target/debug/kafkit" -b "$bootstrap" produce -t capture -K :
"$target/debug/kafkit" -b "$bootstrap" consume -t capture --group capture-group --from-beginning \
  -c 3 --timeout 30s > /dev/null
# A transaction under transaction version 2, as Kafka 4 runs it (FindCoordinator for it,
# InitProducerId, TxnOffsetCommit, EndTxn).
"$target/debug/examples/transactional_copier" --bootstrap-server "$bootstrap" \
  --input-topic capture --output-topic capture-copy --transactional-id capture-copier \
  --group-id capture-copier > /dev/null
# The same under transaction version 1 (AddPartitionsToTxn, AddOffsetsToTxn, and the
# versions of EndTxn and TxnOffsetCommit before KIP-890), on a broker formatted so.
tv1_out=$(mktemp)
"$target/debug/kafka-launcher" --nodes 1 --feature transaction.version=1 --ignore-stdin \
  > "$tv1_out" &
tv1=$!
trap 'kill $launcher $tv1 2>/dev/null || true; rm -rf "$raw" "$launcher_out" "$tv1_out"' EXIT
for _ in $(seq 1 180); do
  grep -q '^bootstrap=' "$tv1_out" && break
  sleep 1
done
tv1_bootstrap=$(sed -n 's/^bootstrap=//p' "$tv1_out")
[ -n "$tv1_bootstrap" ] || { echo "the version 1 launcher printed no bootstrap address" >&2; exit 1; }
printf 'k1:a\nk2:b\nk3:c\n' | "$target/debug/kafkit" -b "$tv1_bootstrap" produce -t capture -K :
"$target/debug/examples/transactional_copier" --bootstrap-server "$tv1_bootstrap" \
  --input-topic capture --output-topic capture-copy --transactional-id capture-copier \
  --group-id capture-copier > /dev/null
kill $tv1
"$target/debug/examples/producer_perf" --topic capture-perf --num-records 2000 \
  --record-size 100 --throughput -1 \
  --producer-props "bootstrap.servers=$bootstrap" compression.type=lz4 > /dev/null
unset KAFKIT_FUZZ_CAPTURE

mkdir -p "$out"
for prefix in $(ls "$raw" | sed 's/-[0-9a-f]*\.bin$//' | sort -u); do
  ls "$raw/$prefix"-*.bin | head -n 3 | while read -r f; do
    [ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$out/"
  done
done
echo "seeded $(ls "$out" | wc -l) responses into $out"
# metadata_apply takes [length of the first response] + first + second.
mkdir -p fuzz/seeds/metadata_apply
python3 - "$out" fuzz/seeds/metadata_apply <<'PY'
import pathlib, sys
frames = [p.read_bytes()[2:] for p in sorted(pathlib.Path(sys.argv[1]).glob("Metadata-*.bin"))]
for i, first in enumerate(frames):
    second = frames[(i + 1) % len(frames)]
    if len(first) <= 255:
        pathlib.Path(sys.argv[2], f"pair-{i}.bin").write_bytes(bytes([len(first)]) + first + second)
PY
