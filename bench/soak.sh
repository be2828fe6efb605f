#!/usr/bin/env bash
# The soak of issue 15 (tests/soak/): 30 minutes of produce + group consume on a
# three-node cluster with a fault every 30 s, this process's memory sampled every 10 s; it
# fails if the checks find anything, if an anonymous-RSS sample after the first five
# minutes exceeds their peak by more than 1 MiB (one fault's burst), or if the memory after
# them has a trend of more than +512 KiB (see tests/soak/main.rs). Not part of `cargo test`.
#
#   bench/soak.sh [MINUTES] [WARMUP-MINUTES]
#   KAFKIT_SOAK_LEAK_KIB=64 bench/soak.sh 12 5   # the negative control: must fail
#   KAFKIT_SOAK_SITES=4096 bench/soak.sh 12 5   # allocation sites: bench/soak-sites.py DIR
#
# The output and the samples (columns in tests/soak/main.rs) go to $TARGET/soak/<time>/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
export KAFKIT_SOAK_MINUTES="${1:-30}"
export KAFKIT_SOAK_WARMUP_MINUTES="${2:-5}"
out="$CARGO_TARGET_DIR/soak/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
export KAFKIT_SOAK_RSS="$out/rss.txt"
cd "$root"
cargo test --release --test soak --no-run
echo "soak: $KAFKIT_SOAK_MINUTES minutes; output in $out" >&2
cargo test --release --test soak 2>&1 | tee "$out/soak.log"
