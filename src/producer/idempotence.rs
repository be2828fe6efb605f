//! The idempotent producer's identity and per-partition sequence numbers.
//!
//! The broker keeps, per producer id and epoch, the last sequence it wrote for each
//! partition, and drops a batch whose sequence it has already seen. So a retry of a batch
//! whose outcome is unknown must carry the same epoch and sequence; and when the broker has
//! lost the producer's state (`UNKNOWN_PRODUCER_ID`), or sequences no longer line up
//! (`OUT_OF_ORDER_SEQUENCE_NUMBER`, `INVALID_PRODUCER_EPOCH`), the producer bumps its epoch
//! (KIP-360) and restarts every partition at sequence 0, rather than going fatal.
//!
//! Several batches of a partition may be on their way at once (up to
//! `max.in.flight.requests.per.connection`). The broker writes a batch only if its sequence
//! follows on from the last one it wrote, so a batch behind one that was not written is
//! refused (`OUT_OF_ORDER_SEQUENCE_NUMBER`) and sent again after it: the unsettled batches
//! kept here, in sequence order, say which batch may go again first and whether such a
//! refusal only means an earlier batch is not written yet.
//!
//! Nor may a batch overtake an earlier one on its way: a broker that holds no state for the
//! producer on a partition (its first batch there, or its state expired) writes a batch of
//! any sequence, and then refuses the earlier one as out of order, which would land after
//! it. Requests queued on one connection reach the broker in order; so a batch is queued
//! only on the connection every earlier unsettled batch of its partition is queued on
//! ([`overtaken`](Idempotence::overtaken)), and otherwise waits for them to be
//! settled or sent again before it.
//!
//! Arriving in order is not enough on a partition where nothing of this producer id was
//! written yet: the broker may refuse the first batch retriably and write the second (a
//! partition made a moment ago, whose log the broker made between the two requests,
//! KAFKA-15591; brokers before 4.5). The first batch, sent again, is then out of order, and
//! bumping the epoch would write it after the second. So until a batch of the producer id is
//! written on a partition, the partition has one batch on its way at a time
//! ([`may_take`](Idempotence::may_take)); once one is, the broker holds the producer's state
//! there and refuses a batch that does not follow on. (A broker that expired that state,
//! after `producer.id.expiration.ms` without a write, a day by default, is the case the
//! Java client does not cover either.)

use super::batch::ProducerFields;
use crate::cluster::Cluster;
use crate::error::{Error, ErrorCode, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
struct State {
    producer_id: i64,
    epoch: i16,
    partitions: HashMap<TopicPartition, Sequences>,
    /// Partitions where a batch of this producer id was written (under any of its epochs):
    /// the broker holds the producer's state there. Kept across epoch bumps of the same id.
    written: HashSet<TopicPartition>,
    bump_requested: bool,
}

/// One partition's sequences in the current epoch.
#[derive(Debug, Default)]
struct Sequences {
    /// The base sequence of the next batch sequenced.
    next: i32,
    /// The batches sequenced and not yet settled (written, failed or forgotten), in the
    /// order they were sequenced: on their way, or waiting to be sent again with their
    /// sequence (Java's in-flight batches by sequence).
    unsettled: VecDeque<Unsettled>,
}

/// A sequenced batch of a request: its partition and producer fields.
pub(crate) type Sequenced<'a> = (&'a TopicPartition, ProducerFields);

/// A sequenced batch not yet settled.
#[derive(Debug, Clone, Copy)]
struct Unsettled {
    base: i32,
    /// The connection ([`Connection::id`](crate::connection::Connection::id)) its request
    /// is queued on, until that request is answered or fails.
    queued_on: Option<u64>,
}

/// Producer id, epoch, and per partition the next sequence and the sequenced batches not yet
/// settled.
#[derive(Debug)]
pub(crate) struct Idempotence {
    state: Mutex<State>,
    /// Batches are marked transactional (`transactional.id`).
    transactional: bool,
}

impl Idempotence {
    /// An idempotent producer's identity; `transactional` for a transactional producer,
    /// whose id and epoch come later, from `init_transactions` (-1 until then).
    pub(crate) fn new(producer_id: i64, epoch: i16, transactional: bool) -> Self {
        Self {
            transactional,
            state: Mutex::new(State {
                producer_id,
                epoch,
                partitions: HashMap::new(),
                written: HashSet::new(),
                bump_requested: false,
            }),
        }
    }

    /// The current producer id and epoch.
    pub(crate) fn identity(&self) -> (i64, i16) {
        let s = lock(&self.state);
        (s.producer_id, s.epoch)
    }

    /// Sequences `count` records for `tp`: the fields for its batch, which is unsettled
    /// until [`settled`](Self::settled) or [`release`](Self::release). Sequences wrap at
    /// `i32::MAX` to 0, as the broker expects.
    pub(crate) fn assign(&self, tp: &TopicPartition, count: usize) -> ProducerFields {
        let mut s = lock(&self.state);
        let (producer_id, epoch) = (s.producer_id, s.epoch);
        let partition = match s.partitions.get_mut(tp) {
            Some(partition) => partition,
            None => s.partitions.entry(tp.clone()).or_default(),
        };
        let base_sequence = partition.next;
        partition.next = wrap_add(base_sequence, count);
        partition.unsettled.push_back(Unsettled {
            base: base_sequence,
            queued_on: None,
        });
        ProducerFields {
            producer_id,
            epoch,
            base_sequence,
            transactional: self.transactional,
        }
    }

    /// Whether a batch of `tp` may be taken to be sent now, as the partition's `taken`-th
    /// of this round; `fields` when it was sequenced before (a retry). A retry only as the
    /// current epoch's first unsettled batch of its partition, so it is never overtaken
    /// (Java's `firstInFlightSequence`). And until a batch of this producer id is written on
    /// the partition, only a batch with nothing else of the partition on its way (see the
    /// module's doc).
    pub(crate) fn may_take(
        &self,
        tp: &TopicPartition,
        fields: Option<&ProducerFields>,
        taken: usize,
    ) -> bool {
        let s = lock(&self.state);
        let unsettled = s.partitions.get(tp).map(|p| &p.unsettled);
        let written = s.written.contains(tp);
        let alone = taken == 0 || written;
        match fields {
            Some(fields) => {
                s.current(fields)
                    && unsettled
                        .and_then(|u| u.front())
                        .is_some_and(|u| u.base == fields.base_sequence)
                    && alone
            }
            None => alone && (written || unsettled.is_none_or(|u| u.is_empty())),
        }
    }

    /// Whether a batch sequenced before this one (in this epoch) is not settled yet: on its
    /// way, or waiting to be sent again. Then this batch's `OUT_OF_ORDER_SEQUENCE_NUMBER`
    /// may only mean that the earlier batch is not written yet.
    pub(crate) fn earlier_unsettled(&self, tp: &TopicPartition, fields: &ProducerFields) -> bool {
        let s = lock(&self.state);
        s.current(fields)
            && s.partitions.get(tp).is_some_and(|p| {
                p.unsettled
                    .iter()
                    .position(|u| u.base == fields.base_sequence)
                    .is_some_and(|i| i > 0)
            })
    }

    /// The partition of the first of a request's `batches` that may not be queued on
    /// connection `conn` now, if any: a batch may, if every batch of its partition
    /// sequenced before it and not settled is queued on `conn`, ahead of it. A batch of
    /// another epoch overtakes nothing of this one.
    pub(crate) fn overtaken<'a>(
        &self,
        batches: &[Sequenced<'a>],
        conn: u64,
    ) -> Option<&'a TopicPartition> {
        let s = lock(&self.state);
        let may_queue = |tp: &TopicPartition, fields: &ProducerFields| {
            !s.current(fields)
                || s.partitions.get(tp).is_none_or(|p| {
                    p.unsettled
                        .iter()
                        .take_while(|u| u.base != fields.base_sequence)
                        .all(|u| u.queued_on == Some(conn))
                })
        };
        batches
            .iter()
            .find(|(tp, fields)| !may_queue(tp, fields))
            .map(|(tp, _)| *tp)
    }

    /// A request's `batches` are queued on connection `conn` (`Some`), or (`None`) it was
    /// answered or failed: a later batch may follow them on `conn` only while they are
    /// queued.
    pub(crate) fn queued_on(&self, batches: &[Sequenced<'_>], conn: Option<u64>) {
        let mut s = lock(&self.state);
        for (tp, fields) in batches {
            if !s.current(fields) {
                continue;
            }
            let entry = s.partitions.get_mut(*tp).and_then(|p| {
                p.unsettled
                    .iter_mut()
                    .find(|u| u.base == fields.base_sequence)
            });
            if let Some(entry) = entry {
                entry.queued_on = conn;
            }
        }
    }

    /// The batch is written: settled, and the broker holds this producer's state on `tp`.
    pub(crate) fn written(&self, tp: &TopicPartition, fields: &ProducerFields) {
        let mut s = lock(&self.state);
        if fields.producer_id == s.producer_id && !s.written.contains(tp) {
            s.written.insert(tp.clone());
        }
        s.settled(tp, fields);
    }

    /// The batch is settled: written, or failed or forgotten with its sequences spent.
    pub(crate) fn settled(&self, tp: &TopicPartition, fields: &ProducerFields) {
        lock(&self.state).settled(tp, fields);
    }

    /// A sequenced batch of `count` records failed and the broker wrote none of it. If it is
    /// its partition's newest sequenced batch, its sequences are free again: the partition's
    /// next sequence rewinds to its base. Otherwise later batches were sequenced after it
    /// and would leave a gap: the epoch is bumped (KIP-360) and every partition restarts at
    /// 0, which resequences them (Java's idempotent producer does the same).
    pub(crate) fn release(&self, tp: &TopicPartition, fields: ProducerFields, count: usize) {
        let mut s = lock(&self.state);
        if !s.current(&fields) {
            return;
        }
        let Some(p) = s.partitions.get_mut(tp) else {
            return;
        };
        p.remove(fields.base_sequence);
        if wrap_add(fields.base_sequence, count) == p.next {
            p.next = fields.base_sequence;
        } else {
            tracing::debug!(%tp, "a failed batch leaves a gap in the sequences; bumping the epoch");
            s.bump_requested = true;
        }
    }

    /// A sequenced batch too large for the topic is split in two, the first of
    /// `first_count` records: the halves take its sequences, in order, so the batches
    /// sequenced after it still follow on (Java's `splitAndReenqueue`).
    pub(crate) fn split(
        &self,
        tp: &TopicPartition,
        fields: ProducerFields,
        first_count: usize,
    ) -> (ProducerFields, ProducerFields) {
        let second = ProducerFields {
            base_sequence: wrap_add(fields.base_sequence, first_count),
            ..fields
        };
        let mut s = lock(&self.state);
        if s.current(&fields) {
            if let Some(p) = s.partitions.get_mut(tp) {
                if let Some(i) = p
                    .unsettled
                    .iter()
                    .position(|u| u.base == fields.base_sequence)
                {
                    p.unsettled.insert(
                        i + 1,
                        Unsettled {
                            base: second.base_sequence,
                            queued_on: None,
                        },
                    );
                }
            }
        }
        (fields, second)
    }

    /// Asks for an epoch bump before new batches are sequenced.
    pub(crate) fn request_bump(&self) {
        lock(&self.state).bump_requested = true;
    }

    pub(crate) fn bump_requested(&self) -> bool {
        lock(&self.state).bump_requested
    }

    /// Takes the new identity from InitProducerId; every partition restarts at 0, with
    /// nothing unsettled. Under a new producer id nothing is written yet.
    pub(crate) fn bumped(&self, producer_id: i64, epoch: i16) {
        let mut s = lock(&self.state);
        tracing::info!(
            old_id = s.producer_id,
            old_epoch = s.epoch,
            producer_id,
            epoch,
            "producer epoch bumped"
        );
        if s.producer_id != producer_id {
            s.written.clear();
        }
        s.producer_id = producer_id;
        s.epoch = epoch;
        s.partitions.clear();
        s.bump_requested = false;
    }
}

impl State {
    /// Whether `fields` were given out under the current producer id and epoch.
    fn current(&self, fields: &ProducerFields) -> bool {
        fields.producer_id == self.producer_id && fields.epoch == self.epoch
    }

    /// See [`Idempotence::settled`].
    fn settled(&mut self, tp: &TopicPartition, fields: &ProducerFields) {
        if self.current(fields) {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.remove(fields.base_sequence);
            }
        }
    }
}

impl Sequences {
    fn remove(&mut self, base: i32) {
        if let Some(i) = self.unsettled.iter().position(|u| u.base == base) {
            self.unsettled.remove(i);
        }
    }
}

fn wrap_add(base: i32, count: usize) -> i32 {
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    if base > i32::MAX - count {
        count - (i32::MAX - base) - 1
    } else {
        base + count
    }
}

/// Asks the cluster for a producer id, or (with `current`) for the next epoch of this one.
/// Retries what is retriable until `timeout`.
pub(crate) async fn init_producer_id(
    cluster: &Cluster,
    current: Option<(i64, i16)>,
    timeout: Duration,
) -> Result<(i64, i16)> {
    let (producer_id, epoch) = current.unwrap_or((-1, -1));
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch);
    let attempt = || async {
        let response = cluster.any_connection().await?.send(&request).await?;
        match ErrorCode(response.error_code) {
            ErrorCode::NONE => Ok((response.producer_id.0, response.producer_epoch)),
            code => Err(Error::broker(code, "InitProducerId")),
        }
    };
    cluster.retry(timeout, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_advance_per_partition_and_wrap() {
        let id = Idempotence::new(7, 0, false);
        let a = TopicPartition::new("t", 0);
        let b = TopicPartition::new("t", 1);
        assert_eq!(id.assign(&a, 10).base_sequence, 0);
        assert_eq!(id.assign(&a, 5).base_sequence, 10);
        assert_eq!(id.assign(&b, 3).base_sequence, 0);
        assert_eq!(wrap_add(i32::MAX - 2, 2), i32::MAX);
        assert_eq!(wrap_add(i32::MAX - 2, 3), 0);
        assert_eq!(wrap_add(i32::MAX, 5), 4);
    }

    #[test]
    fn a_released_batch_gives_its_sequences_back() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        id.assign(&tp, 10);
        let failed = id.assign(&tp, 4);
        id.release(&tp, failed, 4);
        assert_eq!(id.assign(&tp, 1).base_sequence, 10);
        assert!(!id.bump_requested());
    }

    #[test]
    fn a_failed_batch_with_later_ones_sequenced_bumps_the_epoch_instead() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        let failed = id.assign(&tp, 4);
        let later = id.assign(&tp, 2);
        id.release(&tp, failed, 4);
        assert!(id.bump_requested(), "the later batch would leave a gap");
        assert!(id.may_take(&tp, Some(&later), 0));
        assert_eq!(id.assign(&tp, 1).base_sequence, 6, "nothing rewound");
    }

    #[test]
    fn only_the_first_unsettled_batch_is_first_and_later_ones_know_it() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        let [a, b, c] = [3, 2, 5].map(|n| id.assign(&tp, n));
        assert!(id.may_take(&tp, Some(&a), 0) && !id.may_take(&tp, Some(&b), 0));
        assert!(!id.earlier_unsettled(&tp, &a));
        assert!(id.earlier_unsettled(&tp, &b) && id.earlier_unsettled(&tp, &c));
        id.settled(&tp, &a);
        assert!(id.may_take(&tp, Some(&b), 0) && !id.earlier_unsettled(&tp, &b));
        let (first, second) = id.split(&tp, b, 1);
        assert_eq!((first.base_sequence, second.base_sequence), (3, 4));
        assert!(id.earlier_unsettled(&tp, &second) && id.earlier_unsettled(&tp, &c));
        id.settled(&tp, &first);
        id.settled(&tp, &second);
        assert!(id.may_take(&tp, Some(&c), 0));
        id.request_bump();
        id.bumped(7, 1);
        assert!(
            !id.may_take(&tp, Some(&c), 0),
            "an old epoch's batch is nobody's first"
        );
        assert!(!id.earlier_unsettled(&tp, &id.assign(&tp, 1)));
    }

    #[test]
    fn a_partition_has_one_batch_on_its_way_until_one_of_the_producer_id_is_written() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        assert!(id.may_take(&tp, None, 0));
        assert!(
            !id.may_take(&tp, None, 1),
            "a second batch of the same round"
        );
        let a = id.assign(&tp, 3);
        assert!(!id.may_take(&tp, None, 0), "a is on its way");
        assert!(id.may_take(&tp, Some(&a), 0), "a may go again");
        id.written(&tp, &a);
        id.assign(&tp, 2);
        assert!(id.may_take(&tp, None, 0) && id.may_take(&tp, None, 3));
        // An epoch bump of the same producer id keeps what was written; a new id does not.
        id.request_bump();
        id.bumped(7, 1);
        id.assign(&tp, 1);
        assert!(id.may_take(&tp, None, 1));
        id.bumped(8, 0);
        id.assign(&tp, 1);
        assert!(!id.may_take(&tp, None, 0));
    }

    /// A batch goes on a connection only behind every earlier unsettled batch of its
    /// partition queued there: on another connection (a fresh one after a failure, or the
    /// new leader's) it could reach the broker first, which writes it if it holds no state
    /// for the producer there, and the earlier one after it (see
    /// `tests/consumer_cluster/producer_leader_move.rs`).
    #[test]
    fn a_batch_goes_only_on_the_connection_its_earlier_batches_are_queued_on() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        let other = TopicPartition::new("t", 1);
        let [a, b, c] = [3, 2, 5].map(|n| id.assign(&tp, n));
        let may_queue_on = |tp: &TopicPartition, f: &ProducerFields, conn| {
            id.overtaken(&[(tp, *f)], conn).is_none()
        };
        let queued_on = |f: &ProducerFields, conn| id.queued_on(&[(&tp, *f)], conn);
        assert!(may_queue_on(&tp, &a, 1) && may_queue_on(&tp, &a, 2));
        assert!(!may_queue_on(&tp, &b, 1), "a is not queued anywhere");
        queued_on(&a, Some(1));
        assert!(may_queue_on(&tp, &b, 1));
        assert!(
            !may_queue_on(&tp, &b, 2),
            "b would overtake a on another connection"
        );
        queued_on(&b, Some(1));
        assert!(may_queue_on(&tp, &c, 1) && !may_queue_on(&tp, &c, 2));
        assert!(
            may_queue_on(&other, &id.assign(&other, 1), 2),
            "partitions are independent"
        );
        // a's request failed: b and c stay behind a until a is sent again and queued.
        queued_on(&a, None);
        assert!(!may_queue_on(&tp, &c, 1) && !may_queue_on(&tp, &c, 2));
        assert!(may_queue_on(&tp, &a, 2), "the first goes anywhere");
        queued_on(&a, Some(2));
        assert!(
            !may_queue_on(&tp, &c, 2),
            "b is still queued on the old connection"
        );
        id.settled(&tp, &a);
        id.settled(&tp, &b);
        assert!(may_queue_on(&tp, &c, 2));
        id.request_bump();
        id.bumped(7, 1);
        assert!(
            may_queue_on(&tp, &c, 3),
            "an old epoch's batch overtakes nothing"
        );
    }

    #[test]
    fn a_bump_restarts_every_partition_and_ignores_stale_releases() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        let old = id.assign(&tp, 10);
        id.request_bump();
        assert!(id.bump_requested());
        id.bumped(7, 1);
        assert!(!id.bump_requested());
        id.release(&tp, old, 10);
        assert!(!id.bump_requested());
        let fresh = id.assign(&tp, 2);
        assert_eq!((fresh.epoch, fresh.base_sequence), (1, 0));
        assert_eq!(id.identity(), (7, 1));
    }
}
