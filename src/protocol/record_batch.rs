//! Record batches, magic v2: building them as records arrive, and decoding fetched ones.
//!
//! Layout (all integers big-endian; the CRC-32C covers `attributes` to the end):
//!
//! ```text
//! baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 = 2 | crc u32 |
//! attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
//! producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32 | records...
//! ```
//!
//! The records section (everything after `recordCount`) is what a codec compresses. Each record
//! is `length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//! keyLength varint | key | valueLength varint | value | headerCount varint | headers`.

pub(crate) mod decode;
#[cfg(test)]
mod tests;

use decode::{DecodeError, DecodeErrorKind};

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{compress, max_compressed_len};
use super::varint::{put_varint, put_varlong, varint_len, varlong_len};
use crate::config::Compression;
use crate::record::Header;

/// Bytes before `batchLength`'s count starts: `baseOffset` and `batchLength` themselves.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// The fixed batch header, up to and including `recordCount`.
pub(crate) const BATCH_HEADER_LEN: usize = 61;
/// The only batch format kafkit reads and writes.
pub(crate) const MAGIC_V2: i8 = 2;

// Field offsets in the batch header.
const PARTITION_LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;

// Attribute bits above the three codec bits.
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// The batch-level fields a producer fills in when a batch is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchParams {
    /// The idempotent producer id, or -1.
    pub producer_id: i64,
    /// The producer epoch, or -1.
    pub producer_epoch: i16,
    /// The sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
    /// The leader epoch; producers send -1 and the broker fills it in.
    pub partition_leader_epoch: i32,
}

impl Default for BatchParams {
    /// A batch from a producer that is neither idempotent nor transactional.
    fn default() -> Self {
        Self {
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            partition_leader_epoch: -1,
        }
    }
}

/// Encodes records into a batch as they are appended, so closing a batch costs one
/// compression pass and one CRC, never a second walk over the records.
///
/// The records are written uncompressed after room for the header; [`BatchBuilder::finish`]
/// compresses that section (when a codec is set) and fills in the header.
#[derive(Debug)]
pub(crate) struct BatchBuilder {
    compression: Compression,
    level: Option<i32>,
    buf: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl BatchBuilder {
    /// An empty batch; `capacity` is the buffer to reserve up front, typically `batch.size`.
    pub(crate) fn new(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_LEN));
        buf.put_bytes(0, BATCH_HEADER_LEN);
        Self {
            compression,
            level: None,
            buf,
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
        }
    }

    /// Sets the codec's level (`compression.<codec>.level`); see [`compress`] for which codecs
    /// use it.
    pub(crate) fn with_compression_level(mut self, level: Option<i32>) -> Self {
        self.level = level;
        self
    }

    /// Appends a record and returns its offset delta within the batch.
    ///
    /// The first record's timestamp becomes the batch's base timestamp; later ones may be
    /// earlier (the delta is signed).
    ///
    /// # Panics
    ///
    /// If a key, value or header is 2 GiB or more, which no broker accepts; the producer checks
    /// `max.request.size` long before.
    pub(crate) fn append(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let fixed_len = record_fixed_len(key, value, headers);
        self.append_measured(fixed_len, timestamp_ms, key, value, headers)
    }

    /// [`BatchBuilder::append`] for a record whose [`record_fixed_len`] the caller already
    /// has: the producer measures each record once, for its size checks, and reuses that here.
    pub(crate) fn append_measured(
        &mut self,
        fixed_len: usize,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        debug_assert_eq!(fixed_len, record_fixed_len(key, value, headers));
        if self.count == 0 {
            self.base_timestamp = timestamp_ms;
            self.max_timestamp = timestamp_ms;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        let offset_delta = self.count;
        // Wrapping keeps absurd timestamp pairs encodable; the decoder wraps back identically.
        let timestamp_delta = timestamp_ms.wrapping_sub(self.base_timestamp);
        let body = fixed_len + varlong_len(timestamp_delta) + varint_len(offset_delta);

        let buf = &mut self.buf;
        buf.reserve(varint_len(len_i32(body)) + body);
        put_varint(buf, len_i32(body));
        buf.put_i8(0); // record attributes: unused by every Kafka version so far
        put_varlong(buf, timestamp_delta);
        put_varint(buf, offset_delta);
        put_nullable(buf, key);
        put_nullable(buf, value);
        put_varint(buf, len_i32(headers.len()));
        for header in headers {
            put_varint(buf, len_i32(header.key.len()));
            buf.put_slice(&header.key);
            put_nullable(buf, header.value.as_deref());
        }
        self.count += 1;
        offset_delta as usize
    }

    /// The exact encoded size of one record, its length prefix included, from its
    /// [`record_fixed_len`] and its two deltas.
    pub(crate) fn encoded_record_size(
        fixed_len: usize,
        timestamp_delta: i64,
        offset_delta: i32,
    ) -> usize {
        let body = fixed_len + varlong_len(timestamp_delta) + varint_len(offset_delta);
        varint_len(len_i32(body)) + body
    }

    /// The exact number of bytes [`BatchBuilder::append`] would add for this record now,
    /// before compression.
    #[cfg(test)]
    pub(crate) fn next_record_size(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let base = if self.count == 0 {
            timestamp_ms
        } else {
            self.base_timestamp
        };
        Self::encoded_record_size(
            record_fixed_len(key, value, headers),
            timestamp_ms.wrapping_sub(base),
            self.count,
        )
    }

    /// An upper bound of the finished batch's size, compression overhead included. For
    /// compressed batches it assumes nothing compresses, so it is close to the uncompressed size.
    pub(crate) fn size_estimate(&self) -> usize {
        BATCH_HEADER_LEN + max_compressed_len(self.compression, self.records_len())
    }

    /// The number of records appended.
    #[cfg(test)]
    pub(crate) fn record_count(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended yet.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn records_len(&self) -> usize {
        self.buf.len() - BATCH_HEADER_LEN
    }

    /// Compresses the records, writes the header and the CRC, and returns the wire bytes (base
    /// offset 0; the broker assigns offsets).
    ///
    /// Should compression itself fail (no codec here fails on in-memory input; this is a guard),
    /// the batch goes out uncompressed, which its attributes then say: still a valid batch.
    pub(crate) fn finish(self, params: BatchParams) -> Bytes {
        let Self {
            compression,
            level,
            buf,
            count,
            base_timestamp,
            max_timestamp,
        } = self;
        let mut header = HeaderFields {
            codec: Compression::Uncompressed,
            params,
            count,
            base_timestamp,
            max_timestamp,
        };
        if compression != Compression::Uncompressed {
            let records = &buf[BATCH_HEADER_LEN..];
            let mut out = Vec::with_capacity(
                BATCH_HEADER_LEN + max_compressed_len(compression, records.len()),
            );
            out.resize(BATCH_HEADER_LEN, 0);
            match compress(compression, level, records, &mut out) {
                Ok(()) => {
                    header.codec = compression;
                    header.write(&mut out);
                    return Bytes::from(out);
                }
                Err(error) => {
                    tracing::warn!(%error, "compression failed; sending the batch uncompressed");
                }
            }
        }
        let mut buf = buf;
        header.write(&mut buf);
        buf.freeze()
    }
}

/// What [`BatchBuilder::finish`] writes into the header.
struct HeaderFields {
    codec: Compression,
    params: BatchParams,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl HeaderFields {
    /// Fills in the header at the start of `batch` (the records follow) and its CRC.
    fn write(&self, batch: &mut [u8]) {
        let params = &self.params;
        let mut attributes = crate::protocol::wire::codec_bits(self.codec);
        if params.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        let batch_length = len_i32(batch.len() - LOG_OVERHEAD);
        put_at(batch, 0, &0i64.to_be_bytes());
        put_at(batch, LOG_OVERHEAD - 4, &batch_length.to_be_bytes());
        put_at(
            batch,
            PARTITION_LEADER_EPOCH,
            &params.partition_leader_epoch.to_be_bytes(),
        );
        put_at(batch, MAGIC, &MAGIC_V2.to_be_bytes());
        put_at(batch, ATTRIBUTES, &attributes.to_be_bytes());
        put_at(batch, LAST_OFFSET_DELTA, &(self.count - 1).to_be_bytes());
        put_at(batch, BASE_TIMESTAMP, &self.base_timestamp.to_be_bytes());
        put_at(batch, MAX_TIMESTAMP, &self.max_timestamp.to_be_bytes());
        put_at(batch, PRODUCER_ID, &params.producer_id.to_be_bytes());
        put_at(batch, PRODUCER_EPOCH, &params.producer_epoch.to_be_bytes());
        put_at(batch, BASE_SEQUENCE, &params.base_sequence.to_be_bytes());
        put_at(batch, RECORD_COUNT, &self.count.to_be_bytes());
        let crc = crc32c::crc32c(&batch[ATTRIBUTES..]);
        put_at(batch, CRC, &crc.to_be_bytes());
    }
}

/// Rewrites the producer id, epoch and base sequence of a finished batch and recomputes its
/// CRC: the idempotent producer does this when it bumps its epoch or resets sequences for
/// batches already built.
pub(crate) fn set_producer_fields(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), DecodeError> {
    let malformed =
        |what| DecodeError::new(base_offset_of(batch), DecodeErrorKind::Malformed(what));
    if batch.len() < BATCH_HEADER_LEN {
        return Err(malformed("batch shorter than its header"));
    }
    if batch[MAGIC] as i8 != MAGIC_V2 {
        return Err(DecodeError::new(
            base_offset_of(batch),
            DecodeErrorKind::UnsupportedMagic(batch[MAGIC] as i8),
        ));
    }
    let declared = i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]);
    let end = usize::try_from(declared)
        .ok()
        .and_then(|len| len.checked_add(LOG_OVERHEAD))
        .filter(|&end| (BATCH_HEADER_LEN..=batch.len()).contains(&end))
        .ok_or_else(|| malformed("batch length does not match the buffer"))?;
    put_at(batch, PRODUCER_ID, &producer_id.to_be_bytes());
    put_at(batch, PRODUCER_EPOCH, &producer_epoch.to_be_bytes());
    put_at(batch, BASE_SEQUENCE, &base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES..end]);
    put_at(batch, CRC, &crc.to_be_bytes());
    Ok(())
}

/// The base offset at the start of `batch`, or -1 when it is too short to hold one.
fn base_offset_of(batch: &[u8]) -> i64 {
    batch
        .first_chunk::<8>()
        .map_or(-1, |b| i64::from_be_bytes(*b))
}

/// Every caller writes inside the fixed header, which is always there.
fn put_at(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The encoded length of the parts of a record's body that do not depend on where it sits in
/// its batch: its attributes byte, key, value and headers (everything but the timestamp and
/// offset deltas).
pub(crate) fn record_fixed_len(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    let headers_len: usize = headers
        .iter()
        .map(|h| varint_len(len_i32(h.key.len())) + h.key.len() + nullable_len(h.value.as_deref()))
        .sum();
    1 + nullable_len(key) + nullable_len(value) + varint_len(len_i32(headers.len())) + headers_len
}

fn nullable_len(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => varint_len(-1),
        Some(b) => varint_len(len_i32(b.len())) + b.len(),
    }
}

fn put_nullable(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, len_i32(b.len()));
            buf.put_slice(b);
        }
    }
}

/// Lengths on the wire are `i32`; see the panic note on [`BatchBuilder::append`].
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).expect("record batch field of 2 GiB or more")
}

/// Hooks for the fuzz targets and benchmarks, which are separate crates; exported from the
/// crate root only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::{decode, BatchBuilder, BatchParams};
    use crate::config::Compression;
    use crate::protocol::compression::decompress;
    use bytes::Bytes;

    /// Decodes arbitrary bytes both with and without CRC checks, ignoring errors.
    pub fn fuzz_decode(data: &[u8]) {
        let data = Bytes::copy_from_slice(data);
        for verify_crc in [false, true] {
            for batch in decode::batches(data.clone(), verify_crc, 1 << 20).flatten() {
                std::hint::black_box(batch);
            }
        }
    }

    /// Decompresses arbitrary bytes with every codec, ignoring errors.
    pub fn fuzz_decompress(data: &[u8]) {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let _ = std::hint::black_box(decompress(codec, data, 1 << 20));
        }
    }

    /// Builds and finishes one batch of `(key, value)` records, all with the same timestamp.
    pub fn build_batch(codec: Compression, records: &[(&[u8], &[u8])]) -> Bytes {
        let capacity = records.iter().map(|(k, v)| k.len() + v.len() + 16).sum();
        let mut builder = BatchBuilder::new(codec, capacity);
        for (key, value) in records {
            builder.append(1_700_000_000_000, Some(key), Some(value), &[]);
        }
        builder.finish(BatchParams::default())
    }

    /// Decodes batches (CRC checked, 64 MiB cap) and returns how many records they hold.
    pub fn decode_record_count(data: Bytes) -> Result<usize, String> {
        let batches = decode::decode_batches(data, true, 64 << 20).map_err(|e| e.to_string())?;
        Ok(batches.iter().map(|b| b.records.len()).sum())
    }
}
