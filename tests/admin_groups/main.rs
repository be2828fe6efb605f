//! The admin client's consumer-group calls against a real broker: list (state and type
//! filters), describe (a classic group of kafkit's, a KIP-848 group of Java's console
//! consumer), delete, committed offsets listed, altered and deleted, and the lag (which
//! `kafkit groups describe` prints: `cli/tests/cli.rs` checks it against Java's
//! `kafka-consumer-groups.sh`).

#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

mod classic;
mod consumer_protocol;
mod fake_broker;

use kafkit::{AssignorKind, Consumer, ConsumerConfig};
use std::time::{Duration, Instant};

/// A classic member's settings: earliest offsets, manual commits, quick heartbeats.
pub fn member_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut config = support::consumer_config(bootstrap);
    config.group_id = Some(group.to_string());
    config.client.client_id = "admin-groups-member".to_string();
    config.enable_auto_commit = false;
    config.heartbeat_interval = Duration::from_millis(300);
    config.session_timeout = Duration::from_secs(6);
    config.partition_assignment_strategy = vec![AssignorKind::Range];
    config
}

/// Polls until `count` records have arrived (at most 30 s), then commits them.
pub async fn consume_and_commit(consumer: &Consumer, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < count {
        seen += consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
            .len();
        assert!(
            Instant::now() < deadline,
            "only {seen} of {count} records in 30 s"
        );
    }
    consumer.commit().await.expect("commit");
}
