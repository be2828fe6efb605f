//! A transaction left open is ended: by the coordinator after `transaction.timeout.ms`, or
//! at once by `close` and by dropping the producer.

use crate::common::*;
use crate::support;
use kafkit::{IsolationLevel, Producer, ProducerRecord};
use std::time::Duration;
use tokio::time::Instant;

/// Opens a transaction with records written in it, then a plain producer writes `after`:
/// `read_committed` readers see `after` only once the transaction is ended.
async fn open_transaction_then_a_plain_record(
    bootstrap: &str,
    topic: &str,
    producer: &Producer,
) -> String {
    producer.begin_transaction().unwrap();
    send_values(producer, topic, 1, "open", 0..3).await;
    let after = "plain-after".to_string();
    support::produce(
        bootstrap,
        [ProducerRecord::new(topic, after.clone()).partition(0)],
    )
    .await;
    after
}

#[tokio::test]
async fn a_producer_that_stops_mid_transaction_is_aborted_by_the_coordinator() {
    let (bootstrap, topic) = support::fresh_topic("txn-timeout", 1).await;
    let bootstrap = bootstrap.as_str();
    let mut config = txn_config(bootstrap, &support::topic("txn"));
    config.transaction_timeout = Duration::from_secs(3);
    let producer = producer_of(config).await;
    let after = open_transaction_then_a_plain_record(bootstrap, &topic, &producer).await;
    let started = Instant::now();
    // The application stops: no commit, no abort, no close, no drop.
    std::mem::forget(producer);

    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let early = poll_for(&committed, Duration::from_secs(1)).await;
    assert!(
        early.is_empty(),
        "the open transaction holds read_committed back: {early:?}"
    );
    // The coordinator's sweep runs every 10 s (transaction.abort.timed.out.transaction.
    // cleanup.interval.ms): the timeout plus one sweep, with room for a slow machine.
    let seen = poll_until(&committed, 1, Duration::from_secs(40)).await;
    assert_eq!(
        support::values(&seen),
        [after],
        "only the plain record, after the abort"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the timeout"
    );
}

#[tokio::test]
async fn close_in_a_transaction_aborts_it() {
    let (bootstrap, topic) = support::fresh_topic("txn-close", 1).await;
    let bootstrap = bootstrap.as_str();
    let producer = txn_producer(bootstrap).await;
    let after = open_transaction_then_a_plain_record(bootstrap, &topic, &producer).await;
    assert_eq!(producer.close(Duration::from_secs(20)).await, 0);
    // transaction.timeout.ms is 60 s: seeing `after` soon means close aborted it.
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 1, Duration::from_secs(15)).await;
    assert_eq!(support::values(&seen), [after]);
}

#[tokio::test]
async fn dropping_the_producer_in_a_transaction_aborts_it() {
    let (bootstrap, topic) = support::fresh_topic("txn-drop", 1).await;
    let bootstrap = bootstrap.as_str();
    let producer = txn_producer(bootstrap).await;
    let after = open_transaction_then_a_plain_record(bootstrap, &topic, &producer).await;
    drop(producer);
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 1, Duration::from_secs(15)).await;
    assert_eq!(support::values(&seen), [after]);
}
