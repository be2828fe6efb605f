use crate::support::*;
use kafkit::{Consumer, ConsumerConfig, GroupProtocol, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn group_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut config = consumer_config(bootstrap);
    config.group_id = Some(group.to_string());
    config.enable_auto_commit = false;
    config.heartbeat_interval = Duration::from_millis(500);
    config.session_timeout = Duration::from_secs(10);
    config
}

/// Three members share 12 partitions: every record is consumed, no partition is owned by
/// two members at once, committed offsets are where consumption stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_twelve_partitions() {
    let (bootstrap, topic) = fresh_topic("group12", 12).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..1200).await;

    let mut members = Vec::new();
    for _ in 0..3 {
        let consumer = Consumer::new(group_config(&bootstrap, &group))
            .await
            .unwrap();
        consumer.subscribe([topic.clone()]).await.unwrap();
        members.push(consumer);
    }
    let mut seen: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while seen.len() < 1200 && std::time::Instant::now() < deadline {
        let polls = members.iter().map(|c| c.poll(Duration::from_millis(300)));
        for (i, records) in futures::future::join_all(polls)
            .await
            .into_iter()
            .enumerate()
        {
            for r in records.unwrap() {
                *seen.entry((r.partition, r.offset)).or_default() += 1;
                let _ = i;
            }
        }
    }
    assert_eq!(seen.len(), 1200, "every record consumed");
    // One member can read everything before the others finish joining (prefetch makes that
    // quick): keep polling until the group has settled into three equal shares.
    let mut owners: BTreeMap<TopicPartition, usize>;
    let mut sizes: Vec<usize>;
    let settle_deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        owners = BTreeMap::new();
        sizes = Vec::new();
        for (i, c) in members.iter().enumerate() {
            let assignment = c.assignment().await;
            sizes.push(assignment.len());
            for tp in assignment {
                assert!(owners.insert(tp.clone(), i).is_none(), "{tp} owned twice");
            }
        }
        if sizes.iter().all(|&n| n == 4) || std::time::Instant::now() > settle_deadline {
            break;
        }
        let polls = members.iter().map(|c| c.poll(Duration::from_millis(300)));
        for records in futures::future::join_all(polls).await {
            for r in records.unwrap() {
                *seen.entry((r.partition, r.offset)).or_default() += 1;
            }
        }
    }
    assert_eq!(seen.len(), 1200, "no record beyond those produced");
    // Members that got partitions late read them from the start (nothing was committed):
    // poll until every owner has reached the end of its partitions.
    loop {
        let mut total = 0;
        for (tp, i) in &owners {
            total += members[*i].position(tp).await.unwrap_or(0);
        }
        if total == 1200 || std::time::Instant::now() > settle_deadline {
            break;
        }
        let polls = members.iter().map(|c| c.poll(Duration::from_millis(300)));
        for records in futures::future::join_all(polls).await {
            records.unwrap();
        }
    }
    assert_eq!(owners.len(), 12, "all partitions owned: {sizes:?}");
    assert!(sizes.iter().all(|&n| n == 4), "balanced: {sizes:?}");
    for c in &members {
        c.commit().await.unwrap();
    }
    let all: Vec<TopicPartition> = (0..12).map(|p| TopicPartition::new(&topic, p)).collect();
    let committed = members[0].committed(&all).await.unwrap();
    let total: i64 = committed.values().map(|o| o.offset).sum();
    assert_eq!(
        total, 1200,
        "committed offsets are the next offsets to read"
    );
    let owned: BTreeSet<_> = owners.keys().cloned().collect();
    assert_eq!(owned.len(), 12);
    for c in &members {
        c.close().await.unwrap();
    }
}

/// `group.protocol=consumer` on the broker under test: Kafka 4 assigns and the member reads
/// every record; Kafka 3.x (the CI's smoke version) has no ConsumerGroupHeartbeat for it, and
/// `poll` fails with a typed error that says which setting to change, instead of retrying
/// forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_protocol_needs_kafka_4() {
    let (bootstrap, topic) = fresh_topic("kip848", 2).await;
    produce_values(&bootstrap, &topic, "v", 0..20).await;
    let mut config = consumer_config(&bootstrap);
    config.group_id = Some(topic.clone());
    config.group_protocol = GroupProtocol::Consumer;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let version = kafkit_testkit::kafka_version();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    let outcome = loop {
        match consumer.poll(Duration::from_millis(500)).await {
            Ok(records) => read += records.len(),
            Err(e) => break Err(e),
        }
        if read >= 20 || std::time::Instant::now() > deadline {
            break Ok(read);
        }
    };
    if major >= 4 {
        assert_eq!(outcome.unwrap(), 20, "Kafka {version}: every record read");
    } else {
        let e = outcome.expect_err("no ConsumerGroupHeartbeat before Kafka 4");
        assert!(!e.is_retriable(), "{e}");
        assert!(
            e.to_string().contains("set group.protocol=classic"),
            "the error names the setting: {e}"
        );
    }
    consumer.close().await.unwrap();
}
