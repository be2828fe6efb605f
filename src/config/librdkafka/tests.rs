//! One test per librdkafka name: each mapped one through the config types' `from_properties`
//! (so the Java setting is what changes), each refused one for its reason.

use std::time::Duration;

use super::*;
use crate::config::{
    Acks, AdminConfig, AutoOffsetReset, ClientConfig, Compression, ConsumerConfig, ProducerConfig,
};
use crate::partitioner::PartitionerKind;

const BOOTSTRAP: (&str, &str) = ("bootstrap.servers", "localhost:9092");

fn producer(extra: &[(&str, &str)]) -> Result<ProducerConfig> {
    ProducerConfig::from_properties([BOOTSTRAP].iter().chain(extra).copied())
}

fn consumer(extra: &[(&str, &str)]) -> Result<ConsumerConfig> {
    ConsumerConfig::from_properties([BOOTSTRAP].iter().chain(extra).copied())
}

fn client(extra: &[(&str, &str)]) -> Result<ClientConfig> {
    ClientConfig::from_properties([BOOTSTRAP].iter().chain(extra).copied())
}

/// The message of a refusal, checked to name the key.
fn refusal(result: Result<impl std::fmt::Debug>, key: &str) -> String {
    let text = result.unwrap_err().to_string();
    assert!(text.contains(key), "{key}: {text}");
    text
}

/// Every name in the table, so a new entry without a test here fails.
const TESTED: &[&str] = &[
    "metadata.broker.list",
    "sasl.mechanisms",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.pem",
    "ssl.key.pem",
    "socket.timeout.ms",
    "topic.metadata.refresh.interval.ms",
    "api.version.request",
    "api.version.fallback.ms",
    "broker.version.fallback",
    "statistics.interval.ms",
    "debug",
    "log_level",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
    "queue.buffering.max.ms",
    "message.timeout.ms",
    "message.send.max.retries",
    "request.required.acks",
    "compression.codec",
    "message.max.bytes",
    "max.in.flight",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "batch.num.messages",
    "compression.level",
    "partitioner",
    "sticky.partitioning.linger.ms",
    "queue.buffering.backpressure.threshold",
    "fetch.wait.max.ms",
    "fetch.message.max.bytes",
    "auto.commit.enable",
    "auto.offset.reset",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "enable.auto.offset.store",
    "enable.partition.eof",
];

#[test]
fn every_name_in_the_table_is_tested_once() {
    for (key, _) in ALIASES {
        assert!(TESTED.contains(key), "{key} has no test");
    }
    assert_eq!(TESTED.len(), ALIASES.len());
}

#[test]
fn metadata_broker_list_is_bootstrap_servers() {
    let props = [("metadata.broker.list", "a:1,b:2")];
    let expected = ["a:1", "b:2"];
    assert_eq!(
        ClientConfig::from_properties(props)
            .unwrap()
            .bootstrap_servers,
        expected
    );
    assert_eq!(
        AdminConfig::from_properties(props)
            .unwrap()
            .client
            .bootstrap_servers,
        expected
    );
    assert_eq!(
        ProducerConfig::from_properties(props)
            .unwrap()
            .client
            .bootstrap_servers,
        expected
    );
}

#[test]
fn sasl_mechanisms_is_sasl_mechanism() {
    let c = client(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ])
    .unwrap();
    assert_eq!(
        c.security.sasl.mechanism,
        Some(crate::config::SaslMechanism::ScramSha512)
    );
    refusal(
        client(&[("sasl.mechanisms", "GSSAPI")]),
        "(set as librdkafka's sasl.mechanisms)",
    );
}

/// A TLS setting under its librdkafka name: set as the Java key with the `tls` feature,
/// refused without it.
fn tls_alias(alias: &str, value: &str) -> Option<crate::config::TlsConfig> {
    let result = client(&[("security.protocol", "SSL"), (alias, value)]);
    if cfg!(feature = "tls") {
        Some(result.unwrap().security.tls)
    } else {
        refusal(result, "`tls` cargo feature");
        None
    }
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

#[test]
fn ssl_ca_location_is_ssl_truststore_location() {
    if let Some(tls) = tls_alias("ssl.ca.location", "/etc/ca.pem") {
        assert_eq!(tls.ca_location, Some("/etc/ca.pem".into()));
    }
}

#[test]
fn ssl_ca_pem_is_ssl_truststore_certificates() {
    if let Some(tls) = tls_alias("ssl.ca.pem", PEM) {
        assert_eq!(tls.ca_pem.as_deref(), Some(PEM));
    }
}

#[test]
fn ssl_certificate_pem_is_ssl_keystore_certificate_chain() {
    let props = [
        ("security.protocol", "SSL"),
        ("ssl.certificate.pem", PEM),
        ("ssl.key.pem", "key"),
    ];
    if cfg!(feature = "tls") {
        let tls = client(&props).unwrap().security.tls;
        assert_eq!(tls.certificate_chain.as_deref(), Some(PEM));
    } else {
        refusal(client(&props), "`tls` cargo feature");
    }
}

#[test]
fn ssl_key_pem_is_ssl_keystore_key() {
    let props = [
        ("security.protocol", "SSL"),
        ("ssl.keystore.certificate.chain", PEM),
        ("ssl.key.pem", "the-key"),
    ];
    if cfg!(feature = "tls") {
        let tls = client(&props).unwrap().security.tls;
        assert_eq!(
            tls.key.map(|k| k.expose().to_string()).as_deref(),
            Some("the-key")
        );
    } else {
        refusal(client(&props), "`tls` cargo feature");
    }
}

#[test]
fn socket_timeout_ms_is_request_timeout_ms() {
    let c = consumer(&[("socket.timeout.ms", "20000")]).unwrap();
    assert_eq!(c.client.request_timeout, Duration::from_secs(20));
}

#[test]
fn topic_metadata_refresh_interval_ms_is_metadata_max_age_ms() {
    let c = client(&[("topic.metadata.refresh.interval.ms", "60000")]).unwrap();
    assert_eq!(c.metadata_max_age, Duration::from_secs(60));
    // librdkafka's -1 (never refresh) is not something kafkit does.
    refusal(
        client(&[("topic.metadata.refresh.interval.ms", "-1")]),
        "set as librdkafka's topic.metadata.refresh.interval.ms",
    );
}

#[test]
fn api_version_request_true_is_what_kafkit_does() {
    assert_eq!(
        client(&[("api.version.request", "TRUE")]).unwrap(),
        client(&[]).unwrap()
    );
    let text = refusal(
        client(&[("api.version.request", "false")]),
        "api.version.request",
    );
    assert!(text.contains("Kafka 0.10 or newer"), "{text}");
}

#[test]
fn api_version_fallback_ms_is_refused() {
    refusal(
        client(&[("api.version.fallback.ms", "1000")]),
        "api.version.fallback.ms (librdkafka) is not supported",
    );
}

#[test]
fn broker_version_fallback_is_refused() {
    refusal(
        client(&[("broker.version.fallback", "0.9.0")]),
        "broker.version.fallback (librdkafka) is not supported",
    );
    // Empty is librdkafka's "unset".
    client(&[("broker.version.fallback", "")]).unwrap();
}

#[test]
fn statistics_interval_ms_is_refused_unless_off() {
    consumer(&[("statistics.interval.ms", "0")]).unwrap();
    let text = refusal(
        consumer(&[("statistics.interval.ms", "5000")]),
        "statistics.interval.ms=5000",
    );
    assert!(text.contains("Consumer::metrics()"), "{text}");
}

#[test]
fn debug_is_refused() {
    let text = refusal(producer(&[("debug", "broker,topic")]), "debug");
    assert!(text.contains("tracing"), "{text}");
}

#[test]
fn log_level_is_refused() {
    let text = refusal(producer(&[("log_level", "7")]), "log_level");
    assert!(text.contains("tracing"), "{text}");
}

#[test]
fn ssl_endpoint_identification_algorithm_none_is_javas_empty() {
    let props = [
        ("security.protocol", "SSL"),
        ("ssl.endpoint.identification.algorithm", "none"),
    ];
    if cfg!(feature = "tls") {
        assert!(!client(&props).unwrap().security.tls.endpoint_identification);
    } else {
        refusal(client(&props), "`tls` cargo feature");
    }
    // Without the alias, Java's spelling is the only one taken.
    assert_eq!(
        translate("ssl.endpoint.identification.algorithm", "https").unwrap(),
        Translated::Set("ssl.endpoint.identification.algorithm", "https".into())
    );
}

#[test]
fn enable_ssl_certificate_verification_false_is_refused() {
    client(&[("enable.ssl.certificate.verification", "true")]).unwrap();
    let text = refusal(
        client(&[("enable.ssl.certificate.verification", "false")]),
        "enable.ssl.certificate.verification=false",
    );
    assert!(
        text.contains("ssl.endpoint.identification.algorithm=none"),
        "{text}"
    );
}

#[test]
fn queue_buffering_max_ms_is_linger_ms() {
    let c = producer(&[("queue.buffering.max.ms", "25")]).unwrap();
    assert_eq!(c.linger, Duration::from_millis(25));
}

#[test]
fn of_a_java_key_and_its_alias_the_later_wins() {
    let c = producer(&[("linger.ms", "7"), ("queue.buffering.max.ms", "9")]).unwrap();
    assert_eq!(c.linger, Duration::from_millis(9));
    let c = producer(&[("queue.buffering.max.ms", "9"), ("linger.ms", "7")]).unwrap();
    assert_eq!(c.linger, Duration::from_millis(7));
}

#[test]
fn message_timeout_ms_is_delivery_timeout_ms() {
    let c = producer(&[("message.timeout.ms", "300000")]).unwrap();
    assert_eq!(c.delivery_timeout, Duration::from_secs(300));
    // Given, like delivery.timeout.ms, it is checked rather than raised.
    let text = refusal(
        producer(&[("message.timeout.ms", "1000")]),
        "delivery.timeout.ms (1000 ms) must be at least",
    );
    assert!(
        !text.contains("set as"),
        "a check of the whole config: {text}"
    );
}

#[test]
fn message_send_max_retries_is_retries() {
    let c = producer(&[("message.send.max.retries", "3")]).unwrap();
    assert_eq!(c.retries, 3);
}

#[test]
fn request_required_acks_is_acks() {
    let c = producer(&[("request.required.acks", "-1")]).unwrap();
    assert_eq!(c.acks, Acks::All);
    let c = producer(&[("request.required.acks", "1")]).unwrap();
    assert_eq!(c.acks, Acks::Leader);
    // As with acks itself: idempotence, not given, gives way.
    assert!(!c.enable_idempotence);
    let text = refusal(
        producer(&[("request.required.acks", "2")]),
        "(set as librdkafka's request.required.acks)",
    );
    assert!(text.contains("acks: \"2\""), "{text}");
}

#[test]
fn compression_codec_is_compression_type() {
    let c = producer(&[("compression.codec", "lz4")]).unwrap();
    assert_eq!(c.compression, Compression::Lz4);
}

#[test]
fn message_max_bytes_is_max_request_size() {
    let c = producer(&[("message.max.bytes", "2000000")]).unwrap();
    assert_eq!(c.max_request_size, 2_000_000);
}

#[test]
fn max_in_flight_is_max_in_flight_requests_per_connection() {
    let c = producer(&[("max.in.flight", "3")]).unwrap();
    assert_eq!(c.max_in_flight_requests_per_connection, 3);
}

#[test]
fn queue_buffering_max_kbytes_is_buffer_memory_in_kib() {
    let c = producer(&[("queue.buffering.max.kbytes", "65536")]).unwrap();
    assert_eq!(c.buffer_memory, 64 << 20);
    let too_big = (usize::MAX / 1024 + 1).to_string();
    refusal(
        producer(&[("queue.buffering.max.kbytes", &too_big)]),
        "queue.buffering.max.kbytes",
    );
    refusal(
        producer(&[("queue.buffering.max.kbytes", "-1")]),
        "queue.buffering.max.kbytes",
    );
}

#[test]
fn queue_buffering_max_messages_is_refused() {
    let text = refusal(
        producer(&[("queue.buffering.max.messages", "100000")]),
        "queue.buffering.max.messages",
    );
    assert!(text.contains("buffer.memory"), "{text}");
}

#[test]
fn batch_num_messages_is_refused() {
    let text = refusal(
        producer(&[("batch.num.messages", "10000")]),
        "batch.num.messages",
    );
    assert!(text.contains("batch.size"), "{text}");
}

#[test]
fn compression_level_is_refused() {
    let text = refusal(producer(&[("compression.level", "3")]), "compression.level");
    assert!(text.contains("compression.gzip.level"), "{text}");
}

#[test]
fn partitioner_murmur2_random_is_the_default_partitioner() {
    let c = producer(&[
        ("partitioner.class", "round_robin"),
        ("partitioner", "murmur2_random"),
    ])
    .unwrap();
    assert!(matches!(c.partitioner, PartitionerKind::Default));
    let text = refusal(
        producer(&[("partitioner", "consistent_random")]),
        "partitioner=consistent_random",
    );
    assert!(text.contains("CRC32"), "{text}");
    for other in ["consistent", "random", "murmur2", "fnv1a", "fnv1a_random"] {
        refusal(producer(&[("partitioner", other)]), "murmur2_random");
    }
}

#[test]
fn sticky_partitioning_linger_ms_is_refused() {
    refusal(
        producer(&[("sticky.partitioning.linger.ms", "10")]),
        "sticky.partitioning.linger.ms (librdkafka) is not supported",
    );
}

#[test]
fn queue_buffering_backpressure_threshold_is_refused() {
    refusal(
        producer(&[("queue.buffering.backpressure.threshold", "1")]),
        "queue.buffering.backpressure.threshold (librdkafka) is not supported",
    );
}

#[test]
fn fetch_wait_max_ms_is_fetch_max_wait_ms() {
    let c = consumer(&[("fetch.wait.max.ms", "100")]).unwrap();
    assert_eq!(c.fetch_max_wait, Duration::from_millis(100));
}

#[test]
fn fetch_message_max_bytes_is_max_partition_fetch_bytes() {
    let c = consumer(&[("fetch.message.max.bytes", "4096")]).unwrap();
    assert_eq!(c.max_partition_fetch_bytes, 4096);
}

#[test]
fn auto_commit_enable_is_enable_auto_commit() {
    let c = consumer(&[("auto.commit.enable", "false")]).unwrap();
    assert!(!c.enable_auto_commit);
}

#[test]
fn auto_offset_reset_takes_librdkafkas_values() {
    for (value, expected) in [
        ("smallest", AutoOffsetReset::Earliest),
        ("beginning", AutoOffsetReset::Earliest),
        ("earliest", AutoOffsetReset::Earliest),
        ("largest", AutoOffsetReset::Latest),
        ("END", AutoOffsetReset::Latest),
        ("latest", AutoOffsetReset::Latest),
        ("error", AutoOffsetReset::Error),
        ("none", AutoOffsetReset::Error),
    ] {
        let c = consumer(&[("auto.offset.reset", value)]).unwrap();
        assert_eq!(c.auto_offset_reset, expected, "{value}");
    }
    refusal(
        consumer(&[("auto.offset.reset", "oldest")]),
        "auto.offset.reset",
    );
}

#[test]
fn queued_max_messages_kbytes_is_refused() {
    let text = refusal(
        consumer(&[("queued.max.messages.kbytes", "65536")]),
        "queued.max.messages.kbytes",
    );
    assert!(text.contains("fetch.max.bytes"), "{text}");
}

#[test]
fn queued_min_messages_is_refused() {
    let text = refusal(
        consumer(&[("queued.min.messages", "100000")]),
        "queued.min.messages",
    );
    assert!(text.contains("fetch.max.bytes"), "{text}");
}

#[test]
fn enable_auto_offset_store_is_refused() {
    for value in ["true", "false"] {
        let text = refusal(
            consumer(&[("enable.auto.offset.store", value)]),
            "enable.auto.offset.store",
        );
        assert!(text.contains("commit_offsets"), "{text}");
    }
}

#[test]
fn enable_partition_eof_true_is_refused() {
    consumer(&[("enable.partition.eof", "false")]).unwrap();
    let text = refusal(
        consumer(&[("enable.partition.eof", "true")]),
        "enable.partition.eof=true",
    );
    assert!(text.contains("current_lag"), "{text}");
}

#[test]
fn shared_names_need_no_alias() {
    let c = consumer(&[
        ("group.id", "g"),
        ("group.instance.id", "instance-1"),
        ("session.timeout.ms", "30000"),
        ("enable.auto.commit", "false"),
    ])
    .unwrap();
    assert_eq!(c.group_instance_id.as_deref(), Some("instance-1"));
    assert_eq!(c.session_timeout, Duration::from_secs(30));
    let c = producer(&[("enable.idempotence", "false"), ("retry.backoff.ms", "250")]).unwrap();
    assert!(!c.enable_idempotence);
    assert_eq!(c.retry_backoff, Duration::from_millis(250));
}

#[test]
fn an_alias_for_another_client_is_unknown_by_both_names() {
    let text = refusal(
        consumer(&[("queue.buffering.max.ms", "5")]),
        "unknown consumer setting \"queue.buffering.max.ms\" (librdkafka's name for linger.ms)",
    );
    assert!(text.contains("librdkafka"), "{text}");
    refusal(
        AdminConfig::from_properties([BOOTSTRAP, ("fetch.wait.max.ms", "5")]),
        "librdkafka's name for fetch.max.wait.ms",
    );
}
