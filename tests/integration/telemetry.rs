//! Spans (captured by a `tracing` layer of the test's own) and, with the `metrics` feature,
//! the metrics facade's values (a `DebuggingRecorder`) after producing and consuming in a
//! group against the real broker.

use crate::support::*;
use kafkit::{Consumer, Producer, ProducerRecord};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

const RECORDS: usize = 5;

/// A span's name and its fields as text, as recorded so far.
#[derive(Clone, Debug)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

impl Visit for Captured {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields
            .insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.fields
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

/// Keeps every span created, with the fields recorded on it later.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

/// Where a span's entry is in the capture.
struct Index(usize);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: attrs.metadata().name(),
            fields: BTreeMap::new(),
        };
        attrs.record(&mut captured);
        let mut spans = self.0.lock().unwrap();
        spans.push(captured);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Index(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Index(i)) = span.extensions().get::<Index>().map(|i| Index(i.0)) else {
            return;
        };
        values.record(&mut self.0.lock().unwrap()[i]);
    }
}

/// Spans of the client (or group) named `field` = `value`, with `name`.
fn spans(capture: &Capture, name: &str, field: &str, value: &str) -> Vec<Captured> {
    capture
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.name == name && s.get(field) == Some(value))
        .cloned()
        .collect()
}

fn sum(spans: &[Captured], field: &str) -> usize {
    spans
        .iter()
        .filter_map(|s| s.get(field)?.parse::<usize>().ok())
        .sum()
}

/// Produces `RECORDS` records to a fresh one-partition topic, then reads them in a new group
/// and commits once; returns the topic, the client ids and the group.
async fn produce_and_consume(prefix: &str) -> (String, String, String, String) {
    let (bootstrap, topic) = fresh_topic(prefix, 1).await;
    let producer_id = crate::support::topic(&format!("{prefix}-producer"));
    let consumer_id = crate::support::topic(&format!("{prefix}-consumer"));
    let group = crate::support::topic(&format!("{prefix}-group"));
    let mut config = producer_config(&bootstrap);
    config.client.client_id = producer_id.clone();
    let producer = Producer::new(config).await.expect("producer");
    let records = (0..RECORDS).map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}")));
    send_all(&producer, records).await;
    producer.close(Duration::from_secs(5)).await;

    let mut config = consumer_config(&bootstrap);
    config.client.client_id = consumer_id.clone();
    config.group_id = Some(group.clone());
    config.enable_auto_commit = false;
    let consumer = Consumer::new(config).await.expect("consumer");
    consumer
        .subscribe([topic.as_str()])
        .await
        .expect("subscribe");
    let mut read = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while read < RECORDS && tokio::time::Instant::now() < deadline {
        read += consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .len();
    }
    assert_eq!(read, RECORDS);
    consumer.commit().await.expect("commit");
    consumer.close().await.expect("close");
    (topic, producer_id, consumer_id, group)
}

/// Every operation's span, with OpenTelemetry's messaging fields, for one producer and one
/// group member. On the test's own thread: `#[tokio::test]` runs every task there, so the
/// thread's default subscriber sees the clients' tasks.
#[tokio::test]
async fn spans_carry_the_messaging_conventions() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    // With a single dispatcher registered in the process, tracing caches each callsite's
    // interest as the registering thread's default sees it: another test's thread reaching
    // `poll` first would disable it here too. A second one makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _default = tracing::subscriber::set_default(subscriber);
    let (topic, producer_id, consumer_id, group) = produce_and_consume("spans").await;

    let sends = spans(&capture, "send", "messaging.client.id", &producer_id);
    assert!(!sends.is_empty(), "a span per produce request");
    assert_eq!(sum(&sends, "messaging.batch.message_count"), RECORDS);
    for send in &sends {
        assert_eq!(send.get("messaging.system"), Some("kafka"));
        assert_eq!(send.get("messaging.operation.name"), Some("send"));
        assert_eq!(send.get("messaging.operation.type"), Some("send"));
        assert_eq!(send.get("messaging.destination.name"), Some(topic.as_str()));
        assert_eq!(send.get("messaging.destination.partition.id"), Some("0"));
        assert!(send.get("server.address").is_some(), "{send:?}");
        assert!(send.get("server.port").is_some(), "{send:?}");
    }
    assert!(
        sends
            .iter()
            .any(|s| s.get("messaging.kafka.offset") == Some("0")),
        "the first batch was written at offset 0: {sends:?}"
    );

    let polls = spans(&capture, "poll", "messaging.client.id", &consumer_id);
    assert_eq!(sum(&polls, "messaging.batch.message_count"), RECORDS);
    let with_records: Vec<_> = polls
        .iter()
        .filter(|p| p.get("messaging.batch.message_count") != Some("0"))
        .collect();
    for poll in &with_records {
        assert_eq!(poll.get("messaging.operation.type"), Some("receive"));
        assert_eq!(
            poll.get("messaging.consumer.group.name"),
            Some(group.as_str())
        );
        assert_eq!(poll.get("messaging.destination.name"), Some(topic.as_str()));
        assert_eq!(poll.get("messaging.destination.partition.id"), Some("0"));
    }
    assert_eq!(with_records[0].get("messaging.kafka.offset"), Some("0"));

    let fetches = spans(&capture, "fetch", "messaging.client.id", &consumer_id);
    assert!(!fetches.is_empty(), "a span per Fetch");
    assert!(fetches.iter().all(|f| f.get("server.address").is_some()
        && f.get("messaging.operation.type") == Some("receive")));

    let steps = spans(
        &capture,
        "rebalance",
        "messaging.consumer.group.name",
        &group,
    );
    let step = |name: &str| {
        steps
            .iter()
            .any(|s| s.get("kafkit.rebalance.step") == Some(name))
    };
    assert!(step("join") && step("assign"), "{steps:?}");
    let requests = spans(
        &capture,
        "group_request",
        "messaging.consumer.group.name",
        &group,
    );
    for operation in ["join_group", "sync_group"] {
        assert!(
            requests
                .iter()
                .any(|r| r.get("messaging.operation.name") == Some(operation)
                    && r.get("server.address").is_some()),
            "{operation}: {requests:?}"
        );
    }

    let commits = spans(&capture, "commit", "messaging.consumer.group.name", &group);
    assert_eq!(commits.len(), 1, "{commits:?}");
    let commit = &commits[0];
    assert_eq!(commit.get("messaging.operation.type"), Some("settle"));
    assert_eq!(
        commit.get("messaging.destination.name"),
        Some(topic.as_str())
    );
    assert_eq!(commit.get("messaging.destination.partition.id"), Some("0"));
    assert_eq!(
        commit.get("messaging.kafka.offset"),
        Some(RECORDS.to_string().as_str())
    );
}

#[cfg(feature = "metrics")]
mod metrics {
    use super::{produce_and_consume, RECORDS};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
    use metrics_util::CompositeKey;
    use std::sync::OnceLock;

    /// The process's recorder, installed once; each test reads its own clients' series.
    fn snapshotter() -> &'static Snapshotter {
        static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
        SNAPSHOTTER.get_or_init(|| {
            let recorder = DebuggingRecorder::new();
            let snapshotter = recorder.snapshotter();
            recorder
                .install()
                .expect("the only recorder of this process");
            snapshotter
        })
    }

    /// Each series of `client_id`: name, its other labels (sorted), value.
    type Series<'a> = Vec<(String, Vec<(String, String)>, &'a DebugValue)>;

    /// Of a snapshot's entries (key, unit, description, value). Taking a snapshot drains the
    /// recorder (counters and gauges back to 0), so a test takes one.
    fn series<'a, U, D>(
        entries: &'a [(CompositeKey, U, D, DebugValue)],
        client_id: &str,
    ) -> Series<'a> {
        entries
            .iter()
            .filter_map(|(key, _, _, value)| {
                let key = key.key();
                let mut labels: Vec<(String, String)> = key
                    .labels()
                    .map(|l| (l.key().to_string(), l.value().to_string()))
                    .collect();
                let position = labels
                    .iter()
                    .position(|(k, v)| k == "client_id" && v == client_id)?;
                labels.remove(position);
                labels.sort();
                Some((key.name().to_string(), labels, value))
            })
            .collect()
    }

    fn find<'a>(series: &Series<'a>, name: &str, labels: &[(&str, &str)]) -> &'a DebugValue {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wanted.sort();
        series
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, value)| *value)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in {series:#?}"))
    }

    fn counter(series: &Series, name: &str, labels: &[(&str, &str)]) -> u64 {
        match find(series, name, labels) {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is {other:?}"),
        }
    }

    fn gauge(series: &Series, name: &str, labels: &[(&str, &str)]) -> f64 {
        match find(series, name, labels) {
            DebugValue::Gauge(v) => v.into_inner(),
            other => panic!("{name} is {other:?}"),
        }
    }

    fn samples(series: &Series, name: &str) -> Vec<f64> {
        match find(series, name, &[]) {
            DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
            other => panic!("{name} is {other:?}"),
        }
    }

    /// The producer's and the consumer's series, by client id, after five records went
    /// through a one-partition topic and were committed once.
    #[tokio::test]
    async fn metrics_count_what_was_produced_and_consumed() {
        snapshotter();
        let (topic, producer_id, consumer_id, _) = produce_and_consume("metrics").await;
        let topic = topic.as_str();

        let entries = snapshotter().snapshot().into_vec();
        let p = series(&entries, &producer_id);
        let per_topic = [("topic", topic)];
        assert_eq!(
            counter(&p, "kafka_producer_record_send_total", &per_topic),
            RECORDS as u64
        );
        assert_eq!(
            counter(&p, "kafka_producer_record_error_total", &per_topic),
            0
        );
        let bytes = counter(&p, "kafka_producer_byte_total", &per_topic);
        assert!(bytes > (RECORDS * 2) as u64, "{bytes} bytes");
        let requests = counter(&p, "kafka_producer_request_total", &[]);
        assert!(
            (1..=RECORDS as u64).contains(&requests),
            "{requests} requests"
        );
        assert_eq!(counter(&p, "kafka_producer_batch_retry_total", &[]), 0);
        let latencies = samples(&p, "kafka_producer_request_latency_seconds");
        assert_eq!(latencies.len() as u64, requests);
        assert!(
            latencies.iter().all(|s| *s > 0.0 && *s < 30.0),
            "{latencies:?}"
        );
        let batches = samples(&p, "kafka_producer_batch_records");
        assert_eq!(batches.iter().sum::<f64>(), RECORDS as f64);
        assert_eq!(
            samples(&p, "kafka_producer_batch_size_bytes")
                .iter()
                .sum::<f64>(),
            bytes as f64
        );
        let total = gauge(&p, "kafka_producer_buffer_total_bytes", &[]);
        assert_eq!(total, 32.0 * 1024.0 * 1024.0, "buffer.memory's default");
        // Sampled as each request task ends, after its batches gave their memory back.
        assert_eq!(
            gauge(&p, "kafka_producer_buffer_available_bytes", &[]),
            total
        );

        let c = series(&entries, &consumer_id);
        assert_eq!(
            counter(&c, "kafka_consumer_records_consumed_total", &[]),
            RECORDS as u64
        );
        assert!(counter(&c, "kafka_consumer_bytes_consumed_total", &[]) >= (RECORDS * 2) as u64);
        let fetches = counter(&c, "kafka_consumer_fetch_total", &[]);
        assert!(fetches >= 1);
        assert_eq!(
            samples(&c, "kafka_consumer_fetch_latency_seconds").len() as u64,
            fetches
        );
        let lag = [("partition", "0"), ("topic", topic)];
        assert_eq!(gauge(&c, "kafka_consumer_records_lag", &lag), 0.0);
        assert_eq!(counter(&c, "kafka_consumer_rebalance_total", &[]), 1);
        assert_eq!(counter(&c, "kafka_consumer_failed_rebalance_total", &[]), 0);
        assert_eq!(
            samples(&c, "kafka_consumer_rebalance_latency_seconds").len(),
            1
        );
        // The explicit commit; close commits nothing more with auto-commit off.
        assert_eq!(counter(&c, "kafka_consumer_commit_total", &[]), 1);
        assert_eq!(
            samples(&c, "kafka_consumer_commit_latency_seconds").len(),
            1
        );
    }
}
