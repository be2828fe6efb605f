//! Transactional producers and the readers that check them.

use crate::support;
use kafkit::{
    Consumer, ConsumerConfig, ConsumerRecord, IsolationLevel, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use std::time::Duration;
use tokio::time::Instant;

/// A fresh topic named after `prefix` on the broker of `bootstrap`.
pub async fn new_topic(bootstrap: &str, prefix: &str, partitions: i32) -> String {
    let topic = support::topic(prefix);
    support::create_topic(bootstrap, &topic, partitions).await;
    topic
}

/// A transactional producer's settings.
pub fn txn_config(bootstrap: &str, transactional_id: &str) -> ProducerConfig {
    let mut config = support::producer_config(bootstrap);
    config.transactional_id = Some(transactional_id.to_string());
    config
}

/// A transactional producer of `config`, initialized.
pub async fn producer_of(config: ProducerConfig) -> Producer {
    let producer = Producer::new(config).await.expect("producer");
    producer
        .init_transactions()
        .await
        .expect("init_transactions");
    producer
}

/// A transactional producer with a fresh `transactional.id`, initialized.
pub async fn txn_producer(bootstrap: &str) -> Producer {
    producer_of(txn_config(bootstrap, &support::topic("txn"))).await
}

/// Sends `"{prefix}-{i}"` for `i` in `range` to partition `i % partitions`, and waits until
/// they are written (`flush`), without ending the transaction.
pub async fn send_values(
    producer: &Producer,
    topic: &str,
    partitions: i32,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<String> {
    let mut deliveries = Vec::new();
    let mut values = Vec::new();
    for i in range {
        let value = format!("{prefix}-{i}");
        let record = ProducerRecord::new(topic, value.clone()).partition(i as i32 % partitions);
        deliveries.push(producer.send(record).await.expect("send"));
        values.push(value);
    }
    producer.flush().await;
    for (i, delivery) in deliveries.into_iter().enumerate() {
        delivery
            .await
            .unwrap_or_else(|e| panic!("{prefix}: record {i} was not written: {e}"));
    }
    values
}

/// A consumer's settings reading from the earliest offset with `isolation`.
pub fn reader_config(bootstrap: &str, isolation: IsolationLevel) -> ConsumerConfig {
    let mut config = support::consumer_config(bootstrap);
    config.isolation_level = isolation;
    config
}

/// A consumer of `isolation` assigned every partition of `topic`.
pub async fn reader(
    bootstrap: &str,
    isolation: IsolationLevel,
    topic: &str,
    partitions: i32,
) -> Consumer {
    let consumer = Consumer::new(reader_config(bootstrap, isolation))
        .await
        .expect("consumer");
    consumer
        .assign((0..partitions).map(|p| TopicPartition::new(topic, p)))
        .await
        .expect("assign");
    consumer
}

/// Polls for `period` and returns everything it got.
pub async fn poll_for(consumer: &Consumer, period: Duration) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + period;
    let mut records = Vec::new();
    while Instant::now() < deadline {
        records.extend(
            consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
    records
}

/// Polls until `count` records arrived or `limit` passed; returns them.
pub async fn poll_until(consumer: &Consumer, count: usize, limit: Duration) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + limit;
    let mut records = Vec::new();
    while records.len() < count && Instant::now() < deadline {
        records.extend(
            consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
    records
}

/// The values of `records`, sorted (records of several partitions arrive interleaved).
pub fn sorted_values(records: &[ConsumerRecord]) -> Vec<String> {
    let mut values = support::values(records);
    values.sort();
    values
}

/// `values`, sorted.
pub fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}
