//! A poll waiting for records holds nothing the rest of the consumer needs: while it waits on
//! an empty topic, `position`, `pause` and `assignment` answer within 50 ms, and `commit`
//! within its round trip to the broker.

use crate::support::*;
use kafkit::{Consumer, TopicPartition};
use std::future::Future;
use std::time::Duration;

/// Far below the poll's 30 s: the calls must not wait for the poll.
const PROMPT: Duration = Duration::from_millis(50);
/// A commit also makes a round trip to the broker, which takes longer than `PROMPT` when the
/// whole suite loads this machine (seen: over 50 ms on two cores); still far below 30 s.
const ROUND_TRIP: Duration = Duration::from_secs(1);

/// The call's answer, or `None` (and its name in `slow`) when it took longer than `limit`.
async fn promptly<T>(
    slow: &mut Vec<&str>,
    what: &'static str,
    limit: Duration,
    call: impl Future<Output = T>,
) -> Option<T> {
    let answer = tokio::time::timeout(limit, call).await.ok();
    if answer.is_none() {
        slow.push(what);
    }
    answer
}

/// Starts `poll(30 s)` on a clone, lets it reach its wait, calls each method, and checks the
/// poll was still waiting throughout.
async fn calls_answer_while_a_poll_waits(consumer: &Consumer, tp: &TopicPartition) {
    let polling = consumer.clone();
    let poll = tokio::spawn(async move { polling.poll(Duration::from_secs(30)).await });
    // Long enough for the poll to reset the position (ListOffsets) and start waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished(), "the poll returned early: {poll:?}");

    let slow = &mut Vec::new();
    let assignment = promptly(slow, "assignment", PROMPT, consumer.assignment()).await;
    let position = promptly(slow, "position", PROMPT, consumer.position(tp)).await;
    let commit = promptly(slow, "commit", PROMPT + ROUND_TRIP, consumer.commit()).await;
    let pause = promptly(
        slow,
        "pause",
        PROMPT,
        consumer.pause(std::slice::from_ref(tp)),
    )
    .await;
    assert!(slow.is_empty(), "waited for the poll in progress: {slow:?}");
    assert!(!poll.is_finished(), "the poll returned early: {poll:?}");
    assert_eq!(assignment, Some(vec![tp.clone()]));
    assert_eq!(position, Some(Some(0)));
    commit.unwrap().unwrap();
    assert!(pause.is_some());
    assert_eq!(consumer.paused().await, vec![tp.clone()]);
    poll.abort();
    let committed = consumer.committed(std::slice::from_ref(tp)).await.unwrap();
    assert_eq!(committed.get(tp).map(|c| c.offset), Some(0));
}

/// An empty one-partition topic, and a consumer with a group of its own and manual commits.
async fn empty_topic_and_consumer(prefix: &str) -> (TopicPartition, Consumer) {
    let bootstrap = bootstrap().await;
    let topic = topic(prefix);
    create_topic(&bootstrap, &topic, 1).await;
    let mut config = consumer_config(&bootstrap);
    config.group_id = Some(format!("{topic}-group"));
    config.enable_auto_commit = false;
    let consumer = Consumer::new(config).await.unwrap();
    (TopicPartition::new(topic, 0), consumer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_partitions_answer_while_a_poll_waits() {
    let (tp, consumer) = empty_topic_and_consumer("lock-assigned").await;
    consumer.assign([tp.clone()]).await.unwrap();
    // Finds the coordinator, so the timed commit is one round trip.
    consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    calls_answer_while_a_poll_waits(&consumer, &tp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_partitions_answer_while_a_poll_waits() {
    let (tp, consumer) = empty_topic_and_consumer("lock-group").await;
    consumer.subscribe([tp.topic.clone()]).await.unwrap();
    let joined = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.assignment().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < joined,
            "never joined the group"
        );
        assert!(consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .is_empty());
    }
    consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    calls_answer_while_a_poll_waits(&consumer, &tp).await;
}
