use super::*;

fn props(extra: &[(&str, &str)]) -> Result<ProducerConfig> {
    let mut all = vec![("bootstrap.servers", "localhost:9092")];
    all.extend_from_slice(extra);
    ProducerConfig::from_properties(all)
}

fn err(extra: &[(&str, &str)]) -> String {
    props(extra).unwrap_err().to_string()
}

fn invalid(config: &ProducerConfig) -> String {
    config.validate().unwrap_err().to_string()
}

#[test]
fn defaults_match_java() {
    let c = ProducerConfig::new("localhost:9092");
    assert_eq!(c.acks, Acks::All);
    assert!(c.enable_idempotence);
    assert_eq!(c.max_in_flight_requests_per_connection, 5);
    assert_eq!(c.retries, 2147483647);
    assert_eq!(c.retry_backoff, Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max, Duration::from_millis(1000));
    assert_eq!(c.delivery_timeout, Duration::from_millis(120_000));
    assert_eq!(c.linger, Duration::from_millis(5));
    assert_eq!(c.batch_size, 16384);
    assert_eq!(c.buffer_memory, 33554432);
    assert_eq!(c.max_block, Duration::from_millis(60_000));
    assert_eq!(c.compression, Compression::Uncompressed);
    assert_eq!(c.compression_level, None);
    assert_eq!(c.max_request_size, 1048576);
    assert!(matches!(c.partitioner, PartitionerKind::Default));
    assert!(!c.partitioner_ignore_keys);
    assert_eq!(c.transactional_id, None);
    c.validate().unwrap();
}

#[test]
fn properties_set_every_key() {
    let c = props(&[
        ("client.id", "orders"),
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("max.in.flight.requests.per.connection", "3"),
        ("retries", "10"),
        ("retry.backoff.ms", "50"),
        ("retry.backoff.max.ms", "500"),
        ("delivery.timeout.ms", "60000"),
        ("linger.ms", "20"),
        ("batch.size", "65536"),
        ("buffer.memory", "67108864"),
        ("max.block.ms", "0"),
        ("compression.type", "zstd"),
        ("compression.gzip.level", "9"),
        ("max.request.size", "2097152"),
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        ),
        ("partitioner.ignore.keys", "true"),
    ])
    .unwrap();
    assert_eq!(c.client.client_id, "orders");
    assert_eq!(c.max_in_flight_requests_per_connection, 3);
    assert_eq!(c.retries, 10);
    assert_eq!(c.retry_backoff, Duration::from_millis(50));
    assert_eq!(c.retry_backoff_max, Duration::from_millis(500));
    assert_eq!(c.delivery_timeout, Duration::from_secs(60));
    assert_eq!(c.linger, Duration::from_millis(20));
    assert_eq!(c.batch_size, 65536);
    assert_eq!(c.buffer_memory, 64 << 20);
    assert_eq!(c.max_block, Duration::ZERO);
    assert_eq!(c.compression, Compression::Zstd);
    // Only the level of the chosen codec applies.
    assert_eq!(c.compression_level, None);
    assert_eq!(c.max_request_size, 2 << 20);
    assert!(matches!(c.partitioner, PartitionerKind::RoundRobin));
    assert!(c.partitioner_ignore_keys);
}

#[test]
fn acks_spellings() {
    for (text, acks) in [
        ("0", Acks::Zero),
        ("1", Acks::Leader),
        ("all", Acks::All),
        ("ALL", Acks::All),
        ("-1", Acks::All),
    ] {
        assert_eq!(text.parse::<Acks>().unwrap(), acks, "{text}");
    }
    let text = "2".parse::<Acks>().unwrap_err().to_string();
    assert!(
        text.contains("acks: \"2\"") && text.contains("0, 1, all, -1"),
        "{text}"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    assert!(err(&[("lingerms", "5")]).contains("\"lingerms\""));
    assert!(err(&[("key.serializer", "x")]).contains("\"key.serializer\""));
    let text = err(&[("linger.ms", "five")]);
    assert!(text.contains("linger.ms: \"five\""), "{text}");
    assert!(err(&[("compression.type", "brotli")]).contains("brotli"));
    assert!(err(&[("enable.idempotence", "yes")]).contains("true or false"));
    assert!(err(&[("partitioner.class", "com.example.P")]).contains("com.example.P"));
}

#[test]
fn explicit_idempotence_conflicts_fail_with_the_fix() {
    let text = err(&[("enable.idempotence", "true"), ("acks", "1")]);
    assert!(
        text.contains("enable.idempotence=true requires acks=all")
            && text.contains("set acks=all or enable.idempotence=false"),
        "{text}"
    );
    let text = err(&[
        ("enable.idempotence", "true"),
        ("max.in.flight.requests.per.connection", "6"),
    ]);
    assert!(text.contains("at most 5"), "{text}");
    let text = err(&[("enable.idempotence", "true"), ("retries", "0")]);
    assert!(text.contains("retries > 0"), "{text}");

    // The same through the struct, which has no notion of "not given".
    let mut c = ProducerConfig::new("a:1");
    c.acks = Acks::Leader;
    assert!(invalid(&c).contains("requires acks=all"));
}

#[test]
fn implicit_idempotence_yields_to_conflicts_like_java() {
    for conflict in [
        ("acks", "1"),
        ("acks", "0"),
        ("max.in.flight.requests.per.connection", "10"),
        ("retries", "0"),
    ] {
        let c = props(&[conflict]).unwrap();
        assert!(!c.enable_idempotence, "{conflict:?}");
    }
    let text = err(&[("acks", "1"), ("transactional.id", "tx")]);
    assert!(
        text.contains("transactional.id requires enable.idempotence=true"),
        "{text}"
    );
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let text = err(&[("delivery.timeout.ms", "30000")]);
    assert!(
        text.contains("delivery.timeout.ms (30000 ms) must be at least linger.ms + request.timeout.ms (30005 ms)"),
        "{text}"
    );
    // Not given: raised, as Java does.
    let c = props(&[("linger.ms", "100000")]).unwrap();
    assert_eq!(c.delivery_timeout, Duration::from_millis(130_000));
}

#[test]
fn sizes_must_fit_the_buffer() {
    let text = err(&[("batch.size", "1000"), ("buffer.memory", "999")]);
    assert!(
        text.contains("batch.size (1000) is larger than buffer.memory (999)"),
        "{text}"
    );
    let text = err(&[("max.request.size", "40000000")]);
    assert!(text.contains("max.request.size (40000000) is larger than buffer.memory"));
    assert!(err(&[("batch.size", "0")]).contains("batch.size is 0"));
    assert!(err(&[("max.request.size", "0")]).contains("max.request.size is 0"));
    assert!(err(&[("buffer.memory", "0")]).contains("buffer.memory is 0"));
    assert!(err(&[("max.in.flight.requests.per.connection", "0")]).contains("is 0"));
}

#[test]
fn gzip_levels_follow_java_and_the_others_are_refused_not_ignored() {
    for level in ["1", "9", "-1"] {
        let c = props(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", level),
        ])
        .unwrap();
        assert_eq!(c.compression_level, Some(level.parse().unwrap()));
    }
    for level in ["0", "10", "-2"] {
        let text = err(&[
            ("compression.type", "gzip"),
            ("compression.gzip.level", level),
        ]);
        assert!(text.contains("compression.gzip.level"), "{text}");
    }
    // kafkit's lz4 and zstd encoders have one level each: a level setting would be ignored.
    for (codec, key) in [
        ("lz4", "compression.lz4.level"),
        ("zstd", "compression.zstd.level"),
    ] {
        let text = err(&[("compression.type", codec), (key, "3")]);
        assert!(
            text.contains(&format!("remove {key}")) && text.contains("one level only"),
            "{text}"
        );
        // Java checks a level key even when its codec is not the one in use.
        assert!(props(&[(key, "3")]).is_err());
    }
    let mut c = ProducerConfig::new("a:1");
    c.compression = Compression::Snappy;
    c.compression_level = Some(1);
    assert!(invalid(&c).contains("compression.type=snappy has no levels"));
    c.compression = Compression::Zstd;
    c.compression_level = Some(3);
    assert!(invalid(&c).contains("remove compression.zstd.level"));
}

#[test]
fn transactional_id_rules() {
    let mut c = ProducerConfig::new("a:1");
    c.transactional_id = Some(String::new());
    assert!(invalid(&c).contains("transactional.id is empty"));
    c.transactional_id = Some("tx".into());
    c.validate().unwrap();
    c.enable_idempotence = false;
    assert!(invalid(&c).contains("requires enable.idempotence=true"));
    // Empty in properties means unset, as Java's null default.
    assert_eq!(
        props(&[("transactional.id", "")]).unwrap().transactional_id,
        None
    );
}

#[test]
fn transaction_timeout_is_java_s_and_bounded() {
    let c = props(&[("transactional.id", "tx")]).unwrap();
    assert_eq!(c.transaction_timeout, Duration::from_secs(60));
    assert!(c.enable_idempotence);
    let c = props(&[("transaction.timeout.ms", "900000")]).unwrap();
    assert_eq!(c.transaction_timeout, Duration::from_secs(900));
    assert!(err(&[("transaction.timeout.ms", "0")]).contains("transaction.timeout.ms"));
    assert!(err(&[("transaction.timeout.ms", "3000000000")]).contains("transaction.timeout.ms"));
    // Idempotence is not turned off for a transactional producer: the conflict fails.
    let text = err(&[("retries", "0"), ("transactional.id", "tx")]);
    assert!(
        text.contains("transactional.id requires enable.idempotence=true: "),
        "{text}"
    );
}

#[test]
fn backoffs_must_be_ordered() {
    let text = err(&[("retry.backoff.ms", "2000")]);
    assert!(
        text.contains("raise retry.backoff.max.ms or lower retry.backoff.ms"),
        "{text}"
    );
}

#[test]
fn client_errors_surface() {
    let text = ProducerConfig::from_properties([("acks", "all")])
        .unwrap_err()
        .to_string();
    assert!(text.contains("bootstrap.servers is empty"), "{text}");
}
