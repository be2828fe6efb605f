#!/usr/bin/env bash
# Side-by-side benchmark of kafkit against librdkafka (rdkafka crate), the Java client
# (kafka-producer-perf-test / kafka-consumer-perf-test) and krafka, on one local broker.
#
#   bench/peers.sh [--reps 5] [--records 500000] [--workloads produce-none,...] ...
#
# Builds what it needs into the build folder ($CARGO_TARGET_DIR, else ./target): the
# kafka-launcher, the `peer` binary of bench-peers/ (its own workspace, with librdkafka
# vendored: needs cmake, a C compiler, OpenSSL headers for its TLS and libcurl's headers),
# the Java tools' jars (Maven) and KafkitTxnPeer (javac), and a Python venv with matplotlib
# for the chart; then runs bench/peers.py, which prints the table and writes
# results.md, results.json and chart.png under $TARGET/bench-peers/<time>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
target="$CARGO_TARGET_DIR"

# librdkafka 2.12.1 (rdkafka-sys 4.10, the first with KIP-848's consumer protocol out of
# preview) includes <curl/curl.h> in its cmake build even with curl off (an #ifdef on a
# define that is 0): the headers must be there, though nothing of curl is used or linked.
if ! echo '#include <curl/curl.h>' | "${CC:-cc}" -E -x c - >/dev/null 2>&1; then
  echo "librdkafka's build needs libcurl's headers (Debian/Ubuntu: apt-get install libcurl4-openssl-dev)" >&2
  exit 1
fi
echo "building kafka-launcher, java-tools and peer (release) ..." >&2
(cd "$root" && cargo build --release -q -p kafkit-testkit --bin kafka-launcher --bin java-tools)
(cd "$root/bench-peers" && cargo build --release -q --bin peer)

# The Java tools: org.apache.kafka:kafka-tools (KAFKA_TOOLS_VERSION in testkit/src/java_tools.rs,
# 4.3.1: the broker's 4.4.0 was not on Maven Central as a tools artifact when the benchmarks
# began) resolved by Maven, and KafkitTxnPeer (testkit/java/, the transactional Java producer
# of produce-txn) compiled by javac, both into the build folder the tests use too.
java_cp="$("$target/release/java-tools" | sed -n 's/^classpath=//p')"
[ -n "$java_cp" ] || { echo "java-tools printed no class path" >&2; exit 1; }

venv="$target/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "creating $venv with matplotlib ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q matplotlib
fi

exec "$venv/bin/python" "$root/bench/peers.py" --target "$target" --java-classpath "$java_cp" "$@"
