//! A broker SIGKILLed and restarted in the middle of a stream of sends.
//!
//! The kill lands with produce requests in flight whose outcome the producer cannot know:
//! some were written before the kill, some not. The idempotent producer resends them with
//! their original sequence numbers after the restart, and the broker (which rebuilds its
//! producer state from the log) must drop the ones it already has. Without that, the
//! checker sees duplicates; with a sequence bug, gaps or reordering.

use crate::common::{assert_delivered_once, producer_config, Load, Tracker, PARTITIONS};
use crate::support::{log, Broker, HEAVY};
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
    let topic = broker.create_topic("faults-sigkill", PARTITIONS).await;
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
        let broker = broker.clone();
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
            broker.kill(0).await;
            broker.restart(0).await;
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
    log(t0, format!("deliveries resolved: {}", outcome.summary()));
    outcome.assert_few_failed(RECORDS, "across a broker restart");

    assert_delivered_once(
        t0,
        "sigkill",
        "SIGKILL mid-stream",
        &broker.bootstrap,
        &topic,
        &outcome,
    )
    .await;
}
