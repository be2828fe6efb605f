//! Send "Hello Kafka" to `my_topic`, flush, read it back from the earliest offset, print it.
//!
//! Uses `KAFKA_BOOTSTRAP_SERVERS` when set, else a broker on localhost:9092 if one listens,
//! else starts a local Apache Kafka with the project's launcher (needs a JDK and Maven).
//!
//! ```sh
//! cargo run --example first_message
//! ```

use kafkit::{
    AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
    TopicPartition,
};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, _local_broker) = match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
        Ok(servers) if !servers.trim().is_empty() => (servers, None),
        _ if std::net::TcpStream::connect("127.0.0.1:9092").is_ok() => {
            ("localhost:9092".to_string(), None)
        }
        _ => {
            eprintln!(
                "No broker at localhost:9092: starting a local Apache Kafka {} (KRaft)...",
                kafkit_testkit::KAFKA_VERSION
            );
            let cluster =
                tokio::task::spawn_blocking(|| kafkit_testkit::KafkaCluster::start(1)).await??;
            eprintln!("Local broker at {}", cluster.bootstrap());
            (cluster.bootstrap(), Some(cluster))
        }
    };

    let producer = Producer::new(ProducerConfig::new(&bootstrap)).await?;
    let delivery = producer
        .send(ProducerRecord::new("my_topic", "Hello Kafka"))
        .await?;
    producer.flush().await;
    let written = delivery.await?;

    let mut config = ConsumerConfig::new(&bootstrap);
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    let consumer = Consumer::new(config).await?;
    let tp = TopicPartition::new("my_topic", written.partition);
    consumer.assign([tp.clone()]).await?;
    consumer.seek(&tp, 0).await?;
    for _ in 0..30 {
        if let Some(record) = consumer
            .poll(Duration::from_secs(1))
            .await?
            .into_iter()
            .next()
        {
            println!(
                "{}",
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
            );
            return Ok(());
        }
    }
    Err("no record came back within 30 s".into())
}
