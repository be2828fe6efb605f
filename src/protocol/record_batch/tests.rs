use bytes::Bytes;
use proptest::prelude::*;

use super::decode::{batches, decode_batches, DecodeErrorKind, DecodedBatch};
use super::*;
use crate::protocol::compression::CodecError;
use crate::record::TimestampType;

const CODECS: [Compression; 5] = [
    Compression::Uncompressed,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const LIMIT: usize = 1 << 20;

/// A batch of two records whose every byte is written out below. The same bytes, saved to a
/// file, pass the Java client's `DefaultRecordBatch.ensureValid()` and decode there to the same
/// records (see tests/golden/README.md); the CRC was computed with an independent bitwise
/// CRC-32C (Castagnoli, reflected, poly 0x82F63B78).
#[rustfmt::skip]
const HAND_GOLDEN: [u8; 82] = [
    0, 0, 0, 0, 0, 0, 0, 0,         // baseOffset 0: the broker assigns offsets
    0, 0, 0, 70,                    // batchLength: 49 header bytes after it + 13 + 8
    0xff, 0xff, 0xff, 0xff,         // partitionLeaderEpoch -1
    2,                              // magic
    0xc1, 0x4f, 0x54, 0xb4,         // CRC-32C of everything after this field
    0, 0,                           // attributes: no codec, CreateTime, not transactional
    0, 0, 0, 1,                     // lastOffsetDelta 1
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0, // baseTimestamp 1_700_000_000_000
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0, // maxTimestamp, the same
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
    0xff, 0xff,                     // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,         // baseSequence -1
    0, 0, 0, 2,                     // record count
    // Record 0: length 12 (zigzag 0x18), attributes 0, timestampDelta 0, offsetDelta 0,
    // key "k" (length 1 = zigzag 2), value "v", one header "h" = "x".
    0x18, 0, 0, 0, 2, b'k', 2, b'v', 2, 2, b'h', 2, b'x',
    // Record 1: length 7, attributes 0, timestampDelta -1000 as a varlong (zigzag 1999 =
    // 0xcf 0x0f), offsetDelta 1, null key (-1 = 0x01), empty value, no headers.
    0x0e, 0, 0xcf, 0x0f, 2, 1, 0, 0,
];

const BASE_TS: i64 = 1_700_000_000_000;

/// Where record 0's offset delta sits in [`HAND_GOLDEN`]: after the 61-byte header, its length
/// (0x18), attributes and timestamp delta.
const FIRST_RECORD_OFFSET_DELTA: usize = 64;

fn hand_golden_builder(codec: Compression) -> BatchBuilder {
    let mut builder = BatchBuilder::new(codec, 128);
    builder.append(BASE_TS, Some(b"k"), Some(b"v"), &[Header::new("h", "x")]);
    builder.append(BASE_TS - 1000, None, Some(b""), &[]);
    builder
}

#[test]
fn builder_writes_the_hand_computed_golden_batch() {
    let batch = hand_golden_builder(Compression::Uncompressed).finish(BatchParams::default());
    assert_eq!(&batch[..], &HAND_GOLDEN[..]);
}

#[test]
fn hand_golden_batch_decodes_with_zero_copy_fields() {
    let data = Bytes::from_static(&HAND_GOLDEN);
    let decoded = decode_batches(data.clone(), true, LIMIT).unwrap();
    assert_eq!(decoded.len(), 1);
    let batch = &decoded[0];
    assert_eq!(batch.max_timestamp, BASE_TS);
    assert_eq!(batch.records.len(), 2);
    let r0 = &batch.records[0];
    assert_eq!((r0.offset, r0.timestamp), (0, BASE_TS));
    assert_eq!(r0.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(r0.headers, vec![Header::new("h", "x")]);
    // The key is a view into the input, not a copy.
    let key_ptr = r0.key.as_ref().unwrap().as_ptr();
    assert!(data.as_ptr_range().contains(&key_ptr));
    let r1 = &batch.records[1];
    assert_eq!((r1.offset, r1.timestamp), (1, BASE_TS - 1000));
    assert_eq!(
        (r1.key.clone(), r1.value.as_deref()),
        (None, Some(&b""[..]))
    );
}

fn golden(codec: Compression) -> Bytes {
    let path = format!(
        "{}/tests/golden/java_{}.bin",
        env!("CARGO_MANIFEST_DIR"),
        codec.name()
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// The records tests/golden/Golden.java writes.
fn assert_java_golden(batch: &DecodedBatch, codec: Compression) {
    assert_eq!(batch.base_offset, 100);
    assert_eq!(batch.partition_leader_epoch, 7);
    assert_eq!(batch.last_offset_delta, 3);
    assert_eq!(batch.next_offset(), 104);
    assert_eq!(batch.base_timestamp, BASE_TS);
    assert_eq!(batch.max_timestamp, BASE_TS + 1000);
    assert_eq!(
        (batch.producer_id, batch.producer_epoch, batch.base_sequence),
        (1234, 5, 42)
    );
    assert_eq!(batch.compression, codec);
    assert_eq!(batch.timestamp_type, TimestampType::CreateTime);
    assert!(!batch.is_transactional && !batch.is_control);

    let r = &batch.records;
    assert_eq!(r.len(), 4);
    assert_eq!((r[0].offset, r[0].timestamp), (100, BASE_TS));
    assert_eq!(r[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(r[0].value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(
        r[0].headers,
        vec![
            Header::new("h1", "v1"),
            Header::new("h1", "v2"),
            Header::null("n")
        ]
    );
    let long: String = (0..20)
        .map(|i| format!("{{\"id\":{i},\"name\":\"kafkit\"}}"))
        .collect();
    assert_eq!((r[1].offset, r[1].timestamp), (101, BASE_TS - 1000));
    assert_eq!(r[1].key, None);
    assert_eq!(r[1].value.as_deref(), Some(long.as_bytes()));
    assert!(r[1].headers.is_empty());
    assert_eq!((r[2].offset, r[2].timestamp), (102, BASE_TS + 1000));
    assert_eq!(r[2].key.as_deref(), Some(&b"tomb"[..]));
    assert_eq!(r[2].value, None);
    assert_eq!((r[3].offset, r[3].timestamp), (103, BASE_TS + 500));
    assert_eq!(r[3].key.as_deref(), Some(&b""[..]));
    assert_eq!(r[3].value.as_deref(), Some(&b""[..]));
    assert_eq!(r[3].headers, vec![Header::new("", "")]);
}

#[test]
fn decodes_batches_the_java_client_wrote_with_every_codec() {
    for codec in CODECS {
        let decoded = decode_batches(golden(codec), true, LIMIT).unwrap();
        assert_eq!(decoded.len(), 1, "{codec:?}");
        assert_java_golden(&decoded[0], codec);
    }
}

#[test]
fn rebuilding_the_java_golden_records_gives_the_java_bytes_uncompressed() {
    let java = decode_batches(golden(Compression::Uncompressed), true, LIMIT).unwrap();
    let mut builder = BatchBuilder::new(Compression::Uncompressed, 1024);
    for r in &java[0].records {
        builder.append(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
    }
    let mut ours = builder
        .finish(BatchParams {
            producer_id: 1234,
            producer_epoch: 5,
            base_sequence: 42,
            transactional: false,
            partition_leader_epoch: 7,
        })
        .to_vec();
    // Java wrote base offset 100; ours is 0 until the broker assigns one. The CRC does not
    // cover the base offset, so everything else must match byte for byte.
    ours[..8].copy_from_slice(&100i64.to_be_bytes());
    assert_eq!(ours, golden(Compression::Uncompressed).to_vec());
}

#[test]
fn several_batches_and_a_truncated_tail() {
    let first = hand_golden_builder(Compression::Lz4).finish(BatchParams::default());
    let second = hand_golden_builder(Compression::Uncompressed).finish(BatchParams::default());
    let mut data = first.to_vec();
    data.extend_from_slice(&second);
    let whole = decode_batches(Bytes::from(data.clone()), true, LIMIT).unwrap();
    assert_eq!(whole.len(), 2);
    // Any cut inside the second batch (or before the first is complete) just ends decoding.
    for cut in (0..data.len()).filter(|&c| c != first.len()) {
        let mut iter = batches(Bytes::copy_from_slice(&data[..cut]), true, LIMIT);
        let got: Vec<_> = iter.by_ref().collect::<Result<_, _>>().unwrap();
        let expected = usize::from(cut > first.len());
        assert_eq!(got.len(), expected, "cut at {cut}");
        let consumed = if expected == 1 { first.len() } else { 0 };
        assert_eq!(iter.remaining(), cut - consumed);
    }
}

#[test]
fn crc_mismatch_names_the_base_offset() {
    let mut data = golden(Compression::Gzip).to_vec();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    let err = decode_batches(Bytes::from(data.clone()), true, LIMIT).unwrap_err();
    assert_eq!(err.base_offset, 100);
    assert!(
        matches!(err.kind, DecodeErrorKind::CrcMismatch { .. }),
        "{err}"
    );
    let public = err.into_error("t", 3);
    assert!(public.to_string().contains("t-3 at offset 100"), "{public}");
    // Without verification the damage surfaces (or not) in the codec, never as a panic.
    let _ = decode_batches(Bytes::from(data), false, LIMIT);
}

#[test]
fn good_batches_before_a_corrupt_one_are_still_delivered() {
    let mut data = golden(Compression::Uncompressed).to_vec();
    let mut bad = golden(Compression::Snappy).to_vec();
    bad[30] ^= 0xff;
    data.extend_from_slice(&bad);
    let mut iter = batches(Bytes::from(data), true, LIMIT);
    assert!(iter.next().unwrap().is_ok());
    assert!(iter.next().unwrap().is_err());
    assert!(iter.next().is_none());
    assert_eq!(iter.remaining(), bad.len());
}

#[test]
fn log_append_time_gives_every_record_the_batch_max_timestamp() {
    let mut data = HAND_GOLDEN.to_vec();
    data[22] |= 0x08;
    let crc = crc32c::crc32c(&data[21..]);
    data[17..21].copy_from_slice(&crc.to_be_bytes());
    let batch = &decode_batches(Bytes::from(data), true, LIMIT).unwrap()[0];
    assert_eq!(batch.timestamp_type, TimestampType::LogAppendTime);
    assert!(batch.records.iter().all(|r| r.timestamp == BASE_TS));
}

#[test]
fn control_batches_are_flagged() {
    let mut data = HAND_GOLDEN.to_vec();
    data[22] |= 0x30;
    let crc = crc32c::crc32c(&data[21..]);
    data[17..21].copy_from_slice(&crc.to_be_bytes());
    let batch = &decode_batches(Bytes::from(data), true, LIMIT).unwrap()[0];
    assert!(batch.is_control && batch.is_transactional);
}

#[test]
fn old_message_formats_are_a_typed_error() {
    let mut data = HAND_GOLDEN.to_vec();
    data[16] = 1;
    let err = decode_batches(Bytes::from(data), false, LIMIT).unwrap_err();
    assert!(
        matches!(err.kind, DecodeErrorKind::UnsupportedMagic(1)),
        "{err}"
    );
}

#[test]
fn decompression_bombs_are_a_typed_error() {
    // 4 MiB of zeros compresses to a few KiB with every codec.
    let zeros = vec![0u8; 4 << 20];
    for codec in &CODECS[1..] {
        let mut builder = BatchBuilder::new(*codec, 0);
        builder.append(0, None, Some(&zeros), &[]);
        let batch = builder.finish(BatchParams::default());
        assert!(batch.len() < 512 << 10, "{codec:?}: {}", batch.len());
        let err = decode_batches(batch.clone(), true, 1 << 20).unwrap_err();
        assert!(
            matches!(
                err.kind,
                DecodeErrorKind::Decompression(CodecError::TooLarge { .. })
            ),
            "{codec:?}: {err}"
        );
        assert_eq!(decode_batches(batch, true, 8 << 20).unwrap().len(), 1);
    }
}

#[test]
fn impossible_counts_fail_before_allocating() {
    let mut data = HAND_GOLDEN.to_vec();
    data[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let err = decode_batches(Bytes::from(data.clone()), false, LIMIT).unwrap_err();
    assert!(matches!(err.kind, DecodeErrorKind::Malformed(_)), "{err}");
    data[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(decode_batches(Bytes::from(data), false, LIMIT).is_err());
}

#[test]
fn set_producer_fields_rewrites_and_recomputes_the_crc() {
    for codec in CODECS {
        let batch = hand_golden_builder(codec).finish(BatchParams::default());
        let mut bytes = batch.to_vec();
        set_producer_fields(&mut bytes, 77, 3, 1000).unwrap();
        let decoded = decode_batches(Bytes::from(bytes), true, LIMIT).unwrap();
        let b = &decoded[0];
        assert_eq!(
            (b.producer_id, b.producer_epoch, b.base_sequence),
            (77, 3, 1000)
        );
        assert_eq!(b.records.len(), 2);
    }
    assert!(set_producer_fields(&mut [0u8; 60], 1, 1, 1).is_err());
    let mut lying = HAND_GOLDEN.to_vec();
    lying[8..12].copy_from_slice(&1000i32.to_be_bytes());
    assert!(set_producer_fields(&mut lying, 1, 1, 1).is_err());
}

#[test]
fn transactional_flag_and_params_reach_the_header() {
    let params = BatchParams {
        producer_id: 9,
        producer_epoch: 2,
        base_sequence: 5,
        transactional: true,
        partition_leader_epoch: -1,
    };
    let batch = hand_golden_builder(Compression::Zstd).finish(params);
    let b = &decode_batches(batch, true, LIMIT).unwrap()[0];
    assert!(b.is_transactional);
    assert_eq!(
        (b.producer_id, b.producer_epoch, b.base_sequence),
        (9, 2, 5)
    );
}

#[test]
fn size_helpers_are_exact_and_bounded() {
    let mut builder = BatchBuilder::new(Compression::Uncompressed, 0);
    assert!(builder.is_empty());
    let headers = [Header::new("a", "b"), Header::null("c")];
    let mut expected = BATCH_HEADER_LEN;
    for (i, ts) in [5_i64, -300_000, 1 << 40, 5].into_iter().enumerate() {
        let size = builder.next_record_size(ts, Some(b"key"), None, &headers);
        assert_eq!(builder.append(ts, Some(b"key"), None, &headers), i);
        expected += size;
        assert_eq!(builder.size_estimate(), expected);
    }
    assert_eq!(builder.record_count(), 4);
    assert_eq!(builder.finish(BatchParams::default()).len(), expected);
}

/// Builds, for every codec, the batches the Java cross-check reads (tests/golden/README.md):
/// the Java golden records re-encoded, then a 300-record batch spanning several lz4/snappy
/// blocks. They are written to `KAFKIT_GOLDEN_OUT` when set (for `Golden dump`), and always
/// decoded back here.
#[test]
fn batches_for_the_java_cross_check_round_trip() {
    let out_dir = std::env::var("KAFKIT_GOLDEN_OUT").ok();
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir).unwrap();
    }
    let java = decode_batches(golden(Compression::Uncompressed), true, LIMIT).unwrap();
    for codec in CODECS {
        let mut builder = BatchBuilder::new(codec, 1024);
        for r in &java[0].records {
            builder.append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            );
        }
        // A larger second batch so lz4 and snappy write several blocks.
        let mut big = BatchBuilder::new(codec, 1 << 20);
        let value: Vec<u8> = b"{\"k\":\"kafkit\",\"n\":12345}".repeat(40);
        for i in 0..300 {
            big.append(
                BASE_TS + i,
                Some(format!("key-{i}").as_bytes()),
                Some(&value),
                &[],
            );
        }
        let mut out = builder.finish(BatchParams::default()).to_vec();
        out.extend_from_slice(&big.finish(BatchParams::default()));
        let decoded = decode_batches(Bytes::from(out.clone()), true, LIMIT).unwrap();
        assert_eq!(decoded.len(), 2, "{codec:?}");
        assert_eq!(decoded[0].records.len(), java[0].records.len(), "{codec:?}");
        assert_eq!(decoded[1].records.len(), 300, "{codec:?}");
        assert_eq!(decoded[1].records[299].value.as_deref(), Some(&value[..]));
        if let Some(dir) = &out_dir {
            std::fs::write(format!("{dir}/kafkit_{}.bin", codec.name()), out).unwrap();
        }
    }
}

fn header_strategy() -> impl Strategy<Value = Header> {
    (
        prop::sample::select(vec!["a", "b", "trace", ""]),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
    )
        .prop_map(|(k, v)| Header {
            key: Bytes::from(k),
            value: v.map(Bytes::from),
        })
}

type TestRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<Header>);

fn record_strategy() -> impl Strategy<Value = TestRecord> {
    let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..64));
    (
        // Small spreads around a base, and occasionally any timestamp at all.
        prop_oneof![
            4 => (-100_000i64..100_000).prop_map(|d| BASE_TS + d),
            1 => any::<i64>(),
        ],
        bytes(),
        bytes(),
        prop::collection::vec(header_strategy(), 0..4),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn records_round_trip_through_every_codec(
        records in prop::collection::vec(record_strategy(), 1..40),
        codec in prop::sample::select(CODECS.to_vec()),
        pid in any::<i64>(),
    ) {
        let mut builder = BatchBuilder::new(codec, 0);
        for (ts, key, value, headers) in &records {
            builder.append(*ts, key.as_deref(), value.as_deref(), headers);
        }
        let estimate = builder.size_estimate();
        let params = BatchParams { producer_id: pid, ..BatchParams::default() };
        let batch = builder.finish(params);
        prop_assert!(batch.len() <= estimate, "{} > estimate {}", batch.len(), estimate);
        let decoded = decode_batches(batch, true, LIMIT).unwrap();
        prop_assert_eq!(decoded.len(), 1);
        let b = &decoded[0];
        prop_assert_eq!(b.compression, codec);
        prop_assert_eq!(b.producer_id, pid);
        prop_assert_eq!(b.base_timestamp, records[0].0);
        prop_assert_eq!(b.max_timestamp, records.iter().map(|r| r.0).max().unwrap());
        prop_assert_eq!(b.last_offset_delta as usize, records.len() - 1);
        prop_assert_eq!(b.records.len(), records.len());
        for (i, (got, (ts, key, value, headers))) in b.records.iter().zip(&records).enumerate() {
            prop_assert_eq!(got.offset, i as i64);
            prop_assert_eq!(got.timestamp, *ts);
            prop_assert_eq!(got.key.as_deref(), key.as_deref());
            prop_assert_eq!(got.value.as_deref(), value.as_deref());
            prop_assert_eq!(&got.headers, headers);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        for verify in [false, true] {
            let _ = decode_batches(Bytes::from(data.clone()), verify, LIMIT);
        }
    }

    #[test]
    fn mutated_batches_never_panic(
        codec in prop::sample::select(CODECS.to_vec()),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut data = golden(codec).to_vec();
        for (at, byte) in flips {
            let at = at.index(data.len());
            data[at] = byte;
        }
        // Mutate past the CRC check too, so the record parser sees the damage.
        let len = data.len();
        let _ = decode_batches(Bytes::from(data.clone()), false, LIMIT);
        let _ = decode_batches(Bytes::copy_from_slice(&data[..cut.index(len + 1)]), false, LIMIT);
    }
}

#[test]
fn offsets_that_would_overflow_are_malformed_not_wrapped() {
    // HAND_GOLDEN: base offset at bytes 0..8, last offset delta at 23..27 (CRC unchecked).
    for (base, last_delta) in [
        (i64::MAX - 1, 5i32),
        (i64::MAX, 0),
        (-1, 0),
        (i64::MIN, 1),
        (100, -1),
    ] {
        let mut data = HAND_GOLDEN.to_vec();
        data[..8].copy_from_slice(&base.to_be_bytes());
        data[23..27].copy_from_slice(&last_delta.to_be_bytes());
        let err = decode_batches(Bytes::from(data), false, LIMIT).unwrap_err();
        assert!(
            matches!(err.kind, DecodeErrorKind::Malformed(_)),
            "base {base}, last delta {last_delta}: {err}"
        );
    }
}

#[test]
fn a_record_offset_outside_its_batch_is_malformed() {
    // The first record's offset delta (a zigzag varint: 0 → 0x00) becomes 0x7f, that is -64;
    // then 0x7e, 63, past the batch's last offset delta.
    for delta in [0x7f, 0x7e] {
        let mut data = HAND_GOLDEN.to_vec();
        let at = FIRST_RECORD_OFFSET_DELTA;
        assert_eq!(data[at], 0, "the hand golden's first offset delta");
        data[at] = delta;
        let err = decode_batches(Bytes::from(data), false, LIMIT).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Malformed(_)), "{err}");
    }
}
