//! Several batches of a partition in flight (idempotence, `max.in.flight.requests.per.connection`
//! = 5) against the fake broker, which here checks sequences as a broker does: a batch is
//! written only if its sequence follows on from the last one written. A scripted fault hits
//! one batch while those behind it are in flight; the records must end up written once each,
//! in send order, with their callbacks called in that order.

use crate::support::*;
use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ProduceRequest};
use kafkit::{Producer, ProducerRecord};
use kafkit_testkit::{FakeBroker, Received, Reply};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NONE: i16 = 0;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_RECORD: i16 = 87;

/// What a scripted fault does to a batch.
#[derive(Clone, Copy)]
enum Fault {
    /// Answers this error code (nothing written).
    Code(i16),
    /// Closes the connection without an answer (nothing written; the requests behind it on
    /// the connection are lost too).
    Close,
}

/// A batch as the broker saw it, and its answer (`None`: the connection was closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    epoch: i16,
    sequence: i32,
    answer: Option<i16>,
}

/// The broker's sequence check for partition t-0 (one producer): its epoch and the last
/// sequence written. A batch of a newer epoch must start at 0; one of an older epoch is
/// fenced; one already written is a duplicate; one that does not follow on is out of order.
#[derive(Default)]
struct SequenceCheck {
    epoch: i16,
    last: i32,
    sent: HashMap<(i16, i32), usize>,
    seen: Vec<Seen>,
}

impl SequenceCheck {
    /// The answer for a batch of `count` records: `fault` may answer its first attempt
    /// otherwise, by (epoch, sequence).
    fn check(
        &mut self,
        epoch: i16,
        sequence: i32,
        count: i32,
        fault: &dyn Fn(i16, i32) -> Option<Fault>,
    ) -> Option<i16> {
        let attempt = self.sent.entry((epoch, sequence)).or_default();
        *attempt += 1;
        let fault = if *attempt == 1 {
            fault(epoch, sequence)
        } else {
            None
        };
        let answer = match fault {
            Some(Fault::Close) => None,
            Some(Fault::Code(code)) => Some(code),
            None if epoch < self.epoch => Some(INVALID_PRODUCER_EPOCH),
            None if epoch > self.epoch && sequence != 0 => Some(OUT_OF_ORDER_SEQUENCE_NUMBER),
            None if epoch == self.epoch && sequence <= self.last => Some(DUPLICATE_SEQUENCE_NUMBER),
            None if epoch == self.epoch && sequence != self.last + 1 => {
                Some(OUT_OF_ORDER_SEQUENCE_NUMBER)
            }
            None => {
                self.epoch = epoch;
                self.last = sequence + count - 1;
                Some(NONE)
            }
        };
        self.seen.push(Seen {
            epoch,
            sequence,
            answer,
        });
        answer
    }
}

/// (producer epoch, base sequence, record count) from a record batch's header.
fn producer_fields(batch: &Bytes) -> (i16, i32, i32) {
    let i16_at = |at: usize| i16::from_be_bytes([batch[at], batch[at + 1]]);
    let i32_at = |at: usize| i32::from_be_bytes(batch[at..at + 4].try_into().unwrap());
    (i16_at(51), i32_at(53), i32_at(57))
}

/// A fake broker with topic t (one partition) that checks sequences, answers every Produce
/// after `delay` (so the producer has several requests out), and lets `fault` answer a
/// batch's first attempt otherwise.
async fn checking_broker(
    delay: Duration,
    fault: impl Fn(i16, i32) -> Option<Fault> + Send + Sync + 'static,
) -> (FakeBroker, Arc<Mutex<SequenceCheck>>) {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let check = Arc::new(Mutex::new(SequenceCheck {
        last: -1,
        ..SequenceCheck::default()
    }));
    let checked = check.clone();
    broker.script(ApiKey::Produce, move |request: &Received| {
        let produce: ProduceRequest = request.decode();
        let mut errors = Vec::new();
        for topic in &produce.topic_data {
            for partition in &topic.partition_data {
                let records = partition.records.as_ref().expect("a batch");
                let (epoch, sequence, count) = producer_fields(records);
                let mut check = checked.lock().unwrap();
                match check.check(epoch, sequence, count, &fault) {
                    None => return Reply::Close,
                    Some(NONE) => {}
                    Some(code) => errors.push((topic.name.0.to_string(), partition.index, code)),
                }
            }
        }
        Reply::after(delay, Reply::Errors(errors))
    });
    (broker, check)
}

/// What each record's callback heard, in the order they were called: its number and its
/// offset, or the error's code.
type Told = Arc<Mutex<Vec<(usize, Result<i64, Option<i16>>)>>>;

/// Sends `count` records to t-0 (one per batch) with callbacks, and flushes; returns what
/// the callbacks heard and how many InitProducerId requests the broker got.
async fn produce_through(
    broker: &FakeBroker,
    count: usize,
) -> (Vec<(usize, Result<i64, Option<i16>>)>, usize) {
    let mut config = producer_config(&broker.bootstrap());
    config.linger = Duration::ZERO;
    config.batch_size = 100;
    config.retry_backoff = Duration::from_millis(10);
    config.max_in_flight_requests_per_connection = 5;
    let producer = Producer::new(config).await.unwrap();
    let told = Told::default();
    for i in 0..count {
        let told = told.clone();
        let record =
            ProducerRecord::new("t", format!("record-{i:02}-{}", "x".repeat(40))).partition(0);
        producer
            .send_with_callback(record, move |outcome| {
                let outcome = outcome.map(|m| m.offset).map_err(|e| e.code().map(|c| c.0));
                told.lock().unwrap().push((i, outcome));
            })
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), producer.flush())
        .await
        .expect("flushed");
    let told = told.lock().unwrap().clone();
    let bumps = broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::InitProducerId)
        .count();
    (told, bumps)
}

/// The records' numbers in t-0, in offset order.
async fn log_of(broker: &FakeBroker, count: usize) -> Vec<usize> {
    let records = read_n(&broker.bootstrap(), "t", [0], count).await;
    values(&records)
        .iter()
        .map(|v| v["record-".len().."record-".len() + 2].parse().unwrap())
        .collect()
}

fn written_in_order(told: &[(usize, Result<i64, Option<i16>>)], count: usize) {
    let expected: Vec<_> = (0..count).map(|i| (i, Ok(i as i64))).collect();
    assert_eq!(
        told, expected,
        "each record written once, told in send order"
    );
}

/// The sequences of the first `n` batches the broker saw.
fn first_sequences(check: &Mutex<SequenceCheck>, n: usize) -> Vec<i32> {
    check
        .lock()
        .unwrap()
        .seen
        .iter()
        .take(n)
        .map(|s| s.sequence)
        .collect()
}

/// Five batches in flight, the second answered NOT_LEADER_OR_FOLLOWER: the broker refuses
/// the three behind it as out of order (their predecessor is not written), which is
/// retriable; all four go again with their sequences, in order, and no epoch bump is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_in_flight_the_second_not_leader_the_rest_out_of_order_stay_in_order() {
    let (broker, check) = checking_broker(Duration::from_millis(50), |_, sequence| {
        (sequence == 1).then_some(Fault::Code(NOT_LEADER_OR_FOLLOWER))
    })
    .await;
    let (told, init_producer_ids) = produce_through(&broker, 20).await;
    written_in_order(&told, 20);
    assert_eq!(log_of(&broker, 20).await, (0..20).collect::<Vec<_>>());
    assert_eq!(
        first_sequences(&check, 5),
        [0, 1, 2, 3, 4],
        "sent before any answer came back: five in flight"
    );
    let seen = check.lock().unwrap().seen.clone();
    let out_of_order: Vec<i32> = seen
        .iter()
        .filter(|s| s.answer == Some(OUT_OF_ORDER_SEQUENCE_NUMBER))
        .map(|s| s.sequence)
        .collect();
    assert!(
        !out_of_order.is_empty() && out_of_order.iter().all(|&s| s > 1 && s <= 5),
        "only the batches in flight behind the refused one: {seen:?}"
    );
    let retry_of_1 = seen.iter().rposition(|s| s.sequence == 1).unwrap();
    assert_eq!(seen[retry_of_1].answer, Some(NONE));
    assert!(
        seen[retry_of_1..].iter().all(|s| s.answer == Some(NONE)),
        "once the refused batch is written, every batch follows on: {seen:?}"
    );
    assert_eq!(init_producer_ids, 1, "no epoch bump");
}

/// Five batches in flight and the connection lost at the second: it and the three behind
/// it (never read) are of unknown outcome, and go again with their sequences, one after the
/// other from the first, so the broker writes each once, in order. (A batch already on its
/// way behind them may reach the new connection first, and be refused as out of order.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_in_flight_the_connection_lost_at_the_second_stay_in_order() {
    let (broker, check) = checking_broker(Duration::from_millis(50), |_, sequence| {
        (sequence == 1).then_some(Fault::Close)
    })
    .await;
    let (told, init_producer_ids) = produce_through(&broker, 20).await;
    written_in_order(&told, 20);
    assert_eq!(log_of(&broker, 20).await, (0..20).collect::<Vec<_>>());
    let seen = check.lock().unwrap().seen.clone();
    assert_eq!(
        seen[1].answer, None,
        "the connection closed at the second batch"
    );
    let retry_of_1 = seen.iter().rposition(|s| s.sequence == 1).unwrap();
    assert!(
        seen[2..retry_of_1]
            .iter()
            .all(|s| s.answer == Some(OUT_OF_ORDER_SEQUENCE_NUMBER)),
        "only a batch already on its way behind the lost ones was refused: {seen:?}"
    );
    assert!(
        seen[retry_of_1..].iter().all(|s| s.answer == Some(NONE)),
        "from the retry of the lost batch on, every batch followed on: {seen:?}"
    );
    let written: Vec<i32> = seen
        .iter()
        .filter(|s| s.answer == Some(NONE))
        .map(|s| s.sequence)
        .collect();
    assert_eq!(written, (0..20).collect::<Vec<_>>());
    assert!(broker.connections() >= 2, "a new connection after the loss");
    assert_eq!(init_producer_ids, 1, "no epoch bump");
}

/// Five batches in flight, the second refused for good (INVALID_RECORD: not written): its
/// records fail; the batches behind it, refused as out of order, cannot follow on from a
/// sequence that was never written, so the producer bumps its epoch and sends them again
/// from sequence 0 of the new epoch. Every other record is written once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_in_flight_the_second_failing_for_good_the_rest_follow_in_a_new_epoch() {
    let (broker, check) = checking_broker(Duration::from_millis(50), |epoch, sequence| {
        (epoch == 0 && sequence == 1).then_some(Fault::Code(INVALID_RECORD))
    })
    .await;
    let (told, init_producer_ids) = produce_through(&broker, 20).await;
    let order: Vec<usize> = told.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, (0..20).collect::<Vec<_>>(), "told in send order");
    assert_eq!(told[1].1, Err(Some(INVALID_RECORD)));
    let offsets: Vec<i64> = told
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().copied())
        .collect();
    assert_eq!(
        offsets,
        (0..19).collect::<Vec<_>>(),
        "the others written in order"
    );
    let expected: Vec<usize> = (0..20).filter(|&i| i != 1).collect();
    assert_eq!(log_of(&broker, 19).await, expected);
    assert_eq!(init_producer_ids, 2, "one epoch bump");
    let seen = check.lock().unwrap().seen.clone();
    assert!(
        seen.iter()
            .any(|s| s.epoch == 1 && s.sequence == 0 && s.answer == Some(NONE)),
        "the later batches start the new epoch at 0: {seen:?}"
    );
}
