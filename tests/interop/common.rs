//! What both directions share besides `support`: the Python scripts, and one record shape
//! that kafkit's records and the scripts' JSON lines both turn into, so they compare field
//! by field.

use crate::support::python;
use bytes::Bytes;
use kafkit::{Compression, ConsumerRecord, Header, TimestampType};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Records per test and direction: enough for several batches per partition, so the
/// codec sees real input, while a whole test stays around a second or two.
pub const RECORDS: usize = 500;

/// Every partition the tests write to; the records alternate between them.
pub const PARTITIONS: i32 = 2;

/// Each codec with librdkafka's `compression.type` spelling.
pub fn codec_name(codec: Compression) -> &'static str {
    match codec {
        Compression::Uncompressed => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
        other => panic!("no librdkafka name for {other:?}"),
    }
}

/// The codec id Kafka stores in a batch's attributes (the protocol's numbering, written out
/// here so the test does not take it from the code under test).
pub fn codec_id(codec: Compression) -> i16 {
    match codec {
        Compression::Uncompressed => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
        other => panic!("no codec id for {other:?}"),
    }
}

/// A record as either client saw it. Compared whole, so every field counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl From<ConsumerRecord> for Seen {
    fn from(r: ConsumerRecord) -> Self {
        Seen {
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: r.timestamp_type,
            key: r.key,
            value: r.value,
            headers: r.headers,
        }
    }
}

/// Runs `script` (next to this file) with the venv's Python and returns its stdout.
///
/// # Panics
///
/// If the venv cannot be had (the reason is pip's output) or the script fails (its
/// stderr is in the message): the test fails and says why.
pub async fn run_script(script: &str, args: Vec<String>) -> String {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let script = script.to_owned();
    let python = python().await;
    // Panics stay out of the blocking task, so a failure reads once, not twice.
    let result = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let out = Command::new(&python)
            .arg(&path)
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run {} {}: {e}", python.display(), path.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{script} {args:?} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("{script} printed non-UTF-8: {e}"))
    })
    .await
    .expect("the script runner panicked");
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Parses the scripts' output, one JSON object per line (format in `consume.py`).
pub fn parse_lines(stdout: &str) -> Vec<Seen> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            parse_record(&v).unwrap_or_else(|| panic!("unexpected record shape: {line}"))
        })
        .collect()
}

fn parse_record(v: &Value) -> Option<Seen> {
    let timestamp_type = match v["timestamp_type"].as_str()? {
        "create" => TimestampType::CreateTime,
        "log_append" => TimestampType::LogAppendTime,
        _ => return None,
    };
    let headers = v["headers"]
        .as_array()?
        .iter()
        .map(|h| {
            Some(Header {
                key: hex(&h[0])??,
                value: hex(&h[1])?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Seen {
        partition: i32::try_from(v["partition"].as_i64()?).ok()?,
        offset: v["offset"].as_i64()?,
        timestamp: v["timestamp"].as_i64()?,
        timestamp_type,
        key: hex(&v["key"])?,
        value: hex(&v["value"])?,
        headers,
    })
}

/// A hex string as bytes, JSON null as `Some(None)`; `None` if it is neither.
fn hex(v: &Value) -> Option<Option<Bytes>> {
    if v.is_null() {
        return Some(None);
    }
    let s = v.as_str()?;
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(Some(Bytes::from(bytes)))
}

/// Sorts both sides by (partition, offset) and compares them record by record, so a
/// failure names the first record that differs rather than dumping a thousand.
pub fn assert_same_records(mut got: Vec<Seen>, mut want: Vec<Seen>, context: &str) {
    got.sort_by_key(|r| (r.partition, r.offset));
    want.sort_by_key(|r| (r.partition, r.offset));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g, w,
            "{context}: record at partition {} offset {} differs (left: read, right: written)",
            w.partition, w.offset
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{context}: read {} records, {} were written",
        got.len(),
        want.len()
    );
}

/// Every batch of every partition of `topic` carries `codec` in its attributes, as the
/// broker stores it.
pub async fn assert_batches_use(bootstrap: &str, topic: &str, codec: Compression, context: &str) {
    for p in 0..PARTITIONS {
        let codecs = crate::wire::batch_codecs(bootstrap, topic, p).await;
        // Several batches, so readers cross batch boundaries (both producers are set up
        // for that: 16 KiB batches in kafkit, 50 records per batch in produce.py).
        assert!(
            codecs.len() >= 2,
            "{context}: partition {p} holds {} batch(es), expected several",
            codecs.len()
        );
        assert!(
            codecs.iter().all(|&c| c == codec_id(codec)),
            "{context}: partition {p}'s batches have codec ids {codecs:?}, expected all {} ({})",
            codec_id(codec),
            codec_name(codec)
        );
    }
}
