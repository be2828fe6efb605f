//! kafkit writes, librdkafka reads.
//!
//! librdkafka decompresses each batch with its own (C) codec and, with `check.crcs=true`,
//! checks kafkit's CRC32C, so a batch it reads back unchanged proves kafkit's encoding of
//! that codec, not just its own round trip.

use crate::common::*;
use crate::support::{fresh_topic, log_end, now_ms, send_all};
use bytes::Bytes;
use kafkit::{Compression, Producer, ProducerConfig, ProducerRecord, TimestampType};

/// Record `i` of a run: every shape the wire format distinguishes turns up many times in
/// each partition. Independent of `produce.py`, whose records differ on purpose.
fn record(topic: &str, i: usize, base_ts: i64) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic, Bytes::new())
        .partition(i as i32 % PARTITIONS)
        .timestamp(base_ts + i as i64 * 3);
    r.key = match i % 6 {
        0 => None,
        // Not UTF-8, with a NUL: librdkafka must hand back the bytes as they are.
        1 => Some(Bytes::from(
            [&[0xC3, 0x28, 0x00, 0xFF][..], &i.to_le_bytes()].concat(),
        )),
        2 => Some(Bytes::new()),
        _ => Some(Bytes::from(format!("key-{i}"))),
    };
    r.value = match i % 9 {
        _ if i % 100 == 50 => Some(large_value(i)),
        4 => None,
        5 => Some(Bytes::new()),
        // Compressible text and a binary run, up to a few hundred bytes.
        _ => Some(Bytes::from(
            [
                format!("kafkit {i} ").repeat(1 + i % 30).into_bytes(),
                (0..=255u8).cycle().skip(i % 256).take(i % 97).collect(),
            ]
            .concat(),
        )),
    };
    // Every eighth record has no headers at all.
    if !i.is_multiple_of(8) {
        r = r
            .header("seq", i.to_string())
            .header("dup", "one")
            .null_header("null")
            .header("dup", format!("two-{i}"))
            .header("empty", "");
    }
    r
}

/// About 190 KiB: text that compresses, then noise that does not. Larger than one lz4
/// block (64 KiB) and one xerial snappy chunk (32 KiB), so frames of several blocks, some
/// stored uncompressed, cross between the clients.
fn large_value(i: usize) -> Bytes {
    let mut out = format!("large value {i} ").repeat(4000).into_bytes();
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
    for _ in 0..128 * 1024 / 8 {
        // xorshift64: cheap, deterministic, and incompressible enough.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    Bytes::from(out)
}

async fn kafkit_writes_librdkafka_reads(codec: Compression) {
    let name = codec_name(codec);
    let (bootstrap, topic) = fresh_topic(&format!("interop-to-rdkafka-{name}"), PARTITIONS).await;

    let mut config = ProducerConfig::new(&bootstrap);
    config.compression = codec;
    let producer = Producer::new(config).await.unwrap();
    // An hour back, so a timestamp replaced by the broker's clock would show.
    let base_ts = now_ms() - 3_600_000;
    let records: Vec<ProducerRecord> = (0..RECORDS).map(|i| record(&topic, i, base_ts)).collect();
    let delivered = send_all(&producer, records.clone()).await;
    let mut written = Vec::with_capacity(RECORDS);
    for (r, meta) in records.into_iter().zip(delivered) {
        written.push(Seen {
            partition: meta.partition,
            offset: meta.offset,
            timestamp: r.timestamp.unwrap(),
            timestamp_type: TimestampType::CreateTime,
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
    }
    // The log holds exactly these: a duplicate written past them would not go unnoticed.
    assert_eq!(
        log_end(&bootstrap, &topic, PARTITIONS).await,
        RECORDS as i64
    );
    let context = format!("kafkit produced with {name}, librdkafka consumed");
    assert_batches_use(&bootstrap, &topic, codec, &context).await;

    let out = run_script(
        "consume.py",
        vec![bootstrap, topic, RECORDS.to_string(), "30".into()],
    )
    .await;
    assert_same_records(parse_lines(&out), written, &context);
}

#[tokio::test]
async fn uncompressed() {
    kafkit_writes_librdkafka_reads(Compression::Uncompressed).await;
}

#[tokio::test]
async fn gzip() {
    kafkit_writes_librdkafka_reads(Compression::Gzip).await;
}

#[tokio::test]
async fn snappy() {
    kafkit_writes_librdkafka_reads(Compression::Snappy).await;
}

#[tokio::test]
async fn lz4() {
    kafkit_writes_librdkafka_reads(Compression::Lz4).await;
}

#[tokio::test]
async fn zstd() {
    kafkit_writes_librdkafka_reads(Compression::Zstd).await;
}
