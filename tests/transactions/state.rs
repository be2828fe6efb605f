//! Calls in the wrong state: typed errors, and nothing done.

use crate::common::*;
use crate::support;
use kafkit::{
    ConsumerGroupMetadata, Error, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition,
};
use std::time::Duration;

fn state_error(outcome: Result<(), Error>, call: &str) {
    match outcome {
        Err(Error::TransactionState(what)) => assert!(what.contains(call), "{what}"),
        other => panic!("{call}: expected a TransactionState error, got {other:?}"),
    }
}

#[tokio::test]
async fn transactional_calls_in_the_wrong_state_are_typed_errors() {
    let (bootstrap, topic) = support::fresh_topic("txn-state", 1).await;
    let bootstrap = bootstrap.as_str();
    let record = || ProducerRecord::new(topic.as_str(), "v");
    let offsets = || {
        [(
            TopicPartition::new(topic.as_str(), 0),
            OffsetAndMetadata::new(1),
        )]
    };
    let group = ConsumerGroupMetadata::new("g");

    // Without transactional.id.
    let plain = Producer::new(support::producer_config(bootstrap))
        .await
        .unwrap();
    for outcome in [
        plain.begin_transaction(),
        plain.init_transactions().await,
        plain.commit_transaction().await,
    ] {
        assert!(
            matches!(&outcome, Err(Error::TransactionState(w)) if w.contains("transactional.id")),
            "{outcome:?}"
        );
    }
    assert!(!plain.in_transaction());
    plain.close(Duration::from_secs(5)).await;

    let producer = Producer::new(txn_config(bootstrap, &support::topic("txn")))
        .await
        .unwrap();
    // Before init_transactions.
    state_error(producer.send(record()).await.map(drop), "send");
    state_error(producer.begin_transaction(), "begin_transaction");
    state_error(producer.commit_transaction().await, "commit_transaction");
    state_error(producer.abort_transaction().await, "abort_transaction");
    producer.init_transactions().await.unwrap();
    state_error(producer.init_transactions().await, "init_transactions");
    // Outside a transaction.
    state_error(producer.send(record()).await.map(drop), "send");
    state_error(
        producer
            .send_offsets_to_transaction(offsets(), &group)
            .await,
        "send_offsets_to_transaction",
    );
    state_error(producer.commit_transaction().await, "commit_transaction");
    state_error(producer.abort_transaction().await, "abort_transaction");
    assert!(!producer.in_transaction());
    // Inside one.
    producer.begin_transaction().unwrap();
    state_error(producer.begin_transaction(), "begin_transaction");
    assert!(producer.in_transaction());
    // None of that broke anything: a transaction still commits.
    let sent = send_values(&producer, &topic, 1, "ok", 0..2).await;
    producer.commit_transaction().await.unwrap();
    let committed = reader(bootstrap, kafkit::IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 2, Duration::from_secs(20)).await;
    assert_eq!(support::values(&seen), sent);
    producer.close(Duration::from_secs(10)).await;
}
