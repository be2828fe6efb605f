//! Background prefetch: records fetched while the application works, and discarded when the
//! position moves (seek, pause), so `poll` only ever returns records at the position.

use crate::support::*;
use kafkit::{AutoOffsetReset, Consumer, ConsumerRecord, Error, Producer, ProducerRecord};
use kafkit::{ConsumerConfig, TopicPartition};
use kafkit_testkit::KafkaCluster;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Writes `batches` batches of 100 records to each partition of `topic` (a flush after each
/// hundred, so each is its own batch); values are `p-offset`.
async fn produce_batches(bootstrap: &str, topic: &str, partitions: i32, batches: usize) {
    let producer = Producer::new(producer_config(bootstrap)).await.unwrap();
    for b in 0..batches {
        let records = (0..partitions).flat_map(|p| {
            (0..100).map(move |i| {
                ProducerRecord::new(topic, format!("{p}-{}", b * 100 + i)).partition(p)
            })
        });
        send_all(&producer, records).await;
    }
}

/// One batch per partition per fetch (the broker always returns at least one batch).
fn one_batch_per_fetch(bootstrap: &str) -> ConsumerConfig {
    let mut config = consumer_config(bootstrap);
    config.max_partition_fetch_bytes = 1;
    config.max_poll_records = 100;
    config.fetch_max_wait = Duration::from_secs(2);
    config
}

/// Checks that every partition's records are contiguous and carry their `p-offset` values.
fn check_contiguous(records: &[ConsumerRecord], next: &mut BTreeMap<i32, i64>) {
    for r in records {
        let want = next.entry(r.partition).or_insert(r.offset);
        assert_eq!(r.offset, *want, "partition {} out of order", r.partition);
        assert_eq!(
            r.value.as_deref(),
            Some(format!("{}-{}", r.partition, r.offset).as_bytes())
        );
        *want += 1;
    }
}

#[tokio::test]
async fn prefetched_records_are_returned_without_a_round_trip() {
    let (bootstrap, topic) = fresh_topic("prefetch", 1).await;
    produce_batches(&bootstrap, &topic, 1, 8).await;
    let consumer = Consumer::new(one_batch_per_fetch(&bootstrap))
        .await
        .unwrap();
    consumer
        .assign([TopicPartition::new(&topic, 0)])
        .await
        .unwrap();
    let mut next = BTreeMap::from([(0, 0)]);
    let first = consumer.poll(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        first.len(),
        100,
        "one batch per fetch, max.poll.records = 100"
    );
    check_contiguous(&first, &mut next);
    // The application works; meanwhile the fetcher reads ahead, two fetches of what the
    // broker sends (here one batch each) and no more. (Generous: on a loaded two-core
    // machine fetches can take a while; the test is about *whether* they happen in the
    // background, not how fast.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 1..3 {
        // A poll with no time to wait can only return what was fetched before it.
        let records = consumer.poll(Duration::ZERO).await.unwrap();
        assert_eq!(records.len(), 100, "the next batch was already fetched");
        check_contiguous(&records, &mut next);
    }
    // Taking them let the fetcher go on.
    while next[&0] < 800 {
        let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
        assert!(!records.is_empty(), "the rest arrives");
        check_contiguous(&records, &mut next);
    }
    assert_eq!(next[&0], 800);
}

#[tokio::test]
async fn seek_discards_prefetched_records() {
    let (bootstrap, topic) = fresh_topic("prefetch_seek", 1).await;
    produce_batches(&bootstrap, &topic, 1, 10).await;
    let consumer = Consumer::new(one_batch_per_fetch(&bootstrap))
        .await
        .unwrap();
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]).await.unwrap();
    let first = consumer.poll(Duration::from_secs(10)).await.unwrap();
    assert_eq!(first[0].offset, 0);
    tokio::time::sleep(Duration::from_millis(500)).await; // prefetch 100..
    for target in [550, 40, 999] {
        consumer.seek(&tp, target).await.unwrap();
        let mut next = BTreeMap::from([(0, target)]);
        let mut read = 0;
        while next[&0] < 1000 && read < 300 {
            let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
            assert!(!records.is_empty());
            check_contiguous(&records, &mut next);
            read += records.len();
        }
        assert_eq!(consumer.position(&tp).await, Some(next[&0]));
    }
}

#[tokio::test]
async fn pause_and_resume_keep_positions_exact() {
    let (bootstrap, topic) = fresh_topic("prefetch_pause", 2).await;
    produce_batches(&bootstrap, &topic, 2, 6).await;
    let consumer = Consumer::new(one_batch_per_fetch(&bootstrap))
        .await
        .unwrap();
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    consumer.assign([p0.clone(), p1.clone()]).await.unwrap();
    let mut next = BTreeMap::from([(0, 0), (1, 0)]);
    while next[&0] < 200 {
        let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
        check_contiguous(&records, &mut next);
    }
    consumer.pause(std::slice::from_ref(&p0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused_at = next[&0];
    while next[&1] < 600 {
        let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
        assert!(records.iter().all(|r| r.partition == 1), "p0 is paused");
        check_contiguous(&records, &mut next);
    }
    assert_eq!(next[&0], paused_at);
    assert!(consumer
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    consumer.resume(std::slice::from_ref(&p0)).await;
    while next[&0] < 600 {
        let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
        assert!(!records.is_empty());
        check_contiguous(&records, &mut next);
    }
    assert_eq!(consumer.position(&p0).await, Some(600));
    assert_eq!(consumer.current_lag(&p0).await, Some(0));
}

#[tokio::test]
async fn out_of_range_positions_reset_or_fail_per_auto_offset_reset() {
    let (bootstrap, topic) = fresh_topic("prefetch_oor", 2).await;
    produce_batches(&bootstrap, &topic, 2, 1).await;
    let tp = TopicPartition::new(&topic, 0);

    // earliest: the partition starts over at 0; the other partition is not disturbed.
    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign([tp.clone(), TopicPartition::new(&topic, 1)])
        .await
        .unwrap();
    consumer.seek(&tp, 1_000_000).await.unwrap();
    let mut next = BTreeMap::new();
    let mut total = 0;
    while total < 200 {
        let records = consumer.poll(Duration::from_secs(10)).await.unwrap();
        assert!(!records.is_empty());
        total += records.len();
        check_contiguous(&records, &mut next);
    }
    assert_eq!(consumer.position(&tp).await, Some(100));

    // none: a typed error naming the partition and offset.
    let mut config = consumer_config(&bootstrap);
    config.auto_offset_reset = AutoOffsetReset::Error;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.assign([tp.clone()]).await.unwrap();
    consumer.seek(&tp, 1_000_000).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match consumer.poll(Duration::from_secs(1)).await {
            Err(Error::OffsetOutOfRange {
                partition, offset, ..
            }) => {
                assert_eq!((partition, offset), (0, 1_000_000));
                break;
            }
            Ok(records) => assert!(records.is_empty()),
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(Instant::now() < deadline, "no OffsetOutOfRange");
    }
}

/// A broker leaving under a prefetching consumer: its partitions move to their new leaders'
/// fetchers, the others carry on, and every partition is read exactly and in order.
#[tokio::test]
async fn partitions_follow_their_new_leader_when_a_broker_stops() {
    let broker = Broker::start_with(KafkaCluster::builder().nodes(3)).await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("prefetch_leader", 3).await;
    produce_batches(&bootstrap, &topic, 3, 3).await;
    let consumer = Consumer::new(one_batch_per_fetch(&bootstrap))
        .await
        .unwrap();
    consumer
        .assign((0..3).map(|p| TopicPartition::new(&topic, p)))
        .await
        .unwrap();
    let mut next = BTreeMap::from([(0, 0), (1, 0), (2, 0)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while next.values().any(|&n| n < 100) {
        assert!(
            Instant::now() < deadline,
            "stuck before the stop at {next:?}"
        );
        let records = consumer.poll(Duration::from_secs(2)).await.unwrap();
        check_contiguous(&records, &mut next);
    }
    broker.stop(1).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while next.values().any(|&n| n < 300) {
        assert!(Instant::now() < deadline, "stuck at {next:?}");
        let records = consumer.poll(Duration::from_secs(2)).await.unwrap();
        check_contiguous(&records, &mut next);
    }
    assert_eq!(next, BTreeMap::from([(0, 300), (1, 300), (2, 300)]));
}

/// 80 topics named `<base>-0` … `<base>-79`, 100 partitions each, all assigned. Named by
/// topic in a Fetch, 8,000 partitions collide in the broker's fetch-session set (hashed on
/// the name plus 31 × the partition): building the session outlasted `request.timeout.ms`,
/// on every retry, and no record ever came. Named by id, as Java does, they come at once.
#[tokio::test]
async fn many_alike_named_topics_are_fetched() {
    const TOPICS: usize = 80;
    const PARTITIONS: i32 = 100;
    let bootstrap = bootstrap().await;
    let base = topic("alike");
    let names: Vec<String> = (0..TOPICS).map(|i| format!("{base}-{i}")).collect();
    let admin = kafkit::Admin::new(kafkit::ClientConfig::new(&bootstrap))
        .await
        .unwrap();
    admin
        .create_topics(
            names
                .iter()
                .map(|name| kafkit::NewTopic::new(name, PARTITIONS, 1)),
        )
        .await
        .unwrap();
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    send_all(
        &producer,
        names
            .iter()
            .map(|name| ProducerRecord::new(name.as_str(), "v").partition(PARTITIONS - 1)),
    )
    .await;
    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign(
            names
                .iter()
                .flat_map(|name| (0..PARTITIONS).map(move |p| TopicPartition::new(name, p))),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut read = 0;
    while read < TOPICS {
        assert!(
            Instant::now() < deadline,
            "{read} of {TOPICS} records in 90 s"
        );
        read += consumer.poll(Duration::from_secs(1)).await.unwrap().len();
    }
    consumer.close().await.unwrap();
    admin.delete_topics(&names).await.unwrap();
}
