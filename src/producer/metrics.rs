//! Counters a user can read from a running producer.

#[cfg(feature = "metrics")]
use super::telemetry::Exported;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A snapshot of a producer's counters since it was created.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged by the broker.
    pub records_sent: u64,
    /// Bytes of record batches acknowledged (after compression).
    pub bytes_sent: u64,
    /// Record batches acknowledged.
    pub batches_sent: u64,
    /// `records_sent / batches_sent`.
    pub records_per_batch: f64,
    /// Uncompressed over compressed bytes of acknowledged batches (1.0 without compression).
    pub compression_ratio: f64,
    /// Batch sends retried.
    pub retries: u64,
    /// Records whose delivery failed.
    pub errors: u64,
    /// Bytes of `buffer.memory` reserved now by batches waiting or in flight.
    pub buffer_in_use: usize,
    /// The `buffer.memory` budget.
    pub buffer_limit: usize,
    /// Produce requests answered.
    pub requests: u64,
    /// Mean time from writing a produce request to its response.
    pub request_latency_avg: Duration,
    /// Longest time from writing a produce request to its response.
    pub request_latency_max: Duration,
}

/// The producer's counters, moved per batch and per request; with `metrics`, the facade's
/// handles move with them.
pub(crate) struct Counters {
    records_sent: AtomicU64,
    bytes_sent: AtomicU64,
    uncompressed_bytes: AtomicU64,
    batches_sent: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
    requests: AtomicU64,
    latency_us_total: AtomicU64,
    latency_us_max: AtomicU64,
    #[cfg(feature = "metrics")]
    pub(super) exported: Exported,
}

impl Counters {
    /// The counters of the producer `client_id`, whose `buffer.memory` is `buffer_total`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(client_id: &str, buffer_total: usize) -> Self {
        Counters {
            records_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            uncompressed_bytes: AtomicU64::new(0),
            batches_sent: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            latency_us_total: AtomicU64::new(0),
            latency_us_max: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            exported: Exported::new(client_id, buffer_total),
        }
    }

    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn batch_sent(
        &self,
        topic: &Arc<str>,
        records: usize,
        bytes: usize,
        uncompressed: usize,
    ) {
        #[cfg(feature = "metrics")]
        self.exported
            .batch_sent(topic, records, bytes, uncompressed);
        self.records_sent.fetch_add(records as u64, Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
        self.uncompressed_bytes
            .fetch_add(uncompressed.max(bytes) as u64, Relaxed);
        self.batches_sent.fetch_add(1, Relaxed);
    }

    pub(crate) fn retried(&self) {
        #[cfg(feature = "metrics")]
        self.exported.retried();
        self.retries.fetch_add(1, Relaxed);
    }

    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn failed(&self, topic: &Arc<str>, records: usize) {
        #[cfg(feature = "metrics")]
        self.exported.failed(topic, records);
        self.errors.fetch_add(records as u64, Relaxed);
    }

    pub(crate) fn request_done(&self, latency: Duration) {
        #[cfg(feature = "metrics")]
        self.exported.request_done(latency);
        let us = latency.as_micros() as u64;
        self.requests.fetch_add(1, Relaxed);
        self.latency_us_total.fetch_add(us, Relaxed);
        self.latency_us_max.fetch_max(us, Relaxed);
    }

    pub(crate) fn snapshot(&self, buffer_in_use: usize, buffer_limit: usize) -> ProducerMetrics {
        let records_sent = self.records_sent.load(Relaxed);
        let batches_sent = self.batches_sent.load(Relaxed);
        let bytes_sent = self.bytes_sent.load(Relaxed);
        let requests = self.requests.load(Relaxed);
        ProducerMetrics {
            records_sent,
            bytes_sent,
            batches_sent,
            records_per_batch: ratio(records_sent, batches_sent),
            compression_ratio: ratio(self.uncompressed_bytes.load(Relaxed), bytes_sent),
            retries: self.retries.load(Relaxed),
            errors: self.errors.load(Relaxed),
            buffer_in_use,
            buffer_limit,
            requests,
            request_latency_avg: Duration::from_micros(
                self.latency_us_total.load(Relaxed) / requests.max(1),
            ),
            request_latency_max: Duration::from_micros(self.latency_us_max.load(Relaxed)),
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_derives_ratios() {
        let c = Counters::new("test", 10);
        let topic: Arc<str> = Arc::from("t");
        assert_eq!(c.snapshot(0, 10).records_per_batch, 0.0);
        c.batch_sent(&topic, 10, 100, 400);
        c.batch_sent(&topic, 30, 100, 400);
        c.request_done(Duration::from_millis(2));
        c.request_done(Duration::from_millis(4));
        c.failed(&topic, 3);
        c.retried();
        let m = c.snapshot(5, 10);
        assert_eq!(m.records_sent, 40);
        assert_eq!(m.records_per_batch, 20.0);
        assert_eq!(m.compression_ratio, 4.0);
        assert_eq!(m.request_latency_avg, Duration::from_millis(3));
        assert_eq!(m.request_latency_max, Duration::from_millis(4));
        assert_eq!((m.errors, m.retries, m.buffer_in_use), (3, 1, 5));
    }
}
