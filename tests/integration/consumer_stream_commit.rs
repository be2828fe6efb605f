//! Commits through a `RecordStream` cover only the records it has yielded (issue 11, item
//! 3: the trap rust-rdkafka's `StreamConsumer` users keep hitting), and the stream ends
//! after `close`. Before the fix the stream kept a whole poll's batch of its own, which
//! `poll` had already counted as consumed: a commit after the third record committed the
//! twentieth; and the stream never ended.

use crate::group_support::member_config;
use crate::support::*;
use futures::StreamExt;
use kafkit::{AssignorKind, Consumer, TopicPartition};
use std::time::Duration;

#[tokio::test]
async fn a_commit_through_the_stream_covers_the_yielded_records_only_and_close_ends_it() {
    let (bootstrap, topic) = fresh_topic("stream-commit", 1).await;
    produce_values(&bootstrap, &topic, "v", 0..20).await;
    let tp = TopicPartition::new(&topic, 0);
    let consumer = Consumer::new(member_config(&bootstrap, &topic, &[AssignorKind::Range]))
        .await
        .unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let mut stream = consumer.stream();
    for expected in 0..3 {
        let record = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a record within 30 s")
            .expect("the stream goes on")
            .expect("no error");
        assert_eq!(record.offset, expected);
    }
    // All 20 records were fetched together; three were yielded.
    assert_eq!(consumer.position(&tp).await, Some(3));
    consumer.commit().await.unwrap();
    let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(
        committed.get(&tp).map(|c| c.offset),
        Some(3),
        "the commit must cover the three records the stream yielded, not the ones it held"
    );
    // The rest come out in order after the commit.
    let next = stream.next().await.unwrap().unwrap();
    assert_eq!(next.offset, 3);

    consumer.close().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream ends after close instead of polling forever");
    assert!(end.is_none(), "after close the stream yielded {end:?}");
}

#[tokio::test]
async fn poll_after_close_is_closed() {
    let (bootstrap, topic) = fresh_topic("poll-closed", 1).await;
    produce_values(&bootstrap, &topic, "v", 0..5).await;
    let consumer = Consumer::new(member_config(&bootstrap, &topic, &[AssignorKind::Range]))
        .await
        .unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.assignment().await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never assigned");
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    let clone = consumer.clone();
    consumer.close().await.unwrap();
    // However long the caller allows, there is nothing to wait for.
    for c in [&consumer, &clone] {
        let polled = tokio::time::timeout(Duration::from_secs(10), c.poll(Duration::MAX)).await;
        match polled {
            Ok(Err(kafkit::Error::Closed)) => {}
            Ok(other) => panic!("poll after close: expected Error::Closed, got {other:?}"),
            Err(_) => panic!("poll(Duration::MAX) after close was still waiting after 10 s"),
        }
    }
}
