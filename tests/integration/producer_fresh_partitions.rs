//! Producing right after a topic is made, with several batches of a partition in flight
//! (idempotence, `max.in.flight.requests.per.connection` = 5). The broker names a new
//! partition's leader a moment before it has made the partition's log: a first batch that
//! comes in that moment is refused (`NOT_LEADER_OR_FOLLOWER`), and a broker before Kafka 4.5
//! that holds no state for the producer on the partition writes the next batch, a moment
//! later, whatever its sequence (KAFKA-15591). The first batch, sent again, is then out of
//! order; written after an epoch bump, it would land behind the later one. Seen in the
//! benchmark's 100-partition produce; every partition here must hold its records in send
//! order, each once.

use crate::support::*;
use kafkit::{Admin, ClientConfig, NewTopic, Producer, ProducerRecord};
use std::collections::BTreeMap;
use std::time::Duration;

const PARTITIONS: i32 = 300;
const PER_PARTITION: usize = 20;
const ROUNDS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sent_to_partitions_made_a_moment_ago_stay_in_send_order() {
    let bootstrap = bootstrap().await;
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    for round in 0..ROUNDS {
        let topic = topic("fresh-order");
        admin
            .create_topics([NewTopic::new(&topic, PARTITIONS, 1)])
            .await
            .unwrap();
        let mut config = producer_config(&bootstrap);
        // One record per batch, sent at once: several batches of each partition on their
        // way while the broker is still making the partitions' logs.
        config.linger = Duration::ZERO;
        config.batch_size = 200;
        let producer = Producer::new(config).await.unwrap();
        let records = (0..PER_PARTITION).flat_map(|i| {
            let topic = topic.clone();
            (0..PARTITIONS).map(move |p| {
                ProducerRecord::new(topic.as_str(), format!("{p}-{i:03}-{}", "v".repeat(120)))
                    .partition(p)
            })
        });
        let written = send_all(&producer, records).await;
        producer.close(Duration::from_secs(10)).await;

        // Where each partition's records landed, in send order.
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for metadata in &written {
            offsets
                .entry(metadata.partition)
                .or_default()
                .push(metadata.offset);
        }
        let reordered: Vec<String> = offsets
            .iter()
            .filter(|(_, o)| o.windows(2).any(|w| w[0] >= w[1]))
            .map(|(p, o)| format!("partition {p}: offsets in send order {o:?}"))
            .collect();
        assert!(
            reordered.is_empty(),
            "round {round}: {} of {PARTITIONS} partitions hold records out of send order:\n  {}",
            reordered.len(),
            reordered.join("\n  ")
        );
        // And each once: the log holds exactly what was acknowledged.
        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        assert_eq!(read.len(), written.len(), "round {round}");
    }
}
