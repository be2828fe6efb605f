//! A broker frozen (SIGSTOP) for longer than `delivery.timeout.ms` while produce requests are
//! in flight (REFERENCE.md, failure scenario 3).
//!
//! Records that time out must really be absent: a request the producer gave up on still
//! sits in the frozen broker's socket buffer and is written when it wakes, unless the
//! producer makes sure it cannot be (the idempotent producer's sequence numbers and epoch
//! bump). So every record is either failed and absent from the log, or acknowledged and
//! there exactly once; and the producer must keep working afterwards instead of going
//! fatal over the gap the failed batches left in its sequence numbers.

use crate::common::{assert_delivered_once, Load, Tracker, PARTITIONS};
use crate::support::{log, Broker, HEAVY};
use kafkit::{Acks, Producer, ProducerConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(8);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const BEFORE_PAUSE: Duration = Duration::from_secs(2);
/// Longer than the delivery timeout: everything in flight or queued when the broker froze
/// expires before it wakes.
const PAUSE: Duration = Duration::from_secs(15);
const RATE: f64 = 1_000.0;
/// Sending spans the pause plus 3 s after it.
const RECORDS: usize = 20_000;
/// Sent once every earlier record is settled: the producer must have recovered.
const TAIL: usize = 1_000;
const VALUE_LEN: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_failed_by_delivery_timeout_are_absent_and_the_rest_delivered_once() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start().await;
    let topic = broker.create_topic("faults-timeout", PARTITIONS).await;
    let run = kafkit_testkit::unique_name("t");
    let mut config = ProducerConfig::new(&broker.bootstrap);
    config.acks = Acks::All;
    config.enable_idempotence = true;
    config.linger = Duration::ZERO; // a request per record burst: requests always in flight
    config.delivery_timeout = DELIVERY_TIMEOUT;
    config.client.request_timeout = REQUEST_TIMEOUT;
    let producer = Producer::new(config).await.expect("producer");
    let tracker = Tracker::new();
    let sent = Arc::new(AtomicUsize::new(0));

    let freezer = {
        let broker = broker.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BEFORE_PAUSE).await;
            broker.pause(0).await;
            let at_pause = sent.load(Ordering::Relaxed);
            tokio::time::sleep(PAUSE).await;
            broker.resume(0).await;
            (at_pause, sent.load(Ordering::Relaxed))
        })
    };
    let load = Load {
        producer: &producer,
        topic: &topic,
        run: &run,
        len: VALUE_LEN,
        rate: Some(RATE),
    };
    load.send(0..RECORDS, &tracker, &sent).await;
    let (at_pause, at_resume) = freezer.await.expect("the freezer task failed");
    log(
        t0,
        format!(
            "{RECORDS} sends accepted; broker frozen for {PAUSE:?} from send {at_pause} to send {at_resume}"
        ),
    );

    // Every record so far resolves (by the delivery timeout at the latest, plus the time
    // the broker needs to come back); then the producer must still work.
    let settle_deadline = Instant::now() + DELIVERY_TIMEOUT * 3;
    while tracker.acked() + tracker.failed() < RECORDS {
        assert!(
            Instant::now() < settle_deadline,
            "deliveries unresolved {:?} after the last send: {} acknowledged, {} failed of {RECORDS}",
            DELIVERY_TIMEOUT * 3,
            tracker.acked(),
            tracker.failed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (acked_before_tail, failed_before_tail) = (tracker.acked(), tracker.failed());
    log(
        t0,
        format!("settled: {acked_before_tail} acknowledged, {failed_before_tail} failed; sending the tail"),
    );
    let tail = Load { rate: None, ..load };
    tail.send(RECORDS..RECORDS + TAIL, &tracker, &sent).await;
    let outcome = tracker.finish(DELIVERY_TIMEOUT * 3).await;

    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in &outcome.failed {
        *kinds.entry(e.clone()).or_default() += 1;
    }
    log(
        t0,
        format!(
            "resolved: {}; failures by error: {kinds:?}",
            outcome.summary()
        ),
    );
    // The pause outlasts the delivery timeout with records in flight: if nothing failed,
    // the scenario did not happen.
    assert!(
        failed_before_tail > 0,
        "no record failed although the broker was frozen for {PAUSE:?} > delivery.timeout.ms {DELIVERY_TIMEOUT:?}"
    );
    let tail_failed: Vec<&(String, String)> = outcome
        .failed
        .iter()
        .filter(|(v, _)| tail_index(v, &run) >= RECORDS)
        .collect();
    assert!(
        tail_failed.is_empty(),
        "the producer did not recover: {} of the {TAIL} records sent after everything earlier \
         had settled failed, e.g. {:?}",
        tail_failed.len(),
        tail_failed.iter().take(3).collect::<Vec<_>>()
    );

    let drained = assert_delivered_once(
        t0,
        "delivery_timeout",
        "delivery timeout with requests in flight",
        &broker.bootstrap,
        &topic,
        &outcome,
    )
    .await;
    let in_log: HashMap<&[u8], (i32, i64)> = drained
        .records
        .iter()
        .map(|(p, o, v)| (v.as_slice(), (*p, *o)))
        .collect();
    let failed_but_written: Vec<String> = outcome
        .failed
        .iter()
        .filter_map(|(v, e)| {
            in_log
                .get(v.as_bytes())
                .map(|(p, o)| format!("{:.40}… at {p}/{o} ({e})", v))
        })
        .collect();
    assert!(
        failed_but_written.is_empty(),
        "{} of {} records reported failed are in the log anyway:\n  {}",
        failed_but_written.len(),
        outcome.failed.len(),
        failed_but_written
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// The send index `i` in a value `{run}-{i}-xxx…`.
fn tail_index(value: &str, run: &str) -> usize {
    value[run.len() + 1..]
        .split('-')
        .next()
        .and_then(|i| i.parse().ok())
        .expect("a value made by common::value")
}
