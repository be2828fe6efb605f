//! Consumer fetch settings against the broker: fetch.min.bytes with fetch.max.wait.ms,
//! fetch.max.bytes, client.rack and check.crcs.

use crate::support::*;
use kafkit::{ConsumerConfig, ProducerRecord};
use std::time::{Duration, Instant};

/// `count` records `00000`, `00001`, ... alternating between partitions 0 and 1.
async fn produce_numbered(bootstrap: &str, topic: &str, count: usize) {
    let records =
        (0..count).map(|i| ProducerRecord::new(topic, format!("{i:05}")).partition((i % 2) as i32));
    produce(bootstrap, records).await;
}

/// The values of the first `want` records of both partitions, sorted.
async fn read(config: ConsumerConfig, topic: &str, want: usize) -> Vec<String> {
    let mut read = values(&read_n_with(config, topic, 0..2, want).await);
    read.sort();
    read
}

fn expected(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{i:05}")).collect()
}

/// With fetch.min.bytes far above what the log holds, the broker answers only when
/// fetch.max.wait.ms has passed: the first record cannot arrive sooner.
#[tokio::test]
async fn fetch_min_bytes_makes_the_broker_wait_up_to_fetch_max_wait() {
    let (bootstrap, topic) = fresh_topic("minbytes", 2).await;
    produce_numbered(&bootstrap, &topic, 2).await;
    let mut config = consumer_config(&bootstrap);
    config.fetch_min_bytes = 1 << 20;
    config.fetch_max_wait = Duration::from_millis(1500);
    let started = Instant::now();
    let values = read(config, &topic, 2).await;
    assert_eq!(values, expected(2));
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the broker waited for fetch.min.bytes: {:?}",
        started.elapsed()
    );
}

/// A fetch.max.bytes smaller than one batch still makes progress (the broker returns at
/// least one batch, KIP-74), and every record arrives once.
#[tokio::test]
async fn a_tiny_fetch_max_bytes_still_reads_everything() {
    let (bootstrap, topic) = fresh_topic("maxbytes", 2).await;
    produce_numbered(&bootstrap, &topic, 500).await;
    let mut config = consumer_config(&bootstrap);
    config.fetch_min_bytes = 1;
    config.fetch_max_bytes = 1024;
    config.max_partition_fetch_bytes = 512;
    assert_eq!(read(config, &topic, 500).await, expected(500));
}

/// client.rack goes out in Fetch (v11+) and check.crcs=false skips the CRC: both read the
/// same records as the defaults.
#[tokio::test]
async fn client_rack_and_check_crcs_off_read_the_same_records() {
    let (bootstrap, topic) = fresh_topic("rackcrc", 2).await;
    produce_numbered(&bootstrap, &topic, 200).await;
    let mut config = ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("auto.offset.reset", "earliest"),
        ("client.rack", "rack-a"),
        ("check.crcs", "false"),
    ])
    .unwrap();
    assert_eq!(config.client_rack.as_deref(), Some("rack-a"));
    assert!(!config.check_crcs);
    config.fetch_max_wait = Duration::from_millis(100);
    assert_eq!(read(config, &topic, 200).await, expected(200));
}
