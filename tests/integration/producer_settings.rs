//! Every producer setting, against the shared broker: one module per theme. Settings that
//! need a frozen broker (`buffer.memory`, `max.block.ms`, `delivery.timeout.ms`,
//! `request.timeout.ms`, `retries`) are in `producer_paused.rs`, on dedicated brokers.

/// `acks`: 0, 1 and all, and how they combine with `enable.idempotence`.
mod acks {
    use crate::support::*;
    use kafkit::{Acks, Error, Producer, ProducerConfig, ProducerRecord};

    async fn round_trip(acks: &str) -> (Vec<i64>, Vec<String>) {
        let (bootstrap, topic) = fresh_topic(&format!("acks{acks}"), 1).await;
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("acks", acks),
            ("enable.idempotence", "false"),
        ])
        .unwrap();
        let producer = Producer::new(config).await.unwrap();
        let sent: Vec<String> = (0..20).map(|i| format!("acks{acks}-{i}")).collect();
        let metadata = send_all(
            &producer,
            sent.iter()
                .map(|v| ProducerRecord::new(topic.as_str(), v.clone())),
        )
        .await;
        let offsets = metadata.iter().map(|m| m.offset).collect();
        let read = values(&read_n(&bootstrap, &topic, [0], sent.len()).await);
        assert_eq!(
            read, sent,
            "acks={acks}: the log holds what was sent, in order"
        );
        (offsets, read)
    }

    #[tokio::test]
    async fn acks_0_delivers_without_offsets() {
        let (offsets, _) = round_trip("0").await;
        assert!(
            offsets.iter().all(|&o| o == -1),
            "acks=0: the broker says nothing, so offsets are -1: {offsets:?}"
        );
    }

    #[tokio::test]
    async fn acks_1_and_all_report_the_offsets() {
        for acks in ["1", "all"] {
            let (offsets, _) = round_trip(acks).await;
            assert_eq!(offsets, (0..20).collect::<Vec<i64>>(), "acks={acks}");
        }
    }

    #[tokio::test]
    async fn acks_other_than_all_conflict_with_explicit_idempotence() {
        for acks in ["0", "1"] {
            let err = ProducerConfig::from_properties([
                ("bootstrap.servers", "localhost:9092"),
                ("acks", acks),
                ("enable.idempotence", "true"),
            ])
            .err()
            .unwrap_or_else(|| panic!("acks={acks} with enable.idempotence=true accepted"));
            let text = err.to_string();
            assert!(matches!(err, Error::Config(_)), "{text}");
            assert!(
                text.contains("requires acks=all")
                    && text.contains(&format!("acks={acks}"))
                    && text.contains("enable.idempotence=false"),
                "the error names the conflict and both fixes: {text}"
            );
        }
        // As in Java: when enable.idempotence is not given, a conflicting acks turns it off.
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("acks", "1"),
        ])
        .unwrap();
        assert_eq!(config.acks, Acks::Leader);
        assert!(!config.enable_idempotence, "idempotence silently off");

        // A struct built by hand is checked by Producer::new, before connecting.
        let mut config = producer_config(&bootstrap().await);
        config.acks = Acks::Zero;
        let err = Producer::new(config)
            .await
            .expect_err("acks=0 with idempotence");
        assert!(
            matches!(&err, Error::Config(m) if m.contains("requires acks=all")),
            "{err}"
        );
    }
}

/// `enable.idempotence` and the Java defaults.
mod idempotence {
    use crate::support::*;
    use kafkit::{Acks, Compression, PartitionerKind, Producer, ProducerConfig, ProducerRecord};
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn from_properties_defaults_match_java() {
        let c = ProducerConfig::from_properties([("bootstrap.servers", "localhost:9092")]).unwrap();
        assert_eq!(c.acks, Acks::All, "acks");
        assert!(c.enable_idempotence, "enable.idempotence");
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(c.linger, Duration::from_millis(5), "linger.ms");
        assert_eq!(c.batch_size, 16384, "batch.size");
        assert_eq!(c.buffer_memory, 32 * 1024 * 1024, "buffer.memory");
        assert_eq!(
            c.delivery_timeout,
            Duration::from_secs(120),
            "delivery.timeout.ms"
        );
        assert_eq!(
            c.client.request_timeout,
            Duration::from_secs(30),
            "request.timeout.ms"
        );
        assert_eq!(c.max_block, Duration::from_secs(60), "max.block.ms");
        assert_eq!(c.retries, i32::MAX as u32, "retries");
        assert_eq!(
            c.retry_backoff,
            Duration::from_millis(100),
            "retry.backoff.ms"
        );
        assert_eq!(
            c.retry_backoff_max,
            Duration::from_secs(1),
            "retry.backoff.max.ms"
        );
        assert_eq!(c.compression, Compression::Uncompressed, "compression.type");
        assert_eq!(c.compression_level, None);
        assert_eq!(c.max_request_size, 1024 * 1024, "max.request.size");
        assert!(matches!(c.partitioner, PartitionerKind::Default));
        assert!(!c.partitioner_ignore_keys, "partitioner.ignore.keys");
        assert_eq!(c.transactional_id, None, "transactional.id");
        assert_eq!(
            c.transaction_timeout,
            Duration::from_secs(60),
            "transaction.timeout.ms"
        );
        assert_eq!(
            c.client.metadata_max_age,
            Duration::from_secs(300),
            "metadata.max.age.ms"
        );
    }

    /// Every producer key takes effect, and a producer built from them all works.
    #[tokio::test]
    async fn every_java_key_sets_its_field() {
        let (bootstrap, topic) = fresh_topic("allkeys", 2).await;
        let c = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("acks", "-1"),
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "3"),
            ("retries", "7"),
            ("retry.backoff.ms", "20"),
            ("retry.backoff.max.ms", "400"),
            ("delivery.timeout.ms", "45000"),
            ("request.timeout.ms", "20000"),
            ("linger.ms", "15"),
            ("batch.size", "4096"),
            ("buffer.memory", "2097152"),
            ("max.block.ms", "9000"),
            ("compression.type", "gzip"),
            ("compression.gzip.level", "3"),
            ("max.request.size", "500000"),
            (
                "partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            ),
            ("partitioner.ignore.keys", "true"),
            ("metadata.max.age.ms", "60000"),
        ])
        .unwrap();
        assert_eq!(c.acks, Acks::All);
        assert!(c.enable_idempotence);
        assert_eq!(c.max_in_flight_requests_per_connection, 3);
        assert_eq!(c.retries, 7);
        assert_eq!(c.retry_backoff, Duration::from_millis(20));
        assert_eq!(c.retry_backoff_max, Duration::from_millis(400));
        assert_eq!(c.delivery_timeout, Duration::from_secs(45));
        assert_eq!(c.client.request_timeout, Duration::from_secs(20));
        assert_eq!(c.linger, Duration::from_millis(15));
        assert_eq!(c.batch_size, 4096);
        assert_eq!(c.buffer_memory, 2 * 1024 * 1024);
        assert_eq!(c.max_block, Duration::from_secs(9));
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.compression_level, Some(3));
        assert_eq!(c.max_request_size, 500_000);
        assert!(matches!(c.partitioner, PartitionerKind::RoundRobin));
        assert!(c.partitioner_ignore_keys);
        assert_eq!(c.client.metadata_max_age, Duration::from_secs(60));

        let producer = Producer::new(c).await.unwrap();
        let metadata = send_all(
            &producer,
            (0..10).map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}")).key("k")),
        )
        .await;
        let partitions: HashSet<i32> = metadata.iter().map(|m| m.partition).collect();
        assert_eq!(
            partitions.len(),
            2,
            "round robin, keys ignored: {metadata:?}"
        );
        assert_eq!(read_all(&bootstrap, &topic, 2).await.len(), 10);
    }

    /// With idempotence (the default) the producer obtains a producer id at start (Producer::new
    /// fails otherwise) and a clean run writes every record exactly once, in order.
    #[tokio::test]
    async fn an_idempotent_producer_writes_each_record_exactly_once() {
        let (bootstrap, topic) = fresh_topic("idempotent", 3).await;
        let config =
            ProducerConfig::from_properties([("bootstrap.servers", bootstrap.as_str())]).unwrap();
        assert!(config.enable_idempotence);
        let producer = Producer::new(config)
            .await
            .expect("InitProducerId succeeds");
        let n = 3000;
        let sent: Vec<ProducerRecord> = (0..n)
            .map(|i| ProducerRecord::new(topic.as_str(), format!("{i}")).partition(i % 3))
            .collect();
        let metadata = send_all(&producer, sent).await;
        for (i, m) in metadata.iter().enumerate() {
            assert_eq!(m.partition, i as i32 % 3);
            assert_eq!(
                m.offset,
                i as i64 / 3,
                "record {i}: offsets follow send order"
            );
        }
        let records = read_all(&bootstrap, &topic, 3).await;
        assert_eq!(records.len(), n as usize, "no duplicates, nothing lost");
        let mut seen = HashSet::new();
        for r in &records {
            let v: i32 = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert!(seen.insert(v), "{v} written twice");
            assert_eq!((r.partition, r.offset), (v % 3, v as i64 / 3));
        }
        let m = producer.metrics();
        assert_eq!(m.records_sent, n as u64);
        assert_eq!(m.errors, 0, "a clean run: {m:?}");
        // A partition of a topic created a moment ago may answer NOT_LEADER_OR_FOLLOWER
        // once, until the broker has applied the new metadata; the retry is then deduplicated
        // by sequence number, which the exactly-once checks above prove.
        assert!(
            m.retries <= 3,
            "a clean run retries at most a few times: {m:?}"
        );
    }
}

/// `linger.ms` and `batch.size`.
mod batching {
    use crate::support::*;
    use kafkit::{Producer, ProducerRecord};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_long_linger_and_a_large_batch_size_make_few_batches() {
        let (bootstrap, topic) = fresh_topic("linger", 1).await;
        let mut config = producer_config(&bootstrap);
        config.linger = Duration::from_millis(200);
        config.batch_size = 1024 * 1024;
        let producer = Producer::new(config).await.unwrap();
        // Metadata first, so the 100 sends below are quick.
        producer
            .send(ProducerRecord::new(topic.as_str(), "warm-up"))
            .await
            .unwrap()
            .await
            .unwrap();
        let before = producer.metrics();
        let started = Instant::now();
        let mut deliveries = Vec::new();
        for i in 0..100 {
            let record = ProducerRecord::new(topic.as_str(), format!("record-{i}"));
            deliveries.push(producer.send(record).await.unwrap());
        }
        let queued = started.elapsed();
        let mut first = None;
        for delivery in deliveries {
            delivery.await.unwrap();
            first.get_or_insert_with(|| started.elapsed());
        }
        let first = first.unwrap();
        let m = producer.metrics();
        let batches = m.batches_sent - before.batches_sent;
        assert!(
            queued < Duration::from_millis(150),
            "sending 100 records took {queued:?}; the test needs them inside one linger"
        );
        assert!(
            first >= Duration::from_millis(180),
            "the first record waited for linger.ms=200 before it was sent, not {first:?}"
        );
        assert!(batches <= 2, "100 records in {batches} batches: {m:?}");
        assert!(m.records_per_batch >= 101.0 / 3.0, "{m:?}");
    }

    #[tokio::test]
    async fn a_tiny_batch_size_makes_many_batches() {
        let (bootstrap, topic) = fresh_topic("tinybatch", 1).await;
        let mut config = producer_config(&bootstrap);
        config.batch_size = 200;
        // A long linger: batches go out because they are full, not because they waited.
        config.linger = Duration::from_secs(10);
        let producer = Producer::new(config).await.unwrap();
        let started = Instant::now();
        let mut deliveries = Vec::new();
        for i in 0..100 {
            let value = format!("{i:0>60}");
            deliveries.push(
                producer
                    .send(ProducerRecord::new(topic.as_str(), value))
                    .await
                    .unwrap(),
            );
        }
        // No flush: the last batch may wait for linger, so await all but the last one.
        let last = deliveries.pop().unwrap();
        for delivery in deliveries {
            delivery.await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "full batches go out without lingering: {:?}",
            started.elapsed()
        );
        producer.flush().await;
        last.await.unwrap();
        let m = producer.metrics();
        assert!(
            m.batches_sent >= 34,
            "records of ~130 bytes with batch.size=200 make at least 34 batches: {m:?}"
        );
        assert!(m.records_per_batch <= 3.0, "{m:?}");
        assert_eq!(read_all(&bootstrap, &topic, 1).await.len(), 100);
    }

    #[tokio::test]
    async fn linger_0_delivers_a_single_record_promptly() {
        let (bootstrap, topic) = fresh_topic("linger0", 1).await;
        let mut config = producer_config(&bootstrap);
        config.linger = Duration::ZERO;
        let producer = Producer::new(config).await.unwrap();
        // The first send fetches metadata and connects; time the second.
        producer
            .send(ProducerRecord::new(topic.as_str(), "warm-up"))
            .await
            .unwrap()
            .await
            .unwrap();
        let started = Instant::now();
        let delivery = producer
            .send(ProducerRecord::new(topic.as_str(), "alone"))
            .await
            .unwrap();
        let metadata = tokio::time::timeout(Duration::from_secs(2), delivery)
            .await
            .expect("delivered without a flush")
            .unwrap();
        assert_eq!(metadata.offset, 1);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "one record, linger.ms=0: {:?}",
            started.elapsed()
        );
    }
}

/// `compression.type` and the `compression.<codec>.level` keys.
mod compression {
    use crate::support::*;
    use kafkit::{Compression, Error, Producer, ProducerConfig, ProducerRecord};

    /// Repetitive JSON, as real payloads often are: compresses well with every codec.
    fn payload(i: usize) -> String {
        format!(
            r#"{{"id":{i},"kind":"order","status":"shipped","items":[{}],"note":"{}"}}"#,
            (0..8)
                .map(|j| format!(r#"{{"sku":"item-{j}","qty":{j},"price":"19.99"}}"#))
                .collect::<Vec<_>>()
                .join(","),
            "lorem ipsum dolor sit amet ".repeat(4)
        )
    }

    async fn round_trip(codec: &str, level: Option<(&str, &str)>) -> f64 {
        let (bootstrap, topic) = fresh_topic(&format!("codec-{codec}"), 1).await;
        let mut properties = vec![
            ("bootstrap.servers", bootstrap.as_str()),
            ("compression.type", codec),
            ("linger.ms", "50"),
        ];
        properties.extend(level);
        let config = ProducerConfig::from_properties(properties).unwrap();
        assert_eq!(config.compression.name(), codec);
        if let Some((_, level)) = level {
            assert_eq!(config.compression_level, Some(level.parse().unwrap()));
        }
        let producer = Producer::new(config).await.unwrap();
        let n = 300;
        let sent: Vec<ProducerRecord> = (0..n)
            .map(|i| {
                ProducerRecord::new(topic.as_str(), payload(i))
                    .key(format!("key-{i}"))
                    .header("codec", codec.to_string())
                    .timestamp(now_ms() - 1000 + i as i64)
            })
            .collect();
        send_all(&producer, sent.clone()).await;
        let read = read_all(&bootstrap, &topic, 1).await;
        assert_eq!(read.len(), n, "{codec}");
        for (want, have) in sent.iter().zip(&read) {
            assert_eq!(
                have.value, want.value,
                "{codec}: value of offset {}",
                have.offset
            );
            assert_eq!(have.key, want.key, "{codec}: key");
            assert_eq!(have.headers, want.headers, "{codec}: headers");
            assert_eq!(
                have.timestamp,
                want.timestamp.unwrap(),
                "{codec}: timestamp"
            );
        }
        producer.metrics().compression_ratio
    }

    #[tokio::test]
    async fn every_codec_round_trips_and_compresses() {
        let none = round_trip("none", None).await;
        assert_eq!(none, 1.0, "compression.type=none: ratio 1");
        for (codec, level) in [
            ("gzip", None),
            ("gzip", Some(("compression.gzip.level", "9"))),
            ("snappy", None),
            ("lz4", None),
            ("zstd", None),
        ] {
            let ratio = round_trip(codec, level).await;
            assert!(
                ratio > 1.5,
                "{codec} {level:?}: compression_ratio {ratio} for a compressible payload"
            );
        }
    }

    #[test]
    fn out_of_range_levels_and_unknown_codecs_are_config_errors() {
        for (key, value, expected) in [
            (
                "compression.gzip.level",
                "10",
                "compression.gzip.level is 10",
            ),
            // kafkit's lz4 and zstd encoders have one level each; a level is refused, not
            // ignored.
            ("compression.lz4.level", "9", "remove compression.lz4.level"),
            (
                "compression.zstd.level",
                "3",
                "remove compression.zstd.level",
            ),
            ("compression.type", "brotli", "brotli"),
        ] {
            let err = ProducerConfig::from_properties([
                ("bootstrap.servers", "localhost:9092"),
                (key, value),
            ])
            .err()
            .unwrap_or_else(|| panic!("{key}={value} accepted"));
            assert!(matches!(err, Error::Config(_)), "{key}={value}: {err}");
            assert!(err.to_string().contains(expected), "{key}={value}: {err}");
        }
        let mut config = ProducerConfig::new("localhost:9092");
        config.compression = Compression::Snappy;
        config.compression_level = Some(3);
        let err = config.validate().expect_err("snappy has no levels");
        assert!(err.to_string().contains("has no levels"), "{err}");
    }
}

/// `max.request.size`, and the broker's own limit (`max.message.bytes`).
mod size_limits {
    use crate::support::*;
    use kafkit::{Admin, ClientConfig, Error, ErrorCode, NewTopic, Producer, ProducerRecord};
    use std::time::Duration;

    #[tokio::test]
    async fn a_record_over_max_request_size_fails_alone_and_its_batch_mates_succeed() {
        let (bootstrap, topic) = fresh_topic("maxreq", 1).await;
        let mut config = producer_config(&bootstrap);
        config.max_request_size = 5_000;
        config.linger = Duration::from_millis(100);
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..10 {
            if i == 5 {
                let err = producer
                    .send(ProducerRecord::new(topic.as_str(), vec![b'x'; 5_000]))
                    .await
                    .expect_err("a 5000-byte value plus overhead is over 5000");
                assert!(
                    matches!(
                        err,
                        Error::RecordTooLarge {
                            max: 5_000,
                            setting: "max.request.size",
                            ..
                        }
                    ),
                    "{err}"
                );
            }
            deliveries.push(
                producer
                    .send(ProducerRecord::new(topic.as_str(), format!("small-{i}")))
                    .await
                    .unwrap(),
            );
        }
        producer.flush().await;
        for (i, delivery) in deliveries.into_iter().enumerate() {
            assert_eq!(delivery.await.unwrap().offset, i as i64);
        }
        let m = producer.metrics();
        assert!(
            m.batches_sent <= 2,
            "the small ones were batched together: {m:?}"
        );
        assert_eq!(
            values(&read_all(&bootstrap, &topic, 1).await),
            (0..10).map(|i| format!("small-{i}")).collect::<Vec<_>>()
        );
    }

    async fn limited_topic(bootstrap: &str, prefix: &str) -> String {
        let topic = topic(prefix);
        Admin::new(ClientConfig::new(bootstrap))
            .await
            .unwrap()
            .create_topics([NewTopic::new(&topic, 1, 1).config("max.message.bytes", "2000")])
            .await
            .unwrap();
        topic
    }

    /// The producer allows 1 MiB, the topic 2000 bytes: the broker's rejection is a typed,
    /// final error for that record only.
    #[tokio::test]
    async fn a_record_over_the_topics_max_message_bytes_is_a_typed_final_error() {
        let bootstrap = bootstrap().await;
        let topic = limited_topic(&bootstrap, "maxmsg").await;
        let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
        let send = |value: Vec<u8>| {
            let producer = producer.clone();
            let topic = topic.clone();
            async move {
                producer
                    .send(ProducerRecord::new(topic, value))
                    .await
                    .unwrap()
                    .await
            }
        };
        let first = send(b"before".to_vec()).await.unwrap();
        let retries = producer.metrics().retries;
        let err = send(vec![b'x'; 3000]).await.expect_err("3000 > 2000 bytes");
        assert!(
            matches!(
                err.code(),
                Some(ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE)
            ),
            "a typed broker error: {err:?}"
        );
        assert!(!err.is_retriable(), "{err}");
        assert_eq!(producer.metrics().retries, retries, "not retried");
        assert!(producer.metrics().errors >= 1);
        let after = send(b"after".to_vec()).await.unwrap();
        assert_eq!((first.offset, after.offset), (0, 1));
        assert_eq!(
            values(&read_all(&bootstrap, &topic, 1).await),
            ["before", "after"]
        );
    }

    /// Small records whose batch together exceeds the topic's `max.message.bytes`: each
    /// fits, so the Java producer splits the rejected batch (`MESSAGE_TOO_LARGE` with more
    /// than one record) and sends the halves again; every record is delivered.
    #[tokio::test]
    async fn a_batch_over_the_topics_max_message_bytes_is_split_not_failed() {
        let bootstrap = bootstrap().await;
        let topic = limited_topic(&bootstrap, "split").await;
        let mut config = producer_config(&bootstrap);
        // Everything sent below goes into one batch of ~6 KB.
        config.linger = Duration::from_millis(200);
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..20 {
            let record = ProducerRecord::new(topic.as_str(), format!("{i:0>300}"));
            deliveries.push(producer.send(record).await.unwrap());
        }
        producer.flush().await;
        let mut failures = Vec::new();
        for (i, delivery) in deliveries.into_iter().enumerate() {
            if let Err(e) = delivery.await {
                failures.push(format!("record {i}: {e}"));
            }
        }
        assert!(
            failures.is_empty(),
            "records of ~370 bytes each fit max.message.bytes=2000, but {} of 20 failed: {}",
            failures.len(),
            failures.first().map_or("", String::as_str)
        );
        assert_eq!(read_all(&bootstrap, &topic, 1).await.len(), 20);
    }
}

/// `partitioner.class`, custom partitioners, explicit partitions, `partitioner.ignore.keys`.
mod partitioning {
    use crate::support::*;
    use kafkit::partitioner::partition_for_key;
    use kafkit::{
        Error, Partitioner, PartitionerKind, Producer, ProducerConfig, ProducerRecord,
        RecordMetadata,
    };
    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const PARTITIONS: i32 = 4;

    /// How many records each partition got, from the delivery reports.
    fn per_partition(metadata: &[RecordMetadata]) -> BTreeMap<i32, usize> {
        let mut counts = BTreeMap::new();
        for m in metadata {
            *counts.entry(m.partition).or_default() += 1;
        }
        counts
    }

    /// Lengths of the runs of equal partitions, in send order.
    fn runs(metadata: &[RecordMetadata]) -> Vec<usize> {
        let mut runs: Vec<(i32, usize)> = Vec::new();
        for m in metadata {
            match runs.last_mut() {
                Some((p, n)) if *p == m.partition => *n += 1,
                _ => runs.push((m.partition, 1)),
            }
        }
        runs.into_iter().map(|(_, n)| n).collect()
    }

    #[tokio::test]
    async fn keyed_records_land_on_the_java_murmur2_partition() {
        let (bootstrap, topic) = fresh_topic("murmur", PARTITIONS).await;
        let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
        let keys: Vec<String> = (0..200).map(|i| format!("customer-{i}")).collect();
        let metadata = send_all(
            &producer,
            keys.iter()
                .map(|k| ProducerRecord::new(topic.as_str(), k.clone()).key(k.clone())),
        )
        .await;
        for (key, m) in keys.iter().zip(&metadata) {
            assert_eq!(
                m.partition,
                partition_for_key(key.as_bytes(), PARTITIONS),
                "broker-reported partition of {key}"
            );
        }
        assert_eq!(per_partition(&metadata).len(), PARTITIONS as usize);
        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        assert_eq!(read.len(), keys.len());
        for r in &read {
            let key = r.key.as_deref().unwrap();
            assert_eq!(r.value.as_deref(), Some(key), "key and value were the same");
            assert_eq!(
                r.partition,
                partition_for_key(key, PARTITIONS),
                "consumed partition of {}",
                String::from_utf8_lossy(key)
            );
        }
    }

    /// Uniform sticky (KIP-794): keyless records stay on one partition for `batch.size`
    /// bytes, then move; over many batches every partition gets some.
    #[tokio::test]
    async fn keyless_records_stick_to_a_partition_per_batch_and_spread_over_many() {
        let (bootstrap, topic) = fresh_topic("sticky", PARTITIONS).await;
        let mut config = producer_config(&bootstrap);
        config.batch_size = 1000;
        let producer = Producer::new(config).await.unwrap();
        // ~170 bytes per record with its batch header share: 6 records per 1000 bytes.
        let metadata = send_all(
            &producer,
            (0..400).map(|i| ProducerRecord::new(topic.as_str(), format!("{i:0>100}"))),
        )
        .await;
        let runs = runs(&metadata);
        let (last, whole) = runs.split_last().unwrap();
        assert!(*last >= 1);
        assert!(
            whole.iter().all(|&n| n >= 5),
            "each partition keeps the keyless records until batch.size bytes: runs {runs:?}"
        );
        assert!(
            runs.len() >= 10,
            "400 records of ~170 bytes move on ~60 times (a draw may repeat): runs {runs:?}"
        );
        let counts = per_partition(&metadata);
        assert_eq!(
            counts.len(),
            PARTITIONS as usize,
            "over ~60 draws every partition is picked: {counts:?}"
        );
        let m = producer.metrics();
        assert!(m.records_per_batch >= 4.0, "sticky records batch up: {m:?}");
    }

    #[tokio::test]
    async fn round_robin_spreads_evenly_even_with_keys() {
        let (bootstrap, topic) = fresh_topic("roundrobin", PARTITIONS).await;
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            (
                "partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            ),
        ])
        .unwrap();
        let producer = Producer::new(config).await.unwrap();
        let metadata = send_all(
            &producer,
            (0..100).map(|i| ProducerRecord::new(topic.as_str(), format!("{i}")).key("same-key")),
        )
        .await;
        let counts = per_partition(&metadata);
        assert_eq!(
            counts,
            (0..PARTITIONS).map(|p| (p, 25)).collect(),
            "100 records over 4 partitions in turn"
        );
        for pair in metadata.windows(2) {
            assert_eq!(
                pair[1].partition,
                (pair[0].partition + 1) % PARTITIONS,
                "the next partition in turn"
            );
        }
        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        assert_eq!(read.len(), 100);
    }

    /// Sends keyed records to partition `key[0] - b'0'`, counting its calls; keyless ones
    /// are left to the sticky partitioner; key "x" gets an out-of-range partition.
    struct ByFirstDigit {
        calls: AtomicUsize,
    }

    impl Partitioner for ByFirstDigit {
        fn partition(
            &self,
            _topic: &str,
            key: Option<&[u8]>,
            _value: Option<&[u8]>,
            partition_count: i32,
        ) -> Option<i32> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            assert_eq!(partition_count, PARTITIONS);
            match key? {
                b"x" => Some(99),
                key => Some(i32::from(key[0] - b'0')),
            }
        }
    }

    #[tokio::test]
    async fn a_custom_partitioner_decides_and_an_explicit_partition_beats_it() {
        let (bootstrap, topic) = fresh_topic("custom", PARTITIONS).await;
        let custom = Arc::new(ByFirstDigit {
            calls: AtomicUsize::new(0),
        });
        let mut config = producer_config(&bootstrap);
        config.partitioner = PartitionerKind::Custom(custom.clone());
        let producer = Producer::new(config).await.unwrap();
        let keys = ["0a", "1b", "2c", "3d", "3e", "1f"];
        let metadata = send_all(
            &producer,
            keys.iter()
                .map(|k| ProducerRecord::new(topic.as_str(), *k).key(*k)),
        )
        .await;
        let got: Vec<i32> = metadata.iter().map(|m| m.partition).collect();
        assert_eq!(got, [0, 1, 2, 3, 3, 1], "the custom partitioner's choices");
        assert_eq!(custom.calls.load(Ordering::Relaxed), keys.len());

        // An explicit partition wins, and the partitioner is not even asked.
        let explicit = send_all(
            &producer,
            [ProducerRecord::new(topic.as_str(), "explicit")
                .key("0z")
                .partition(2)],
        )
        .await;
        assert_eq!(explicit[0].partition, 2);
        assert_eq!(custom.calls.load(Ordering::Relaxed), keys.len());

        // Keyless: the partitioner returns None, the sticky partitioner picks.
        let keyless = send_all(&producer, [ProducerRecord::new(topic.as_str(), "keyless")]).await;
        assert!((0..PARTITIONS).contains(&keyless[0].partition));

        let err = producer
            .send(ProducerRecord::new(topic.as_str(), "bad").key("x"))
            .await
            .expect_err("partition 99 of 4");
        assert!(
            matches!(
                &err,
                Error::InvalidPartition { topic: t, partition: 99, count: 4 } if *t == topic
            ),
            "{err}"
        );

        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        let mut by_value: HashMap<String, i32> = HashMap::new();
        for r in &read {
            by_value.insert(values(std::slice::from_ref(r)).remove(0), r.partition);
        }
        assert_eq!(read.len(), keys.len() + 2, "the bad record was not written");
        for (k, p) in keys.iter().zip(&got) {
            assert_eq!(by_value[*k], *p, "consumed partition of {k}");
        }
        assert_eq!(by_value["explicit"], 2);
    }

    #[tokio::test]
    async fn an_explicit_partition_beats_the_key_hash() {
        let (bootstrap, topic) = fresh_topic("explicit", PARTITIONS).await;
        let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
        let key = "customer-1";
        let hashed = partition_for_key(key.as_bytes(), PARTITIONS);
        let other = (hashed + 1) % PARTITIONS;
        let metadata = send_all(
            &producer,
            [
                ProducerRecord::new(topic.as_str(), "hashed").key(key),
                ProducerRecord::new(topic.as_str(), "explicit")
                    .key(key)
                    .partition(other),
            ],
        )
        .await;
        assert_eq!(metadata[0].partition, hashed);
        assert_eq!(metadata[1].partition, other);
        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        let explicit = read
            .iter()
            .find(|r| r.value.as_deref() == Some(b"explicit"));
        assert_eq!(explicit.map(|r| r.partition), Some(other));
    }

    #[tokio::test]
    async fn ignore_keys_spreads_one_key_like_keyless_records() {
        let (bootstrap, topic) = fresh_topic("ignorekeys", PARTITIONS).await;
        let config = ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("partitioner.ignore.keys", "true"),
            ("batch.size", "1000"),
        ])
        .unwrap();
        let producer = Producer::new(config).await.unwrap();
        let metadata = send_all(
            &producer,
            (0..400)
                .map(|i| ProducerRecord::new(topic.as_str(), format!("{i:0>100}")).key("one-key")),
        )
        .await;
        let counts = per_partition(&metadata);
        assert!(
            counts.len() >= 3,
            "one key hashes to one partition; ignoring it spreads the records: {counts:?}"
        );
        let read = read_all(&bootstrap, &topic, PARTITIONS).await;
        assert_eq!(read.len(), 400);
        assert!(
            read.iter().all(|r| r.key.as_deref() == Some(b"one-key")),
            "keys kept"
        );
    }
}

/// `metadata.max.age.ms`: a periodic refresh notices a topic recreated with more partitions.
mod metadata_age {
    use crate::support::*;
    use kafkit::{Admin, Error, NewTopic, Producer, ProducerRecord};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_topic_recreated_with_more_partitions_is_noticed_after_max_age() {
        let bootstrap = bootstrap().await;
        let topic = topic("maxage");
        let admin = create_topic(&bootstrap, &topic, 1).await;
        let mut config = producer_config(&bootstrap);
        config.client.metadata_max_age = Duration::from_millis(500);
        let producer = Producer::new(config).await.unwrap();
        // A control producer with the default age (5 minutes) that never refreshes here.
        let stale = Producer::new(producer_config(&bootstrap)).await.unwrap();
        for p in [&producer, &stale] {
            send_all(p, [ProducerRecord::new(topic.as_str(), "old")]).await;
        }

        admin.delete_topics([&topic]).await.unwrap();
        recreate(&admin, &topic, 4).await;

        let started = Instant::now();
        let delivered = loop {
            match producer
                .send(ProducerRecord::new(topic.as_str(), "new-3").partition(3))
                .await
            {
                Ok(delivery) => break delivery.await.expect("delivered to partition 3"),
                Err(Error::InvalidPartition { count: 1, .. })
                    if started.elapsed() < Duration::from_secs(10) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("partition 3 not usable after {:?}: {e}", started.elapsed()),
            }
        };
        assert_eq!((delivered.partition, delivered.offset), (3, 0));
        // Partition 0 of the new topic works too (fresh sequence numbers for the new log).
        let zero = send_all(
            &producer,
            [ProducerRecord::new(topic.as_str(), "new-0").partition(0)],
        )
        .await;
        assert_eq!(
            zero[0].offset, 0,
            "the recreated topic's partition 0 is empty"
        );

        let err = stale
            .send(ProducerRecord::new(topic.as_str(), "stale").partition(3))
            .await
            .expect_err("the 5-minute cache still says 1 partition");
        assert!(
            matches!(err, Error::InvalidPartition { count: 1, .. }),
            "{err}"
        );
        assert_eq!(
            values(&read_all(&bootstrap, &topic, 4).await),
            ["new-0", "new-3"]
        );
    }

    /// Creates `topic` again once its deletion has gone through.
    async fn recreate(admin: &Admin, topic: &str, partitions: i32) {
        let started = Instant::now();
        loop {
            match admin
                .create_topics([NewTopic::new(topic, partitions, 1)])
                .await
            {
                Ok(()) => break,
                // TOPIC_ALREADY_EXISTS while the deletion is still going on.
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("cannot recreate {topic}: {e}"),
            }
        }
        let listed = admin.list_topics().await.unwrap();
        let mine = listed.iter().find(|t| t.name == topic).expect("recreated");
        assert_eq!(mine.partitions.len(), partitions as usize);
    }
}

/// `close(timeout)`, sends after close, and dropped `Delivery` handles.
mod closing {
    use crate::support::*;
    use kafkit::{Error, Producer, ProducerRecord};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn close_drains_the_queue_without_waiting_for_linger() {
        let (bootstrap, topic) = fresh_topic("close", 2).await;
        let mut config = producer_config(&bootstrap);
        config.linger = Duration::from_secs(30);
        let producer = Producer::new(config).await.unwrap();
        let mut deliveries = Vec::new();
        for i in 0..50 {
            let record = ProducerRecord::new(topic.as_str(), format!("{i}")).partition(i % 2);
            deliveries.push(producer.send(record).await.unwrap());
        }
        let started = Instant::now();
        let abandoned = producer.close(Duration::from_secs(10)).await;
        assert_eq!(abandoned, 0, "everything was delivered in time");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "close sends at once instead of lingering 30 s: {:?}",
            started.elapsed()
        );
        for (i, delivery) in deliveries.into_iter().enumerate() {
            let m = delivery.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
            assert_eq!((m.partition, m.offset), (i as i32 % 2, i as i64 / 2));
        }

        let err = producer
            .send(ProducerRecord::new(topic.as_str(), "late"))
            .await
            .expect_err("send after close");
        assert!(matches!(err, Error::Closed), "{err}");
        let err = producer
            .try_send(ProducerRecord::new(topic.as_str(), "late"))
            .await
            .expect_err("try_send after close");
        assert!(matches!(err, Error::Closed), "{err}");
        assert_eq!(
            producer.close(Duration::from_secs(1)).await,
            0,
            "closing twice"
        );
        assert_eq!(read_all(&bootstrap, &topic, 2).await.len(), 50, "no 'late'");
    }

    #[tokio::test]
    async fn dropping_a_delivery_does_not_cancel_the_send() {
        let (bootstrap, topic) = fresh_topic("dropdelivery", 1).await;
        let mut config = producer_config(&bootstrap);
        config.linger = Duration::from_millis(100);
        let producer = Producer::new(config).await.unwrap();
        for i in 0..5 {
            drop(
                producer
                    .send(ProducerRecord::new(topic.as_str(), format!("dropped-{i}")))
                    .await
                    .unwrap(),
            );
        }
        let kept = producer
            .send(ProducerRecord::new(topic.as_str(), "kept"))
            .await
            .unwrap();
        producer.flush().await;
        assert_eq!(kept.await.unwrap().offset, 5);
        assert_eq!(producer.metrics().records_sent, 6);
        assert_eq!(
            values(&read_all(&bootstrap, &topic, 1).await),
            [
                "dropped-0",
                "dropped-1",
                "dropped-2",
                "dropped-3",
                "dropped-4",
                "kept"
            ]
        );
    }
}
