//! A position reset (ListOffsets per `auto.offset.reset`) that keeps failing with a retriable
//! error past `default.api.timeout.ms` is asked again by later polls, never returned by
//! `poll`, as Java's consumer does (its offset fetcher raises only non-retriable ListOffsets
//! errors). Seen with 10,000 partitions, when a topic's partitions added a moment before
//! answered NOT_LEADER_OR_FOLLOWER until the broker had made their logs: `poll` returned
//! the error and the benchmark's consumer stopped. The fake broker plays that broker.

use crate::support::*;
use kafka_protocol::messages::ApiKey;
use kafkit::{AutoOffsetReset, Consumer, ConsumerConfig, ProducerRecord, TopicPartition};
use kafkit_testkit::{FakeBroker, Reply};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn a_reset_refused_retriably_is_asked_again_not_returned_by_poll() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    produce(
        &broker.bootstrap(),
        (0..3).map(|i| ProducerRecord::new("t", format!("v{i}")).partition(0)),
    )
    .await;
    // Not a leader yet for three seconds: three times the consumer's API timeout.
    let leader_from = Instant::now() + Duration::from_secs(3);
    broker.script(ApiKey::ListOffsets, move |_| {
        if Instant::now() < leader_from {
            Reply::errors([("t", 0)], 6) // NOT_LEADER_OR_FOLLOWER
        } else {
            Reply::Default
        }
    });

    let mut config = ConsumerConfig::new(broker.bootstrap());
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    config.default_api_timeout = Duration::from_secs(1);
    let consumer = Consumer::new(config).await.unwrap();
    consumer
        .assign([TopicPartition::new("t", 0)])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut read, mut errors) = (Vec::new(), Vec::new());
    while read.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "never read: read {read:?}, poll errors {errors:?}"
        );
        match consumer.poll(Duration::from_millis(200)).await {
            Ok(records) => read.extend(values(&records)),
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert_eq!(read, ["v0", "v1", "v2"]);
    assert!(errors.is_empty(), "retriable errors returned: {errors:?}");
}
