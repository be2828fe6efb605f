//! What the consumer tells observers: `tracing` spans for poll, fetch, the rebalance's steps
//! and group requests, and commits, with OpenTelemetry's messaging fields; and (feature
//! `metrics`) its counters through the `metrics` facade, moved per poll, per request and per
//! rebalance beside the atomics of `metrics.rs` (names in `docs/metrics.md`).
//!
//! Poll, commit and rebalance spans are INFO (a few a second at most); a Fetch, JoinGroup or
//! SyncGroup request's are DEBUG.

use super::group::OffsetAndMetadata;
use super::metrics::Counters;
use super::rebalance::Step;
use super::Consumer;
use crate::error::Result;
use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::field::Empty;
use tracing::{Instrument, Span};

impl Consumer {
    /// [`poll`](Self::poll) in its span: the records' count, and where they all come from
    /// one partition, its topic, partition and first offset.
    pub(super) async fn poll_up_to(
        &self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<ConsumerRecord>> {
        let span = tracing::info_span!(
            "poll",
            "messaging.system" = "kafka",
            "messaging.operation.name" = "poll",
            "messaging.operation.type" = "receive",
            "messaging.client.id" = self.inner.config.client.client_id.as_str(),
            "messaging.consumer.group.name" = self.inner.config.group_id.as_deref(),
            "messaging.batch.message_count" = Empty,
            "messaging.destination.name" = Empty,
            "messaging.destination.partition.id" = Empty,
            "messaging.kafka.offset" = Empty,
        );
        let polled = self
            .poll_untraced(timeout, max)
            .instrument(span.clone())
            .await;
        if let (Ok(records), false) = (&polled, span.is_disabled()) {
            span.record("messaging.batch.message_count", records.len());
            if let Some(first) = records.first() {
                if records.iter().all(|r| r.topic == first.topic) {
                    span.record("messaging.destination.name", &*first.topic);
                    if records.iter().all(|r| r.partition == first.partition) {
                        span.record("messaging.destination.partition.id", first.partition);
                        span.record("messaging.kafka.offset", first.offset);
                    }
                }
            }
        }
        polled
    }

    /// Counts records handed to the application; with `metrics`, also exports the lag of each
    /// partition they come from, as of the last of them (Java's `records-lag`, updated as
    /// records are handed out).
    pub(super) fn count_consumed(&self, records: &[ConsumerRecord]) {
        self.inner.metrics.consumed(records);
        #[cfg(feature = "metrics")]
        self.export_lag(records);
    }

    /// A poll's records come partition by partition: the last of each run has the position.
    #[cfg(feature = "metrics")]
    fn export_lag(&self, records: &[ConsumerRecord]) {
        let mut runs = records.iter().peekable();
        while let Some(record) = runs.next() {
            let run_ends = runs.peek().is_none_or(|next| {
                next.partition != record.partition || next.topic != record.topic
            });
            if !run_ends {
                continue;
            }
            let tp = TopicPartition::new(&*record.topic, record.partition);
            if let Some(high_watermark) = self.inner.fetcher.high_watermark(&tp) {
                let position = record.offset.saturating_add(1);
                let lag = high_watermark.saturating_sub(position).max(0);
                self.inner.metrics.exported.lag(tp, lag);
            }
        }
    }

    /// The span of one rebalance step (KIP-848's reconciliation runs the same steps).
    pub(super) fn rebalance_span(&self, step: &Step) -> Span {
        let (name, partitions) = match step {
            Step::Lost { partitions, .. } => ("lost", partitions.len()),
            Step::Revoke { partitions, .. } => ("revoke", partitions.len()),
            Step::StartJoin | Step::Join { .. } => ("join", 0),
            Step::Assign { partitions, .. } => ("assign", partitions.len()),
            Step::Acknowledge(_) => ("acknowledge", 0),
        };
        tracing::info_span!(
            "rebalance",
            "messaging.system" = "kafka",
            "messaging.client.id" = self.inner.config.client.client_id.as_str(),
            "messaging.consumer.group.name" = self.inner.config.group_id.as_deref(),
            "kafkit.rebalance.step" = name,
            "kafkit.rebalance.partitions" = partitions,
        )
    }

    /// The span of one commit: OpenTelemetry's `settle`. With one partition, its topic,
    /// partition and the offset committed.
    pub(super) fn commit_span(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Span {
        let span = tracing::info_span!(
            "commit",
            "messaging.system" = "kafka",
            "messaging.operation.name" = "commit",
            "messaging.operation.type" = "settle",
            "messaging.client.id" = self.inner.config.client.client_id.as_str(),
            "messaging.consumer.group.name" = self.inner.config.group_id.as_deref(),
            "messaging.batch.message_count" = offsets.len(),
            "messaging.destination.name" = Empty,
            "messaging.destination.partition.id" = Empty,
            "messaging.kafka.offset" = Empty,
        );
        if let (Some((tp, committed)), 1) = (offsets.iter().next(), offsets.len()) {
            span.record("messaging.destination.name", tp.topic.as_str());
            span.record("messaging.destination.partition.id", tp.partition);
            span.record("messaging.kafka.offset", committed.offset);
        }
        span
    }
}

/// The span of one Fetch request to the broker at `address` (`host:port`).
pub(super) fn fetch_span(metrics: &Counters, address: &str, partitions: usize) -> Span {
    let (host, port) = split_address(address);
    tracing::debug_span!(
        "fetch",
        "messaging.system" = "kafka",
        "messaging.operation.name" = "fetch",
        "messaging.operation.type" = "receive",
        "messaging.client.id" = metrics.client_id(),
        "server.address" = host,
        "server.port" = port,
        "kafkit.fetch.partitions" = partitions,
    )
}

/// The span of a JoinGroup or SyncGroup request (`operation`) to the coordinator.
pub(super) fn group_request_span(operation: &'static str, group: &str, address: &str) -> Span {
    let (host, port) = split_address(address);
    tracing::debug_span!(
        "group_request",
        "messaging.system" = "kafka",
        "messaging.operation.name" = operation,
        "messaging.consumer.group.name" = group,
        "server.address" = host,
        "server.port" = port,
    )
}

/// `host:port` (or `[v6]:port`) as the host and the port, if it has one.
fn split_address(address: &str) -> (&str, Option<u16>) {
    match address.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (
                host.trim_start_matches('[').trim_end_matches(']'),
                Some(port),
            ),
            Err(_) => (address, None),
        },
        None => (address, None),
    }
}

#[cfg(feature = "metrics")]
pub(super) use exported::Exported;

#[cfg(feature = "metrics")]
mod exported {
    use crate::record::TopicPartition;
    use crate::sync::lock;
    use metrics::{Counter, Gauge, Histogram, Unit};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const RECORDS_CONSUMED: &str = "kafka_consumer_records_consumed_total";
    const BYTES_CONSUMED: &str = "kafka_consumer_bytes_consumed_total";
    const FETCH: &str = "kafka_consumer_fetch_total";
    const FETCH_LATENCY: &str = "kafka_consumer_fetch_latency_seconds";
    const RECORDS_LAG: &str = "kafka_consumer_records_lag";
    const REBALANCE: &str = "kafka_consumer_rebalance_total";
    const FAILED_REBALANCE: &str = "kafka_consumer_failed_rebalance_total";
    const REBALANCE_LATENCY: &str = "kafka_consumer_rebalance_latency_seconds";
    const COMMIT: &str = "kafka_consumer_commit_total";
    const COMMIT_LATENCY: &str = "kafka_consumer_commit_latency_seconds";

    /// The consumer's handles in the recorder installed when it was created, registered once
    /// (a partition's lag gauge when its lag is first known).
    pub(crate) struct Exported {
        client_id: Arc<str>,
        records_consumed: Counter,
        bytes_consumed: Counter,
        fetches: Counter,
        fetch_latency: Histogram,
        rebalances: Counter,
        failed_rebalances: Counter,
        rebalance_latency: Histogram,
        commits: Counter,
        commit_latency: Histogram,
        lag: Mutex<HashMap<TopicPartition, Gauge>>,
    }

    impl Exported {
        pub(crate) fn new(client_id: Arc<str>) -> Self {
            describe();
            let label = || client_id.to_string();
            Exported {
                records_consumed: metrics::counter!(RECORDS_CONSUMED, "client_id" => label()),
                bytes_consumed: metrics::counter!(BYTES_CONSUMED, "client_id" => label()),
                fetches: metrics::counter!(FETCH, "client_id" => label()),
                fetch_latency: metrics::histogram!(FETCH_LATENCY, "client_id" => label()),
                rebalances: metrics::counter!(REBALANCE, "client_id" => label()),
                failed_rebalances: metrics::counter!(FAILED_REBALANCE, "client_id" => label()),
                rebalance_latency: metrics::histogram!(REBALANCE_LATENCY, "client_id" => label()),
                commits: metrics::counter!(COMMIT, "client_id" => label()),
                commit_latency: metrics::histogram!(COMMIT_LATENCY, "client_id" => label()),
                lag: Mutex::new(HashMap::new()),
                client_id,
            }
        }

        pub(crate) fn consumed(&self, records: usize, bytes: usize) {
            self.records_consumed.increment(records as u64);
            self.bytes_consumed.increment(bytes as u64);
        }

        pub(crate) fn fetched(&self, took: Duration) {
            self.fetches.increment(1);
            self.fetch_latency.record(took.as_secs_f64());
        }

        pub(crate) fn rebalanced(&self, took: Duration) {
            self.rebalances.increment(1);
            self.rebalance_latency.record(took.as_secs_f64());
        }

        pub(crate) fn rebalance_failed(&self) {
            self.failed_rebalances.increment(1);
        }

        pub(crate) fn committed(&self, took: Duration) {
            self.commits.increment(1);
            self.commit_latency.record(took.as_secs_f64());
        }

        pub(crate) fn lag(&self, tp: TopicPartition, lag: i64) {
            let mut gauges = lock(&self.lag);
            let gauge = gauges.entry(tp).or_insert_with_key(|tp| {
                metrics::gauge!(
                    RECORDS_LAG,
                    "client_id" => self.client_id.to_string(),
                    "topic" => tp.topic.clone(),
                    "partition" => tp.partition.to_string(),
                )
            });
            gauge.set(lag as f64);
        }
    }

    /// Units and help texts, for exporters that show them (Prometheus's `# HELP`).
    fn describe() {
        use metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            RECORDS_CONSUMED,
            Unit::Count,
            "Records handed to the application"
        );
        describe_counter!(
            BYTES_CONSUMED,
            Unit::Bytes,
            "Bytes of keys, values and headers handed to the application"
        );
        describe_counter!(FETCH, Unit::Count, "Fetch requests answered");
        describe_histogram!(
            FETCH_LATENCY,
            Unit::Seconds,
            "Time from sending a Fetch to its response, the broker's wait included"
        );
        describe_gauge!(
            RECORDS_LAG,
            Unit::Count,
            "Records between the consumer's position and the partition's high watermark"
        );
        describe_counter!(REBALANCE, Unit::Count, "Group rebalances completed");
        describe_counter!(FAILED_REBALANCE, Unit::Count, "Join rounds that failed");
        describe_histogram!(
            REBALANCE_LATENCY,
            Unit::Seconds,
            "Time from the start of a rebalance to its assignment taking effect"
        );
        describe_counter!(
            COMMIT,
            Unit::Count,
            "Offset commits answered by the coordinator, automatic ones included"
        );
        describe_histogram!(
            COMMIT_LATENCY,
            Unit::Seconds,
            "Time an offset commit took, retries included"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::split_address;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_address("broker-1:9092"), ("broker-1", Some(9092)));
        assert_eq!(split_address("[::1]:9093"), ("::1", Some(9093)));
        assert_eq!(split_address("broker"), ("broker", None));
        assert_eq!(split_address("broker:x"), ("broker:x", None));
    }
}
