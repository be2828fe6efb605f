//! Interop with an independent client: librdkafka, through Python's `confluent-kafka`.
//!
//! For each codec (none, gzip, snappy, lz4, zstd), records kafkit produces are read back
//! unchanged by librdkafka, and records librdkafka produces are read back unchanged by
//! kafkit: keys (null, empty, not UTF-8), values (null, empty, binary), headers (a key
//! twice, null and empty values, in order), partitions, offsets and timestamps. Each test
//! also reads the stored batches' attributes with a raw Fetch (`wire.rs`) to check that the
//! producer really used the codec: a round trip alone would pass with no compression.
//!
//! The Python side is `produce.py` and `consume.py` next to this file. It runs in a venv
//! that `kafkit_testkit::python_with_confluent_kafka` makes under the build folder on first
//! use (pip, a manylinux wheel with librdkafka inside: no C toolchain); it needs `python3`
//! and PyPI. Without them the tests fail and say why; they never skip. The broker is the
//! shared one of `kafkit_testkit::bootstrap_servers`.

mod common;
mod kafkit_to_librdkafka;
mod librdkafka_to_kafkit;
mod read_committed;
mod wire;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
