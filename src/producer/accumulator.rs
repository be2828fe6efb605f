//! Per-partition queues of record batches, encoded as records arrive.
//!
//! `send` appends to the open batch of its partition; the sender takes the oldest batch of a
//! partition once it is full, its `linger.ms` has passed, or a flush asks for it. One batch
//! per partition is in flight at a time: a retry can never be overtaken by a later batch,
//! and with idempotence the only sequenced, unacknowledged batch of a partition is the one in
//! flight (or waiting to be retried), which keeps sequence bookkeeping simple.
//!
//! Every batch holds a reservation from `buffer.memory` for its whole capacity, taken before
//! it is created and returned when it is settled, so the budget bounds real memory.

use super::delivery::{Delivery, Resolver, Slots};
use crate::config::Compression;
use crate::error::{Error, Result};
use crate::protocol::record_batch::{set_producer_fields, BatchBuilder, BatchParams};
use crate::record::{Header, RecordMetadata, TopicPartition};
use crate::sync::lock;
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
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
}

/// A batch for one partition, open for appends until the sender takes it.
pub(crate) struct Batch {
    pub tp: TopicPartition,
    /// The topic as records carry it, shared into each `RecordMetadata` without a copy.
    pub topic: Arc<str>,
    builder: Option<BatchBuilder>,
    /// The encoded batch and the fields it carries; retries resend these bytes.
    encoded: Option<(Bytes, Option<ProducerFields>)>,
    /// One entry per record, in offset-delta order: where its outcome goes, and its timestamp.
    pub records: Vec<(Completion, i64)>,
    /// Where the `Delivery`s of this batch's records are written.
    slots: Slots,
    pub created: Instant,
    /// Not sent again before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    pub attempts: u32,
    /// The sequence assigned at first send; kept through retries so the broker can
    /// recognise a batch it already wrote.
    pub sequence: Option<ProducerFields>,
    /// The last attempt got no answer: the broker may have written the batch.
    pub outcome_unknown: bool,
    /// Size of the records before compression, for the compression-ratio metric.
    pub uncompressed_size: usize,
    /// This batch's share of `buffer.memory`, given back when the batch is dropped (settled),
    /// and halved between the parts when it is split.
    reservation: OwnedSemaphorePermit,
}

impl Batch {
    pub(crate) fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Records where the outcome of the record just appended goes.
    fn push_reply(&mut self, reply: Reply, timestamp: i64) -> Option<Delivery> {
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
        match (&self.encoded, &self.builder) {
            (Some((bytes, _)), _) => bytes.len(),
            (None, Some(builder)) => builder.size_estimate(),
            (None, None) => 0,
        }
    }

    /// The bytes to send, carrying `self.sequence`. Encodes (and compresses) on first use;
    /// later calls reuse the bytes, rewriting the producer fields only after an epoch bump.
    pub(crate) fn encoded(&mut self) -> Bytes {
        if let Some(builder) = self.builder.take() {
            self.uncompressed_size = builder.size_estimate();
            let params = match self.sequence {
                Some(f) => BatchParams {
                    producer_id: f.producer_id,
                    producer_epoch: f.epoch,
                    base_sequence: f.base_sequence,
                    ..BatchParams::default()
                },
                None => BatchParams::default(),
            };
            self.encoded = Some((builder.finish(params), self.sequence));
        }
        match &mut self.encoded {
            Some((bytes, fields)) if *fields != self.sequence => {
                let mut copy = BytesMut::from(&bytes[..]);
                let f = self.sequence.unwrap_or(ProducerFields {
                    producer_id: -1,
                    epoch: -1,
                    base_sequence: -1,
                });
                // The batch was encoded by us, so its header is well formed.
                let _ = set_producer_fields(&mut copy, f.producer_id, f.epoch, f.base_sequence);
                *bytes = copy.freeze();
                *fields = self.sequence;
                bytes.clone()
            }
            Some((bytes, _)) => bytes.clone(),
            None => Bytes::new(),
        }
    }

    /// Splits a batch the broker refused as too large into two halves, in order, each with
    /// part of the reservation (Java's `splitAndReenqueue`). The records are decoded back
    /// from the encoded bytes; a single-record batch comes back unchanged as the error.
    pub(crate) fn split(mut self, settings: &BatchSettings) -> Result<(Batch, Batch), Box<Batch>> {
        if self.records.len() < 2 {
            return Err(Box::new(self));
        }
        let bytes = self.encoded();
        let Ok(decoded) =
            crate::protocol::record_batch::decode::decode_batches(bytes, false, usize::MAX >> 1)
        else {
            return Err(Box::new(self));
        };
        let records: Vec<_> = decoded.into_iter().flat_map(|b| b.records).collect();
        if records.len() != self.records.len() {
            return Err(Box::new(self));
        }
        let mid = records.len() / 2;
        let half = self.reservation.num_permits() / 2;
        let Some(second_reservation) = self.reservation.split(half) else {
            return Err(Box::new(self));
        };
        let mut replies = std::mem::take(&mut self.records);
        let second_replies = replies.split_off(mid);
        let build = |records: &[crate::protocol::record_batch::decode::DecodedRecord], capacity| {
            let mut builder = BatchBuilder::new(settings.compression, capacity)
                .with_compression_level(settings.compression_level);
            for r in records {
                builder.append(
                    r.timestamp,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    &r.headers,
                );
            }
            builder
        };
        let first_builder = build(&records[..mid], half);
        let second_builder = build(&records[mid..], half);
        let make = |builder, replies, reservation| Batch {
            tp: self.tp.clone(),
            topic: self.topic.clone(),
            builder: Some(builder),
            encoded: None,
            records: replies,
            slots: Slots::default(),
            created: self.created,
            retry_at: None,
            attempts: self.attempts,
            sequence: None,
            outcome_unknown: false,
            uncompressed_size: 0,
            reservation,
        };
        let second = make(second_builder, second_replies, second_reservation);
        let first = make(first_builder, replies, self.reservation);
        Ok((first, second))
    }

    /// Resolves every record of the batch with `outcome(offset_delta, timestamp)`.
    pub(crate) fn complete(self, outcome: impl Fn(usize, i64) -> Result<RecordMetadata>) {
        for (i, (completion, timestamp)) in self.records.into_iter().enumerate() {
            completion.complete(outcome(i, timestamp));
        }
    }

    pub(crate) fn fail(self, error: impl Fn() -> Error) {
        self.complete(|_, _| Err(error()));
    }
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<Batch>,
    in_flight: bool,
}

/// tokio's timers round their deadline up to a whole millisecond and the runtime parks in
/// whole milliseconds too, so a sleep ends up to about 2 ms late. One millisecond of slack
/// brings a lingering batch's send time back to about its `linger.ms` deadline (measured:
/// 5.5 ms after creation at `linger.ms=5` without slack, 5.3 with half a millisecond, 4.9–5.3
/// with one). Java does the same: its clock counts whole milliseconds, so it sends a batch up to
/// 1 ms before `linger.ms` has really passed.
const LINGER_SLACK: Duration = Duration::from_millis(1);

/// Settings that shape batches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchSettings {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    pub compression_level: Option<i32>,
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
    fn append_to(&self, builder: &mut BatchBuilder) {
        builder.append_measured(
            self.fixed_len,
            self.timestamp,
            self.key,
            self.value,
            self.headers,
        );
    }
}

/// What `try_append` did.
pub(crate) enum Appended {
    /// Appended; `full` when the batch is now full and the sender should wake. `delivery` is
    /// the record's `Delivery` when it asked for one.
    Yes {
        full: bool,
        delivery: Option<Delivery>,
    },
    /// No open batch has room: reserve `batch_capacity` bytes and call `append_new`.
    NeedsBatch,
}

/// Each topic's queues, indexed by partition. Looked up by `&str` for every record, so no
/// `TopicPartition` (and no `String`) has to be built to find a queue; foldhash because
/// SipHash of the topic name was a tenth of the per-record cost.
type Queues = HashMap<Arc<str>, Vec<Queue>, foldhash::fast::RandomState>;

fn queue_mut<'a>(queues: &'a mut Queues, topic: &Arc<str>, partition: i32) -> &'a mut Queue {
    // Per batch, not per record: the Arc clone for the entry costs nothing worth avoiding.
    let partitions = queues.entry(topic.clone()).or_default();
    let index = usize::try_from(partition).unwrap_or(0);
    if partitions.len() <= index {
        partitions.resize_with(index + 1, Queue::default);
    }
    &mut partitions[index]
}

fn existing_queue<'a>(queues: &'a mut Queues, tp: &TopicPartition) -> Option<&'a mut Queue> {
    let index = usize::try_from(tp.partition).ok()?;
    queues.get_mut(tp.topic.as_str())?.get_mut(index)
}

pub(crate) struct Accumulator {
    settings: BatchSettings,
    queues: Mutex<Queues>,
}

impl Accumulator {
    pub(crate) fn new(settings: BatchSettings) -> Self {
        Self {
            settings,
            queues: Mutex::new(Queues::default()),
        }
    }

    fn all_queues(queues: &mut Queues) -> impl Iterator<Item = &mut Queue> {
        queues
            .values_mut()
            .flat_map(|partitions| partitions.iter_mut())
    }

    /// The bytes a new batch for a record of `record_size` reserves.
    pub(crate) fn batch_capacity(&self, record_size: usize) -> usize {
        self.settings.batch_size.max(record_size)
    }

    /// Appends to the partition's open batch if it has room.
    pub(crate) fn try_append(
        &self,
        topic: &str,
        partition: i32,
        record: &Append<'_>,
        reply: &mut Option<Reply>,
    ) -> Appended {
        let mut queues = lock(&self.queues);
        let Some(queue) = usize::try_from(partition)
            .ok()
            .and_then(|p| queues.get_mut(topic)?.get_mut(p))
        else {
            return Appended::NeedsBatch;
        };
        let Some(batch) = queue.batches.back_mut() else {
            return Appended::NeedsBatch;
        };
        let Some(builder) = batch.builder.as_mut() else {
            return Appended::NeedsBatch;
        };
        if builder.size_estimate() + record.size > self.settings.batch_size {
            return Appended::NeedsBatch;
        }
        let Some(reply) = reply.take() else {
            return Appended::NeedsBatch;
        };
        record.append_to(builder);
        let full = builder.size_estimate() >= self.settings.batch_size;
        let delivery = batch.push_reply(reply, record.timestamp);
        Appended::Yes { full, delivery }
    }

    /// Appends to the open batch if one now has room (another sender made it meanwhile),
    /// dropping `reservation`; otherwise opens a new batch holding it.
    pub(crate) fn append_new(
        &self,
        topic: &Arc<str>,
        partition: i32,
        record: &Append<'_>,
        reply: Reply,
        reservation: OwnedSemaphorePermit,
    ) -> Option<Delivery> {
        let mut reply = Some(reply);
        if let Appended::Yes { delivery, .. } =
            self.try_append(topic, partition, record, &mut reply)
        {
            return delivery;
        }
        let reply = reply?;
        let capacity = reservation.num_permits();
        let mut builder = BatchBuilder::new(self.settings.compression, capacity)
            .with_compression_level(self.settings.compression_level);
        record.append_to(&mut builder);
        let mut batch = Batch {
            tp: TopicPartition::new(&**topic, partition),
            topic: topic.clone(),
            builder: Some(builder),
            encoded: None,
            records: Vec::new(),
            slots: Slots::default(),
            created: Instant::now(),
            retry_at: None,
            attempts: 0,
            sequence: None,
            outcome_unknown: false,
            uncompressed_size: 0,
            reservation,
        };
        let delivery = batch.push_reply(reply, record.timestamp);
        queue_mut(&mut lock(&self.queues), topic, partition)
            .batches
            .push_back(batch);
        delivery
    }

    /// Takes the front batch of every partition that is not in flight, is ready (full,
    /// lingered, a retry whose backoff passed, or any batch when `hurry`: a flush, or memory
    /// running short) and that `eligible` accepts.
    /// Returns them and the earliest instant another batch becomes ready.
    pub(crate) fn drain(
        &self,
        now: Instant,
        hurry: bool,
        mut eligible: impl FnMut(&TopicPartition, &Batch) -> bool,
    ) -> (Vec<Batch>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next_wakeup: Option<Instant> = None;
        let mut wake_at = |t: Instant| {
            next_wakeup = Some(next_wakeup.map_or(t, |w| w.min(t)));
        };
        for queue in Self::all_queues(&mut lock(&self.queues)) {
            if queue.in_flight {
                continue;
            }
            let Some(front) = queue.batches.front() else {
                continue;
            };
            if let Some(retry_at) = front.retry_at.filter(|t| *t > now) {
                wake_at(retry_at);
                continue;
            }
            let full = queue.batches.len() > 1
                || front.builder.is_none()
                || front.size_estimate() >= self.settings.batch_size;
            let due = front.created + self.settings.linger;
            let lingered = due <= now + LINGER_SLACK;
            if !(full || lingered || hurry) {
                wake_at(due.checked_sub(LINGER_SLACK).unwrap_or(due));
                continue;
            }
            if !eligible(&front.tp, front) {
                continue;
            }
            if let Some(batch) = queue.batches.pop_front() {
                queue.in_flight = true;
                ready.push(batch);
            }
        }
        (ready, next_wakeup)
    }

    /// Puts a batch back at the front of its queue, to be sent again after `backoff`.
    pub(crate) fn requeue(&self, mut batch: Batch, backoff: Duration) {
        batch.retry_at = Some(Instant::now() + backoff);
        let mut queues = lock(&self.queues);
        let queue = queue_mut(&mut queues, &batch.topic, batch.tp.partition);
        queue.in_flight = false;
        queue.batches.push_front(batch);
    }

    /// Puts the halves of a split batch back at the front of its queue, in order.
    pub(crate) fn requeue_split(&self, first: Batch, second: Batch) {
        let mut queues = lock(&self.queues);
        let queue = queue_mut(&mut queues, &first.topic, first.tp.partition);
        queue.in_flight = false;
        queue.batches.push_front(second);
        queue.batches.push_front(first);
    }

    pub(crate) fn settings(&self) -> &BatchSettings {
        &self.settings
    }

    /// Marks the partition's in-flight batch settled, letting its next batch go.
    pub(crate) fn done(&self, tp: &TopicPartition) {
        if let Some(queue) = existing_queue(&mut lock(&self.queues), tp) {
            queue.in_flight = false;
        }
    }

    /// Removes every waiting batch created before `cutoff` (delivery timeout), except those
    /// whose outcome is unknown: failing one of those could report a record as failed that
    /// the broker wrote, so they are retried until the broker answers.
    pub(crate) fn expire(&self, cutoff: Instant) -> Vec<Batch> {
        let mut expired = Vec::new();
        for queue in Self::all_queues(&mut lock(&self.queues)) {
            if queue
                .batches
                .iter()
                .any(|b| b.created < cutoff && !b.outcome_unknown)
            {
                let (old, keep): (VecDeque<Batch>, VecDeque<Batch>) = queue
                    .batches
                    .drain(..)
                    .partition(|b| b.created < cutoff && !b.outcome_unknown);
                queue.batches = keep;
                expired.extend(old);
            }
        }
        expired
    }

    /// Whether a waiting batch's outcome is unknown (it must be resolved before an epoch
    /// bump, under the epoch it was sent with).
    pub(crate) fn any_outcome_unknown(&self) -> bool {
        Self::all_queues(&mut lock(&self.queues))
            .any(|q| q.batches.iter().any(|b| b.outcome_unknown))
    }

    /// After an epoch bump: waiting batches get new sequences when next sent.
    pub(crate) fn clear_sequences(&self) {
        for queue in Self::all_queues(&mut lock(&self.queues)) {
            for batch in &mut queue.batches {
                batch.sequence = None;
            }
        }
    }

    /// Removes every waiting batch (closing without draining, or a fatal error).
    pub(crate) fn take_all(&self) -> Vec<Batch> {
        Self::all_queues(&mut lock(&self.queues))
            .flat_map(|q| q.batches.drain(..))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    fn accumulator(linger_ms: u64) -> Accumulator {
        Accumulator::new(BatchSettings {
            batch_size: 200,
            linger: Duration::from_millis(linger_ms),
            compression: Compression::Uncompressed,
            compression_level: None,
        })
    }

    fn record(value: &[u8]) -> Append<'_> {
        Append {
            timestamp: value[0] as i64,
            key: None,
            value: Some(value),
            headers: &[],
            size: value.len() + 20,
            fixed_len: crate::protocol::record_batch::record_fixed_len(None, Some(value), &[]),
        }
    }

    /// Appends like `Producer::send`: into the open batch, or a new one with a reservation.
    fn append(
        acc: &Accumulator,
        memory: &Arc<Semaphore>,
        tp: &TopicPartition,
        value: &[u8],
    ) -> Delivery {
        let mut reply = Some(Reply::Future);
        let r = record(value);
        let topic: Arc<str> = Arc::from(tp.topic.as_str());
        match acc.try_append(&topic, tp.partition, &r, &mut reply) {
            Appended::Yes { delivery, .. } => delivery.unwrap(),
            Appended::NeedsBatch => {
                let permit = memory
                    .clone()
                    .try_acquire_many_owned(acc.batch_capacity(r.size) as u32)
                    .unwrap();
                acc.append_new(&topic, tp.partition, &r, reply.take().unwrap(), permit)
                    .unwrap()
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_linger_unless_full_or_flushed() {
        let acc = accumulator(50);
        let memory = Arc::new(Semaphore::new(10_000));
        let tp = TopicPartition::new("t", 0);
        let _rx = append(&acc, &memory, &tp, b"a");
        let (ready, wake) = acc.drain(Instant::now(), false, |_, _| true);
        assert!(ready.is_empty());
        assert_eq!(wake, Some(Instant::now() + Duration::from_millis(49)));
        let (ready, _) = acc.drain(Instant::now(), true, |_, _| true);
        assert_eq!(ready.len(), 1, "flush ignores linger");
        acc.requeue(ready.into_iter().next().unwrap(), Duration::ZERO);
        tokio::time::advance(Duration::from_micros(48_900)).await;
        let (ready, _) = acc.drain(Instant::now(), false, |_, _| true);
        assert!(ready.is_empty(), "1.1 ms short of linger.ms");
        tokio::time::advance(Duration::from_micros(100)).await;
        let (ready, _) = acc.drain(Instant::now(), false, |_, _| true);
        assert_eq!(ready.len(), 1, "within a timer tick of linger.ms");
    }

    #[tokio::test(start_paused = true)]
    async fn one_batch_per_partition_is_in_flight_and_retries_keep_their_place() {
        let acc = accumulator(0);
        let memory = Arc::new(Semaphore::new(10_000));
        let tp = TopicPartition::new("t", 0);
        let _a = append(&acc, &memory, &tp, &[b'a'; 150]);
        let _b = append(&acc, &memory, &tp, &[b'b'; 150]);
        let (first, _) = acc.drain(Instant::now(), false, |_, _| true);
        assert_eq!(first.len(), 1);
        let (none, _) = acc.drain(Instant::now(), false, |_, _| true);
        assert!(none.is_empty(), "the second batch waits for the first");
        let first = first.into_iter().next().unwrap();
        acc.requeue(first, Duration::from_millis(100));
        let (none, wake) = acc.drain(Instant::now(), false, |_, _| true);
        assert!(none.is_empty(), "backing off");
        assert_eq!(wake, Some(Instant::now() + Duration::from_millis(100)));
        tokio::time::advance(Duration::from_millis(100)).await;
        let (again, _) = acc.drain(Instant::now(), false, |_, _| true);
        assert_eq!(again[0].records.len(), 1);
        assert_eq!(
            again[0].records[0].1, b'a' as i64,
            "the first batch comes back first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_spares_batches_whose_outcome_is_unknown() {
        let acc = accumulator(0);
        let memory = Arc::new(Semaphore::new(10_000));
        let (p0, p1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let _a = append(&acc, &memory, &p0, b"a");
        let _b = append(&acc, &memory, &p1, b"b");
        let (ready, _) = acc.drain(Instant::now(), false, |tp, _| tp.partition == 0);
        let mut unknown = ready.into_iter().next().unwrap();
        unknown.outcome_unknown = true;
        acc.requeue(unknown, Duration::ZERO);
        tokio::time::advance(Duration::from_secs(10)).await;
        let expired = acc.expire(Instant::now());
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].tp, p1);
        assert!(acc.any_outcome_unknown());
    }

    #[tokio::test]
    async fn reservations_return_when_batches_are_settled() {
        let acc = accumulator(0);
        let memory = Arc::new(Semaphore::new(1000));
        let tp = TopicPartition::new("t", 0);
        let rx = append(&acc, &memory, &tp, b"a");
        assert_eq!(
            memory.available_permits(),
            800,
            "one batch reserves batch.size"
        );
        let _same_batch = append(&acc, &memory, &tp, b"b");
        assert_eq!(
            memory.available_permits(),
            800,
            "appends into it reserve nothing"
        );
        let (ready, _) = acc.drain(Instant::now(), true, |_, _| true);
        ready.into_iter().next().unwrap().fail(|| Error::Closed);
        assert_eq!(memory.available_permits(), 1000);
        assert!(matches!(rx.await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn encoding_carries_the_sequence_and_rewrites_it_after_a_bump() {
        let acc = accumulator(0);
        let memory = Arc::new(Semaphore::new(1000));
        let tp = TopicPartition::new("t", 0);
        let _rx = append(&acc, &memory, &tp, b"a");
        let (ready, _) = acc.drain(Instant::now(), true, |_, _| true);
        let mut batch = ready.into_iter().next().unwrap();
        let fields = |epoch, base_sequence| ProducerFields {
            producer_id: 9,
            epoch,
            base_sequence,
        };
        batch.sequence = Some(fields(0, 5));
        let first = batch.encoded();
        let read = |b: &Bytes| {
            let d = crate::protocol::record_batch::decode::decode_batches(b.clone(), true, 1 << 20)
                .unwrap();
            (d[0].producer_id, d[0].producer_epoch, d[0].base_sequence)
        };
        assert_eq!(read(&first), (9, 0, 5));
        assert_eq!(batch.encoded(), first, "retries resend the same bytes");
        batch.sequence = Some(fields(1, 0));
        assert_eq!(read(&batch.encoded()), (9, 1, 0));
    }
}
