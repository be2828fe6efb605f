//! Trace context carried in record headers (feature `opentelemetry`): W3C `traceparent` and
//! `tracestate` with OpenTelemetry's `TraceContextPropagator`, or whatever the application's
//! propagator writes, so a consumer's work joins the trace of the code that produced.

use super::{ConsumerRecord, Header, ProducerRecord};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::{global, Context};

/// Writes a propagator's fields into record headers, each replacing any header of its key.
///
/// ```
/// use kafkit::{Header, HeaderInjector};
/// use opentelemetry::propagation::Injector;
/// let mut headers = vec![Header::new("traceparent", "stale")];
/// HeaderInjector(&mut headers).set("traceparent", "00-…-01".to_string());
/// assert_eq!(headers, [Header::new("traceparent", "00-…-01")]);
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut Vec<Header>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|h| h.key != key.as_bytes());
        self.0.push(Header::new(key.to_owned(), value));
    }
}

/// Reads a propagator's fields from record headers: of several headers with a key, the last;
/// a null or non-UTF-8 value is no value.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a [Header]);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let header = self.0.iter().rev().find(|h| h.key == key.as_bytes())?;
        std::str::from_utf8(header.value.as_deref()?).ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().filter_map(Header::key_str).collect()
    }
}

impl ProducerRecord {
    /// Adds `cx`'s trace context to the headers with the global text-map propagator
    /// (`opentelemetry::global::set_text_map_propagator`; OpenTelemetry's default does
    /// nothing), replacing headers of the same keys. With `TraceContextPropagator`, these
    /// are W3C's `traceparent` and `tracestate`, as OpenTelemetry's Java Kafka
    /// instrumentation writes them.
    ///
    /// ```
    /// use kafkit::ProducerRecord;
    /// use opentelemetry::Context;
    /// let record = ProducerRecord::new("orders", "created").with_trace_context(&Context::current());
    /// # let _ = record;
    /// ```
    pub fn with_trace_context(mut self, cx: &Context) -> Self {
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(cx, &mut HeaderInjector(&mut self.headers));
        });
        self
    }
}

impl ConsumerRecord {
    /// The trace context the producer put in the headers, read with the global text-map
    /// propagator: a parent for the spans of this record's processing.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use opentelemetry::trace::TraceContextExt;
    /// for record in consumer.poll(std::time::Duration::from_secs(1)).await? {
    ///     let parent = record.trace_context();
    ///     println!("trace {}", parent.span().span_context().trace_id());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn trace_context(&self) -> Context {
        global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(&self.headers))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TimestampType;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use std::sync::Arc;

    fn w3c() {
        global::set_text_map_propagator(TraceContextPropagator::new());
    }

    fn span_context() -> SpanContext {
        SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("vendor", "value")]).unwrap(),
        )
    }

    fn received(headers: Vec<Header>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("orders"),
            partition: 0,
            offset: 7,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers,
        }
    }

    #[test]
    fn send_injects_w3c_headers_and_receive_extracts_the_same_context() {
        w3c();
        let cx = Context::new().with_remote_span_context(span_context());
        let record = ProducerRecord::new("orders", "v")
            .header(
                "traceparent",
                "00-00000000000000000000000000000001-0000000000000001-00",
            )
            .header("app", "kept")
            .with_trace_context(&cx);
        let value = |key: &str| {
            let found: Vec<_> = record
                .headers
                .iter()
                .filter(|h| h.key == key.as_bytes())
                .collect();
            assert_eq!(found.len(), 1, "one {key} header");
            found[0].value.clone().unwrap()
        };
        assert_eq!(
            value("traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(value("tracestate"), "vendor=value");
        assert_eq!(value("app"), "kept");

        let extracted = received(record.headers).trace_context();
        let span = extracted.span();
        let got = span.span_context();
        assert_eq!(got.trace_id(), span_context().trace_id());
        assert_eq!(got.span_id(), span_context().span_id());
        assert!(got.is_sampled() && got.is_remote());
        assert_eq!(got.trace_state().get("vendor"), Some("value"));
    }

    #[test]
    fn records_without_valid_context_yield_none() {
        w3c();
        for headers in [
            Vec::new(),
            vec![Header::null("traceparent")],
            vec![Header::new("traceparent", &b"\xff\xfe"[..])],
            vec![Header::new("traceparent", "not a traceparent")],
        ] {
            let cx = received(headers).trace_context();
            assert!(!cx.span().span_context().is_valid());
        }
    }

    #[test]
    fn the_last_header_of_a_key_wins() {
        let headers = [Header::new("k", "first"), Header::new("k", "second")];
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("k"), Some("second"));
        assert_eq!(extractor.keys(), ["k", "k"]);
        assert_eq!(extractor.get("missing"), None);
    }
}
