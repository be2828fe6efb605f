use crate::support::*;
use kafka_protocol::messages::ApiKey;
use kafkit::{Admin, ClientConfig, Error, ErrorCode, Producer, ProducerConfig, ProducerRecord};
use kafkit_testkit::{FakeBroker, Reply};
use std::time::Duration;

#[tokio::test]
async fn empty_and_malformed_bootstrap_lists_are_config_errors() {
    for bad in [
        "",
        " , ",
        "localhost",
        "localhost:",
        ":9092",
        "localhost:99999",
        "localhost:0",
        "host:port",
    ] {
        let err = Admin::new(ClientConfig::new(bad))
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(matches!(err, Error::Config(_)), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn unreachable_brokers_fail_within_the_timeout_naming_every_address() {
    let mut config = ClientConfig::new("127.0.0.1:1,127.0.0.1:2");
    config.connect_timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let err = Admin::new(config).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    match &err {
        Error::NoBrokerReachable { attempts } => {
            let addrs: Vec<&str> = attempts.iter().map(|(a, _)| a.as_str()).collect();
            assert_eq!(addrs, ["127.0.0.1:1", "127.0.0.1:2"]);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("127.0.0.1:2"));
}

#[tokio::test]
async fn invalid_topic_names_are_rejected_before_sending() {
    let bootstrap = bootstrap().await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let long = "x".repeat(250);
    for bad in [
        "",
        ".",
        "..",
        long.as_str(),
        "has space",
        "slash/no",
        "ünïcode",
    ] {
        let err = producer
            .send(ProducerRecord::new(bad, "v"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(matches!(err, Error::InvalidTopic { .. }), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn a_record_over_max_request_size_fails_alone() {
    let (bootstrap, topic) = fresh_topic("toolarge", 1).await;
    let mut config = producer_config(&bootstrap);
    config.max_request_size = 10_000;
    let producer = Producer::new(config).await.unwrap();
    let before = producer
        .send(ProducerRecord::new(topic.as_str(), "small"))
        .await
        .unwrap();
    let err = producer
        .send(ProducerRecord::new(topic.as_str(), vec![0u8; 20_000]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::RecordTooLarge { max: 10_000, .. }),
        "{err}"
    );
    assert!(!err.is_retriable());
    let after = producer
        .send(ProducerRecord::new(topic.as_str(), "small"))
        .await
        .unwrap();
    producer.flush().await;
    assert_eq!(before.await.unwrap().offset, 0);
    assert_eq!(after.await.unwrap().offset, 1);
}

#[tokio::test]
async fn an_unknown_topic_with_auto_creation_off_is_a_typed_error() {
    let bootstrap = bootstrap().await;
    let mut config = producer_config(&bootstrap);
    config.client.allow_auto_create_topics = false;
    config.max_block = Duration::from_secs(2);
    let producer = Producer::new(config).await.unwrap();
    let err = producer
        .send(ProducerRecord::new(topic("missing"), "v"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
}

#[tokio::test]
async fn a_partition_the_topic_lacks_is_a_typed_error() {
    let (bootstrap, topic) = fresh_topic("nopart", 2).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let err = producer
        .send(ProducerRecord::new(topic.as_str(), "v").partition(7))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::InvalidPartition {
                partition: 7,
                count: 2,
                ..
            }
        ),
        "{err}"
    );
}

/// A broker that answers the handshake with bytes that do not decode.
#[tokio::test]
async fn a_response_that_does_not_decode_is_a_protocol_error() {
    let broker = FakeBroker::start().await.unwrap();
    broker.script(ApiKey::ApiVersions, |req| {
        Reply::Raw(req.frame(&[0x00, 0xff, 0xff]))
    });
    let err = Admin::new(ClientConfig::new(broker.bootstrap()))
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::NoBrokerReachable { attempts } if attempts[0].1.contains("malformed")),
        "{text}"
    );
}

/// A Produce answer that does not decode arrives after the broker handled the request: its
/// records fail saying they may have been written, not as if they were refused (with
/// idempotence, and without it).
#[tokio::test]
async fn a_produce_response_that_does_not_decode_leaves_the_outcome_unknown() {
    for idempotence in [true, false] {
        let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
        broker.script(ApiKey::Produce, |req| {
            Reply::Raw(req.frame(&[0x00, 0xff, 0xff]))
        });
        let mut config = producer_config(&broker.bootstrap());
        config.enable_idempotence = idempotence;
        config.client.request_timeout = Duration::from_secs(2);
        config.delivery_timeout = Duration::from_secs(5);
        let producer = Producer::new(config).await.unwrap();
        let delivery = producer.send(ProducerRecord::new("t", "v")).await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(30), delivery)
            .await
            .expect("resolved")
            .err()
            .unwrap();
        assert!(
            err.is_outcome_unknown(),
            "idempotence {idempotence}: {err} ({err:?})"
        );
    }
}

#[tokio::test]
async fn invalid_producer_settings_say_what_to_change() {
    let err = ProducerConfig::from_properties([
        ("bootstrap.servers", "localhost:9092"),
        ("enable.idempotence", "true"),
        ("acks", "1"),
    ])
    .err()
    .unwrap();
    assert!(err.to_string().contains("acks"), "{err}");
    let err = ProducerConfig::from_properties([("bootstrap.servers", "x:1"), ("no.such.key", "1")])
        .err()
        .unwrap();
    assert!(err.to_string().contains("no.such.key"), "{err}");
}
