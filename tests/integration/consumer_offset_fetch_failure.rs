//! A failed OffsetFetch after SyncGroup is asked again (issue 15, H3). The testkit's fake
//! broker plays the coordinator (a real one cannot be made to fail this lookup on cue) and
//! refuses the member's first OffsetFetch. Before the fix `poll` returned that error once,
//! and the partition stayed the member's in the group, never added to its positions, never
//! fetched, with no rejoin to repair it. The same step dropped mid-way (a cancelled poll)
//! is covered against a real broker in `consumer_rebalance_cancel.rs`.

use crate::support::*;
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse,
    OffsetFetchResponse, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafkit::{AssignorKind, Consumer, ConsumerConfig, ProducerRecord};
use kafkit_testkit::{FakeBroker, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The consumer-protocol bytes assigning `topic`'s partition 0.
fn assignment(topic: &str) -> bytes::Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    ConsumerProtocolAssignment::default()
        .with_assigned_partitions(vec![AssignedTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![0])])
        .encode(&mut buf, 0)
        .unwrap();
    buf.freeze()
}

#[tokio::test]
async fn a_failed_offset_fetch_after_sync_group_is_asked_again_by_the_next_poll() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    produce(
        &broker.bootstrap(),
        (0..3).map(|i| ProducerRecord::new("t", format!("v{i}")).partition(0)),
    )
    .await;
    // A group of one follower: the coordinator assigns t-0 to it.
    broker.script(ApiKey::JoinGroup, |_| {
        Reply::response(
            JoinGroupResponse::default()
                .with_generation_id(1)
                .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
                .with_protocol_name(Some(StrBytes::from_static_str("range")))
                .with_leader(StrBytes::from_static_str("another-member"))
                .with_member_id(StrBytes::from_static_str("m1")),
        )
    });
    let bytes = assignment("t");
    broker.script(ApiKey::SyncGroup, move |_| {
        Reply::response(SyncGroupResponse::default().with_assignment(bytes.clone()))
    });
    broker.script(ApiKey::Heartbeat, |_| {
        Reply::response(HeartbeatResponse::default())
    });
    broker.script(ApiKey::LeaveGroup, |_| {
        Reply::response(LeaveGroupResponse::default())
    });
    let lookups = Arc::new(AtomicUsize::new(0));
    let counted = lookups.clone();
    broker.script(ApiKey::OffsetFetch, move |_| {
        let response = match counted.fetch_add(1, Ordering::SeqCst) {
            0 => OffsetFetchResponse::default().with_error_code(30), // GROUP_AUTHORIZATION_FAILED
            _ => OffsetFetchResponse::default(),                     // nothing committed
        };
        Reply::response(response)
    });

    let mut config = ConsumerConfig::new(broker.bootstrap());
    config.group_id = Some("g".into());
    config.enable_auto_commit = false;
    config.auto_offset_reset = kafkit::AutoOffsetReset::Earliest;
    config.partition_assignment_strategy = vec![AssignorKind::Range];
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe(["t"]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut read, mut errors) = (Vec::new(), Vec::new());
    while read.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the assigned partition was never fetched: read {read:?}, poll errors {errors:?}, \
             {} OffsetFetch requests, assignment {:?}",
            lookups.load(Ordering::SeqCst),
            consumer.assignment().await
        );
        match consumer.poll(Duration::from_millis(200)).await {
            Ok(records) => read.extend(values(&records)),
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert_eq!(read, ["v0", "v1", "v2"]);
    assert_eq!(
        errors.len(),
        1,
        "the failed lookup is reported once: {errors:?}"
    );
    assert!(
        errors[0].contains("GROUP_AUTHORIZATION_FAILED"),
        "{errors:?}"
    );
}
