//! Producer futures dropped before they finish (a timeout around them) leave nothing behind.

use crate::producer_flush::{assert_lingering, lingering, producer_for_new_topic};
use crate::support::*;
use kafkit::{Producer, ProducerRecord};
use std::time::Duration;

/// A flush whose future is dropped before it returns (a timeout around it) ends there: later
/// batches wait for `linger.ms` again instead of being hurried out for good.
#[tokio::test]
async fn a_flush_given_up_on_leaves_linger_in_force() {
    let (producer, topic) = producer_for_new_topic("flush_dropped", 2, lingering).await;
    let first = producer
        .send(ProducerRecord::new(topic.as_str(), "first").partition(0))
        .await
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::ZERO, producer.flush()).await;
    assert!(gave_up.is_err(), "the flush had to wait for the broker");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let later = producer
        .send(ProducerRecord::new(topic.as_str(), "later").partition(1))
        .await
        .unwrap();
    assert_lingering(
        later,
        "a batch after the abandoned flush was sent before linger.ms",
    )
    .await;
    drop(first);
    producer.close(Duration::ZERO).await;
}

/// A send dropped while it waits for `buffer.memory` leaves no record counted as
/// outstanding: once the rest is settled the producer has nothing left to deliver.
#[tokio::test]
async fn a_send_dropped_while_waiting_for_memory_is_not_left_outstanding() {
    let (producer, topic) = producer_for_new_topic("send_dropped", 2, |config| {
        lingering(config);
        config.batch_size = 16_384;
        // After the first batch's reservation, more than batch.size stays free (so nothing
        // hurries it out), but not enough for the large record.
        config.buffer_memory = 40_000;
        config.max_request_size = 40_000;
    })
    .await;
    let first = producer
        .send(ProducerRecord::new(topic.as_str(), "small").partition(0))
        .await
        .unwrap();
    let large = ProducerRecord::new(topic.as_str(), vec![7u8; 30_000]).partition(1);
    let waiting = tokio::time::timeout(Duration::ZERO, producer.send(large)).await;
    assert!(waiting.is_err(), "the large record had to wait for memory");
    assert_eq!(producer.close(Duration::from_secs(30)).await, 0);
    assert!(first.await.is_ok());
    let debug = format!("{producer:?}");
    assert!(debug.contains("outstanding: 0"), "{debug}");
}

/// A send still waiting for its topic's metadata when `close` runs is not stranded: the
/// producer keeps delivering until it is settled, so its `Delivery` resolves.
#[tokio::test]
async fn a_send_caught_by_close_while_waiting_for_metadata_still_resolves() {
    let bootstrap = bootstrap().await;
    let topic = topic("send_during_close");
    let mut config = producer_config(&bootstrap);
    config.client.allow_auto_create_topics = false;
    let producer = Producer::new(config).await.unwrap();
    let send = tokio::spawn({
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            producer
                .send(ProducerRecord::new(topic.as_str(), "caught"))
                .await
        }
    });
    // The topic does not exist yet: the send waits for it (up to max.block.ms).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        producer.close(Duration::ZERO).await,
        0,
        "nothing was queued"
    );
    // Long enough for the sender task to have stopped, were it going to.
    tokio::time::sleep(Duration::from_millis(500)).await;
    create_topic(&bootstrap, &topic, 1).await;
    let delivery = send
        .await
        .unwrap()
        .expect("the send was under way before close");
    let outcome = tokio::time::timeout(Duration::from_secs(30), delivery)
        .await
        .expect("the record was left in a batch nobody sends");
    assert!(outcome.is_ok(), "{outcome:?}");
}
