//! Records whose fate the broker has not told: a broker frozen (SIGSTOP) mid-request neither
//! reads nor answers. `send`, `flush` and `close` must still end (by `request.timeout.ms` and
//! `delivery.timeout.ms`), and a record that may have been written must say so
//! (`Error::is_outcome_unknown`), while later records stay exactly once and in order.

use crate::support::*;
use kafkit::{Acks, Error, Producer, ProducerConfig, ProducerRecord};
use std::time::{Duration, Instant};

/// Settings that notice a frozen broker within seconds.
fn impatient(bootstrap: &str, delivery_timeout: Duration) -> ProducerConfig {
    let mut config = producer_config(bootstrap);
    config.linger = Duration::ZERO;
    config.client.request_timeout = Duration::from_secs(2);
    config.client.connect_timeout = Duration::from_secs(2);
    config.delivery_timeout = delivery_timeout;
    config
}

/// With `acks=0` the producer waits for nothing but the write; against a broker that stopped
/// reading, the write itself must time out. Megabyte records fill the socket buffers, so a
/// write blocks: it fails after `request.timeout.ms`, saying the record may have been
/// written, and what waited behind it fails at `delivery.timeout.ms`. Before, the write
/// waited forever, and so did `flush`.
#[tokio::test]
async fn acks_0_writes_to_a_broker_that_stopped_reading_time_out() {
    let broker = Broker::start().await;
    let topic = broker.create_topic("acks0_frozen", 1).await;
    let mut config = impatient(&broker.bootstrap, Duration::from_secs(6));
    config.acks = Acks::Zero;
    config.enable_idempotence = false;
    config.batch_size = 1 << 20;
    config.max_request_size = 2 << 20;
    config.buffer_memory = 64 << 20;
    let producer = Producer::new(config).await.unwrap();
    // Opens the produce connection, so the records below are written to the broker's socket.
    send_all(&producer, [ProducerRecord::new(topic.as_str(), "warm-up")]).await;

    broker.pause(0).await;
    let mut deliveries = Vec::new();
    for i in 0..24 {
        let record = ProducerRecord::new(topic.as_str(), vec![b'0' + i as u8; 1_000_000]);
        deliveries.push(producer.send(record).await.expect("buffer.memory has room"));
    }
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), producer.flush())
        .await
        .expect("flush ends once delivery.timeout.ms has passed");
    let mut unknown = 0;
    for (i, delivery) in deliveries.into_iter().enumerate() {
        match delivery.await {
            Ok(m) => assert_eq!(m.offset, -1, "record {i}: acks=0 has no offset"),
            Err(e) if e.is_outcome_unknown() => unknown += 1,
            Err(Error::DeliveryTimeout(_)) => {}
            Err(e) => panic!("record {i}: {e}"),
        }
    }
    assert!(
        unknown >= 1,
        "the write that blocked failed, saying it may have been written"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let closing = Instant::now();
    producer.close(Duration::from_secs(5)).await;
    assert!(closing.elapsed() < Duration::from_secs(6));
    broker.resume(0).await;
}

/// An idempotent batch sent to a broker that then froze: its outcome is unknown, and no
/// attempt can reach the broker. It fails at `delivery.timeout.ms` (KIP-91) with
/// `OutcomeUnknown`, so `flush` returns; the producer bumps its epoch, so when the broker
/// wakes and writes that batch from its socket buffer, the records sent after it are still
/// written once each, after it. Before, the batch was retried until the broker answered,
/// and `flush` waited as long.
#[tokio::test]
async fn an_unknown_outcome_fails_at_delivery_timeout_and_later_records_stay_exactly_once() {
    let broker = Broker::start().await;
    let topic = broker.create_topic("unknown_expires", 1).await;
    let delivery_timeout = Duration::from_secs(5);
    let producer = Producer::new(impatient(&broker.bootstrap, delivery_timeout))
        .await
        .unwrap();
    send_all(&producer, [ProducerRecord::new(topic.as_str(), "before")]).await;

    broker.pause(0).await;
    let started = Instant::now();
    let unknown = producer
        .send(ProducerRecord::new(topic.as_str(), "unknown"))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(15), producer.flush())
        .await
        .expect("flush ends by delivery.timeout.ms, though the broker never answered");
    let err = unknown.await.expect_err("the broker never answered");
    assert!(
        matches!(&err, Error::OutcomeUnknown { reason } if matches!(**reason, Error::DeliveryTimeout(t) if t == delivery_timeout)),
        "{err}"
    );
    assert!(err.is_outcome_unknown() && !err.is_retriable());
    assert!(started.elapsed() >= delivery_timeout);
    broker.resume(0).await;

    let after: Vec<String> = (0..10).map(|i| format!("after-{i}")).collect();
    let written = send_all(
        &producer,
        after
            .iter()
            .map(|v| ProducerRecord::new(topic.as_str(), v.clone())),
    )
    .await;
    assert!(written.windows(2).all(|w| w[1].offset == w[0].offset + 1));
    let log = values(&read_all(&broker.bootstrap, &topic, 1).await);
    let expected: Vec<String> = ["before"]
        .into_iter()
        .chain(log.get(1).filter(|v| *v == "unknown").map(String::as_str))
        .map(String::from)
        .chain(after)
        .collect();
    assert_eq!(
        log, expected,
        "the record of unknown outcome at most once, before the later ones, each once"
    );
}

/// `close` past its timeout fails what is left: a record never sent says it was not
/// written (`Closed`); one sent to the broker before it froze says it may have been
/// (`OutcomeUnknown` wrapping `Closed`). Before, the latter also said `Closed` (or, retried
/// until the broker answered, did not resolve at all).
#[tokio::test]
async fn close_past_its_timeout_says_which_records_may_be_written() {
    let broker = Broker::start().await;
    let topic = broker.create_topic("close_unknown", 1).await;
    let mut config = impatient(&broker.bootstrap, Duration::from_secs(120));
    // One batch of the partition in flight, so that the second record waits unsent (with
    // more, it would be sent too, and say it may have been written).
    config.max_in_flight_requests_per_connection = 1;
    let producer = Producer::new(config).await.unwrap();
    send_all(&producer, [ProducerRecord::new(topic.as_str(), "warm-up")]).await;

    broker.pause(0).await;
    let sent = producer
        .send(ProducerRecord::new(topic.as_str(), "sent"))
        .await
        .unwrap();
    // Once the sender has taken the first record's batch (the partition's one in flight),
    // the next record waits in a batch of its own behind it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = producer
        .send(ProducerRecord::new(topic.as_str(), "waiting"))
        .await
        .unwrap();
    // The request times out (request.timeout.ms is 2 s): the first record's outcome is
    // unknown from then on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let failed = producer.close(Duration::from_secs(1)).await;
    assert!(failed >= 1, "at least the waiting record failed: {failed}");
    let (sent, waiting) = tokio::time::timeout(Duration::from_secs(10), async {
        (sent.await, waiting.await)
    })
    .await
    .expect("every record resolves once close has given up");
    let err = sent.expect_err("never answered");
    assert!(
        matches!(&err, Error::OutcomeUnknown { reason } if matches!(**reason, Error::Closed)),
        "{err}"
    );
    let err = waiting.expect_err("never sent");
    assert!(
        matches!(err, Error::Closed) && !err.is_outcome_unknown(),
        "{err}"
    );
    broker.resume(0).await;
}
