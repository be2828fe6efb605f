//! Record batch encode/decode throughput per codec, against a `memcpy + crc32c` baseline of
//! the same payload bytes: the least any codec path could cost.
//!
//! Each group (`batch/1000x100B`, `batch/100x1KiB`) reports every benchmark in bytes/s of the
//! same payload, so read `encode/none` against `baseline_memcpy_crc32c` side by side: the gap
//! is what the encode path adds over a plain copy plus CRC of those bytes (varints, record
//! framing, the batch header). The other codecs add their compressor on top.
//!
//! Run with `cargo bench --features fuzzing --bench codec` (the feature exposes the
//! crate-internal batch codec through `kafkit::__fuzz`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafkit::__fuzz::{build_batch, decode_record_count};
use kafkit::Compression;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Compressible, JSON-like values of `size` bytes that differ from record to record, as real
/// payloads do (identical values would flatter the codecs).
fn records(count: usize, size: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let mut value = Vec::with_capacity(size);
            let mut n = i;
            while value.len() < size {
                value.extend_from_slice(
                    format!("{{\"user\":{n},\"event\":\"page_view\",\"ok\":true}}").as_bytes(),
                );
                n = n.wrapping_mul(31).wrapping_add(7) % 100_000;
            }
            value.truncate(size);
            (format!("key-{i}").into_bytes(), value)
        })
        .collect()
}

fn codec_benches(c: &mut Criterion) {
    for (count, size, shape) in [(1000, 100, "1000x100B"), (100, 1024, "100x1KiB")] {
        let owned = records(count, size);
        let refs: Vec<(&[u8], &[u8])> = owned
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        let payload: Vec<u8> = owned
            .iter()
            .flat_map(|(k, v)| [k, v])
            .flatten()
            .copied()
            .collect();

        let mut group = c.benchmark_group(format!("batch/{shape}"));
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function("baseline_memcpy_crc32c", |b| {
            let mut buf = Vec::with_capacity(payload.len());
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(black_box(&payload));
                black_box(crc32c::crc32c(&buf))
            })
        });
        for codec in CODECS {
            group.bench_with_input(
                BenchmarkId::new("encode", codec.name()),
                &refs,
                |b, refs| b.iter(|| build_batch(codec, black_box(refs))),
            );
            let batch = build_batch(codec, &refs);
            group.bench_with_input(
                BenchmarkId::new("decode", codec.name()),
                &batch,
                |b, batch| b.iter(|| decode_record_count(black_box(batch.clone())).unwrap()),
            );
            println!(
                "{shape} {}: {} payload bytes -> {} batch bytes",
                codec.name(),
                payload.len(),
                batch.len()
            );
        }
        group.finish();
    }
}

criterion_group!(benches, codec_benches);
criterion_main!(benches);
