//! What `read_committed` and `read_uncommitted` readers see of committed and aborted
//! transactions.

use crate::common::*;
use crate::support;
use kafkit::{Error, IsolationLevel, ProducerConfig, ProducerRecord};
use std::time::Duration;

#[tokio::test]
async fn a_commit_is_seen_by_read_committed_only_once_committed() {
    a_commit_is_seen_by_read_committed_only_once_committed_on(&support::bootstrap().await).await;
}

pub async fn a_commit_is_seen_by_read_committed_only_once_committed_on(bootstrap: &str) {
    let topic = new_topic(bootstrap, "txn-commit", 2).await;
    let producer = txn_producer(bootstrap).await;
    producer.begin_transaction().unwrap();
    assert!(producer.in_transaction());
    let sent = send_values(&producer, &topic, 2, "c", 0..10).await;

    // Written, not committed: read_uncommitted sees it, read_committed does not.
    let uncommitted = reader(bootstrap, IsolationLevel::ReadUncommitted, &topic, 2).await;
    let seen = poll_until(&uncommitted, 10, Duration::from_secs(20)).await;
    assert_eq!(sorted_values(&seen), sorted(sent.clone()));
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 2).await;
    let early = poll_for(&committed, Duration::from_secs(2)).await;
    assert!(
        early.is_empty(),
        "read_committed saw an open transaction: {early:?}"
    );

    producer.commit_transaction().await.unwrap();
    assert!(!producer.in_transaction());
    let seen = poll_until(&committed, 10, Duration::from_secs(20)).await;
    assert_eq!(sorted_values(&seen), sorted(sent));
    for p in 0..2 {
        let offsets: Vec<i64> = seen
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "partition {p} in order: {offsets:?}"
        );
    }
    producer.close(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_abort_is_never_seen_by_read_committed_but_is_by_read_uncommitted() {
    an_abort_is_never_seen_by_read_committed_but_is_by_read_uncommitted_on(
        &support::bootstrap().await,
    )
    .await;
}

pub async fn an_abort_is_never_seen_by_read_committed_but_is_by_read_uncommitted_on(
    bootstrap: &str,
) {
    let topic = new_topic(bootstrap, "txn-abort", 2).await;
    let producer = txn_producer(bootstrap).await;
    producer.begin_transaction().unwrap();
    let aborted = send_values(&producer, &topic, 2, "aborted", 0..6).await;
    producer.abort_transaction().await.unwrap();
    assert!(!producer.in_transaction());
    // The producer goes on with the next transaction.
    producer.begin_transaction().unwrap();
    let kept = send_values(&producer, &topic, 2, "kept", 0..4).await;
    producer.commit_transaction().await.unwrap();

    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 2).await;
    let seen = poll_until(&committed, 4, Duration::from_secs(20)).await;
    let extra = poll_for(&committed, Duration::from_secs(1)).await;
    assert_eq!(sorted_values(&seen), sorted(kept.clone()));
    assert!(extra.is_empty(), "read_committed saw more: {extra:?}");

    let uncommitted = reader(bootstrap, IsolationLevel::ReadUncommitted, &topic, 2).await;
    let all = poll_until(&uncommitted, 10, Duration::from_secs(20)).await;
    let mut expected = aborted;
    expected.extend(kept);
    assert_eq!(sorted_values(&all), sorted(expected));
    producer.close(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_abort_fails_the_records_not_yet_sent() {
    an_abort_fails_the_records_not_yet_sent_on(&support::bootstrap().await).await;
}

pub async fn an_abort_fails_the_records_not_yet_sent_on(bootstrap: &str) {
    let topic = new_topic(bootstrap, "txn-abort-unsent", 1).await;
    let mut config: ProducerConfig = txn_config(bootstrap, &support::topic("txn"));
    // The records linger in their batch until the abort takes them.
    config.linger = Duration::from_secs(30);
    config.delivery_timeout = Duration::from_secs(120);
    let producer = producer_of(config).await;
    producer.begin_transaction().unwrap();
    let mut deliveries = Vec::new();
    for i in 0..3 {
        let record = ProducerRecord::new(topic.as_str(), format!("unsent-{i}"));
        deliveries.push(producer.send(record).await.unwrap());
    }
    producer.abort_transaction().await.unwrap();
    for delivery in deliveries {
        let outcome = tokio::time::timeout(Duration::from_secs(5), delivery)
            .await
            .expect("an aborted record is resolved at once");
        assert!(
            matches!(outcome, Err(Error::TransactionAborted)),
            "{outcome:?}"
        );
    }
    // Nothing was written.
    let uncommitted = reader(bootstrap, IsolationLevel::ReadUncommitted, &topic, 1).await;
    let seen = poll_for(&uncommitted, Duration::from_secs(2)).await;
    assert!(seen.is_empty(), "{seen:?}");
    producer.close(Duration::from_secs(10)).await;
}
