//! What a user of the Java consumer reaches for (issue 11, item 6): offsets by time, the
//! beginning and end of many partitions, committed offsets of many partitions at once,
//! `current_lag`, the group metadata for transactions, the consumer's metrics, and
//! subscribing by pattern (re-evaluated as topics appear).

use crate::group_support::member_config;
use crate::support::*;
use kafkit::{AssignorKind, Consumer, OffsetAndMetadata, ProducerRecord, TopicPartition};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

async fn poll_until(consumer: &Consumer, what: &str, mut done: impl FnMut(usize) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut count = 0;
    loop {
        count += consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .len();
        if done(count) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
    }
}

#[tokio::test]
async fn offsets_by_time_and_position_commits_lag_metadata_and_metrics() {
    let (bootstrap, topic) = fresh_topic("lookups", 2).await;
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    produce(
        &bootstrap,
        [1_000, 2_000, 3_000].map(|t| {
            ProducerRecord::new(topic.as_str(), "v")
                .partition(0)
                .timestamp(t)
        }),
    )
    .await;
    let config = member_config(&bootstrap, &topic, &[AssignorKind::Range]);
    let consumer = Consumer::new(config).await.unwrap();

    let found = consumer
        .offsets_for_times([(p0.clone(), 1_500), (p1.clone(), 0)])
        .await
        .unwrap();
    // The first record at or after 1500 ms; none in the empty partition.
    let at = found[&p0].expect("a record at or after 1500 ms");
    assert_eq!((at.offset, at.timestamp), (1, 2_000));
    assert_eq!(found[&p1], None);
    assert_eq!(
        consumer
            .offsets_for_times([(p0.clone(), 9_000)])
            .await
            .unwrap()[&p0],
        None
    );
    let both = [p0.clone(), p1.clone()];
    assert_eq!(
        consumer.beginning_offsets(&both).await.unwrap(),
        HashMap::from([(p0.clone(), 0), (p1.clone(), 0)])
    );
    assert_eq!(
        consumer.end_offsets(&both).await.unwrap(),
        HashMap::from([(p0.clone(), 3), (p1.clone(), 0)])
    );

    // Group metadata: outside any generation until joined.
    let before = consumer.group_metadata().unwrap();
    assert_eq!(
        (before.group_id.as_str(), before.generation_id),
        (topic.as_str(), -1)
    );
    consumer.subscribe([topic.clone()]).await.unwrap();
    poll_until(&consumer, "the first record", |n| n >= 1).await;
    let joined = consumer.group_metadata().unwrap();
    assert!(
        joined.generation_id >= 1 && !joined.member_id.is_empty(),
        "{joined:?}"
    );
    assert_eq!(joined.group_instance_id, None);

    // current_lag: the high watermark of the last fetch less the position.
    let position = consumer.position(&p0).await.unwrap();
    assert_eq!(consumer.current_lag(&p0).await, Some(3 - position));

    // Committed offsets of many partitions, of several topics, in one call.
    let other = topic.clone() + "-other";
    create_topic(&bootstrap, &other, 6).await;
    let many: Vec<(TopicPartition, OffsetAndMetadata)> = (0..5)
        .map(|p| TopicPartition::new(&other, p))
        .chain([p0.clone(), p1.clone()])
        .enumerate()
        .map(|(i, tp)| (tp, OffsetAndMetadata::new(10 + i as i64).with_metadata("m")))
        .collect();
    consumer.commit_offsets(many.clone()).await.unwrap();
    let mut asked: Vec<TopicPartition> = many.iter().map(|(tp, _)| tp.clone()).collect();
    asked.push(TopicPartition::new(&other, 5)); // nothing committed: absent
    let committed = consumer.committed(&asked).await.unwrap();
    assert_eq!(committed, many.into_iter().collect::<HashMap<_, _>>());

    let m = consumer.metrics().await;
    assert!(m.records_consumed >= 1 && m.bytes_consumed >= 1, "{m:?}");
    assert!(
        m.fetch_requests >= 1 && m.fetch_latency_max > Duration::ZERO,
        "{m:?}"
    );
    assert_eq!((m.rebalances, m.failed_rebalances), (1, 0), "{m:?}");
    assert!(
        m.commits >= 1 && m.commit_latency_max > Duration::ZERO,
        "{m:?}"
    );
    assert_eq!(m.records_lag.get(&p0), Some(&(3 - position)), "{m:?}");
    assert!(m.records_lag_max.is_some(), "{m:?}");

    consumer.close_with_timeout(Duration::MAX).await.unwrap();
    let stranger = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    assert!(matches!(
        stranger.group_metadata(),
        Err(kafkit::Error::Config(_))
    ));
}

#[tokio::test]
async fn a_pattern_subscription_takes_topics_created_later() {
    let bootstrap = bootstrap().await;
    let prefix = topic("pattern");
    for name in [
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("x{prefix}-c"),
    ] {
        create_topic(&bootstrap, &name, 1).await;
    }
    let mut config = member_config(&bootstrap, &prefix, &[AssignorKind::Range]);
    config.client.metadata_max_age = Duration::from_secs(1);
    let consumer = Consumer::new(config).await.unwrap();
    assert!(matches!(
        consumer.subscribe_pattern("(unclosed").await,
        Err(kafkit::Error::Config(_))
    ));
    // Test names hold only letters, digits and `-`: literal in a pattern.
    consumer
        .subscribe_pattern(&format!("{prefix}-.*"))
        .await
        .unwrap();
    let topics = |want: &[&str]| -> BTreeSet<String> {
        want.iter().map(|s| format!("{prefix}-{s}")).collect()
    };
    let assigned = || async {
        consumer
            .assignment()
            .await
            .into_iter()
            .map(|tp| tp.topic)
            .collect::<BTreeSet<String>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    // The whole name must match: x{prefix}-c does not.
    while assigned().await != topics(&["a", "b"]) {
        assert!(Instant::now() < deadline, "assigned {:?}", assigned().await);
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    create_topic(&bootstrap, &format!("{prefix}-c"), 1).await;
    while assigned().await != topics(&["a", "b", "c"]) {
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "the new topic never joined: assigned {:?}",
            assigned().await
        );
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    // A plain subscription replaces the pattern.
    consumer.subscribe([format!("{prefix}-a")]).await.unwrap();
    while assigned().await != topics(&["a"]) {
        assert!(Instant::now() < deadline + Duration::from_secs(60));
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    consumer.close().await.unwrap();
}
