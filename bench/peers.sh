#!/usr/bin/env bash
# Side-by-side benchmark of kafkit against librdkafka (rdkafka crate), the Java client
# (kafka-producer-perf-test / kafka-consumer-perf-test) and krafka, on one local broker.
#
#   bench/peers.sh [--reps 5] [--records 500000] [--workloads produce-none,...] ...
#
# Builds what it needs into the build folder ($CARGO_TARGET_DIR, else ./target): the
# kafka-launcher, the `peer` binary of bench-peers/ (its own workspace, with librdkafka
# vendored: needs cmake, a C compiler and OpenSSL headers for its TLS), the Java tools' jars (Maven), and a Python venv
# with matplotlib for the chart; then runs bench/peers.py, which prints the table and writes
# results.md, results.json and chart.png under $TARGET/bench-peers/<time>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
target="$CARGO_TARGET_DIR"

echo "building kafka-launcher and peer (release) ..." >&2
(cd "$root" && cargo build --release -q -p kafkit-testkit --bin kafka-launcher)
(cd "$root/bench-peers" && cargo build --release -q --bin peer)

# The Java perf tools: org.apache.kafka:kafka-tools 4.3.1, the newest on Maven Central
# (the broker is 4.4.0, which is not on Maven Central as a tools artifact).
tools="$target/kafka-tools-4.3.1"
if [ ! -e "$tools/libs/.complete" ]; then
  echo "resolving kafka-tools 4.3.1 with Maven ..." >&2
  mkdir -p "$tools"
  cat > "$tools/pom.xml" <<'POM'
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkit.bench</groupId>
  <artifactId>kafka-tools-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>4.3.1</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
POM
  rm -rf "$tools/libs"
  mvn -q -B -f "$tools/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tools/libs"
  touch "$tools/libs/.complete"
fi

venv="$target/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "creating $venv with matplotlib ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q matplotlib
fi

exec "$venv/bin/python" "$root/bench/peers.py" --target "$target" "$@"
