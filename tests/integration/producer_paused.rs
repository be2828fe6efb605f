//! Producer settings that only show while the broker does not answer: `buffer.memory`,
//! `max.block.ms`, `try_send`, `delivery.timeout.ms`, `request.timeout.ms` and `retries`.
//! Each test freezes a dedicated single-node broker with SIGSTOP (`KafkaCluster::pause`).

use crate::support::*;
use kafkit::{Error, Producer, ProducerConfig, ProducerRecord};
use std::time::{Duration, Instant};

/// `buffer.memory` fills while the broker is frozen: `send` waits `max.block.ms` and fails
/// with `BufferFull`, `try_send` fails at once, and what was queued is delivered on resume.
#[tokio::test]
async fn a_full_buffer_blocks_send_for_max_block_and_fails_try_send_at_once() {
    let broker = Broker::start().await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("buffer", 1).await;
    let max_block = Duration::from_secs(1);
    let mut config = producer_config(&bootstrap);
    config.buffer_memory = 4096;
    config.batch_size = 1024;
    config.max_request_size = 4096;
    config.linger = Duration::ZERO;
    config.max_block = max_block;
    let producer = Producer::new(config).await.unwrap();
    let warm_up = send_all(&producer, [ProducerRecord::new(topic.as_str(), "warm-up")]).await;
    assert_eq!(warm_up[0].offset, 0);

    broker.pause(0).await;
    let value = |i: usize| format!("{i:0>200}");
    let mut deliveries = Vec::new();
    let mut blocked = None;
    for i in 0..100 {
        let started = Instant::now();
        match producer
            .send(ProducerRecord::new(topic.as_str(), value(i)))
            .await
        {
            Ok(delivery) => deliveries.push(delivery),
            Err(e) => {
                blocked = Some((e, started.elapsed()));
                break;
            }
        }
    }
    let (err, waited) = blocked.expect("4096 bytes of buffer.memory fill up");
    assert!(
        matches!(err, Error::BufferFull { limit: 4096, .. }),
        "{err}"
    );
    assert!(
        waited >= max_block && waited < max_block + Duration::from_millis(1500),
        "send waited max.block.ms=1s for room, not {waited:?}"
    );
    assert!(
        deliveries.len() >= 6,
        "four 1024-byte batches of ~270-byte records held {} records",
        deliveries.len()
    );
    let m = producer.metrics();
    assert!(
        m.buffer_in_use > 4096 - 1024 && m.buffer_limit == 4096,
        "no room for another batch: {m:?}"
    );

    let started = Instant::now();
    let err = producer
        .try_send(ProducerRecord::new(topic.as_str(), value(1000)))
        .await
        .expect_err("try_send with a full buffer");
    assert!(matches!(err, Error::BufferFull { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "try_send does not wait: {:?}",
        started.elapsed()
    );

    broker.resume(0).await;
    tokio::time::timeout(Duration::from_secs(30), producer.flush())
        .await
        .expect("the queue drains after resume");
    let queued = deliveries.len();
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let m = delivery
            .await
            .unwrap_or_else(|e| panic!("queued record {i} not delivered: {e}"));
        assert_eq!(m.offset, i as i64 + 1, "record {i}");
    }
    let mut expected = vec!["warm-up".to_string()];
    expected.extend((0..queued).map(value));
    assert_eq!(
        values(&read_all(&bootstrap, &topic, 1).await),
        expected,
        "the queued records, in order; not the rejected ones"
    );
}

/// Records that never left the producer fail with `DeliveryTimeout` after
/// `delivery.timeout.ms`, and are not in the log.
#[tokio::test]
async fn records_never_sent_fail_with_delivery_timeout_and_are_absent() {
    let broker = Broker::start().await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("deliverytimeout", 1).await;
    let delivery_timeout = Duration::from_secs(3);
    let mut config = producer_config(&bootstrap);
    config.linger = Duration::ZERO;
    config.client.request_timeout = Duration::from_secs(1);
    config.client.connect_timeout = Duration::from_secs(1);
    config.delivery_timeout = delivery_timeout;
    let producer = Producer::new(config).await.unwrap();
    // Caches the topic's metadata without producing: no produce connection is open, so
    // during the pause no record can reach the broker's socket.
    let err = producer
        .send(ProducerRecord::new(topic.as_str(), "nowhere").partition(5))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::InvalidPartition { count: 1, .. }),
        "{err}"
    );

    broker.pause(0).await;
    let started = Instant::now();
    let mut deliveries = Vec::new();
    for i in 0..5 {
        let record = ProducerRecord::new(topic.as_str(), format!("lost-{i}"));
        deliveries.push(producer.send(record).await.expect("metadata is cached"));
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let err = delivery.await.expect_err("no broker answered");
        assert!(
            matches!(err, Error::DeliveryTimeout(t) if t == delivery_timeout),
            "record {i}: {err}"
        );
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= delivery_timeout && elapsed < delivery_timeout + Duration::from_secs(4),
        "failed after delivery.timeout.ms=3s, not {elapsed:?}"
    );
    let m = producer.metrics();
    assert_eq!((m.errors, m.records_sent), (5, 0), "{m:?}");

    broker.resume(0).await;
    let after = tokio::time::timeout(
        Duration::from_secs(30),
        send_all(&producer, [ProducerRecord::new(topic.as_str(), "after")]),
    )
    .await
    .expect("delivered after resume");
    assert_eq!(
        after[0].offset, 0,
        "none of the timed-out records was written"
    );
    assert_eq!(values(&read_all(&bootstrap, &topic, 1).await), ["after"]);
}

/// A produce request the broker never answers: with `retries=0` (idempotence off) it fails
/// with `RequestTimeout` after `request.timeout.ms` and is not retried; with retries it is
/// retried until `delivery.timeout.ms`.
#[tokio::test]
async fn request_timeout_with_retries_0_fails_without_a_retry() {
    let broker = Broker::start().await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("requesttimeout", 1).await;
    let config = |retries: Option<&str>| {
        let mut properties = vec![
            ("bootstrap.servers", bootstrap.as_str()),
            ("enable.idempotence", "false"),
            ("linger.ms", "0"),
            ("request.timeout.ms", "1000"),
            ("socket.connection.setup.timeout.ms", "1000"),
            ("delivery.timeout.ms", "5000"),
        ];
        properties.extend(retries.map(|r| ("retries", r)));
        ProducerConfig::from_properties(properties).unwrap()
    };
    let no_retries = Producer::new(config(Some("0"))).await.unwrap();
    let retrying = Producer::new(config(None)).await.unwrap();
    // Open both produce connections, so the records below are written to the socket.
    for producer in [&no_retries, &retrying] {
        send_all(producer, [ProducerRecord::new(topic.as_str(), "warm-up")]).await;
    }

    broker.pause(0).await;
    let timed = |producer: Producer, value: &'static str| {
        let topic = topic.clone();
        async move {
            let started = Instant::now();
            let delivery = producer.send(ProducerRecord::new(topic, value)).await;
            let outcome = delivery.expect("metadata is cached").await;
            (outcome, started.elapsed(), producer.metrics())
        }
    };
    let ((once, once_after, once_metrics), (again, again_after, again_metrics)) = tokio::join!(
        timed(no_retries.clone(), "no-retries"),
        timed(retrying.clone(), "retrying")
    );
    broker.resume(0).await;

    let err = once.expect_err("no answer from a frozen broker");
    assert!(
        matches!(
            err,
            Error::RequestTimeout {
                api: "Produce",
                timeout,
                ..
            } if timeout == Duration::from_secs(1)
        ),
        "retries=0: the request's own error, {err}"
    );
    assert!(err.is_retriable() && err.is_outcome_unknown());
    assert!(
        once_after >= Duration::from_secs(1) && once_after < Duration::from_secs(3),
        "failed after request.timeout.ms=1s, not {once_after:?}"
    );
    assert_eq!(once_metrics.retries, 0, "retries=0: {once_metrics:?}");
    assert_eq!(once_metrics.errors, 1, "{once_metrics:?}");

    let err = again.expect_err("no answer from a frozen broker");
    // The request was sent and never answered: it may have been written.
    assert!(
        matches!(&err, Error::OutcomeUnknown { reason }
            if matches!(**reason, Error::DeliveryTimeout(t) if t == Duration::from_secs(5))),
        "with retries: {err}"
    );
    assert!(
        again_after >= Duration::from_secs(5) && again_after < Duration::from_secs(9),
        "retried until delivery.timeout.ms=5s, not {again_after:?}"
    );
    assert!(again_metrics.retries >= 1, "{again_metrics:?}");
}
