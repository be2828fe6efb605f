//! Per-partition queues of record batches, encoded as records arrive.
//!
//! `send` appends to the open batch of its partition; the sender takes the oldest batch of a
//! partition once it is full, its `linger.ms` has passed, or a flush asks for it. A queue
//! stays in the order its records were sent: a batch put back (retry, split) goes to its
//! place ([`Place`]), ahead of the batches created after it.
//!
//! With idempotence up to `max.in.flight.requests.per.connection` batches of a partition are
//! in flight at once (the broker's sequence check keeps them in order, and the sender only
//! lets a batch waiting to be sent again go when it is the first unsettled one of its
//! partition); without, one, so a retry is never overtaken by a later batch.
//!
//! Every batch holds a reservation from `buffer.memory` for its whole capacity, taken before
//! it is created and returned when it is settled, so the budget bounds real memory.

use super::batch::{Append, Batch, BatchSettings, Place, Reply};
use super::delivery::Delivery;
use super::flush::Tracker;
use crate::record::TopicPartition;
use crate::retry::deadline_after;
use crate::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

#[derive(Default)]
struct Queue {
    /// In [`Place`] order.
    batches: VecDeque<Batch>,
    /// Batches taken by the sender and not yet settled or put back.
    in_flight: usize,
    /// Batches created so far: the next one's place.
    created: u64,
}

impl Queue {
    /// Puts a batch back where it belongs: after every batch that precedes it.
    fn put_back(&mut self, batch: Batch) {
        let at = self
            .batches
            .iter()
            .position(|b| b.place > batch.place)
            .unwrap_or(self.batches.len());
        self.batches.insert(at, batch);
    }
}

/// tokio's timers round their deadline up to a whole millisecond and the runtime parks in
/// whole milliseconds too, so a sleep ends up to about 2 ms late. One millisecond of slack
/// brings a lingering batch's send time back to about its `linger.ms` deadline (measured:
/// 5.5 ms after creation at `linger.ms=5` without slack, 5.3 with half a millisecond, 4.9–5.3
/// with one). Java does the same: its clock counts whole milliseconds, so it sends a batch up to
/// 1 ms before `linger.ms` has really passed.
const LINGER_SLACK: Duration = Duration::from_millis(1);

/// What `try_append` did.
pub(crate) enum Appended {
    /// Appended; `full` when the batch is now full and the sender should wake. `delivery` is
    /// the record's `Delivery` when it asked for one.
    Yes {
        full: bool,
        delivery: Option<Delivery>,
    },
    /// No open batch has room: reserve `batch_capacity` bytes and call `append_new` with the
    /// reply given back.
    NeedsBatch(Reply),
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
    /// How many batches of one partition may be in flight at once.
    max_in_flight: usize,
    queues: Mutex<Queues>,
    /// Where each new batch takes its ticket for `flush`.
    tracker: Arc<Tracker>,
}

impl Accumulator {
    /// `max_in_flight`: batches of one partition in flight at once (at least 1).
    pub(crate) fn new(
        settings: BatchSettings,
        max_in_flight: usize,
        tracker: Arc<Tracker>,
    ) -> Self {
        Self {
            settings,
            max_in_flight: max_in_flight.max(1),
            queues: Mutex::new(Queues::default()),
            tracker,
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
        reply: Reply,
    ) -> Appended {
        let mut queues = lock(&self.queues);
        let Some(batch) = usize::try_from(partition)
            .ok()
            .and_then(|p| queues.get_mut(topic)?.get_mut(p)?.batches.back_mut())
        else {
            return Appended::NeedsBatch(reply);
        };
        // A split half sent again with the sequences of the batch it came from must keep
        // its records (see `Batch::split`).
        let Some(builder) = batch.body.open_mut().filter(|_| batch.sequence.is_none()) else {
            return Appended::NeedsBatch(reply);
        };
        if builder.size_estimate() + record.size > self.settings.batch_size {
            return Appended::NeedsBatch(reply);
        }
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
        let reply = match self.try_append(topic, partition, record, reply) {
            Appended::Yes { delivery, .. } => return delivery,
            Appended::NeedsBatch(reply) => reply,
        };
        let mut builder = self.settings.builder(reservation.num_permits());
        record.append_to(&mut builder);
        let mut batch = Batch::new(
            topic,
            partition,
            builder,
            reservation,
            self.tracker.pending(),
        );
        let delivery = batch.push_reply(reply, record.timestamp);
        let mut queues = lock(&self.queues);
        let queue = queue_mut(&mut queues, topic, partition);
        batch.place = Place::new(queue.created);
        queue.created += 1;
        queue.batches.push_back(batch);
        delivery
    }

    /// Takes, from each partition, the batches that are ready (full, lingered, a retry whose
    /// backoff passed, or any batch when `hurry`: a flush, or memory running short) and that
    /// `eligible` accepts, in order, while fewer than the most allowed are in flight.
    /// `eligible` is also told how many batches of the partition this call took already.
    /// With `bump_pending` only partitions holding a batch of unknown outcome are looked at,
    /// and in them only the batches that keep their sequence, from the first, wherever it
    /// waits in the queue: the unknown ones must be resolved under the old epoch before the
    /// bump, and the sequenced ones before them go first; batches waiting for the new
    /// epoch's sequences are passed over.
    /// Returns the batches, each partition's together and in order, and the earliest instant
    /// another batch becomes ready.
    pub(crate) fn drain(
        &self,
        now: Instant,
        hurry: bool,
        bump_pending: bool,
        mut eligible: impl FnMut(&TopicPartition, &Batch, usize) -> bool,
    ) -> (Vec<Batch>, Option<Instant>) {
        let mut ready = Vec::new();
        let mut next_wakeup: Option<Instant> = None;
        let mut wake_at = |t: Instant| {
            next_wakeup = Some(next_wakeup.map_or(t, |w| w.min(t)));
        };
        for queue in Self::all_queues(&mut lock(&self.queues)) {
            if bump_pending && !queue.batches.iter().any(|b| b.outcome_unknown) {
                continue;
            }
            let mut taken = 0;
            while queue.in_flight < self.max_in_flight {
                let index = if bump_pending {
                    match queue.batches.iter().position(|b| b.sequence.is_some()) {
                        Some(index) => index,
                        None => break,
                    }
                } else {
                    0
                };
                let Some(candidate) = queue.batches.get(index) else {
                    break;
                };
                if let Some(retry_at) = candidate.retry_at.filter(|t| *t > now) {
                    wake_at(retry_at);
                    break;
                }
                let full = queue.batches.len() > index + 1
                    || !candidate.body.is_open()
                    || candidate.size_estimate() >= self.settings.batch_size;
                let due = candidate.created + self.settings.linger;
                let lingered = due <= now + LINGER_SLACK;
                if !(full || lingered || hurry) {
                    wake_at(due.checked_sub(LINGER_SLACK).unwrap_or(due));
                    break;
                }
                if !eligible(&candidate.tp, candidate, taken) {
                    break;
                }
                let Some(batch) = queue.batches.remove(index) else {
                    break;
                };
                queue.in_flight += 1;
                taken += 1;
                ready.push(batch);
            }
        }
        (ready, next_wakeup)
    }

    /// Puts an in-flight batch back in its place in its queue, to be sent again after
    /// `backoff`.
    pub(crate) fn requeue(&self, mut batch: Batch, backoff: Duration) {
        batch.retry_at = Some(deadline_after(backoff));
        let mut queues = lock(&self.queues);
        let queue = queue_mut(&mut queues, &batch.topic, batch.tp.partition);
        queue.in_flight = queue.in_flight.saturating_sub(1);
        queue.put_back(batch);
    }

    /// Puts the halves of a split in-flight batch back in its place, in order.
    pub(crate) fn requeue_split(&self, first: Batch, second: Batch) {
        let mut queues = lock(&self.queues);
        let queue = queue_mut(&mut queues, &first.topic, first.tp.partition);
        queue.in_flight = queue.in_flight.saturating_sub(1);
        queue.put_back(first);
        queue.put_back(second);
    }

    pub(crate) fn settings(&self) -> &BatchSettings {
        &self.settings
    }

    /// Marks one of the partition's in-flight batches settled, letting another go.
    pub(crate) fn done(&self, tp: &TopicPartition) {
        if let Some(queue) = existing_queue(&mut lock(&self.queues), tp) {
            queue.in_flight = queue.in_flight.saturating_sub(1);
        }
    }

    /// Removes every waiting batch created before `cutoff` (delivery timeout), those whose
    /// outcome is unknown included (KIP-91): the caller fails them saying so. Each
    /// partition's come in send order.
    pub(crate) fn expire(&self, cutoff: Instant) -> Vec<Batch> {
        let mut expired = Vec::new();
        for queue in Self::all_queues(&mut lock(&self.queues)) {
            if queue.batches.iter().any(|b| b.created < cutoff) {
                let (old, keep): (VecDeque<Batch>, VecDeque<Batch>) =
                    queue.batches.drain(..).partition(|b| b.created < cutoff);
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

    /// Forgets the queues of each topic that `keep` refuses, once every queue of it is empty
    /// and idle: a producer writing to ever new topics must not keep a queue for each. A
    /// later record re-creates them.
    pub(crate) fn forget_topics(&self, keep: impl Fn(&str) -> bool) {
        lock(&self.queues).retain(|topic, partitions| {
            keep(topic)
                || partitions
                    .iter()
                    .any(|q| q.in_flight > 0 || !q.batches.is_empty())
        });
    }

    /// Whether the accumulator holds queues for `topic`.
    #[cfg(test)]
    pub(crate) fn has_topic(&self, topic: &str) -> bool {
        lock(&self.queues).contains_key(topic)
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
    use crate::config::Compression;
    use crate::error::Error;
    use tokio::sync::Semaphore;

    /// An accumulator of 200-byte batches, one per partition in flight, and a
    /// `buffer.memory` of 10,000 bytes.
    fn accumulator(linger_ms: u64) -> (Accumulator, Arc<Semaphore>) {
        accumulator_with(linger_ms, 1)
    }

    /// The same, with up to `max_in_flight` batches per partition in flight.
    fn accumulator_with(linger_ms: u64, max_in_flight: usize) -> (Accumulator, Arc<Semaphore>) {
        let settings = BatchSettings {
            batch_size: 200,
            linger: Duration::from_millis(linger_ms),
            compression: Compression::Uncompressed,
            compression_level: None,
        };
        let memory = Arc::new(Semaphore::new(10_000));
        (
            Accumulator::new(settings, max_in_flight, Arc::default()),
            memory,
        )
    }

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
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
        let r = record(value);
        let topic: Arc<str> = Arc::from(tp.topic.as_str());
        match acc.try_append(&topic, tp.partition, &r, Reply::Future) {
            Appended::Yes { delivery, .. } => delivery.unwrap(),
            Appended::NeedsBatch(reply) => {
                let permit = memory
                    .clone()
                    .try_acquire_many_owned(acc.batch_capacity(r.size) as u32)
                    .unwrap();
                acc.append_new(&topic, tp.partition, &r, reply, permit)
                    .unwrap()
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_linger_unless_full_or_flushed() {
        let (acc, memory) = accumulator(50);
        let tp = tp(0);
        let _rx = append(&acc, &memory, &tp, b"a");
        let (ready, wake) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert!(ready.is_empty());
        assert_eq!(wake, Some(Instant::now() + Duration::from_millis(49)));
        let (ready, _) = acc.drain(Instant::now(), true, false, |_, _, _| true);
        assert_eq!(ready.len(), 1, "flush ignores linger");
        acc.requeue(ready.into_iter().next().unwrap(), Duration::ZERO);
        tokio::time::advance(Duration::from_micros(48_900)).await;
        let (ready, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert!(ready.is_empty(), "1.1 ms short of linger.ms");
        tokio::time::advance(Duration::from_micros(100)).await;
        let (ready, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert_eq!(ready.len(), 1, "within a timer tick of linger.ms");
    }

    #[tokio::test(start_paused = true)]
    async fn one_batch_per_partition_is_in_flight_and_retries_keep_their_place() {
        let (acc, memory) = accumulator(0);
        let tp = tp(0);
        let _a = append(&acc, &memory, &tp, &[b'a'; 150]);
        let _b = append(&acc, &memory, &tp, &[b'b'; 150]);
        let (first, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert_eq!(first.len(), 1);
        let (none, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert!(none.is_empty(), "the second batch waits for the first");
        let first = first.into_iter().next().unwrap();
        acc.requeue(first, Duration::from_millis(100));
        let (none, wake) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert!(none.is_empty(), "backing off");
        assert_eq!(wake, Some(Instant::now() + Duration::from_millis(100)));
        tokio::time::advance(Duration::from_millis(100)).await;
        let (again, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert_eq!(again[0].records.len(), 1);
        assert_eq!(
            again[0].records[0].1, b'a' as i64,
            "the first batch comes back first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn up_to_the_limit_of_a_partition_goes_and_what_comes_back_goes_to_its_place() {
        let (acc, memory) = accumulator_with(0, 3);
        let tp = tp(0);
        let _d: Vec<_> = [b'a', b'b', b'c', b'd']
            .iter()
            .map(|v| append(&acc, &memory, &tp, &[*v; 150]))
            .collect();
        let mut sent = drain_all(&acc, false);
        assert_eq!(values(&sent), [[b'a'], [b'b'], [b'c']], "three at most");
        assert!(drain_all(&acc, true).is_empty());
        let (c, a) = (sent.pop().unwrap(), sent.remove(0));
        acc.requeue(c, Duration::ZERO);
        acc.requeue(a, Duration::ZERO);
        assert_eq!(
            values(&drain_all(&acc, false)),
            [[b'a'], [b'c']],
            "back in their places, ahead of d; b still in flight"
        );
        acc.done(&tp);
        assert_eq!(values(&drain_all(&acc, false)), [[b'd']]);
    }

    #[tokio::test(start_paused = true)]
    async fn while_a_bump_waits_only_sequenced_batches_go_where_one_is_of_unknown_outcome() {
        let (acc, memory) = accumulator_with(0, 5);
        let (p0, p1) = (tp(0), tp(1));
        let fields = |base_sequence| crate::producer::batch::ProducerFields {
            producer_id: 1,
            epoch: 0,
            base_sequence,
            transactional: false,
        };
        let _d: Vec<_> = [b'a', b'b', b'c']
            .iter()
            .map(|v| append(&acc, &memory, &p0, &[*v; 150]))
            .collect();
        let _e = append(&acc, &memory, &p1, &[b'd'; 150]);
        let mut sent = drain_all(&acc, false);
        sent.sort_by_key(|b| b.tp.partition);
        // a: refused, waits for the new epoch; b: retriable; c: unknown; d (p1): retriable.
        sent[1].sequence = Some(fields(1));
        sent[2].sequence = Some(fields(2));
        sent[2].outcome_unknown = true;
        sent[3].sequence = Some(fields(0));
        for batch in sent {
            acc.requeue(batch, Duration::ZERO);
        }
        let (taken, _) = acc.drain(Instant::now(), false, true, |_, _, _| true);
        assert_eq!(
            values(&taken),
            [[b'b'], [b'c']],
            "past the unsequenced a; nothing of p1, where nothing is unknown"
        );
        for batch in taken {
            acc.requeue(batch, Duration::ZERO);
        }
        let (taken, _) = acc.drain(Instant::now(), false, true, |_, b, _| !b.outcome_unknown);
        assert_eq!(values(&taken), [[b'b']], "as far as the sender lets them");
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_takes_batches_whose_outcome_is_unknown_too() {
        let (acc, memory) = accumulator(0);
        let (p0, p1) = (tp(0), tp(1));
        let _a = append(&acc, &memory, &p0, b"a");
        let _b = append(&acc, &memory, &p1, b"b");
        let (ready, _) = acc.drain(Instant::now(), false, false, |tp, _, _| tp.partition == 0);
        let mut unknown = ready.into_iter().next().unwrap();
        unknown.outcome_unknown = true;
        acc.requeue(unknown, Duration::ZERO);
        assert!(acc.any_outcome_unknown());
        tokio::time::advance(Duration::from_secs(10)).await;
        let mut expired = acc.expire(Instant::now());
        expired.sort_by_key(|b| b.tp.partition);
        assert_eq!(expired.len(), 2);
        assert!(expired[0].outcome_unknown && !expired[1].outcome_unknown);
        assert!(!acc.any_outcome_unknown());
        drop(expired);
    }

    #[tokio::test]
    async fn reservations_return_when_batches_are_settled() {
        let (acc, memory) = accumulator(0);
        let tp = tp(0);
        let rx = append(&acc, &memory, &tp, b"a");
        assert_eq!(
            memory.available_permits(),
            9_800,
            "one batch reserves batch.size"
        );
        let _same_batch = append(&acc, &memory, &tp, b"b");
        assert_eq!(
            memory.available_permits(),
            9_800,
            "appends into it reserve nothing"
        );
        let (ready, _) = acc.drain(Instant::now(), true, false, |_, _, _| true);
        ready.into_iter().next().unwrap().fail(|| Error::Closed);
        assert_eq!(memory.available_permits(), 10_000);
        assert!(matches!(rx.await, Err(Error::Closed)));
    }

    /// The values of each drained batch, in drain order.
    fn values(batches: &[Batch]) -> Vec<Vec<u8>> {
        batches
            .iter()
            .map(|b| b.records.iter().map(|r| r.1 as u8).collect())
            .collect()
    }

    fn drain_all(acc: &Accumulator, hurry: bool) -> Vec<Batch> {
        acc.drain(Instant::now(), hurry, false, |_, _, _| true).0
    }

    #[tokio::test(start_paused = true)]
    async fn split_halves_go_first_in_order_one_at_a_time() {
        let (acc, memory) = accumulator(0);
        let tp = tp(0);
        let _d: Vec<_> = [b'a', b'b', b'c']
            .iter()
            .map(|v| append(&acc, &memory, &tp, &[*v; 20]))
            .collect();
        let _later = append(&acc, &memory, &tp, &[b'z'; 150]);
        let whole = drain_all(&acc, false).pop().unwrap();
        assert_eq!(whole.record_count(), 3);
        let (first, second) = whole.split(acc.settings()).ok().unwrap();
        acc.requeue_split(first, second);
        let sent = drain_all(&acc, false);
        assert_eq!(values(&sent), [vec![b'a']], "the first half, alone");
        assert!(drain_all(&acc, true).is_empty(), "the second half waits");
        acc.done(&tp);
        assert_eq!(values(&drain_all(&acc, false)), [vec![b'b', b'c']]);
        acc.done(&tp);
        assert_eq!(values(&drain_all(&acc, false)), [vec![b'z']]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_the_sender_may_not_take_keeps_its_place() {
        let (acc, memory) = accumulator(0);
        let (p0, p1) = (tp(0), tp(1));
        let _a = append(&acc, &memory, &p0, b"a");
        let _b = append(&acc, &memory, &p1, b"b");
        let (taken, _) = acc.drain(Instant::now(), false, false, |tp, _, _| tp.partition == 1);
        assert_eq!(values(&taken), [vec![b'b']]);
        let _c = append(&acc, &memory, &p0, &[b'c'; 190]);
        let (taken, _) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert_eq!(
            values(&taken),
            [vec![b'a']],
            "p1 is in flight; p0's oldest goes"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_wakeup_is_the_earliest_linger_or_backoff() {
        let (acc, memory) = accumulator(30);
        let (p0, p1) = (tp(0), tp(1));
        let _a = append(&acc, &memory, &p0, b"a");
        let start = Instant::now();
        let mut batch = drain_all(&acc, true).pop().unwrap();
        // Sent once, so sealed: a retry goes at its backoff, whatever linger.ms says.
        let _sent = batch.encoded();
        acc.requeue(batch, Duration::from_millis(10));
        tokio::time::advance(Duration::from_millis(5)).await;
        let _b = append(&acc, &memory, &p1, b"b");
        let (none, wake) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert!(none.is_empty());
        assert_eq!(
            wake,
            Some(start + Duration::from_millis(10)),
            "p0's backoff"
        );
        tokio::time::advance(Duration::from_millis(5)).await;
        let (retried, wake) = acc.drain(Instant::now(), false, false, |_, _, _| true);
        assert_eq!(values(&retried), [vec![b'a']]);
        let linger_due = start + Duration::from_millis(5 + 30 - 1);
        assert_eq!(wake, Some(linger_due), "p1's linger.ms, less the slack");
    }

    #[tokio::test(start_paused = true)]
    async fn expiry_takes_old_waiting_batches_and_leaves_the_rest() {
        let (acc, memory) = accumulator(1_000);
        let tp = tp(0);
        let _old = append(&acc, &memory, &tp, &[b'o'; 150]);
        tokio::time::advance(Duration::from_secs(5)).await;
        let _new = append(&acc, &memory, &tp, &[b'n'; 150]);
        let cutoff = Instant::now() - Duration::from_secs(1);
        let expired = acc.expire(cutoff);
        assert_eq!(values(&expired), [vec![b'o']]);
        assert!(acc.expire(cutoff).is_empty(), "expired once");
        assert_eq!(values(&drain_all(&acc, true)), [vec![b'n']]);
    }

    #[tokio::test]
    async fn a_topic_is_forgotten_once_unwanted_and_idle() {
        let (acc, memory) = accumulator(0);
        let (waiting, in_flight, idle) = (tp(0), TopicPartition::new("u", 0), tp(1));
        let _a = append(&acc, &memory, &waiting, b"a");
        let _b = append(&acc, &memory, &in_flight, b"b");
        let sent = acc
            .drain(Instant::now(), true, false, |tp, _, _| tp.topic == "u")
            .0;
        let forget_all = |_: &str| false;
        acc.forget_topics(forget_all);
        assert!(
            acc.has_topic("t") && acc.has_topic("u"),
            "a batch waits, one is in flight"
        );
        drop(sent);
        acc.done(&in_flight);
        acc.forget_topics(forget_all);
        assert!(!acc.has_topic("u") && acc.has_topic("t"));
        drop(drain_all(&acc, true));
        acc.done(&waiting);
        acc.forget_topics(|topic| topic == "t");
        assert!(acc.has_topic("t"), "still wanted");
        acc.forget_topics(forget_all);
        assert!(!acc.has_topic("t"));
        let _c = append(&acc, &memory, &idle, b"c");
        assert_eq!(
            values(&drain_all(&acc, true)),
            [vec![b'c']],
            "re-created on use"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_epoch_bump_clears_waiting_sequences_and_close_takes_everything() {
        let (acc, memory) = accumulator(0);
        let (p0, p1) = (tp(0), tp(1));
        let _a = append(&acc, &memory, &p0, b"a");
        let _b = append(&acc, &memory, &p1, b"b");
        let mut sent = drain_all(&acc, true);
        for batch in &mut sent {
            batch.sequence = Some(crate::producer::batch::ProducerFields {
                producer_id: 1,
                epoch: 0,
                base_sequence: 0,
                transactional: false,
            });
        }
        for batch in sent {
            acc.requeue(batch, Duration::ZERO);
        }
        acc.clear_sequences();
        let waiting = acc.take_all();
        assert_eq!(waiting.len(), 2);
        assert!(waiting.iter().all(|b| b.sequence.is_none()));
        assert!(drain_all(&acc, true).is_empty());
    }
}
