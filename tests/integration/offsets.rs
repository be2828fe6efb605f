use crate::support::*;
use kafkit::{OffsetSpec, ProducerRecord, TopicPartition};

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_time() {
    let bootstrap = bootstrap().await;
    let topic = topic("offsets");
    let admin = create_topic(&bootstrap, &topic, 2).await;
    let tp = TopicPartition::new(&topic, 1);
    // Recent timestamps: brokers may reject ones far in the past.
    let base = now_ms() - 60_000;
    let records = (0..10i64).map(|i| {
        ProducerRecord::new(topic.as_str(), format!("{i}"))
            .partition(1)
            .timestamp(base + i * 10)
    });
    let written = produce(&bootstrap, records).await;
    for (i, metadata) in written.iter().enumerate() {
        assert_eq!(metadata.offset, i as i64);
    }
    let offsets = admin
        .list_offsets([
            (tp.clone(), OffsetSpec::Earliest),
            (TopicPartition::new(&topic, 0), OffsetSpec::Latest),
        ])
        .await
        .unwrap();
    assert_eq!(offsets[&tp].offset, 0);
    assert_eq!(offsets[&TopicPartition::new(&topic, 0)].offset, 0);
    let latest = admin
        .list_offsets([(tp.clone(), OffsetSpec::Latest)])
        .await
        .unwrap();
    assert_eq!(latest[&tp].offset, 10);
    let by_time = admin
        .list_offsets([(tp.clone(), OffsetSpec::Timestamp(base + 45))])
        .await
        .unwrap();
    assert_eq!(by_time[&tp].offset, 5);
    assert_eq!(by_time[&tp].timestamp, base + 50);
    let after_all = admin
        .list_offsets([(tp.clone(), OffsetSpec::Timestamp(base + 3_600_000))])
        .await
        .unwrap();
    assert_eq!(after_all[&tp].offset, -1);
}

#[tokio::test]
async fn list_topics_shows_partitions_and_delete_removes() {
    let bootstrap = bootstrap().await;
    let topic = topic("listing");
    let admin = create_topic(&bootstrap, &topic, 4).await;
    let listing = admin.list_topics().await.unwrap();
    let mine = listing.iter().find(|t| t.name == topic).unwrap();
    assert_eq!(mine.partitions, vec![0, 1, 2, 3]);
    assert!(!mine.internal);
    admin.delete_topics([&topic]).await.unwrap();
    let mut gone = false;
    for _ in 0..50 {
        if !admin
            .list_topics()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == topic)
        {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone);
}

/// A partition named twice is asked once, the last spec counting, as a map's last insert
/// does (Java's `listOffsets` takes a map). Before, both went into one ListOffsets and the
/// broker refused the whole request with INVALID_REQUEST.
#[tokio::test]
async fn list_offsets_asks_a_partition_named_twice_once() {
    let bootstrap = bootstrap().await;
    let topic = topic("offsets-twice");
    let admin = create_topic(&bootstrap, &topic, 1).await;
    let tp = TopicPartition::new(&topic, 0);
    produce(
        &bootstrap,
        (0..3).map(|i| ProducerRecord::new(topic.as_str(), format!("{i}"))),
    )
    .await;
    let offsets = admin
        .list_offsets([
            (tp.clone(), OffsetSpec::Earliest),
            (tp.clone(), OffsetSpec::Latest),
        ])
        .await
        .expect("one answer for the partition");
    assert_eq!(offsets.len(), 1);
    assert_eq!(offsets[&tp].offset, 3);
}
