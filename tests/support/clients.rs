//! Clients for tests: their settings, producing records, and reading them back.

use kafkit::{
    Admin, AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, OffsetSpec,
    Producer, ProducerConfig, ProducerRecord, RecordMetadata, TopicPartition,
};
use std::time::Duration;
use tokio::time::Instant;

/// A producer's settings: kafkit's defaults (Java's).
pub fn producer_config(bootstrap: &str) -> ProducerConfig {
    ProducerConfig::new(bootstrap)
}

/// A consumer's settings: the defaults, but reading from the earliest offset, so a test
/// sees what it wrote before the consumer started.
pub fn consumer_config(bootstrap: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap);
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    config
}

/// Sends every record, then flushes and awaits every delivery; the metadata is in send
/// order. A record not delivered fails the test.
pub async fn send_all(
    producer: &Producer,
    records: impl IntoIterator<Item = ProducerRecord>,
) -> Vec<RecordMetadata> {
    let mut deliveries = Vec::new();
    for record in records {
        deliveries.push(producer.send(record).await.expect("send"));
    }
    producer.flush().await;
    let mut metadata = Vec::with_capacity(deliveries.len());
    for (i, delivery) in deliveries.into_iter().enumerate() {
        metadata.push(
            delivery
                .await
                .unwrap_or_else(|e| panic!("record {i} was not delivered: {e}")),
        );
    }
    metadata
}

/// [`send_all`] with a producer of its own, of [`producer_config`].
pub async fn produce(
    bootstrap: &str,
    records: impl IntoIterator<Item = ProducerRecord>,
) -> Vec<RecordMetadata> {
    let producer = Producer::new(producer_config(bootstrap)).await.unwrap();
    send_all(&producer, records).await
}

/// Produces values `"{prefix}-{i}"` for `i` in `range`, keyed `"k{i}"` (so spread over the
/// partitions), and returns the values once every one is acknowledged.
pub async fn produce_values(
    bootstrap: &str,
    topic: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<String> {
    let values: Vec<String> = range.clone().map(|i| format!("{prefix}-{i}")).collect();
    let records = range
        .zip(&values)
        .map(|(i, v)| ProducerRecord::new(topic, v.clone()).key(format!("k{i}")));
    produce(bootstrap, records).await;
    values
}

/// Reads `topic`'s `partitions` from the beginning with [`consumer_config`] until `count`
/// records have arrived, or 30 s have passed; returns what arrived, per partition in offset
/// order.
pub async fn read_n(
    bootstrap: &str,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    count: usize,
) -> Vec<ConsumerRecord> {
    read_n_with(consumer_config(bootstrap), topic, partitions, count).await
}

/// [`read_n`] with a consumer of `config`.
pub async fn read_n_with(
    config: ConsumerConfig,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    count: usize,
) -> Vec<ConsumerRecord> {
    let consumer = Consumer::new(config).await.unwrap();
    let partitions = partitions
        .into_iter()
        .map(|p| TopicPartition::new(topic, p));
    consumer.assign(partitions).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut records = Vec::new();
    while records.len() < count && Instant::now() < deadline {
        let polled = consumer.poll(Duration::from_millis(200)).await;
        records.extend(polled.unwrap_or_else(|e| panic!("polling {topic}: {e}")));
    }
    records
}

/// How many records the first `partitions` partitions of `topic` hold: their log end
/// offsets, summed.
pub async fn log_end(bootstrap: &str, topic: &str, partitions: i32) -> i64 {
    let admin = Admin::new(ClientConfig::new(bootstrap)).await.unwrap();
    let ends = admin
        .list_offsets((0..partitions).map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest)))
        .await
        .unwrap();
    ends.values().map(|o| o.offset).sum()
}

/// Every record in the topic's first `partitions` partitions: the log end offsets are
/// listed first, then read up to.
pub async fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> Vec<ConsumerRecord> {
    let total = log_end(bootstrap, topic, partitions).await;
    let records = read_n(bootstrap, topic, 0..partitions, total as usize).await;
    assert_eq!(
        records.len() as i64,
        total,
        "the log end offsets of {topic} promise {total} records; the consumer read {}",
        records.len()
    );
    records
}

/// A record's value as a string (empty for a null value).
pub fn value_of(record: &ConsumerRecord) -> String {
    String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned()
}

/// The values of `records`, as strings.
pub fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records.iter().map(value_of).collect()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
