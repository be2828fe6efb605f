//! `Producer::flush` against a real broker: what it waits for, and what it does not.

use crate::common::*;
use futures::FutureExt;
use kafkit::{Producer, ProducerRecord};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Far beyond anything these tests wait for, so only a flush sends a batch.
const LONG_LINGER: Duration = Duration::from_secs(600);
/// Bounds each wait, so a flush that never returns fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn lingering_producer_config(bootstrap: &str) -> kafkit::ProducerConfig {
    let mut config = producer_config(bootstrap);
    config.linger = LONG_LINGER;
    config.delivery_timeout = LONG_LINGER + Duration::from_secs(60);
    config
}

/// When `flush` returns, every record sent before it is settled: no `Delivery` is pending.
/// The batches would otherwise linger for ten minutes.
#[tokio::test]
async fn flush_settles_every_record_sent_before_it() {
    let bootstrap = bootstrap().await;
    let topic = topic("flush_settles");
    create_topic(&bootstrap, &topic, 3).await;
    let producer = Producer::new(lingering_producer_config(&bootstrap))
        .await
        .unwrap();
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        lingering.now_or_never().is_none(),
        "without a flush the batch waits for linger.ms"
    );
    producer.close(Duration::ZERO).await;
}

/// Another task sending without pause cannot keep a flush waiting: it waits for the records
/// sent before it, not for those sent while it waits.
#[tokio::test]
async fn a_steady_stream_of_sends_does_not_hold_a_flush() {
    let bootstrap = bootstrap().await;
    let topic = topic("flush_stream");
    create_topic(&bootstrap, &topic, 1).await;
    let mut config = producer_config(&bootstrap);
    config.linger = Duration::ZERO;
    let producer = Producer::new(config).await.unwrap();
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
