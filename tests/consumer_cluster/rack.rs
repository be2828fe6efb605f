//! KIP-392: on a cluster whose brokers know their racks and pick a read replica by rack, the
//! leader answers a consumer from another rack with no records and the id of a replica in
//! the consumer's rack. Before kafkit followed that hint it fetched from the leader again,
//! forever, and read only the partitions led from its own rack.

use crate::support::*;
use kafkit::{Consumer, ConsumerRecord, ProducerRecord, TopicPartition};
use kafkit_testkit::KafkaCluster;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;

/// `n` records per call, spread over every partition, values `{prefix}-{i}`.
async fn produce_spread(bootstrap: &str, topic: &str, prefix: &str, n: usize) {
    let records = (0..n).map(|i| {
        ProducerRecord::new(topic, format!("{prefix}-{i}")).partition(i as i32 % PARTITIONS)
    });
    produce(bootstrap, records).await;
}

/// Polls until `want` distinct values have arrived or `limit` has passed.
async fn read_until(
    consumer: &Consumer,
    seen: &mut BTreeSet<String>,
    want: usize,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    while seen.len() < want && Instant::now() < deadline {
        let records: Vec<ConsumerRecord> = consumer.poll(Duration::from_millis(500)).await.unwrap();
        seen.extend(records.iter().map(value_of));
    }
}

#[tokio::test]
async fn a_consumer_reads_every_partition_from_the_replica_in_its_rack() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker =
        Broker::start_with(KafkaCluster::builder().nodes(3).racks(&["r1", "r2", "r3"])).await;
    let topic = broker.create_topic("rack", PARTITIONS).await;
    produce_spread(&broker.bootstrap, &topic, "a", 3000).await;
    log(
        t0,
        "3000 records written, 6 partitions, every one on all three nodes",
    );

    let mut config = consumer_config(&broker.bootstrap);
    config.client_rack = Some("r2".into());
    let consumer = Consumer::new(config).await.unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(&topic, p)))
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    read_until(&consumer, &mut seen, 3000, Duration::from_secs(60)).await;
    log(
        t0,
        format!("read {} records with client.rack=r2", seen.len()),
    );
    // Before: only the partitions led by node 1 (rack r2), about a third.
    assert_eq!(seen.len(), 3000, "records read with client.rack=r2");

    // Which broker serves them: with the other two nodes frozen, only node 1 (r2) can. The
    // consumer reads everything again from the start.
    broker.pause(0).await;
    broker.pause(2).await;
    log(
        t0,
        "nodes 0 (r1) and 2 (r3) frozen; reading again from offset 0",
    );
    for p in 0..PARTITIONS {
        consumer
            .seek(&TopicPartition::new(&topic, p), 0)
            .await
            .unwrap();
    }
    let mut again = BTreeSet::new();
    read_until(&consumer, &mut again, 3000, Duration::from_secs(30)).await;
    log(t0, format!("read {} records again", again.len()));
    broker.resume(0).await;
    broker.resume(2).await;
    assert_eq!(
        again.len(),
        3000,
        "every partition is fetched from node 1, the replica in rack r2"
    );
}
