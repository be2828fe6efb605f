//! Settling batches: the offsets and errors records get, and, with several batches of a
//! partition in flight, what becomes of each batch and its sequence as their answers come in
//! (driven as the sender drives them, without a network, under a paused clock).

use super::*;
use std::time::Duration;

#[test]
fn a_base_offset_whose_records_overflow_is_unknown() {
    assert_eq!(known_base_offset(10, 3), 10);
    assert_eq!(known_base_offset(-1, 3), -1);
    assert_eq!(known_base_offset(i64::MIN, 1), -1);
    assert_eq!(known_base_offset(i64::MAX, 1), i64::MAX);
    assert_eq!(known_base_offset(i64::MAX - 2, 3), i64::MAX - 2);
    assert_eq!(
        known_base_offset(i64::MAX - 2, 4),
        -1,
        "a hostile base offset"
    );
    assert_eq!(known_base_offset(0, usize::MAX), -1);
}

#[test]
fn an_error_says_when_the_record_may_have_been_written() {
    let timed_out = Error::DeliveryTimeout(Duration::from_secs(1));
    assert!(!maybe_written(timed_out.clone(), false).is_outcome_unknown());
    let unknown = maybe_written(timed_out, true);
    assert!(matches!(
        &unknown,
        Error::OutcomeUnknown { reason } if matches!(**reason, Error::DeliveryTimeout(_))
    ));
    let lost = Error::connection("b:9092", "reset");
    assert!(
        matches!(maybe_written(lost, true), Error::Connection { .. }),
        "an error that says so already is kept as it is"
    );
}

mod in_flight {
    use super::super::super::accumulator::Appended;
    use super::super::super::batch::{Append, ProducerFields, Reply};
    use super::super::super::idempotence::Idempotence;
    use super::super::super::sender::in_turn;
    use super::*;
    use crate::cluster::{cluster_settings, Cluster};
    use crate::config::ProducerConfig;
    use crate::error::{ErrorCode, RetryAction};
    use crate::protocol::record_batch::record_fixed_len;
    use crate::record::TopicPartition;
    use crate::sync::lock;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    type Outcomes = Arc<Mutex<Vec<(usize, Result<i64, Error>)>>>;

    /// An idempotent producer's state without a network: records go into batches of one
    /// partition, batches are taken and sequenced as the sender does, and answers are
    /// settled in the order a test gives them.
    struct Harness {
        shared: Arc<Shared>,
        outcomes: Outcomes,
        records: usize,
    }

    impl Harness {
        /// A producer that wrote to t-0 before: the broker holds its state there, so
        /// several batches may be on their way at once (see `Idempotence::may_take`).
        fn new(max_in_flight: usize) -> Harness {
            let h = Harness::fresh(max_in_flight);
            let before = ProducerFields {
                producer_id: 7,
                epoch: 0,
                base_sequence: 0,
                transactional: false,
            };
            h.id().written(&TopicPartition::new("t", 0), &before);
            h
        }

        /// A producer that has written nothing to t-0.
        fn fresh(max_in_flight: usize) -> Harness {
            let mut config = ProducerConfig::new("test:9092");
            config.max_in_flight_requests_per_connection = max_in_flight;
            config.batch_size = 100;
            config.linger = Duration::ZERO;
            let settings = cluster_settings(&config.client).unwrap();
            let idempotence = Some(Idempotence::new(7, 0, false));
            Harness {
                shared: Shared::new(config, Cluster::unconnected(settings), idempotence),
                outcomes: Outcomes::default(),
                records: 0,
            }
        }

        fn id(&self) -> &Idempotence {
            self.shared.idempotence.as_ref().unwrap()
        }

        /// Sends a record of `size` bytes to t-0 as `send` does; returns its number.
        fn send(&mut self, size: usize) -> usize {
            let i = self.records;
            self.records += 1;
            let value = vec![b'v'; 10];
            let record = Append {
                timestamp: i as i64,
                key: None,
                value: Some(&value),
                headers: &[],
                size,
                fixed_len: record_fixed_len(None, Some(&value), &[]),
            };
            let outcomes = self.outcomes.clone();
            let reply = Reply::Callback(Box::new(move |outcome| {
                lock(&outcomes).push((i, outcome.map(|m| m.offset)));
            }));
            let s = &self.shared;
            s.outstanding.fetch_add(1, Ordering::SeqCst);
            let topic: Arc<str> = Arc::from("t");
            if let Appended::NeedsBatch(reply) = s.accumulator.try_append(&topic, 0, &record, reply)
            {
                let capacity = s.accumulator.batch_capacity(size);
                let reservation = s
                    .memory
                    .clone()
                    .try_acquire_many_owned(capacity as u32)
                    .unwrap();
                s.accumulator
                    .append_new(&topic, 0, &record, reply, reservation);
            }
            i
        }

        /// A sender round: the batches that may go now, sequenced and sealed, in order.
        fn take(&self) -> Vec<Batch> {
            let s = &self.shared;
            let bump_pending = self.id().bump_requested();
            let (mut batches, _) =
                s.accumulator
                    .drain(Instant::now(), true, bump_pending, |_, b, taken| {
                        in_turn(s, b, taken) && (!bump_pending || b.sequence.is_some())
                    });
            for batch in &mut batches {
                if batch.sequence.is_none() {
                    batch.sequence = Some(self.id().assign(&batch.tp, batch.record_count()));
                }
                let _ = batch.encoded();
            }
            batches
        }

        /// After the retry backoff: a sender round.
        async fn take_later(&self) -> Vec<Batch> {
            tokio::time::advance(Duration::from_secs(2)).await;
            self.take()
        }

        fn answer(&self, batch: Batch, code: ErrorCode, base_offset: i64) {
            let answer = Answer::Partition {
                code,
                base_offset,
                log_append_time: -1,
            };
            self.shared
                .settle(batch, answer, &|| Error::broker(code, "Produce"));
        }

        fn lost(&self, batch: Batch) {
            let answer = Answer::Failed {
                action: RetryAction::Reconnect,
                outcome_unknown: true,
            };
            let error = || Error::connection("test:9092", "reset");
            self.shared.settle(batch, answer, &error);
        }

        /// The sender's expiry: every waiting batch older than `delivery.timeout.ms` fails.
        fn expire(&self) {
            let s = &self.shared;
            let cutoff = Instant::now() - s.config.delivery_timeout;
            s.give_up(s.accumulator.expire(cutoff), FailWith::DeliveryTimeout);
        }

        /// The epoch bump the sender makes once nothing is in flight.
        fn bump(&self) {
            assert!(self.id().bump_requested());
            assert!(!self.shared.accumulator.any_outcome_unknown());
            self.id().bumped(7, 1);
            self.shared.accumulator.clear_sequences();
        }

        /// Each record's outcome, in the order they were told: the offset, or the error's
        /// code.
        fn told(&self) -> Vec<(usize, Result<i64, Option<ErrorCode>>)> {
            lock(&self.outcomes)
                .iter()
                .map(|(i, o)| (*i, o.as_ref().map(|&o| o).map_err(Error::code)))
                .collect()
        }
    }

    /// (epoch, base sequence) of each batch.
    fn sequences(batches: &[Batch]) -> Vec<(i16, i32)> {
        batches
            .iter()
            .map(|b| {
                let f = b.sequence.unwrap();
                (f.epoch, f.base_sequence)
            })
            .collect()
    }

    fn records(batches: &[Batch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.1))
            .collect()
    }

    fn written(from: usize, to: usize) -> Vec<(usize, Result<i64, Option<ErrorCode>>)> {
        (from..to).map(|i| (i, Ok(i as i64))).collect()
    }

    /// A partition made a moment ago: the broker refused the first batch (its log was not
    /// made yet) and, holding no state for the producer there, would write a second one
    /// sent behind it, and then refuse the first as out of order, which an epoch bump would
    /// write after the second (KAFKA-15591, seen in the benchmark's 100-partition produce).
    /// So the partition's first batch goes alone until it is written; then five at a time.
    #[tokio::test(start_paused = true)]
    async fn a_partition_not_written_yet_has_one_batch_in_flight_until_one_is() {
        let mut h = Harness::fresh(5);
        for _ in 0..7 {
            h.send(150);
        }
        let sent = h.take();
        assert_eq!(records(&sent), [0], "one batch until one is written");
        assert!(h.take().is_empty());
        let first = sent.into_iter().next().unwrap();
        h.answer(first, ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        let again = h.take_later().await;
        assert_eq!(
            (records(&again), sequences(&again)),
            (vec![0], vec![(0, 0)])
        );
        assert!(h.take().is_empty(), "still alone while it is sent again");
        h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, 0);
        let sent = h.take();
        assert_eq!(
            records(&sent),
            [1, 2, 3, 4, 5],
            "five in flight once one is written"
        );
        for (i, batch) in sent.into_iter().enumerate() {
            h.answer(batch, ErrorCode::NONE, i as i64 + 1);
        }
        assert_eq!(h.told(), written(0, 6));
    }

    /// Five batches in flight, the second answered NOT_LEADER_OR_FOLLOWER and the three
    /// behind it OUT_OF_ORDER_SEQUENCE_NUMBER (a real broker refuses them: their
    /// predecessor is not written): all four are retried with their sequences, one at a
    /// time in sequence order, with no epoch bump; new batches follow on.
    #[tokio::test(start_paused = true)]
    async fn a_retriable_failure_sends_the_later_batches_again_in_order() {
        let mut h = Harness::new(5);
        for _ in 0..7 {
            h.send(150);
        }
        let mut sent = h.take();
        assert_eq!(records(&sent), [0, 1, 2, 3, 4], "five in flight");
        assert_eq!(sequences(&sent), [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
        assert!(h.take().is_empty(), "no more than five");
        let mut sent = sent.drain(..);
        h.answer(sent.next().unwrap(), ErrorCode::NONE, 0);
        h.answer(sent.next().unwrap(), ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        for batch in sent {
            h.answer(batch, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        }
        assert!(
            !h.id().bump_requested(),
            "out of order behind a retry is no gap"
        );
        for i in 1..4 {
            let again = h.take_later().await;
            assert_eq!(records(&again), [i], "one at a time, in order");
            assert_eq!(sequences(&again), [(0, i as i32)], "with its sequence");
            assert!(h.take_later().await.is_empty(), "the next waits for it");
            h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, i);
        }
        let last = h.take_later().await;
        assert_eq!(
            records(&last),
            [4, 5, 6],
            "new batches follow the last retry at once"
        );
        assert_eq!(sequences(&last), [(0, 4), (0, 5), (0, 6)]);
        for (batch, offset) in last.into_iter().zip(4..) {
            h.answer(batch, ErrorCode::NONE, offset);
        }
        assert_eq!(h.told(), written(0, 7), "every record once, in order");
        assert_eq!(h.shared.outstanding.load(Ordering::SeqCst), 0);
    }

    /// Answers taken in another order than sent (a later batch's answer first) change
    /// nothing: a batch put back goes to its place, and the first unsettled one goes first.
    #[tokio::test(start_paused = true)]
    async fn batches_put_back_out_of_order_go_again_in_order() {
        let mut h = Harness::new(5);
        for _ in 0..4 {
            h.send(150);
        }
        let sent = h.take();
        let mut sent: Vec<Option<Batch>> = sent.into_iter().map(Some).collect();
        for i in [3, 1, 2, 0] {
            h.lost(sent[i].take().unwrap());
        }
        for i in 0..4 {
            let again = h.take_later().await;
            assert_eq!(records(&again), [i]);
            assert!(again[0].outcome_unknown, "sent again with its sequence");
            h.answer(
                again.into_iter().next().unwrap(),
                ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
                -1,
            );
        }
        let told: Vec<usize> = h.told().iter().map(|(i, _)| *i).collect();
        assert_eq!(told, [0, 1, 2, 3]);
        assert!(!h.id().bump_requested());
    }

    /// An earlier batch failing for good (not written) while later ones are in flight: its
    /// sequences cannot be given back (the later batches hold the ones after it), so the
    /// epoch is bumped; the later batches, refused as out of order, are sent again after the
    /// bump under new sequences, in order, and written once.
    #[tokio::test(start_paused = true)]
    async fn an_earlier_batch_failing_for_good_resequences_the_later_ones_behind_a_bump() {
        let mut h = Harness::new(5);
        for _ in 0..4 {
            h.send(150);
        }
        let mut sent = h.take().into_iter();
        h.answer(sent.next().unwrap(), ErrorCode::NONE, 0);
        h.answer(sent.next().unwrap(), ErrorCode::INVALID_RECORD, -1);
        assert!(h.id().bump_requested(), "a gap behind the failed batch");
        for batch in sent {
            h.answer(batch, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        }
        assert!(
            h.take_later().await.is_empty(),
            "nothing goes before the bump"
        );
        h.bump();
        let again = h.take_later().await;
        assert_eq!(records(&again), [2, 3]);
        assert_eq!(sequences(&again), [(1, 0), (1, 1)], "the new epoch, from 0");
        for (batch, offset) in again.into_iter().zip(1..) {
            h.answer(batch, ErrorCode::NONE, offset);
        }
        let told = h.told();
        assert_eq!(told[0], (0, Ok(0)));
        assert_eq!(told[1], (1, Err(Some(ErrorCode::INVALID_RECORD))));
        assert_eq!(told[2..], [(2, Ok(1)), (3, Ok(2))]);
    }

    /// The same with the failed batch the newest: its sequences are given back, no bump.
    #[tokio::test(start_paused = true)]
    async fn the_newest_batch_failing_for_good_gives_its_sequences_back() {
        let mut h = Harness::new(5);
        for _ in 0..2 {
            h.send(150);
        }
        let mut sent = h.take().into_iter();
        let first = sent.next().unwrap();
        h.answer(sent.next().unwrap(), ErrorCode::INVALID_RECORD, -1);
        h.answer(first, ErrorCode::NONE, 0);
        assert!(!h.id().bump_requested());
        h.send(150);
        assert_eq!(
            sequences(&h.take()),
            [(0, 1)],
            "the failed batch's sequence, reused"
        );
    }

    /// Batches of unknown outcome behind one refused for good under the old epoch (so a bump
    /// waits): they are resolved first, under the old epoch, even from behind it in the
    /// queue; then the bump. The refused one had an attempt that got no answer, which may
    /// still be written (a broker reading a connection the producer gave up on, late), so it
    /// fails saying it may have been written instead of going again under new sequences
    /// (it was sent again under the new epoch before, which could write it twice).
    #[tokio::test(start_paused = true)]
    async fn unknown_outcomes_behind_a_refused_batch_are_resolved_before_the_bump() {
        let mut h = Harness::new(5);
        for _ in 0..3 {
            h.send(150);
        }
        let mut sent = h.take().into_iter();
        let (first, second) = (sent.next().unwrap(), sent.next().unwrap());
        h.lost(first);
        h.lost(second);
        let third = sent.next().unwrap();
        h.answer(third, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        let again = h.take_later().await;
        assert_eq!(records(&again), [0], "the first alone");
        h.answer(
            again.into_iter().next().unwrap(),
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            -1,
        );
        assert!(
            h.id().bump_requested(),
            "a real gap: nothing earlier explains it"
        );
        {
            let outcomes = lock(&h.outcomes);
            let (i, first) = &outcomes[0];
            let error = first.as_ref().expect_err("the first failed");
            assert!(
                *i == 0 && error.is_outcome_unknown(),
                "failed as maybe written: {error}"
            );
        }
        let unknown = h.take_later().await;
        assert_eq!(
            records(&unknown),
            [1],
            "the unknown one, from behind the refused one"
        );
        assert_eq!(sequences(&unknown), [(0, 1)], "under the old epoch");
        // The first one's lost attempt landed meanwhile: this one follows on.
        h.answer(unknown.into_iter().next().unwrap(), ErrorCode::NONE, 1);
        h.bump();
        let again = h.take_later().await;
        assert_eq!(
            records(&again),
            [2],
            "the one refused behind the others, resequenced"
        );
        assert_eq!(sequences(&again), [(1, 0)]);
        h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, 2);
        assert_eq!(h.told()[1..], written(1, 3));
    }

    /// A bump asked for elsewhere waits for a batch of unknown outcome that waits behind a
    /// batch that failed retriably: both go again under the old epoch, in order, so the
    /// unknown one is resolved and the bump can follow (rather than each waiting for the
    /// other until delivery.timeout.ms).
    #[tokio::test(start_paused = true)]
    async fn a_waiting_bump_lets_sequenced_batches_resolve_an_unknown_one_behind_them() {
        let mut h = Harness::new(5);
        h.send(150);
        h.send(150);
        let mut sent = h.take().into_iter();
        h.answer(sent.next().unwrap(), ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        h.lost(sent.next().unwrap());
        h.id().request_bump();
        for i in 0..2 {
            let again = h.take_later().await;
            assert_eq!(records(&again), [i], "in order, under the old epoch");
            assert_eq!(sequences(&again), [(0, i as i32)]);
            h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, i);
        }
        h.bump();
        h.send(150);
        let new = h.take();
        assert_eq!(sequences(&new), [(1, 0)], "then the new epoch");
        h.answer(new.into_iter().next().unwrap(), ErrorCode::NONE, 2);
        assert_eq!(h.told(), written(0, 3));
    }

    /// The broker lost the producer's state (UNKNOWN_PRODUCER_ID) for the first of three
    /// batches in flight, and refuses the two behind it as out of order: with a bump waiting
    /// those are refusals too; after the bump the three go again in order from sequence 0.
    #[tokio::test(start_paused = true)]
    async fn a_lost_producer_state_sends_every_batch_in_flight_again_after_the_bump() {
        let mut h = Harness::new(5);
        for _ in 0..3 {
            h.send(150);
        }
        let mut sent = h.take().into_iter();
        h.answer(sent.next().unwrap(), ErrorCode::UNKNOWN_PRODUCER_ID, -1);
        for batch in sent {
            h.answer(batch, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        }
        assert!(
            h.take_later().await.is_empty(),
            "nothing goes before the bump"
        );
        h.bump();
        let again = h.take_later().await;
        assert_eq!(records(&again), [0, 1, 2]);
        assert_eq!(sequences(&again), [(1, 0), (1, 1), (1, 2)]);
        for (batch, offset) in again.into_iter().zip(0..) {
            h.answer(batch, ErrorCode::NONE, offset);
        }
        assert_eq!(h.told(), written(0, 3));
    }

    /// delivery.timeout.ms ends a batch waiting to be sent again while a later one is in
    /// flight. Not written, its sequences cannot be given back (the later batch holds the
    /// next ones): a bump, and the later batch, refused, follows under the new epoch. Of
    /// unknown outcome, the same, and its records say they may have been written.
    #[tokio::test(start_paused = true)]
    async fn an_expired_batch_with_a_later_one_in_flight_resequences_it_behind_a_bump() {
        for unknown in [false, true] {
            let mut h = Harness::new(5);
            h.send(150);
            let first = h.take().pop().unwrap();
            tokio::time::advance(Duration::from_secs(60)).await;
            h.send(150);
            let later = h.take().pop().unwrap();
            if unknown {
                h.lost(first);
            } else {
                h.answer(first, ErrorCode::NOT_ENOUGH_REPLICAS, -1);
            }
            tokio::time::advance(Duration::from_secs(61)).await;
            h.expire();
            assert!(h.id().bump_requested(), "unknown: {unknown}");
            h.answer(later, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
            h.bump();
            let again = h.take_later().await;
            assert_eq!(records(&again), [1]);
            assert_eq!(sequences(&again), [(1, 0)]);
            h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, 0);
            let told = lock(&h.outcomes);
            assert_eq!(told.len(), 2);
            assert!(matches!(
                &told[0],
                (0, Err(e)) if e.is_outcome_unknown() == unknown
                    && matches!(e, Error::DeliveryTimeout(_) | Error::OutcomeUnknown { .. })
            ));
            assert!(matches!(told[1], (1, Ok(0))));
        }
    }

    /// With acks=all, NOT_LEADER_OR_FOLLOWER can come after the leader appended the batch
    /// (it lost the leadership while it waited for its followers: Kafka's DelayedProduce).
    /// Expiring then, the batch fails saying it may have been written, and its sequences are
    /// not given back: given back, the next batch of as many records would carry them, and
    /// the broker, holding them, would answer it as a duplicate, at the first one's offset,
    /// without writing it (a faults::delivery_timeout run lost 147 acknowledged records so).
    #[tokio::test(start_paused = true)]
    async fn a_batch_refused_after_its_append_never_gives_its_sequences_back() {
        let mut h = Harness::new(5);
        h.send(150);
        let first = h.take().pop().unwrap();
        h.answer(first, ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        tokio::time::advance(Duration::from_secs(121)).await;
        h.expire();
        {
            let told = lock(&h.outcomes);
            let error = told[0].1.as_ref().expect_err("expired");
            assert!(error.is_outcome_unknown(), "{error}");
        }
        assert!(h.id().bump_requested(), "its sequences are forgotten");
        h.bump();
        h.send(150);
        assert_eq!(sequences(&h.take()), [(1, 0)], "under the new epoch");
    }

    /// Batches failed together while they wait (delivery.timeout.ms here; an abort or
    /// giving up likewise) give their sequences back newest first, so the partition rewinds
    /// without a bump; their records fail in send order.
    #[tokio::test(start_paused = true)]
    async fn waiting_batches_failed_together_rewind_their_sequences_in_send_order() {
        let mut h = Harness::new(5);
        for _ in 0..3 {
            h.send(150);
        }
        let mut sent = h.take().into_iter();
        h.answer(sent.next().unwrap(), ErrorCode::NONE, 0);
        for batch in sent {
            h.answer(batch, ErrorCode::NOT_ENOUGH_REPLICAS, -1);
        }
        tokio::time::advance(Duration::from_secs(121)).await;
        h.expire();
        assert!(!h.id().bump_requested());
        let told: Vec<usize> = h.told().iter().map(|(i, _)| *i).collect();
        assert_eq!(told, [0, 1, 2], "told in send order");
        h.send(150);
        assert_eq!(
            sequences(&h.take()),
            [(0, 1)],
            "after the last written batch"
        );
    }

    /// A batch too large for the topic, split while a later batch is in flight: the halves
    /// take its sequences, so the later batch (refused until they are written) still follows
    /// on, without a bump; a new record does not join a half, whose sequences are counted.
    #[tokio::test(start_paused = true)]
    async fn split_halves_keep_the_sequences_so_later_batches_follow_on() {
        let mut h = Harness::new(5);
        h.send(10);
        h.send(10);
        h.send(150);
        let mut sent = h.take().into_iter();
        let (whole, later) = (sent.next().unwrap(), sent.next().unwrap());
        assert_eq!(whole.record_count(), 2);
        assert_eq!(sequences(std::slice::from_ref(&later)), [(0, 2)]);
        h.answer(whole, ErrorCode::MESSAGE_TOO_LARGE, -1);
        h.send(10);
        h.answer(later, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        assert!(!h.id().bump_requested());
        for i in 0..2 {
            let again = h.take_later().await;
            assert_eq!(records(&again), [i], "the halves, one at a time");
            assert_eq!(sequences(&again), [(0, i as i32)]);
            h.answer(again.into_iter().next().unwrap(), ErrorCode::NONE, i);
        }
        let rest = h.take_later().await;
        assert_eq!(
            records(&rest),
            [2, 3],
            "the later batch, and the new one behind it"
        );
        assert_eq!(sequences(&rest), [(0, 2), (0, 3)]);
        for (batch, offset) in rest.into_iter().zip(2..) {
            h.answer(batch, ErrorCode::NONE, offset);
        }
        assert_eq!(h.told(), written(0, 4));
    }
}
