//! KIP-320: records a consumer read can vanish when an unclean leader election makes a
//! replica that lacked them the leader, and that leader's log goes on with other records at
//! the same offsets. Before kafkit carried leader epochs, its consumer went on from its
//! position in the new log and silently skipped the records written there in between.

use crate::leaders::replicas;
use crate::support::*;
use kafkit::{
    Admin, AutoOffsetReset, ClientConfig, Consumer, ConsumerRecord, Error, NewTopic,
    ProducerRecord, TopicPartition,
};
use kafkit_testkit::KafkaCluster;
use std::time::Duration;
use tokio::time::Instant;

async fn produce_to_0(bootstrap: &str, topic: &str, prefix: &str, n: usize) {
    let records = (0..n).map(|i| ProducerRecord::new(topic, format!("{prefix}-{i}")).partition(0));
    produce(bootstrap, records).await;
}

async fn consumer(bootstrap: &str, topic: &str, reset: AutoOffsetReset) -> Consumer {
    let mut config = consumer_config(bootstrap);
    config.auto_offset_reset = reset;
    let consumer = Consumer::new(config).await.unwrap();
    let tp = TopicPartition::new(topic, 0);
    consumer.assign([tp.clone()]).await.unwrap();
    consumer.seek(&tp, 0).await.unwrap();
    consumer
}

/// Polls until `n` records arrived (30 s at most).
async fn read(consumer: &Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < n && Instant::now() < deadline {
        out.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    out
}

fn offsets_and_values(records: &[ConsumerRecord]) -> Vec<(i64, String)> {
    records.iter().map(|r| (r.offset, value_of(r))).collect()
}

fn expected(prefix: &str, first_offset: i64, n: usize) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| (first_offset + i as i64, format!("{prefix}-{i}")))
        .collect()
}

#[tokio::test]
async fn records_replaced_by_an_unclean_election_are_detected_not_skipped() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_with(
        KafkaCluster::builder()
            .nodes(3)
            .property("unclean.leader.election.enable", "true"),
    )
    .await;
    let bootstrap = broker.bootstrap.clone();
    let topic = topic("truncation");
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    admin
        .create_topics([NewTopic::new(&topic, 1, 2)])
        .await
        .unwrap();
    let (leader, follower) = loop {
        let (leader, _, nodes) = replicas(&bootstrap, &topic, 0).await;
        if leader >= 0 {
            let follower = nodes
                .into_iter()
                .find(|&n| n != leader)
                .expect("two replicas");
            break (leader, follower);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    log(t0, format!("leader {leader}, follower {follower}"));

    // a-0..99 on both replicas; then, the follower stopped, b-0..49 on the leader alone.
    produce_to_0(&bootstrap, &topic, "a", 100).await;
    broker.stop(follower as usize).await;
    produce_to_0(&bootstrap, &topic, "b", 50).await;
    let strict = consumer(&bootstrap, &topic, AutoOffsetReset::Error).await;
    let lenient = consumer(&bootstrap, &topic, AutoOffsetReset::Earliest).await;
    for c in [&strict, &lenient] {
        let read = offsets_and_values(&read(c, 150).await);
        let mut want = expected("a", 0, 100);
        want.extend(expected("b", 100, 50));
        assert_eq!(read, want);
    }
    log(
        t0,
        "both consumers read a-0..99 and b-0..49 (offsets 0..150)",
    );

    // The leader dies; the stale follower comes back and is elected uncleanly: its log ends
    // at 100, and c-0..79 take offsets 100..180 there.
    broker.kill(leader as usize).await;
    broker.restart(follower as usize).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while replicas(&bootstrap, &topic, 0).await.0 != follower {
        assert!(Instant::now() < deadline, "the follower was never elected");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    log(
        t0,
        format!("node {follower} leads after an unclean election"),
    );
    produce_to_0(&bootstrap, &topic, "c", 80).await;

    // auto.offset.reset=none: a typed error naming the divergence; before, c-50..79 came
    // back as if c-0..49 had never been written.
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        match strict.poll(Duration::from_millis(500)).await {
            Err(e) => break e,
            Ok(records) => assert!(
                records.is_empty() && Instant::now() < deadline,
                "no truncation detected; got {:?}",
                offsets_and_values(&records)
            ),
        }
    };
    log(t0, format!("strict consumer: {error}"));
    match error {
        Error::LogTruncation {
            offset,
            divergent_offset,
            ..
        } => assert_eq!((offset, divergent_offset), (150, 100)),
        other => panic!("expected LogTruncation, got {other}"),
    }
    // Seeking to the divergence reads the new log.
    strict
        .seek(&TopicPartition::new(&topic, 0), 100)
        .await
        .unwrap();
    assert_eq!(
        offsets_and_values(&read(&strict, 80).await),
        expected("c", 100, 80)
    );

    // With a reset policy the consumer moves back to the divergence by itself.
    assert_eq!(
        offsets_and_values(&read(&lenient, 80).await),
        expected("c", 100, 80)
    );
    log(t0, "both consumers read c-0..79 at offsets 100..180");
}
