//! A broker SIGKILLed and restarted in the middle of a stream of sends.
//!
//! The kill lands with produce requests in flight whose outcome the producer cannot know:
//! some were written before the kill, some not. The idempotent producer resends them with
//! their original sequence numbers after the restart, and the broker (which rebuilds its
//! producer state from the log) must drop the ones it already has. Without that, the
//! checker sees duplicates; with a sequence bug, gaps or reordering.

use crate::common::{assert_clean, drain, log, producer_config, Broker, Load, Tracker, HEAVY};
use kafkit::Producer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const RECORDS: usize = 100_000;
const VALUE_LEN: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_and_duplicates_nothing() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start().await;
    let topic = broker.create_topic("faults-sigkill").await;
    let run = kafkit_testkit::unique_name("k");
    let producer = Producer::new(producer_config(&broker.bootstrap, true))
        .await
        .expect("producer");
    log(t0, "broker up, producing");

    let tracker = Tracker::new();
    let sent = Arc::new(AtomicUsize::new(0));

    // The killer waits until a third of the records are acknowledged, so the log holds a
    // written prefix and the producer has more on the way, then kills and restarts.
    let killer = {
        let cluster = broker.cluster.clone();
        let acked = tracker.acked_counter();
        let sent = sent.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while acked.load(Ordering::Relaxed) < RECORDS / 3 {
                assert!(
                    Instant::now() < deadline,
                    "a third of the records was not acknowledged within 60 s ({} acked)",
                    acked.load(Ordering::Relaxed)
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let at_kill = (sent.load(Ordering::Relaxed), acked.load(Ordering::Relaxed));
            let killed = Instant::now();
            tokio::task::spawn_blocking(move || {
                cluster.kill(0);
                cluster.restart(0)
            })
            .await
            .expect("kill/restart panicked")
            .expect("restart the broker after SIGKILL");
            (at_kill, killed.elapsed())
        })
    };

    let load = Load {
        producer: &producer,
        topic: &topic,
        run: &run,
        len: VALUE_LEN,
        rate: None,
    };
    load.send(0..RECORDS, &tracker, &sent).await;
    log(t0, format!("all {RECORDS} sends accepted"));
    let ((sent_at_kill, acked_at_kill), down_for) = killer.await.expect("the killer task failed");
    log(
        t0,
        format!(
            "SIGKILL at {sent_at_kill} sent / {acked_at_kill} acknowledged; \
             killed and restarted in {down_for:.1?}"
        ),
    );

    let outcome = tracker.finish(Duration::from_secs(150)).await;
    log(
        t0,
        format!(
            "deliveries resolved: {} acknowledged ({} without offset), {} failed",
            outcome.checker.acked(),
            outcome.acked_without_offset.len(),
            outcome.failed.len()
        ),
    );
    // The delivery timeout (120 s) outlasts the outage, so nothing should fail; a handful
    // would be tolerable (absent is allowed), many means the producer gave up on records.
    assert!(
        outcome.failed.len() <= RECORDS / 1000,
        "{} of {RECORDS} deliveries failed across a broker restart:{}",
        outcome.failed.len(),
        outcome.failures_sample()
    );

    let mut checker = outcome.checker.clone();
    let drained = drain(&broker.bootstrap, &topic, &mut checker).await;
    let report = checker.report();
    crate::common::dump("sigkill", &outcome, &drained);
    log(
        t0,
        format!("drained {} records; {}", drained.records.len(), report),
    );
    drained.assert_contains(
        "acknowledged without an offset",
        &outcome.acked_without_offset,
    );
    assert_clean("SIGKILL mid-stream", &report);
}
