//! One partition's record batch: open for appends, then sealed into the bytes that are sent
//! (and resent, unchanged, by retries), with where each record's outcome goes.
//!
//! ```text
//! Open(builder) ──append──▶ Open
//!      │ seal(fields): encode + compress once
//!      ▼
//! Sealed { bytes, fields } ──seal(same fields)──▶ the same bytes
//!                          ──seal(other fields)──▶ bytes with the producer fields rewritten
//! split: Sealed ──decode──▶ two Open halves
//! ```

use super::delivery::{Delivery, Resolver, Slots};
use super::flush::Pending;
use super::settle::maybe_written;
use crate::config::Compression;
use crate::error::{Error, Result};
use crate::protocol::record_batch::decode::{decode_batches, DecodedRecord};
use crate::protocol::record_batch::{set_producer_fields, BatchBuilder, BatchParams};
use crate::record::{Header, RecordMetadata, TopicPartition};
use bytes::{Bytes, BytesMut};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

/// A delivery callback, as `Producer::send_with_callback` takes it.
pub(crate) type Callback = Box<dyn FnOnce(Result<RecordMetadata>) + Send + 'static>;

/// How the sender of a record wants its outcome.
pub(crate) enum Reply {
    /// A `Delivery` future, handed back by the append.
    Future,
    /// A callback, called on the producer's task when the outcome is known (Java's `Callback`).
    Callback(Callback),
}

/// Where a record's outcome goes.
pub(crate) enum Completion {
    Future(Resolver),
    Callback(Callback),
}

impl Completion {
    fn complete(self, outcome: Result<RecordMetadata>) {
        match self {
            Completion::Future(resolver) => resolver.resolve(outcome),
            Completion::Callback(callback) => {
                // A panicking callback must not take the batch's bookkeeping down with it (its
                // partition would stay blocked); Java logs and goes on the same way.
                if catch_unwind(AssertUnwindSafe(|| callback(outcome))).is_err() {
                    tracing::error!("a delivery callback panicked; the producer goes on");
                }
            }
        }
    }
}

/// The idempotence fields a batch is sent with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProducerFields {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    /// The batch belongs to a transaction (the attribute bit read_committed consumers
    /// filter by); a batch keeps it through every retry.
    pub transactional: bool,
}

/// Where a batch belongs in its partition's queue: the order its records were sent in. A
/// batch's place is its number among the partition's batches; a split half's, that and the
/// index of its first record in the batch it came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Place {
    batch: u64,
    record: usize,
}

impl Place {
    /// The place of the partition's batch number `batch`.
    pub(crate) fn new(batch: u64) -> Place {
        Place { batch, record: 0 }
    }
}

/// Settings that shape batches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchSettings {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    pub compression_level: Option<i32>,
}

impl BatchSettings {
    /// An empty open batch's builder reserving `capacity` bytes.
    pub(crate) fn builder(&self, capacity: usize) -> BatchBuilder {
        BatchBuilder::new(self.compression, capacity).with_compression_level(self.compression_level)
    }
}

/// A record on its way into a batch.
pub(crate) struct Append<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [Header],
    pub size: usize,
    /// The record's [`record_fixed_len`](crate::protocol::record_batch::record_fixed_len),
    /// measured once by the caller.
    pub fixed_len: usize,
}

impl Append<'_> {
    #[inline]
    pub(crate) fn append_to(&self, builder: &mut BatchBuilder) {
        builder.append_measured(
            self.fixed_len,
            self.timestamp,
            self.key,
            self.value,
            self.headers,
        );
    }
}

/// A batch's records: open for appends until its first send seals them into wire bytes.
pub(crate) enum Body {
    /// Records are encoded into the builder as they arrive.
    Open(BatchBuilder),
    /// Encoded and compressed once; retries resend these bytes.
    Sealed {
        bytes: Bytes,
        /// The producer fields written in `bytes` (`None`: the -1s of a batch without
        /// idempotence).
        fields: Option<ProducerFields>,
        /// The records' size before compression, for the compression-ratio metric.
        uncompressed_size: usize,
    },
}

impl Body {
    /// Stands in for a body being moved from one state to the next.
    const EMPTY: Body = Body::Sealed {
        bytes: Bytes::new(),
        fields: None,
        uncompressed_size: 0,
    };

    /// The builder while the body is open: appends go nowhere else.
    #[inline]
    pub(crate) fn open_mut(&mut self) -> Option<&mut BatchBuilder> {
        match self {
            Body::Open(builder) => Some(builder),
            Body::Sealed { .. } => None,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self, Body::Open(_))
    }

    /// An upper bound of the encoded size while open; the exact size once sealed.
    pub(crate) fn size_estimate(&self) -> usize {
        match self {
            Body::Open(builder) => builder.size_estimate(),
            Body::Sealed { bytes, .. } => bytes.len(),
        }
    }

    fn uncompressed_size(&self) -> usize {
        match self {
            Body::Open(builder) => builder.size_estimate(),
            Body::Sealed {
                uncompressed_size, ..
            } => *uncompressed_size,
        }
    }

    /// The one transition: an open body is encoded (and compressed) with `fields`; a sealed
    /// one keeps its bytes, with the producer fields rewritten only if they differ (after an
    /// epoch bump, or when a retry gets new sequences).
    fn seal(self, fields: Option<ProducerFields>) -> Body {
        match self {
            Body::Open(builder) => {
                let uncompressed_size = builder.size_estimate();
                let params = match fields {
                    Some(f) => BatchParams {
                        producer_id: f.producer_id,
                        producer_epoch: f.epoch,
                        base_sequence: f.base_sequence,
                        transactional: f.transactional,
                        ..BatchParams::default()
                    },
                    None => BatchParams::default(),
                };
                Body::Sealed {
                    bytes: builder.finish(params),
                    fields,
                    uncompressed_size,
                }
            }
            Body::Sealed {
                bytes,
                fields: old,
                uncompressed_size,
            } if old != fields => {
                let mut copy = BytesMut::from(&bytes[..]);
                let f = fields.unwrap_or(ProducerFields {
                    producer_id: -1,
                    epoch: -1,
                    base_sequence: -1,
                    transactional: false,
                });
                // The batch was encoded by us, so its header is well formed.
                let _ = set_producer_fields(&mut copy, f.producer_id, f.epoch, f.base_sequence);
                Body::Sealed {
                    bytes: copy.freeze(),
                    fields,
                    uncompressed_size,
                }
            }
            sealed @ Body::Sealed { .. } => sealed,
        }
    }

    fn bytes(&self) -> Bytes {
        match self {
            Body::Sealed { bytes, .. } => bytes.clone(),
            Body::Open(_) => Bytes::new(),
        }
    }
}

/// A batch for one partition, open for appends until the sender takes it.
///
/// `retry_at`, `attempts`, `sequence` and `outcome_unknown` are separate fields rather than
/// one lifecycle enum because nearly all their combinations occur: a split half has attempts
/// but no backoff, and a sequence only with idempotence; a batch put back for want of a
/// leader has a backoff but no attempt; a batch of unknown outcome has a sequence only with
/// idempotence. Whether a batch is in flight is who holds it (its queue counts how many
/// are). After an answer they change
/// only as `outcome::decide` says (`settle.rs`), besides `split` and an epoch bump clearing
/// waiting sequences.
pub(crate) struct Batch {
    pub tp: TopicPartition,
    /// The topic as records carry it, shared into each `RecordMetadata` without a copy.
    pub topic: Arc<str>,
    pub(crate) body: Body,
    /// One entry per record, in offset-delta order: where its outcome goes, and its timestamp.
    pub records: Vec<(Completion, i64)>,
    /// Where the `Delivery`s of this batch's records are written.
    slots: Slots,
    pub created: Instant,
    /// Its place in its partition's queue (set when it is queued).
    pub place: Place,
    /// Not sent again before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    /// Attempts that failed and were retried (the `retries` setting bounds them).
    pub attempts: u32,
    /// The sequence assigned at first send; kept through retries so the broker can
    /// recognise a batch it already wrote.
    pub sequence: Option<ProducerFields>,
    /// An attempt got no answer: the broker may have written the batch. Stays set until the
    /// broker answers for the batch (see `outcome::decide`).
    pub outcome_unknown: bool,
    /// This batch's share of `buffer.memory`, given back when the batch is dropped (settled),
    /// and halved between the parts when it is split.
    reservation: OwnedSemaphorePermit,
    /// Counts the batch for `flush` until it is dropped (settled).
    pending: Pending,
}

impl Batch {
    /// A new open batch holding its memory reservation.
    pub(crate) fn new(
        topic: &Arc<str>,
        partition: i32,
        builder: BatchBuilder,
        reservation: OwnedSemaphorePermit,
        pending: Pending,
    ) -> Batch {
        Batch {
            tp: TopicPartition::new(&**topic, partition),
            topic: topic.clone(),
            body: Body::Open(builder),
            records: Vec::new(),
            slots: Slots::default(),
            created: Instant::now(),
            place: Place::default(),
            retry_at: None,
            attempts: 0,
            sequence: None,
            outcome_unknown: false,
            reservation,
            pending,
        }
    }

    pub(crate) fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Records where the outcome of the record just appended goes.
    #[inline]
    pub(crate) fn push_reply(&mut self, reply: Reply, timestamp: i64) -> Option<Delivery> {
        match reply {
            Reply::Future => {
                let (delivery, resolver) = self.slots.next();
                self.records.push((Completion::Future(resolver), timestamp));
                Some(delivery)
            }
            Reply::Callback(callback) => {
                self.records
                    .push((Completion::Callback(callback), timestamp));
                None
            }
        }
    }

    /// An upper bound of the encoded size (exact once encoded).
    pub(crate) fn size_estimate(&self) -> usize {
        self.body.size_estimate()
    }

    /// Size of the records before compression, for the compression-ratio metric.
    pub(crate) fn uncompressed_size(&self) -> usize {
        self.body.uncompressed_size()
    }

    /// The bytes to send, carrying `self.sequence`: seals the body on first use.
    pub(crate) fn encoded(&mut self) -> Bytes {
        let body = std::mem::replace(&mut self.body, Body::EMPTY);
        self.body = body.seal(self.sequence);
        self.body.bytes()
    }

    /// Splits a batch the broker refused as too large into two halves, in order, each with
    /// part of the reservation (Java's `splitAndReenqueue`). The records are decoded back
    /// from the encoded bytes; a batch that cannot be split comes back unchanged as the error.
    /// The halves are open, unsequenced and of known outcome, and keep the batch's creation
    /// time and attempts; the first is this batch, and keeps its place.
    pub(crate) fn split(mut self, settings: &BatchSettings) -> Result<(Batch, Batch), Box<Batch>> {
        if self.records.len() < 2 {
            return Err(Box::new(self));
        }
        let Ok(decoded) = decode_batches(self.encoded(), false, usize::MAX >> 1) else {
            return Err(Box::new(self));
        };
        let records: Vec<DecodedRecord> = decoded.into_iter().flat_map(|b| b.records).collect();
        if records.len() != self.records.len() {
            return Err(Box::new(self));
        }
        let half_capacity = self.reservation.num_permits() / 2;
        let Some(second_reservation) = self.reservation.split(half_capacity) else {
            return Err(Box::new(self));
        };
        let mid = records.len() / 2;
        let open = |records: &[DecodedRecord]| {
            let mut builder = settings.builder(half_capacity);
            for r in records {
                builder.append(
                    r.timestamp,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    &r.headers,
                );
            }
            Body::Open(builder)
        };
        let second = Batch {
            tp: self.tp.clone(),
            topic: self.topic.clone(),
            body: open(&records[mid..]),
            records: self.records.split_off(mid),
            slots: Slots::default(),
            created: self.created,
            place: Place {
                record: self.place.record + mid,
                ..self.place
            },
            retry_at: None,
            attempts: self.attempts,
            sequence: None,
            outcome_unknown: false,
            reservation: second_reservation,
            pending: self.pending.another(),
        };
        self.body = open(&records[..mid]);
        self.slots = Slots::default();
        self.retry_at = None;
        self.sequence = None;
        self.outcome_unknown = false;
        Ok((self, second))
    }

    /// Resolves every record of the batch with `outcome(offset_delta, timestamp)`.
    pub(crate) fn complete(mut self, outcome: impl Fn(usize, i64) -> Result<RecordMetadata>) {
        let records = std::mem::take(&mut self.records);
        for (i, (completion, timestamp)) in records.into_iter().enumerate() {
            completion.complete(outcome(i, timestamp));
        }
    }

    pub(crate) fn fail(self, error: impl Fn() -> Error) {
        self.complete(|_, _| Err(error()));
    }
}

impl Drop for Batch {
    /// A batch dropped before it is settled (the producer's state went away with it: its
    /// last clone was dropped while the batch was on its way back to a queue, or the runtime
    /// shut down) still resolves each record once, with `Error::Dropped`, saying so if the
    /// record may have been written.
    fn drop(&mut self) {
        if self.records.is_empty() {
            return;
        }
        let error = maybe_written(Error::Dropped, self.outcome_unknown);
        for (completion, _) in std::mem::take(&mut self.records) {
            completion.complete(Err(error.clone()));
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::flush::Tracker;
    use crate::protocol::record_batch::decode::DecodedBatch;
    use tokio::sync::Semaphore;

    const SETTINGS: BatchSettings = BatchSettings {
        batch_size: 1000,
        linger: Duration::ZERO,
        compression: Compression::Uncompressed,
        compression_level: None,
    };

    fn fields(epoch: i16, base_sequence: i32) -> Option<ProducerFields> {
        Some(ProducerFields {
            producer_id: 9,
            epoch,
            base_sequence,
            transactional: false,
        })
    }

    fn decode(bytes: &Bytes) -> DecodedBatch {
        decode_batches(bytes.clone(), true, 1 << 20)
            .unwrap()
            .remove(0)
    }

    #[derive(Clone, Copy, Debug)]
    enum Event {
        Append(&'static [u8]),
        Seal(Option<ProducerFields>),
    }

    #[derive(Debug, PartialEq)]
    enum After {
        Open {
            records: usize,
        },
        /// Refused: the body was not changed.
        Refused,
        /// (producer id, epoch, base sequence) as the bytes carry them, and whether they are
        /// the very same bytes as the previous seal (a retry resends them, no copy).
        Sealed((i64, i16, i32), bool),
    }

    /// Every transition of a body, in the order a batch's life takes them: appends while
    /// open, the first send seals, retries reuse the bytes, and new producer fields (a bump,
    /// new sequences) rewrite only the header.
    #[test]
    fn body_transitions() {
        use After::*;
        use Event::*;
        const NONE: (i64, i16, i32) = (-1, -1, -1);
        #[rustfmt::skip]
        let table: &[(Event, After)] = &[
            (Append(b"a"), Open { records: 1 }),
            (Append(b"b"), Open { records: 2 }),
            (Seal(None), Sealed(NONE, false)),
            (Append(b"c"), Refused),
            (Seal(None), Sealed(NONE, true)),
            (Seal(fields(0, 5)), Sealed((9, 0, 5), false)),
            (Seal(fields(0, 5)), Sealed((9, 0, 5), true)),
            (Seal(fields(1, 0)), Sealed((9, 1, 0), false)),
            (Seal(None), Sealed(NONE, false)),
        ];
        let mut body = Body::Open(SETTINGS.builder(100));
        let mut previous = Bytes::new();
        for (row, (event, expected)) in table.iter().enumerate() {
            let after = match *event {
                Append(value) => match body.open_mut() {
                    Some(builder) => {
                        builder.append(0, None, Some(value), &[]);
                        Open {
                            records: builder.record_count(),
                        }
                    }
                    None => Refused,
                },
                Seal(fields) => {
                    body = std::mem::replace(&mut body, Body::EMPTY).seal(fields);
                    let bytes = body.bytes();
                    let batch = decode(&bytes);
                    let values: Vec<_> = batch.records.iter().map(|r| r.value.clone()).collect();
                    assert_eq!(values, [Some("a".into()), Some("b".into())], "row {row}");
                    let same = bytes.as_ptr() == previous.as_ptr() && bytes == previous;
                    previous = bytes;
                    let written = (batch.producer_id, batch.producer_epoch, batch.base_sequence);
                    Sealed(written, same)
                }
            };
            assert_eq!(&after, expected, "row {row}: {event:?}");
            assert_eq!(body.is_open(), matches!(after, Open { .. }), "row {row}");
        }
    }

    #[test]
    fn size_and_uncompressed_size_follow_the_body() {
        let mut body = Body::Open(SETTINGS.builder(100));
        if let Some(builder) = body.open_mut() {
            builder.append(0, None, Some(&[7; 50]), &[]);
        }
        let open_estimate = body.size_estimate();
        let sealed = body.seal(None);
        assert_eq!(sealed.size_estimate(), sealed.bytes().len());
        assert!(sealed.size_estimate() <= open_estimate);
        assert_eq!(sealed.uncompressed_size(), open_estimate);
    }

    fn batch(memory: &Arc<Semaphore>, values: &[&[u8]]) -> Batch {
        let reservation = memory.clone().try_acquire_many_owned(400).unwrap();
        let mut builder = SETTINGS.builder(400);
        for value in values {
            builder.append(0, None, Some(value), &[]);
        }
        let pending = Arc::new(Tracker::default()).pending();
        let mut batch = Batch::new(&Arc::from("t"), 0, builder, reservation, pending);
        for (i, _) in values.iter().enumerate() {
            let _ = batch.push_reply(Reply::Future, i as i64);
        }
        batch
    }

    #[tokio::test]
    async fn a_split_makes_two_open_unsequenced_halves_in_order() {
        let memory = Arc::new(Semaphore::new(1000));
        let mut whole = batch(&memory, &[b"a", b"b", b"c"]);
        whole.sequence = fields(0, 7);
        whole.outcome_unknown = true;
        whole.attempts = 2;
        let _ = whole.encoded();
        let (first, second) = whole.split(&SETTINGS).ok().unwrap();
        assert_eq!(memory.available_permits(), 600, "the reservation is shared");
        for (half, timestamps) in [(&first, vec![0]), (&second, vec![1, 2])] {
            assert!(half.body.is_open());
            assert_eq!(half.sequence, None);
            assert!(!half.outcome_unknown);
            assert_eq!(half.attempts, 2);
            assert_eq!(half.reservation.num_permits(), 200);
            let got: Vec<i64> = half.records.iter().map(|r| r.1).collect();
            assert_eq!(got, timestamps, "each half keeps its records' replies");
        }
        let mut second = second;
        let values: Vec<_> = decode(&second.encoded())
            .records
            .into_iter()
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(values, [&b"b"[..], b"c"]);
        drop((first, second));
        assert_eq!(memory.available_permits(), 1000);
    }

    #[tokio::test]
    async fn a_single_record_batch_is_not_split() {
        let memory = Arc::new(Semaphore::new(1000));
        let single = batch(&memory, &[b"a"]);
        let back = single.split(&SETTINGS).err().unwrap();
        assert_eq!(back.record_count(), 1);
    }
}
