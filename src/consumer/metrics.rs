//! Counters a user can read from a running consumer ([`Consumer::metrics`]), beside the
//! producer's.
//!
//! [`Consumer::metrics`]: super::Consumer::metrics

#[cfg(feature = "metrics")]
use super::telemetry::Exported;
use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A snapshot of a consumer's counters since it was created.
///
/// ```no_run
/// # async fn demo(consumer: kafkit::Consumer) {
/// let m = consumer.metrics().await;
/// println!("{} records, lag at most {:?}", m.records_consumed, m.records_lag_max);
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records handed to the application (`poll`, the stream, `process_partitions`).
    pub records_consumed: u64,
    /// Bytes of the keys, values and headers of those records.
    pub bytes_consumed: u64,
    /// Fetch requests answered.
    pub fetch_requests: u64,
    /// Fetch requests answered per second, over the consumer's life.
    pub fetch_rate: f64,
    /// Mean time from sending a Fetch to its response (including the broker's wait of up to
    /// `fetch.max.wait.ms` for data).
    pub fetch_latency_avg: Duration,
    /// Longest time from sending a Fetch to its response.
    pub fetch_latency_max: Duration,
    /// Per assigned partition whose high watermark a fetch has seen: how many records the
    /// consumer's position is behind it.
    pub records_lag: BTreeMap<TopicPartition, i64>,
    /// The largest of `records_lag`, if any is known.
    pub records_lag_max: Option<i64>,
    /// Group rebalances completed (partitions assigned after a join round).
    pub rebalances: u64,
    /// Join rounds that failed (the next poll joins again).
    pub failed_rebalances: u64,
    /// Mean time from the start of a rebalance (revoking before an eager join, or the join)
    /// to its assignment taking effect.
    pub rebalance_latency_avg: Duration,
    /// Longest such time.
    pub rebalance_latency_max: Duration,
    /// Offset commits that the coordinator answered (of any outcome), automatic ones included.
    pub commits: u64,
    /// Mean time a commit took, retries included.
    pub commit_latency_avg: Duration,
    /// Longest time a commit took.
    pub commit_latency_max: Duration,
}

/// A count of timed events, its total and its maximum.
#[derive(Default)]
struct Timings {
    count: AtomicU64,
    total_us: AtomicU64,
    max_us: AtomicU64,
}

impl Timings {
    fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Relaxed);
        self.total_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    /// (count, mean, max).
    fn read(&self) -> (u64, Duration, Duration) {
        let count = self.count.load(Relaxed);
        let mean = self.total_us.load(Relaxed) / count.max(1);
        (
            count,
            Duration::from_micros(mean),
            Duration::from_micros(self.max_us.load(Relaxed)),
        )
    }
}

/// The consumer's counters, shared with the fetcher and the commit tasks; with `metrics`, the
/// facade's handles move with them.
pub(crate) struct Counters {
    /// `client.id`, for the spans of tasks that have no config.
    client_id: Arc<str>,
    created: Instant,
    records: AtomicU64,
    bytes: AtomicU64,
    failed_rebalances: AtomicU64,
    fetches: Timings,
    rebalances: Timings,
    commits: Timings,
    #[cfg(feature = "metrics")]
    pub(super) exported: Exported,
}

impl Counters {
    pub(crate) fn new(client_id: &str) -> Self {
        let client_id: Arc<str> = Arc::from(client_id);
        Counters {
            #[cfg(feature = "metrics")]
            exported: Exported::new(client_id.clone()),
            client_id,
            created: Instant::now(),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            failed_rebalances: AtomicU64::new(0),
            fetches: Timings::default(),
            rebalances: Timings::default(),
            commits: Timings::default(),
        }
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn consumed(&self, records: &[ConsumerRecord]) {
        let bytes: usize = records.iter().map(record_bytes).sum();
        #[cfg(feature = "metrics")]
        self.exported.consumed(records.len(), bytes);
        self.records.fetch_add(records.len() as u64, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn fetched(&self, took: Duration) {
        #[cfg(feature = "metrics")]
        self.exported.fetched(took);
        self.fetches.record(took);
    }

    pub(crate) fn rebalanced(&self, took: Duration) {
        #[cfg(feature = "metrics")]
        self.exported.rebalanced(took);
        self.rebalances.record(took);
    }

    pub(crate) fn rebalance_failed(&self) {
        #[cfg(feature = "metrics")]
        self.exported.rebalance_failed();
        self.failed_rebalances.fetch_add(1, Relaxed);
    }

    pub(crate) fn committed(&self, took: Duration) {
        #[cfg(feature = "metrics")]
        self.exported.committed(took);
        self.commits.record(took);
    }

    /// The counters now, with `records_lag` as the consumer computed it.
    pub(crate) fn snapshot(&self, records_lag: BTreeMap<TopicPartition, i64>) -> ConsumerMetrics {
        let (fetch_requests, fetch_latency_avg, fetch_latency_max) = self.fetches.read();
        let (rebalances, rebalance_latency_avg, rebalance_latency_max) = self.rebalances.read();
        let (commits, commit_latency_avg, commit_latency_max) = self.commits.read();
        let alive = self.created.elapsed().as_secs_f64();
        ConsumerMetrics {
            records_consumed: self.records.load(Relaxed),
            bytes_consumed: self.bytes.load(Relaxed),
            fetch_requests,
            fetch_rate: if alive > 0.0 {
                fetch_requests as f64 / alive
            } else {
                0.0
            },
            fetch_latency_avg,
            fetch_latency_max,
            records_lag_max: records_lag.values().copied().max(),
            records_lag,
            rebalances,
            failed_rebalances: self.failed_rebalances.load(Relaxed),
            rebalance_latency_avg,
            rebalance_latency_max,
            commits,
            commit_latency_avg,
            commit_latency_max,
        }
    }
}

fn record_bytes(r: &ConsumerRecord) -> usize {
    let headers: usize = r
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()) + headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TimestampType;
    use std::sync::Arc;

    fn record(key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(bytes::Bytes::from_static),
            value: value.map(bytes::Bytes::from_static),
            headers: Vec::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn snapshot_sums_times_and_derives_the_rate_and_lag_max() {
        let c = Counters::new("test");
        let empty = c.snapshot(BTreeMap::new());
        assert_eq!((empty.fetch_rate, empty.records_lag_max), (0.0, None));
        let batch = [
            record(None, Some(b"hello")),
            record(Some(b"k"), None),
            record(None, None),
        ];
        c.consumed(&batch);
        c.fetched(Duration::from_millis(10));
        c.fetched(Duration::from_millis(30));
        c.rebalanced(Duration::from_secs(2));
        c.rebalance_failed();
        c.committed(Duration::from_millis(4));
        tokio::time::advance(Duration::from_secs(4)).await;
        let lag = BTreeMap::from([
            (TopicPartition::new("t", 0), 5),
            (TopicPartition::new("t", 1), 9),
        ]);
        let m = c.snapshot(lag);
        assert_eq!((m.records_consumed, m.bytes_consumed), (3, 6));
        assert_eq!(m.fetch_requests, 2);
        assert_eq!(m.fetch_rate, 0.5);
        assert_eq!(m.fetch_latency_avg, Duration::from_millis(20));
        assert_eq!(m.fetch_latency_max, Duration::from_millis(30));
        assert_eq!(m.records_lag_max, Some(9));
        assert_eq!((m.rebalances, m.failed_rebalances), (1, 1));
        assert_eq!(m.rebalance_latency_max, Duration::from_secs(2));
        assert_eq!(
            (m.commits, m.commit_latency_avg),
            (1, Duration::from_millis(4))
        );
    }
}
