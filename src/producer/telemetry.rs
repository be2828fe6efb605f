//! What the producer tells observers, never per record: a `tracing` span per produce request
//! with OpenTelemetry's messaging fields, and (feature `metrics`) its counters through the
//! `metrics` facade, moved per batch and per request beside the atomics of `metrics.rs`
//! (names, units and labels in `docs/metrics.md`).
//!
//! A record's own trace context travels in its headers (`ProducerRecord::with_trace_context`,
//! feature `opentelemetry`), so no span per record is needed to link a consumer's work to
//! the producer's.

use super::batch::Batch;
use super::Shared;
use crate::cluster::Snapshot;
use kafka_protocol::messages::ProduceResponse;
use tracing::field::Empty;
use tracing::Span;

/// The span of one ProduceRequest: OpenTelemetry's `send` of a batch of messages. At DEBUG,
/// as a request can be one of thousands a second. The destination and partition are set when
/// the request holds one topic or one partition, the offset (the first record's) when it
/// holds one batch.
pub(super) fn request_span(
    s: &Shared,
    snapshot: &Snapshot,
    leader: i32,
    batches: &[Batch],
) -> Span {
    let span = tracing::debug_span!(
        "send",
        "messaging.system" = "kafka",
        "messaging.operation.name" = "send",
        "messaging.operation.type" = "send",
        "messaging.client.id" = s.config.client.client_id.as_str(),
        "messaging.batch.message_count" = Empty,
        "messaging.destination.name" = Empty,
        "messaging.destination.partition.id" = Empty,
        "messaging.kafka.offset" = Empty,
        "server.address" = Empty,
        "server.port" = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    let count: usize = batches.iter().map(Batch::record_count).sum();
    span.record("messaging.batch.message_count", count);
    if let Some(first) = batches.first() {
        if batches.iter().all(|b| b.topic == first.topic) {
            span.record("messaging.destination.name", &*first.topic);
        }
        if batches.len() == 1 {
            span.record("messaging.destination.partition.id", first.tp.partition);
        }
    }
    if let Some(broker) = snapshot.brokers.get(&leader) {
        span.record("server.address", broker.host.as_str());
        span.record("server.port", broker.port);
    }
    span
}

/// Records the written offset on the current request span when the request wrote one batch.
pub(super) fn answered(response: &ProduceResponse) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    if let [topic] = response.responses.as_slice() {
        if let [partition] = topic.partition_responses.as_slice() {
            if partition.error_code == 0 && partition.base_offset >= 0 {
                span.record("messaging.kafka.offset", partition.base_offset);
            }
        }
    }
}

#[cfg(feature = "metrics")]
pub(super) use exported::Exported;

#[cfg(feature = "metrics")]
mod exported {
    use crate::sync::lock;
    use metrics::{Counter, Gauge, Histogram, Unit};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const RECORD_SEND: &str = "kafka_producer_record_send_total";
    const BYTE: &str = "kafka_producer_byte_total";
    const RECORD_ERROR: &str = "kafka_producer_record_error_total";
    const BATCH_RETRY: &str = "kafka_producer_batch_retry_total";
    const REQUEST: &str = "kafka_producer_request_total";
    const REQUEST_LATENCY: &str = "kafka_producer_request_latency_seconds";
    const BATCH_SIZE: &str = "kafka_producer_batch_size_bytes";
    const BATCH_RECORDS: &str = "kafka_producer_batch_records";
    const COMPRESSION_RATIO: &str = "kafka_producer_compression_ratio";
    const BUFFER_AVAILABLE: &str = "kafka_producer_buffer_available_bytes";
    const BUFFER_TOTAL: &str = "kafka_producer_buffer_total_bytes";

    /// The producer's handles in the recorder installed when it was created (the global
    /// one, or a thread's default), registered once so that moving them is an atomic add.
    pub(crate) struct Exported {
        client_id: Arc<str>,
        /// Per topic: records and bytes written, records failed. Looked up once per batch.
        topics: Mutex<HashMap<Arc<str>, PerTopic>>,
        batch_retries: Counter,
        requests: Counter,
        request_latency: Histogram,
        batch_size: Histogram,
        batch_records: Histogram,
        compression_ratio: Histogram,
        buffer_available: Gauge,
    }

    struct PerTopic {
        records: Counter,
        bytes: Counter,
        errors: Counter,
    }

    impl Exported {
        pub(crate) fn new(client_id: &str, buffer_total: usize) -> Self {
            describe();
            let client_id: Arc<str> = Arc::from(client_id);
            let label = || client_id.to_string();
            let buffer_available = metrics::gauge!(BUFFER_AVAILABLE, "client_id" => label());
            buffer_available.set(buffer_total as f64);
            metrics::gauge!(BUFFER_TOTAL, "client_id" => label()).set(buffer_total as f64);
            Exported {
                topics: Mutex::new(HashMap::new()),
                batch_retries: metrics::counter!(BATCH_RETRY, "client_id" => label()),
                requests: metrics::counter!(REQUEST, "client_id" => label()),
                request_latency: metrics::histogram!(REQUEST_LATENCY, "client_id" => label()),
                batch_size: metrics::histogram!(BATCH_SIZE, "client_id" => label()),
                batch_records: metrics::histogram!(BATCH_RECORDS, "client_id" => label()),
                compression_ratio: metrics::histogram!(COMPRESSION_RATIO, "client_id" => label()),
                buffer_available,
                client_id,
            }
        }

        fn topic(&self, topic: &Arc<str>, with: impl FnOnce(&PerTopic)) {
            let mut topics = lock(&self.topics);
            let per_topic = topics.entry(topic.clone()).or_insert_with(|| {
                let counter = |name: &'static str| {
                    metrics::counter!(
                        name,
                        "client_id" => self.client_id.to_string(),
                        "topic" => topic.to_string(),
                    )
                };
                PerTopic {
                    records: counter(RECORD_SEND),
                    bytes: counter(BYTE),
                    errors: counter(RECORD_ERROR),
                }
            });
            with(per_topic);
        }

        pub(crate) fn batch_sent(
            &self,
            topic: &Arc<str>,
            records: usize,
            bytes: usize,
            uncompressed: usize,
        ) {
            self.topic(topic, |t| {
                t.records.increment(records as u64);
                t.bytes.increment(bytes as u64);
            });
            self.batch_size.record(bytes as f64);
            self.batch_records.record(records as f64);
            if bytes > 0 {
                self.compression_ratio
                    .record(uncompressed.max(bytes) as f64 / bytes as f64);
            }
        }

        pub(crate) fn failed(&self, topic: &Arc<str>, records: usize) {
            self.topic(topic, |t| t.errors.increment(records as u64));
        }

        pub(crate) fn retried(&self) {
            self.batch_retries.increment(1);
        }

        pub(crate) fn request_done(&self, latency: Duration) {
            self.requests.increment(1);
            self.request_latency.record(latency.as_secs_f64());
        }

        pub(crate) fn buffer_available(&self, bytes: usize) {
            self.buffer_available.set(bytes as f64);
        }
    }

    /// Units and help texts, for exporters that show them (Prometheus's `# HELP`).
    fn describe() {
        use metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            RECORD_SEND,
            Unit::Count,
            "Records acknowledged by the broker"
        );
        describe_counter!(
            BYTE,
            Unit::Bytes,
            "Bytes of record batches acknowledged (compressed)"
        );
        describe_counter!(RECORD_ERROR, Unit::Count, "Records whose delivery failed");
        describe_counter!(
            BATCH_RETRY,
            Unit::Count,
            "Record batches sent again after a retriable error"
        );
        describe_counter!(REQUEST, Unit::Count, "Produce requests answered");
        describe_histogram!(
            REQUEST_LATENCY,
            Unit::Seconds,
            "Time from writing a produce request to its response"
        );
        describe_histogram!(
            BATCH_SIZE,
            Unit::Bytes,
            "Size of each acknowledged record batch (compressed)"
        );
        describe_histogram!(
            BATCH_RECORDS,
            Unit::Count,
            "Records in each acknowledged record batch"
        );
        describe_histogram!(
            COMPRESSION_RATIO,
            "Uncompressed over compressed size of each acknowledged batch"
        );
        describe_gauge!(
            BUFFER_AVAILABLE,
            Unit::Bytes,
            "Bytes of buffer.memory not reserved by batches"
        );
        describe_gauge!(BUFFER_TOTAL, Unit::Bytes, "The buffer.memory budget");
    }
}
