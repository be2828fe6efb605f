//! `Producer::flush` against a real broker: what it waits for, and what it does not.

use crate::support::*;
use futures::FutureExt;
use kafkit::{Delivery, Producer, ProducerConfig, ProducerRecord};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bounds each wait, so a flush that never returns fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A new topic of `partitions` partitions, and a producer with the settings `configure` makes.
pub async fn producer_for_new_topic(
    prefix: &str,
    partitions: i32,
    configure: impl FnOnce(&mut ProducerConfig),
) -> (Producer, String) {
    let (bootstrap, topic) = fresh_topic(prefix, partitions).await;
    let mut config = producer_config(&bootstrap);
    configure(&mut config);
    (Producer::new(config).await.unwrap(), topic)
}

/// Batches linger for ten minutes, far beyond anything these tests wait for, so only a flush
/// (or close) sends them.
pub fn lingering(config: &mut ProducerConfig) {
    config.linger = Duration::from_secs(600);
    config.delivery_timeout = config.linger + Duration::from_secs(60);
}

/// Asserts that a record's batch is still lingering half a second after it was sent.
pub async fn assert_lingering(delivery: Delivery, why: &str) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(delivery.now_or_never().is_none(), "{why}");
}

/// When `flush` returns, every record sent before it is settled: no `Delivery` is pending.
/// The batches would otherwise linger for ten minutes.
#[tokio::test]
async fn flush_settles_every_record_sent_before_it() {
    let (producer, topic) = producer_for_new_topic("flush_settles", 3, lingering).await;
    let mut deliveries = Vec::new();
    for i in 0..300 {
        let record = ProducerRecord::new(topic.as_str(), format!("v{i}")).partition(i % 3);
        deliveries.push(producer.send(record).await.unwrap());
    }
    tokio::time::timeout(HANG_GUARD, producer.flush())
        .await
        .expect("flush sends lingering batches at once");
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let outcome = delivery
            .now_or_never()
            .unwrap_or_else(|| panic!("record {i} was still pending after flush"));
        assert!(outcome.is_ok(), "record {i}: {outcome:?}");
    }
    // Flushing with nothing outstanding returns at once, and linger.ms applies again after.
    producer.flush().await;
    let lingering = producer
        .send(ProducerRecord::new(topic.as_str(), "later"))
        .await
        .unwrap();
    assert_lingering(lingering, "without a flush the batch waits for linger.ms").await;
    producer.close(Duration::ZERO).await;
}

/// Another task sending without pause cannot keep a flush waiting: it waits for the records
/// sent before it, not for those sent while it waits.
#[tokio::test]
async fn a_steady_stream_of_sends_does_not_hold_a_flush() {
    let (producer, topic) =
        producer_for_new_topic("flush_stream", 1, |c| c.linger = Duration::ZERO).await;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn({
        let (producer, topic, stop, sent) =
            (producer.clone(), topic.clone(), stop.clone(), sent.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let record = ProducerRecord::new(topic.as_str(), "stream");
                producer.send_with_callback(record, |_| {}).await.unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    while sent.load(Ordering::Relaxed) < 1_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = producer
        .send(ProducerRecord::new(topic.as_str(), "before"))
        .await
        .unwrap();
    let flushed = tokio::time::timeout(HANG_GUARD, producer.flush()).await;
    stop.store(true, Ordering::Relaxed);
    stream.await.unwrap();
    assert!(
        flushed.is_ok(),
        "flush was still waiting after {HANG_GUARD:?} of other sends"
    );
    assert!(before.now_or_never().is_some_and(|o| o.is_ok()));
    producer.close(HANG_GUARD).await;
}
