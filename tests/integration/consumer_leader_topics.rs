//! The group leader assigns at once when some subscribed topics do not exist (issue 15,
//! M5). Before the fix it waited `request.timeout.ms` for each missing topic, one after
//! another, while the whole group waited for its assignment: three missing topics and a
//! 5 s request timeout held the first assignment for 15 s.

use crate::group_support::member_config;
use crate::support::*;
use kafkit::{AssignorKind, Consumer};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn missing_subscribed_topics_do_not_hold_up_the_assignment() {
    let (bootstrap, topic) = fresh_topic("leader-missing", 1).await;
    let request_timeout = Duration::from_secs(5);
    let mut config = member_config(&bootstrap, &topic, &[AssignorKind::Range]);
    config.client.request_timeout = request_timeout;
    // Missing must stay missing: the shared broker creates topics on demand otherwise.
    config.client.allow_auto_create_topics = false;
    let consumer = Consumer::new(config).await.unwrap();
    let missing: Vec<String> = (0..3).map(|i| format!("{topic}-missing-{i}")).collect();
    let mut topics = missing.clone();
    topics.push(topic.clone());
    consumer.subscribe(topics).await.unwrap();
    let started = Instant::now();
    while consumer.assignment().await.is_empty() {
        assert!(
            started.elapsed() < 4 * request_timeout,
            "never assigned {topic}"
        );
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < request_timeout,
        "the assignment took {took:?}: the leader waited for the {} missing topics",
        missing.len()
    );
    consumer.close().await.unwrap();
}
