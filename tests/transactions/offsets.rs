//! `send_offsets_to_transaction`: a group's offsets committed with the transaction, and only
//! with it.

use crate::common::*;
use crate::support;
use kafkit::{
    Consumer, ConsumerGroupMetadata, IsolationLevel, OffsetAndMetadata, ProducerRecord,
    TopicPartition,
};
use std::collections::HashMap;
use std::time::Duration;

/// The group's committed offset of `tp`, as a consumer of the group reads it (asking for
/// stable offsets, as Java's does: while a transaction's offsets are pending the broker
/// answers `UNSTABLE_OFFSET_COMMIT`, retried for `default.api.timeout.ms`, 3 s here).
async fn committed_now(
    bootstrap: &str,
    group: &str,
    tp: &TopicPartition,
) -> kafkit::Result<Option<i64>> {
    let mut config = reader_config(bootstrap, IsolationLevel::ReadCommitted);
    config.group_id = Some(group.to_string());
    config.default_api_timeout = Duration::from_secs(3);
    let consumer = Consumer::new(config).await.unwrap();
    let offsets = consumer.committed(std::slice::from_ref(tp)).await;
    consumer.close().await.unwrap();
    Ok(offsets?.get(tp).map(|o| o.offset))
}

async fn committed(bootstrap: &str, group: &str, tp: &TopicPartition) -> Option<i64> {
    committed_now(bootstrap, group, tp).await.unwrap()
}

#[tokio::test]
async fn offsets_are_committed_with_the_transaction_and_only_then() {
    offsets_are_committed_with_the_transaction_and_only_then_on(&support::bootstrap().await).await;
}

pub async fn offsets_are_committed_with_the_transaction_and_only_then_on(bootstrap: &str) {
    let topic = new_topic(bootstrap, "txn-offsets", 1).await;
    let group = support::topic("txn-group");
    let tp = TopicPartition::new(topic.as_str(), 0);
    let metadata = ConsumerGroupMetadata::new(group.as_str());
    let producer = txn_producer(bootstrap).await;

    producer.begin_transaction().unwrap();
    producer
        .send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(5))], &metadata)
        .await
        .unwrap();
    let pending = committed_now(bootstrap, &group, &tp).await.unwrap_err();
    assert_eq!(
        pending.code(),
        Some(kafkit::ErrorCode::UNSTABLE_OFFSET_COMMIT),
        "pending in the transaction, not committed: {pending}"
    );
    producer.abort_transaction().await.unwrap();
    assert_eq!(
        committed(bootstrap, &group, &tp).await,
        None,
        "never with an abort"
    );

    producer.begin_transaction().unwrap();
    send_values(&producer, &topic, 1, "out", 0..2).await;
    let offsets = HashMap::from([(tp.clone(), OffsetAndMetadata::new(7).with_metadata("m"))]);
    producer
        .send_offsets_to_transaction(offsets, &metadata)
        .await
        .unwrap();
    producer.commit_transaction().await.unwrap();
    assert_eq!(committed(bootstrap, &group, &tp).await, Some(7));
    producer.close(Duration::from_secs(10)).await;
}

/// A consume-transform-produce step with a real member's group metadata (KIP-447): the
/// offsets go in under its generation; a member id the group does not know is refused, and
/// the transaction can then only abort.
#[tokio::test]
async fn a_member_s_offsets_go_in_under_its_generation_and_a_stranger_s_are_refused() {
    let bootstrap = support::bootstrap().await;
    let bootstrap = bootstrap.as_str();
    let input = support::topic("txn-in");
    let output = support::topic("txn-out");
    support::create_topic(bootstrap, &input, 1).await;
    support::create_topic(bootstrap, &output, 1).await;
    let sent = support::produce_values(bootstrap, &input, "in", 0..3).await;
    let group = support::topic("txn-ctp");
    let mut config = reader_config(bootstrap, IsolationLevel::ReadCommitted);
    config.group_id = Some(group.clone());
    config.enable_auto_commit = false;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe([input.as_str()]).await.unwrap();
    let records = poll_until(&consumer, 3, Duration::from_secs(30)).await;
    assert_eq!(support::values(&records), sent);
    let metadata = consumer.group_metadata().unwrap();
    assert!(
        metadata.generation_id >= 1 && !metadata.member_id.is_empty(),
        "{metadata:?}"
    );

    let producer = txn_producer(bootstrap).await;
    let tp = TopicPartition::new(input.as_str(), 0);
    let next = records.last().unwrap().offset + 1;

    // A member the group does not know: refused, so the transaction must abort.
    producer.begin_transaction().unwrap();
    let mut stranger = metadata.clone();
    stranger.member_id = "a-member-that-left".into();
    let refused = producer
        .send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(next))], &stranger)
        .await
        .unwrap_err();
    assert!(refused.is_abortable(), "{refused}");
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(commit.is_abortable(), "{commit}");
    producer.abort_transaction().await.unwrap();

    producer.begin_transaction().unwrap();
    for record in &records {
        let value = format!("out-{}", support::value_of(record));
        // The commit flushes it; a failure would fail the commit.
        drop(
            producer
                .send(ProducerRecord::new(output.as_str(), value))
                .await
                .unwrap(),
        );
    }
    producer
        .send_offsets_to_transaction([(tp.clone(), OffsetAndMetadata::new(next))], &metadata)
        .await
        .unwrap();
    producer.commit_transaction().await.unwrap();
    let offsets = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(offsets.get(&tp).map(|o| o.offset), Some(next));
    let out = reader(bootstrap, IsolationLevel::ReadCommitted, &output, 1).await;
    let written = poll_until(&out, 3, Duration::from_secs(20)).await;
    assert_eq!(
        support::values(&written),
        sent.iter().map(|v| format!("out-{v}")).collect::<Vec<_>>()
    );
    consumer.close().await.unwrap();
    producer.close(Duration::from_secs(10)).await;
}
