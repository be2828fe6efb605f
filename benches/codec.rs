//! Record batch encode/decode throughput per codec, against a `memcpy + crc32c` baseline of
//! the same payload bytes: the least any codec path could cost.
//!
//! Each group (`batch/1000x100B`, `batch/100x1KiB`, `batch/1x1MiB`) reports every benchmark in bytes/s of the
//! same payload, so read `encode/none` against `baseline_memcpy_crc32c` side by side: the gap
//! is what the encode path adds over a plain copy plus CRC of those bytes (varints, record
//! framing, the batch header). The other codecs add their compressor on top.
//!
//! The `frame/` groups do the same for request framing, in bytes/s of the frame: a
//! ProduceRequest carrying one 64 KiB batch, built and encoded into its frame (size, header,
//! body) as the producer sends it; a Fetch response frame carrying such a batch, decoded as
//! the consumer decodes it, alone and then with its records.
//!
//! `lz4_block/32x64KiB_of_1KiB_events` compares kafkit's LZ4 block compressor with lz4_flex's
//! (its fastest, unchecked encoder) on 64 KiB blocks, the size of a Kafka LZ4 frame block,
//! and prints each one's output size.
//!
//! With `benches/partitioner.rs` (murmur2, CRC32C per size) this covers the list of
//! broker-free micro-benchmarks: batch encode and decode per codec, CRC, partitioner, request
//! framing.
//!
//! Run with `cargo bench --features fuzzing --bench codec` (the feature exposes the
//! crate-internal batch codec and framing through `kafkit::__fuzz`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafkit::__fuzz::{
    build_batch, decode_fetch_response, decode_record_count, fetch_response_frame,
    produce_request_frame, BenchLz4,
};
use kafkit::Compression;

const CODECS: [Compression; 5] = [
    Compression::Uncompressed,
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
    for (count, size, shape) in [
        (1000, 100, "1000x100B"),
        (100, 1024, "100x1KiB"),
        (1, 1 << 20, "1x1MiB"),
    ] {
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
        baseline(&mut group, &payload);
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

/// The bytes-per-second baseline for `bytes`: copy them, checksum the copy.
fn baseline(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    bytes: &[u8],
) {
    group.bench_function("baseline_memcpy_crc32c", |b| {
        let mut buf = Vec::with_capacity(bytes.len());
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(bytes));
            black_box(crc32c::crc32c(&buf))
        })
    });
}

/// The largest uncompressed batch of 100-byte records that fits 64 KiB, the `batch.size`
/// the side-by-side benchmarks use.
fn batch_64k() -> bytes::Bytes {
    let owned = records(1000, 100);
    let refs: Vec<(&[u8], &[u8])> = owned
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let mut n = 1;
    while n < refs.len()
        && build_batch(Compression::Uncompressed, &refs[..n + 1]).len() <= 64 * 1024
    {
        n += 1;
    }
    build_batch(Compression::Uncompressed, &refs[..n])
}

fn frame_benches(c: &mut Criterion) {
    const TOPIC: &str = "bench-topic";
    let batch = batch_64k();
    let request = produce_request_frame(TOPIC, batch.clone()).unwrap();
    let response = fetch_response_frame(TOPIC, batch.clone()).unwrap();
    assert_eq!(decode_fetch_response(response.clone()).unwrap(), batch);
    println!(
        "frame: {} batch bytes -> {} request frame bytes, {} response frame bytes",
        batch.len(),
        request.len(),
        response.len()
    );

    let mut group = c.benchmark_group("frame/produce_request_64KiB");
    group.throughput(Throughput::Bytes(request.len() as u64));
    baseline(&mut group, &request);
    group.bench_function("encode", |b| {
        b.iter(|| produce_request_frame(TOPIC, black_box(batch.clone())).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("frame/fetch_response_64KiB");
    group.throughput(Throughput::Bytes(response.len() as u64));
    baseline(&mut group, &response);
    group.bench_function("decode", |b| {
        b.iter(|| decode_fetch_response(black_box(response.clone())).unwrap())
    });
    group.bench_function("decode+records", |b| {
        b.iter(|| {
            let records = decode_fetch_response(black_box(response.clone())).unwrap();
            decode_record_count(records).unwrap()
        })
    });
    group.finish();
}

/// 64 KiB blocks of 1 KiB order events like the side-by-side benchmark's corpus
/// (`bench/peers.py`): fields and line items drawn from a small vocabulary, with varying
/// numbers. Less repetitive than [`records`], so the compressor's match search does real
/// work; and 32 different blocks, because one block compressed over and over lets the branch
/// predictor learn it, which hides the mispredictions that dominate a real compressor's time.
fn order_event_blocks() -> Vec<Vec<u8>> {
    const WORDS: [&str; 21] = [
        "order",
        "user",
        "item",
        "payment",
        "shipped",
        "created",
        "updated",
        "cancelled",
        "eu-west",
        "us-east",
        "warehouse",
        "status",
        "ok",
        "retry",
        "checkout",
        "cart",
        "session",
        "token",
        "price",
        "qty",
        "sku",
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut blocks = vec![Vec::with_capacity(64 * 1024)];
    for id in 0.. {
        let mut event = format!(
            "{{\"id\":{id},\"ev\":\"{}\",\"user\":\"u{:05}\",\"region\":\"{}\",\"session\":\"s{:08x}\",\"items\":[",
            WORDS[next(21) as usize], next(100_000), WORDS[next(21) as usize], next(1 << 32)
        );
        while event.len() < 1024 {
            event += &format!(
                "{{\"sku\":\"{}-{:04}\",\"qty\":{},\"price\":{}.{:02},\"note\":\"{} {}\"}},",
                WORDS[next(21) as usize],
                next(10_000),
                1 + next(8),
                1 + next(499),
                next(100),
                WORDS[next(21) as usize],
                WORDS[next(21) as usize]
            );
        }
        event.truncate(1022);
        event += "]}";
        let mut block = blocks.last_mut().expect("one block at least");
        if block.len() + event.len() > 64 * 1024 {
            if blocks.len() == 32 {
                return blocks;
            }
            blocks.push(Vec::with_capacity(64 * 1024));
            block = blocks.last_mut().expect("just pushed");
        }
        block.extend_from_slice(event.as_bytes());
    }
    unreachable!("the loop above returns")
}

fn lz4_benches(c: &mut Criterion) {
    let blocks = order_event_blocks();
    let total: usize = blocks.iter().map(Vec::len).sum();
    let mut ours = BenchLz4::new();
    let mut out = vec![0; lz4_flex::block::get_maximum_output_size(64 * 1024)];
    let mut flex = |block: &[u8]| lz4_flex::block::compress_into(block, &mut out).unwrap();
    let ours_len: usize = blocks.iter().map(|b| ours.compressed_len(b)).sum();
    let flex_len: usize = blocks.iter().map(|b| flex(b)).sum();
    println!("lz4_block: {total} bytes -> kafkit {ours_len}, lz4_flex {flex_len}");
    let mut group = c.benchmark_group("lz4_block/32x64KiB_of_1KiB_events");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("kafkit", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(ours.compressed_len(black_box(block)));
            }
        })
    });
    group.bench_function("lz4_flex", |b| {
        b.iter(|| {
            for block in &blocks {
                black_box(flex(black_box(block)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, codec_benches, frame_benches, lz4_benches);
criterion_main!(benches);
