//! The last stable offset: a partition holding only aborted transactions must not stall a
//! `read_committed` reader.

use crate::common::*;
use crate::support;
use kafkit::{IsolationLevel, TopicPartition};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn a_partition_of_only_aborted_transactions_does_not_stall_read_committed() {
    a_partition_of_only_aborted_transactions_does_not_stall_read_committed_on(
        &support::bootstrap().await,
    )
    .await;
}

pub async fn a_partition_of_only_aborted_transactions_does_not_stall_read_committed_on(
    bootstrap: &str,
) {
    let topic = new_topic(bootstrap, "txn-aborted-only", 1).await;
    let producer = txn_producer(bootstrap).await;
    for round in 0..3 {
        producer.begin_transaction().unwrap();
        send_values(&producer, &topic, 1, &format!("aborted{round}"), 0..5).await;
        producer.abort_transaction().await.unwrap();
    }
    // 15 records and 3 abort markers. The coordinator answers EndTxn once the abort is in
    // its log and writes the markers after (as for Java's producer): the last one may
    // still be on its way.
    let deadline = Instant::now() + Duration::from_secs(20);
    let end = loop {
        let end = support::log_end(bootstrap, &topic, 1).await;
        if end == 18 || Instant::now() >= deadline {
            break end;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(end, 18, "15 records and 3 abort markers");

    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let tp = TopicPartition::new(topic.as_str(), 0);
    let stable = committed
        .end_offsets(std::slice::from_ref(&tp))
        .await
        .unwrap();
    assert_eq!(
        stable.get(&tp).copied(),
        Some(end),
        "the last stable offset is the log end"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while committed.position(&tp).await != Some(end) {
        assert!(
            Instant::now() < deadline,
            "read_committed stalled at {:?} of {end}",
            committed.position(&tp).await
        );
        seen.extend(committed.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert!(seen.is_empty(), "aborted records were returned: {seen:?}");
    producer.close(Duration::from_secs(10)).await;
}
