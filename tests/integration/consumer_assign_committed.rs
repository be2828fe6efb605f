//! A consumer with a `group.id` that assigns partitions itself starts each at the group's
//! committed offset, as Java's does, and only partitions without one per
//! `auto.offset.reset`. Before, kafkit ignored the committed offsets of manually assigned
//! partitions: a restarted consumer (a transactional copier on one input partition, say)
//! read everything again from the beginning.

use crate::support::*;
use kafkit::{Consumer, OffsetAndMetadata, TopicPartition};
use std::time::Duration;

#[tokio::test]
async fn assigned_partitions_start_at_the_groups_committed_offsets() {
    let bootstrap = bootstrap().await;
    let topic = topic("assign-committed");
    create_topic(&bootstrap, &topic, 2).await;
    let group = self::topic("assign-committed-group");
    for partition in 0..2 {
        let records = (0..10).map(|i| {
            kafkit::ProducerRecord::new(topic.as_str(), format!("p{partition}-{i}"))
                .partition(partition)
        });
        produce(&bootstrap, records).await;
    }
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let config = || {
        let mut config = consumer_config(&bootstrap);
        config.group_id = Some(group.clone());
        config.enable_auto_commit = false;
        config
    };

    let first = Consumer::new(config()).await.unwrap();
    first.assign([p0.clone(), p1.clone()]).await.unwrap();
    first
        .commit_offsets([(p0.clone(), OffsetAndMetadata::new(7))])
        .await
        .unwrap();
    first.close().await.unwrap();

    let second = Consumer::new(config()).await.unwrap();
    second.assign([p0.clone(), p1.clone()]).await.unwrap();
    let mut read = Vec::new();
    for _ in 0..100 {
        read.extend(second.poll(Duration::from_millis(200)).await.unwrap());
        if read.len() >= 13 {
            break;
        }
    }
    let values = |partition: i32| -> Vec<String> {
        read.iter()
            .filter(|r| r.partition == partition)
            .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
            .collect()
    };
    assert_eq!(
        values(0),
        ["p0-7", "p0-8", "p0-9"],
        "partition 0 from its committed offset"
    );
    assert_eq!(
        values(1).len(),
        10,
        "partition 1 (nothing committed) per auto.offset.reset=earliest"
    );
    assert_eq!(second.position(&p0).await, Some(10));
    second.close().await.unwrap();
}
