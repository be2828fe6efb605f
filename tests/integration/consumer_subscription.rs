//! A subscription changed while the group is joining is not forgotten when the join ends.

use crate::support::*;
use kafkit::{Consumer, TopicPartition};
use std::time::Duration;

#[tokio::test]
async fn a_subscription_changed_during_a_join_is_joined_with_next() {
    let bootstrap = bootstrap().await;
    let (first, second) = (topic("resubscribe-a"), topic("resubscribe-b"));
    create_topic(&bootstrap, &first, 1).await;
    create_topic(&bootstrap, &second, 1).await;
    let mut config = consumer_config(&bootstrap);
    config.group_id = Some(format!("{first}-group"));
    config.enable_auto_commit = false;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe([first.clone()]).await.unwrap();
    // Starts the join and returns before it is done (several round trips to the broker).
    assert!(consumer.poll(Duration::ZERO).await.unwrap().is_empty());
    consumer
        .subscribe([first.clone(), second.clone()])
        .await
        .unwrap();

    let want = vec![
        TopicPartition::new(first.as_str(), 0),
        TopicPartition::new(second.as_str(), 0),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while consumer.assignment().await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second topic was never assigned: {:?}",
            consumer.assignment().await
        );
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
}
