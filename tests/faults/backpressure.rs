//! `buffer.memory` backpressure with the broker frozen (SIGSTOP).
//!
//! Nothing is acknowledged while the broker is frozen, so every batch stays reserved. The
//! producer must stop taking records once the budget is spent: `send` waits (up to
//! `max.block.ms`), `try_send` fails at once with `BufferFull`, and the bytes reserved never
//! exceed the budget. When the broker wakes, the waiting sends go through and every record
//! arrives once, in order.

use crate::common::{assert_delivered_once, producer_config, Load, Tracker, PARTITIONS};
use crate::support::{log, Broker, HEAVY};
use kafkit::{Error, Producer, ProducerRecord};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const BUFFER_MEMORY: usize = 1024 * 1024;
/// One batch's reservation (`batch.size`, the default 16 KiB): the most a reservation taken
/// just as another is returned could overshoot by in a racy snapshot.
const SLACK: usize = 16 * 1024;
const WARM_UP: usize = 100;
/// ~3.5 MiB of records: more than three budgets.
const RECORDS: usize = 30_000;
const VALUE_LEN: usize = 100;
/// How long the broker stays frozen before the checks (more than the 5 s request timeout,
/// so in-flight requests time out and are retried into the frozen broker too).
const FROZEN: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_broker_blocks_send_within_buffer_memory() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start().await;
    let topic = broker.create_topic("faults-backpressure", PARTITIONS).await;
    let run = kafkit_testkit::unique_name("b");
    let mut config = producer_config(&broker.bootstrap, true);
    config.buffer_memory = BUFFER_MEMORY;
    config.max_block = Duration::from_secs(60);
    let producer = Producer::new(config).await.expect("producer");
    let tracker = Tracker::new();
    let sent = Arc::new(AtomicUsize::new(0));

    // Warm up while the broker is awake, so the topic's metadata is cached and `send` can
    // only wait for memory once it is frozen.
    let load = Load {
        producer: &producer,
        topic: &topic,
        run: &run,
        len: VALUE_LEN,
        rate: None,
    };
    load.send(0..WARM_UP, &tracker, &sent).await;
    producer.flush().await;
    assert_eq!(
        producer.metrics().buffer_limit,
        BUFFER_MEMORY,
        "metrics report another budget than buffer.memory"
    );

    broker.pause(0).await;
    log(t0, "broker frozen; sending");
    let sending = {
        let producer = producer.clone();
        let (topic, run, sent) = (topic.clone(), run.clone(), sent.clone());
        tokio::spawn(async move {
            let load = Load {
                producer: &producer,
                topic: &topic,
                run: &run,
                len: VALUE_LEN,
                rate: None,
            };
            load.send(WARM_UP..WARM_UP + RECORDS, &tracker, &sent).await;
            tracker
        })
    };

    // Watch the reservation while frozen: it must fill up, and never beyond the budget.
    let mut peak = 0;
    let watch_until = Instant::now() + FROZEN;
    while Instant::now() < watch_until {
        peak = peak.max(producer.metrics().buffer_in_use);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let accepted = sent.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    peak = peak.max(producer.metrics().buffer_in_use);
    let accepted_later = sent.load(Ordering::Relaxed);
    log(
        t0,
        format!(
            "frozen {FROZEN:?}: {accepted} sends returned ({accepted_later} a second later) of {}, \
             peak buffer_in_use {peak} of {BUFFER_MEMORY}; metrics {:?}",
            WARM_UP + RECORDS,
            producer.metrics()
        ),
    );
    assert!(
        peak <= BUFFER_MEMORY + SLACK,
        "buffer_in_use peaked at {peak} bytes, over buffer.memory {BUFFER_MEMORY} (+{SLACK})"
    );
    // Otherwise the budget never came into play and `send` did not block for memory.
    assert!(
        peak >= BUFFER_MEMORY - SLACK,
        "buffer_in_use peaked at only {peak} of {BUFFER_MEMORY} bytes while the broker was frozen"
    );
    assert!(
        !sending.is_finished() && accepted < WARM_UP + RECORDS,
        "send did not block: {accepted} of {} sends returned with the broker frozen",
        WARM_UP + RECORDS
    );
    assert_eq!(
        accepted, accepted_later,
        "sends kept returning with the broker frozen and the buffer full"
    );
    // Larger than batch.size, so it cannot ride in an open batch's reserved room: it needs
    // a reservation of its own, which the spent budget cannot give.
    let probe = crate::common::value(&run, usize::MAX, 100 * 1024);
    let tried = tokio::time::timeout(
        Duration::from_secs(5),
        producer.try_send(ProducerRecord::new(
            topic.as_str(),
            probe.clone().into_bytes(),
        )),
    )
    .await
    .expect("try_send waited with the buffer full; it must fail at once");
    assert!(
        matches!(tried, Err(Error::BufferFull { .. })),
        "try_send with the buffer full: expected Err(BufferFull), got {:?}",
        tried.as_ref().map(|_| "a Delivery")
    );

    broker.resume(0).await;
    log(t0, "broker resumed");
    let tracker = tokio::time::timeout(Duration::from_secs(120), sending)
        .await
        .expect("the blocked sends did not all return within 120 s of the resume")
        .expect("the sending task panicked");
    let outcome = tracker.finish(Duration::from_secs(150)).await;
    log(
        t0,
        format!(
            "deliveries resolved: {}; metrics {:?}",
            outcome.summary(),
            producer.metrics()
        ),
    );
    // Blocking is the only thing a frozen broker may do to these sends (max.block 60 s,
    // delivery timeout 120 s): none may fail.
    assert!(
        outcome.failed.is_empty(),
        "{} of {} records failed:{}",
        outcome.failed.len(),
        WARM_UP + RECORDS,
        outcome.failures_sample()
    );
    assert_eq!(
        producer.metrics().buffer_in_use,
        0,
        "buffer memory still reserved with every record settled"
    );

    assert_delivered_once(
        t0,
        "backpressure",
        "backpressure with a frozen broker",
        &broker.bootstrap,
        &topic,
        &outcome,
    )
    .await;
}
