//! librdkafka writes, kafkit reads.
//!
//! `produce.py` sets librdkafka's `compression.type` to the codec, and the topic keeps the
//! producer's codec (`compression.type=producer`, the broker default), so kafkit decodes
//! batches compressed by librdkafka's C codecs, checking their CRC32C (`check.crcs` is on by
//! default).

use crate::common::*;
use crate::support::{fresh_topic, log_end, read_n};
use kafkit::Compression;

async fn librdkafka_writes_kafkit_reads(codec: Compression) {
    let name = codec_name(codec);
    let (bootstrap, topic) = fresh_topic(&format!("interop-from-rdkafka-{name}"), PARTITIONS).await;

    let out = run_script(
        "produce.py",
        vec![
            bootstrap.clone(),
            topic.clone(),
            name.into(),
            RECORDS.to_string(),
        ],
    )
    .await;
    let written = parse_lines(&out);
    assert_eq!(written.len(), RECORDS, "produce.py reported every delivery");
    assert_covers_edge_cases(&written);
    // The log holds exactly these: a duplicate written past them would not go unnoticed.
    assert_eq!(
        log_end(&bootstrap, &topic, PARTITIONS).await,
        RECORDS as i64
    );
    let context = format!("librdkafka produced with {name}, kafkit consumed");
    assert_batches_use(&bootstrap, &topic, codec, &context).await;

    let read = read_n(&bootstrap, &topic, 0..PARTITIONS, RECORDS).await;
    let read = read.into_iter().map(Seen::from).collect();
    assert_same_records(read, written, &context);
}

/// The script's records must include what the test is about; otherwise a change to the
/// script could quietly drop the hard cases and this test would still pass.
fn assert_covers_edge_cases(records: &[Seen]) {
    let any = |what: &str, f: &dyn Fn(&Seen) -> bool| {
        assert!(
            records.iter().any(f),
            "produce.py wrote no record with {what}"
        );
    };
    any("a null key", &|r| r.key.is_none());
    any("a key that is not UTF-8", &|r| {
        r.key
            .as_ref()
            .is_some_and(|k| std::str::from_utf8(k).is_err())
    });
    any("a null value", &|r| r.value.is_none());
    any("an empty value", &|r| {
        r.value.as_ref().is_some_and(|v| v.is_empty())
    });
    any("a value over 64 KiB", &|r| {
        r.value.as_ref().is_some_and(|v| v.len() > 64 * 1024)
    });
    any("a header key twice", &|r| {
        r.headers
            .iter()
            .enumerate()
            .any(|(i, h)| r.headers[..i].iter().any(|e| e.key == h.key))
    });
    any("a null header value", &|r| {
        r.headers.iter().any(|h| h.value.is_none())
    });
    any("no headers", &|r| r.headers.is_empty());
    for p in 0..PARTITIONS {
        any(&format!("partition {p}"), &|r| r.partition == p);
    }
}

#[tokio::test]
async fn uncompressed() {
    librdkafka_writes_kafkit_reads(Compression::Uncompressed).await;
}

#[tokio::test]
async fn gzip() {
    librdkafka_writes_kafkit_reads(Compression::Gzip).await;
}

#[tokio::test]
async fn snappy() {
    librdkafka_writes_kafkit_reads(Compression::Snappy).await;
}

#[tokio::test]
async fn lz4() {
    librdkafka_writes_kafkit_reads(Compression::Lz4).await;
}

#[tokio::test]
async fn zstd() {
    librdkafka_writes_kafkit_reads(Compression::Zstd).await;
}
