//! Helpers shared by the integration tests.

use kafkit::{Admin, ClientConfig, ConsumerConfig, NewTopic, ProducerConfig};

/// The shared broker's bootstrap list (started on first use).
pub async fn bootstrap() -> String {
    tokio::task::spawn_blocking(kafkit_testkit::bootstrap_servers)
        .await
        .expect("the broker launcher panicked")
}

/// A topic name no other test uses.
pub fn topic(prefix: &str) -> String {
    kafkit_testkit::unique_name(prefix)
}

/// Creates a topic with `partitions` partitions on the shared broker.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) -> Admin {
    let admin = Admin::new(ClientConfig::new(bootstrap)).await.unwrap();
    admin
        .create_topics([NewTopic::new(name, partitions, 1)])
        .await
        .unwrap();
    admin
}

pub fn producer_config(bootstrap: &str) -> ProducerConfig {
    ProducerConfig::new(bootstrap)
}

pub fn consumer_config(bootstrap: &str) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap);
    config.auto_offset_reset = kafkit::AutoOffsetReset::Earliest;
    config
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
