//! Decoding fetched record batches.
//!
//! The input is untrusted: every length and count is checked against the bytes actually there
//! before anything is allocated, decompression is capped, and nothing here can panic.

use bytes::Bytes;

use super::{
    ATTRIBUTES, BASE_SEQUENCE, BASE_TIMESTAMP, BATCH_HEADER_LEN, CONTROL_BIT, CRC,
    LAST_OFFSET_DELTA, LOG_OVERHEAD, MAGIC, MAGIC_V2, MAX_TIMESTAMP, PARTITION_LEADER_EPOCH,
    PRODUCER_EPOCH, PRODUCER_ID, RECORD_COUNT, TIMESTAMP_TYPE_BIT, TRANSACTIONAL_BIT,
};
use crate::config::Compression;
use crate::protocol::compression::{decompress, CodecError};
use crate::protocol::varint::{read_varint, read_varlong};
use crate::record::{Header, TimestampType};

/// The smallest possible record: a one-byte length, attributes, timestamp delta, offset delta,
/// key length, value length and header count.
const MIN_RECORD_LEN: usize = 7;
/// The smallest possible header: key length and value length.
const MIN_HEADER_LEN: usize = 2;
/// The shortest `batchLength` that still reaches the magic byte, so the format can be told.
const MIN_LENGTH_TO_MAGIC: usize = MAGIC + 1 - LOG_OVERHEAD;

/// One decoded batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecodedBatch {
    /// The offset of the first record.
    pub base_offset: i64,
    /// The leader epoch the broker stamped.
    pub partition_leader_epoch: i32,
    /// The last record's offset minus the base offset. After compaction the batch may hold
    /// fewer records than this implies.
    pub last_offset_delta: i32,
    /// The base of the records' timestamp deltas: the first record's timestamp, except in
    /// batches the log cleaner rewrote with a delete horizon (attribute bit 6), where it is
    /// that horizon. Record timestamps are right either way.
    pub base_timestamp: i64,
    /// The largest timestamp in the batch (the append time for `LogAppendTime`).
    pub max_timestamp: i64,
    /// The producer id, or -1.
    pub producer_id: i64,
    /// The producer epoch, or -1.
    pub producer_epoch: i16,
    /// The first record's sequence number, or -1.
    pub base_sequence: i32,
    /// The codec the records were compressed with.
    pub compression: Compression,
    /// What the timestamps mean.
    pub timestamp_type: TimestampType,
    /// Whether the batch belongs to a transaction.
    pub is_transactional: bool,
    /// Whether the batch holds control records (transaction markers).
    pub is_control: bool,
    /// The records, in offset order.
    pub records: Vec<DecodedRecord>,
    /// The records section's size once decompressed: the memory the records' bytes share.
    pub records_len: usize,
}

impl DecodedBatch {
    /// The offset after this batch's last one: where the next fetch should start. Decoding
    /// checked that it fits (`0 <= base_offset`, `0 <= last_offset_delta`, no overflow).
    pub(crate) fn next_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta) + 1
    }
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecodedRecord {
    /// The absolute offset.
    pub offset: i64,
    /// The absolute timestamp; for `LogAppendTime` batches the batch's max timestamp, as the
    /// broker overwrites only that field.
    pub timestamp: i64,
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicates kept.
    pub headers: Vec<Header>,
}

/// A batch that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("batch at offset {base_offset}: {kind}")]
pub(crate) struct DecodeError {
    /// The base offset of the offending batch, or -1 if not even that was readable.
    pub base_offset: i64,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What is wrong with a batch.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeErrorKind {
    /// A message set of magic v0 or v1 (or garbage in that byte).
    #[error("unsupported magic {0} (only record batches of magic 2 are supported)")]
    UnsupportedMagic(i8),
    /// The stored CRC-32C does not match the bytes.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The CRC in the header.
        stored: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// The attributes name a codec that does not exist.
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    /// The records section did not decompress, or would exceed the size limit.
    #[error(transparent)]
    Decompression(#[from] CodecError),
    /// A length, count or field that cannot be right.
    #[error("malformed batch: {0}")]
    Malformed(&'static str),
}

impl DecodeError {
    pub(crate) fn new(base_offset: i64, kind: DecodeErrorKind) -> Self {
        Self { base_offset, kind }
    }

    /// The public error for this failure in `topic`-`partition`.
    pub(crate) fn into_error(self, topic: &str, partition: i32) -> crate::error::Error {
        crate::error::Error::CorruptBatch {
            topic: topic.to_string(),
            partition,
            offset: self.base_offset,
            reason: self.kind.to_string(),
        }
    }
}

/// Decodes every complete batch in `data` (a fetch response's records).
///
/// A trailing batch cut short is not an error: brokers may end a fetch mid-batch, and decoding
/// stops there. `max_decompressed` caps each batch's decompressed records section.
pub(crate) fn decode_batches(
    data: Bytes,
    verify_crc: bool,
    max_decompressed: usize,
) -> Result<Vec<DecodedBatch>, DecodeError> {
    batches(data, verify_crc, max_decompressed).collect()
}

/// Decodes batches lazily, so the batches before a corrupt one can still be delivered.
pub(crate) fn batches(data: Bytes, verify_crc: bool, max_decompressed: usize) -> Batches {
    Batches {
        data,
        verify_crc,
        max_decompressed,
        failed: false,
    }
}

/// The iterator [`batches`] returns. It ends after the first error.
#[derive(Debug)]
pub(crate) struct Batches {
    data: Bytes,
    verify_crc: bool,
    max_decompressed: usize,
    failed: bool,
}

impl Batches {
    /// The bytes not decoded yet: after the end, a partial trailing batch; after an error,
    /// everything from the corrupt batch on.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    fn next_batch(&mut self) -> Option<Result<DecodedBatch, DecodeError>> {
        let data = &self.data;
        let base_offset = i64::from_be_bytes(*data.first_chunk::<8>()?);
        let declared = i32::from_be_bytes(*data.get(8..LOG_OVERHEAD)?.first_chunk::<4>()?);
        let fail = |kind| Some(Err(DecodeError::new(base_offset, kind)));
        let Some(length) = usize::try_from(declared)
            .ok()
            .filter(|&l| l >= MIN_LENGTH_TO_MAGIC)
        else {
            return fail(DecodeErrorKind::Malformed("batch length too small"));
        };
        // A partial batch at the end of a fetch is normal; leave it undecoded.
        let batch = data.get(..LOG_OVERHEAD.checked_add(length)?)?;
        // `length` reaches the magic byte, checked above.
        let magic = batch.get(MAGIC).map_or(0, |&m| m as i8);
        if magic != MAGIC_V2 {
            return fail(DecodeErrorKind::UnsupportedMagic(magic));
        }
        if batch.len() < BATCH_HEADER_LEN {
            return fail(DecodeErrorKind::Malformed(
                "batch length shorter than its header",
            ));
        }
        let batch = self.data.slice(..LOG_OVERHEAD + length);
        match decode_one(batch, self.verify_crc, self.max_decompressed) {
            Ok(decoded) => {
                self.data = self.data.slice(LOG_OVERHEAD + length..);
                Some(Ok(decoded))
            }
            Err(kind) => fail(kind),
        }
    }
}

impl Iterator for Batches {
    type Item = Result<DecodedBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_batch();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

/// What the header of the first batch in some data says, read without decoding the batch.
#[derive(Debug)]
pub(crate) enum Peek {
    /// A whole batch of `len` bytes, stamped with `leader_epoch`, whose offsets end before
    /// `next_offset`. Its body is not looked at: decoding it may still fail.
    Whole {
        len: usize,
        leader_epoch: i32,
        next_offset: i64,
    },
    /// The data ends inside a batch of `needed` bytes in all (0: even its length is cut off).
    Partial { needed: usize },
    /// A header that cannot be right.
    Malformed(DecodeError),
}

/// Reads the header of the first batch in `data`, so a fetch's batches can be counted and
/// its next offset found before (and without) decoding them.
pub(crate) fn peek(data: &[u8]) -> Peek {
    let Some(base_offset) = data.first_chunk::<8>().map(|b| i64::from_be_bytes(*b)) else {
        return Peek::Partial { needed: 0 };
    };
    let Some(declared) = data.get(8..LOG_OVERHEAD).and_then(|b| b.first_chunk::<4>()) else {
        return Peek::Partial { needed: 0 };
    };
    let malformed = |kind| Peek::Malformed(DecodeError::new(base_offset, kind));
    let Some(len) = usize::try_from(i32::from_be_bytes(*declared))
        .ok()
        .filter(|&l| l >= BATCH_HEADER_LEN - LOG_OVERHEAD)
        .map(|l| l + LOG_OVERHEAD)
    else {
        return malformed(DecodeErrorKind::Malformed("batch length too small"));
    };
    let Some(batch) = data.get(..len) else {
        return Peek::Partial { needed: len };
    };
    let header = Fields(batch);
    let magic = header.array::<1>(MAGIC)[0] as i8;
    if magic != MAGIC_V2 {
        return malformed(DecodeErrorKind::UnsupportedMagic(magic));
    }
    let delta = header.i32(LAST_OFFSET_DELTA);
    let next_offset = (base_offset >= 0 && delta >= 0)
        .then(|| base_offset.checked_add(i64::from(delta) + 1))
        .flatten();
    let Some(next_offset) = next_offset else {
        return malformed(DecodeErrorKind::Malformed(
            "batch offsets outside 0..=i64::MAX",
        ));
    };
    Peek::Whole {
        len,
        leader_epoch: header.i32(PARTITION_LEADER_EPOCH),
        next_offset,
    }
}

/// Decodes one whole batch; `batch` holds at least the fixed header.
fn decode_one(
    batch: Bytes,
    verify_crc: bool,
    max_decompressed: usize,
) -> Result<DecodedBatch, DecodeErrorKind> {
    let header = Fields(&batch);
    if verify_crc {
        let stored = header.u32(CRC);
        let computed = crc32c::crc32c(batch.get(ATTRIBUTES..).unwrap_or_default());
        if stored != computed {
            return Err(DecodeErrorKind::CrcMismatch { stored, computed });
        }
    }
    let attributes = header.i16(ATTRIBUTES);
    let compression = crate::protocol::wire::codec_from_bits(attributes)
        .ok_or(DecodeErrorKind::UnknownCompression(attributes & 0x07))?;
    let timestamp_type = if attributes & TIMESTAMP_TYPE_BIT != 0 {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    };
    let mut decoded = DecodedBatch {
        base_offset: header.i64(0),
        partition_leader_epoch: header.i32(PARTITION_LEADER_EPOCH),
        last_offset_delta: header.i32(LAST_OFFSET_DELTA),
        base_timestamp: header.i64(BASE_TIMESTAMP),
        max_timestamp: header.i64(MAX_TIMESTAMP),
        producer_id: header.i64(PRODUCER_ID),
        producer_epoch: header.i16(PRODUCER_EPOCH),
        base_sequence: header.i32(BASE_SEQUENCE),
        compression,
        timestamp_type,
        is_transactional: attributes & TRANSACTIONAL_BIT != 0,
        is_control: attributes & CONTROL_BIT != 0,
        records: Vec::new(),
        records_len: 0,
    };
    // Offsets are arithmetic for everyone downstream (next fetch offsets, lags, commits):
    // a batch whose offsets leave 0..i64::MAX is not a batch.
    let in_range = decoded.base_offset >= 0
        && decoded.last_offset_delta >= 0
        && decoded
            .base_offset
            .checked_add(i64::from(decoded.last_offset_delta) + 1)
            .is_some();
    if !in_range {
        return Err(DecodeErrorKind::Malformed(
            "batch offsets outside 0..=i64::MAX",
        ));
    }
    let count = usize::try_from(header.i32(RECORD_COUNT))
        .map_err(|_| DecodeErrorKind::Malformed("negative record count"))?;
    let section = batch.slice(BATCH_HEADER_LEN..);
    let section = match compression {
        Compression::Uncompressed => section,
        codec => Bytes::from(decompress(codec, &section, max_decompressed)?),
    };
    decoded.records_len = section.len();
    decoded.records = decode_records(section, count, &decoded)?;
    Ok(decoded)
}

/// Big-endian reads from the fixed header. Only ever used on a slice already checked to be
/// at least [`BATCH_HEADER_LEN`] long, with constant offsets inside it; an out-of-range read
/// would yield zero rather than panic.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        self.0
            .get(at..)
            .and_then(|s| s.first_chunk::<N>())
            .copied()
            .unwrap_or([0; N])
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_be_bytes(self.array(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_be_bytes(self.array(at))
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.array(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_be_bytes(self.array(at))
    }
}

fn decode_records(
    section: Bytes,
    count: usize,
    batch: &DecodedBatch,
) -> Result<Vec<DecodedRecord>, DecodeErrorKind> {
    // The count comes from the wire: believe it only as far as the bytes can back it.
    if count > section.len() / MIN_RECORD_LEN {
        return Err(DecodeErrorKind::Malformed("record count exceeds the data"));
    }
    let mut records = Vec::with_capacity(count);
    let mut cursor = Cursor {
        data: &section,
        pos: 0,
    };
    for _ in 0..count {
        let len = cursor.length("negative record length")?;
        let record = cursor.take(len, "record longer than the data")?;
        let mut fields = Cursor {
            data: &record,
            pos: 0,
        };
        records.push(decode_record(&mut fields, batch)?);
        if fields.pos != len {
            return Err(DecodeErrorKind::Malformed(
                "record length disagrees with its fields",
            ));
        }
    }
    if cursor.pos != section.len() {
        return Err(DecodeErrorKind::Malformed(
            "bytes left after the last record",
        ));
    }
    Ok(records)
}

fn decode_record(
    cursor: &mut Cursor<'_>,
    batch: &DecodedBatch,
) -> Result<DecodedRecord, DecodeErrorKind> {
    cursor.take(1, "record truncated")?; // attributes: unused
    let timestamp_delta = cursor.varlong()?;
    let offset_delta = cursor.varint()?;
    if !(0..=batch.last_offset_delta).contains(&offset_delta) {
        return Err(DecodeErrorKind::Malformed(
            "record offset outside its batch",
        ));
    }
    let key = cursor.nullable()?;
    let value = cursor.nullable()?;
    let header_count = cursor.length("negative header count")?;
    if header_count > cursor.remaining() / MIN_HEADER_LEN {
        return Err(DecodeErrorKind::Malformed("header count exceeds the data"));
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key_len = cursor.length("negative header key length")?;
        let key = cursor.take(key_len, "header key longer than the data")?;
        let value = cursor.nullable()?;
        headers.push(Header { key, value });
    }
    let timestamp = match batch.timestamp_type {
        TimestampType::LogAppendTime => batch.max_timestamp,
        TimestampType::CreateTime => batch.base_timestamp.wrapping_add(timestamp_delta),
    };
    Ok(DecodedRecord {
        offset: batch.base_offset + i64::from(offset_delta),
        timestamp,
        key,
        value,
        headers,
    })
}

/// Reads fields of a records section, handing out zero-copy slices of it.
struct Cursor<'a> {
    data: &'a Bytes,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn varint(&mut self) -> Result<i32, DecodeErrorKind> {
        let (value, len) =
            read_varint(self.rest()).map_err(|_| DecodeErrorKind::Malformed("bad varint"))?;
        self.pos += len;
        Ok(value)
    }

    fn varlong(&mut self) -> Result<i64, DecodeErrorKind> {
        let (value, len) =
            read_varlong(self.rest()).map_err(|_| DecodeErrorKind::Malformed("bad varlong"))?;
        self.pos += len;
        Ok(value)
    }

    /// A non-negative varint length.
    fn length(&mut self, negative: &'static str) -> Result<usize, DecodeErrorKind> {
        usize::try_from(self.varint()?).map_err(|_| DecodeErrorKind::Malformed(negative))
    }

    fn take(&mut self, len: usize, short: &'static str) -> Result<Bytes, DecodeErrorKind> {
        if len > self.remaining() {
            return Err(DecodeErrorKind::Malformed(short));
        }
        let slice = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(slice)
    }

    /// A varint length then that many bytes; -1 is null.
    fn nullable(&mut self) -> Result<Option<Bytes>, DecodeErrorKind> {
        match self.varint()? {
            -1 => Ok(None),
            len => {
                let len = usize::try_from(len)
                    .map_err(|_| DecodeErrorKind::Malformed("negative length other than -1"))?;
                self.take(len, "field longer than the data").map(Some)
            }
        }
    }
}
