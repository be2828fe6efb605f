//! The two hashes on the produce path, per byte: murmur2 over a record key (choosing its
//! partition) and CRC32C over a batch (its checksum, computed once per batch).
//!
//! Run with `cargo bench --bench partitioner`. No feature needed: both are public API
//! (`kafkit::partitioner`) or a dependency (`crc32c`), unlike the batch codec in
//! `benches/codec.rs`.
//!
//! The uniform sticky chooser for keyless records is crate-private, so it is not benched on
//! its own; its cost shows up in `producer_perf`, whose records are keyless.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafkit::partitioner::{murmur2, partition_for_key};

/// Key-like bytes (not all zero, so the hash does real mixing), `len` long.
fn key(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"0123456789abcdef-user"[i % 21]).collect()
}

fn murmur2_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("murmur2");
    for len in [16, 100] {
        let key = key(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("hash", len), &key, |b, key| {
            b.iter(|| murmur2(black_box(key)))
        });
        // What the producer computes per keyed record: the hash, sign bit cleared, modulo.
        group.bench_with_input(
            BenchmarkId::new("partition_for_key", len),
            &key,
            |b, key| b.iter(|| partition_for_key(black_box(key), black_box(6))),
        );
    }
    group.finish();
}

fn crc32c_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32c");
    for (len, name) in [(1 << 10, "1KiB"), (16 << 10, "16KiB"), (1 << 20, "1MiB")] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &data, |b, data| {
            b.iter(|| crc32c::crc32c(black_box(data)))
        });
    }
    group.finish();
}

criterion_group!(benches, murmur2_benches, crc32c_benches);
criterion_main!(benches);
