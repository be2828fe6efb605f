//! The negative control: connection chaos as in `chaos.rs` (only denser) with idempotence off.
//!
//! A produce request the broker wrote but whose response a reset swallowed is resent and
//! written again: a duplicate. If the checker never reports one here, it cannot be trusted
//! to report one in the idempotent tests either, so this test fails unless at least one
//! round comes out dirty.

use crate::common::{drain, producer_config, Load, Tracker, PARTITIONS};
use crate::support::{log, Broker, HEAVY};
use kafkit::Producer;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use tokio::time::Instant;

const ROUNDS: usize = 5;
const RECORDS_PER_ROUND: usize = 30_000;
const VALUE_LEN: usize = 100;
const RATE: f64 = 6_000.0;
/// Tighter than `chaos::CHAOS`. With 0.5–1.5 s, a round saw only 5–7 resets (one busy
/// connection), and a reset duplicates only if it falls between the broker's write and the
/// response reaching the producer: one run went 5 rounds (31 resets) without a duplicate.
/// At 0.1–0.5 s a 5 s round sees ~15 resets.
const NEGATIVE_CHAOS: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_millis(500));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_chaos_produces_duplicates_the_checker_catches() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_behind_proxy().await;
    let proxy = broker.proxy();
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        proxy.set_chaos(None);
        let topic = broker.create_topic("faults-negative", PARTITIONS).await;
        let run = kafkit_testkit::unique_name("n");
        let mut config = producer_config(&broker.bootstrap, false);
        // Retries stay on (the default): a resend of unknown outcome is the hazard.
        config.max_in_flight_requests_per_connection = 5;
        let producer = Producer::new(config).await.expect("producer");
        let tracker = Tracker::new();
        let sent = AtomicUsize::new(0);

        proxy.set_chaos(Some(NEGATIVE_CHAOS));
        let resets_before = proxy.resets();
        let load = Load {
            producer: &producer,
            topic: &topic,
            run: &run,
            len: VALUE_LEN,
            rate: Some(RATE),
        };
        load.send(0..RECORDS_PER_ROUND, &tracker, &sent).await;
        let outcome = tracker.finish(Duration::from_secs(150)).await;
        let resets = proxy.resets() - resets_before;
        proxy.set_chaos(None);

        let failed = outcome.failed.len();
        let mut checker = outcome.checker.clone();
        drain(&broker.bootstrap, &topic, &mut checker).await;
        let report = checker.report();
        log(
            t0,
            format!("round {round}: {resets} resets, {failed} failed deliveries; {report}"),
        );
        rounds.push(format!(
            "round {round}: {resets} resets, {failed} failed, {} lost, {} duplicated, {} reordered",
            report.lost.len(),
            report.duplicated.len(),
            report.reordered.len()
        ));
        if !report.duplicated.is_empty() || !report.reordered.is_empty() {
            return;
        }
    }
    panic!(
        "{ROUNDS} rounds of connection chaos without idempotence produced no duplicate and no \
         reordering, so this setup cannot show that the checker catches them:\n{}",
        rounds.join("\n")
    );
}
