//! The negative control: the chaos of `chaos.rs` with idempotence off.
//!
//! A produce request the broker wrote but whose response a reset swallowed is resent and
//! written again: a duplicate. If the checker never reports one here, it cannot be trusted
//! to report one in the idempotent tests either, so this test fails unless at least one
//! round comes out dirty.

use crate::chaos::CHAOS;
use crate::common::{drain, log, producer_config, Broker, Load, Tracker, HEAVY};
use kafkit::Producer;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use tokio::time::Instant;

const ROUNDS: usize = 5;
const RECORDS_PER_ROUND: usize = 20_000;
const VALUE_LEN: usize = 100;
const RATE: f64 = 4_000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_chaos_produces_duplicates_the_checker_catches() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_behind_proxy().await;
    let proxy = broker.proxy();
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        proxy.set_chaos(None);
        let topic = broker.create_topic("faults-negative").await;
        let run = kafkit_testkit::unique_name("n");
        let mut config = producer_config(&broker.bootstrap, false);
        // Retries stay on (the default): a resend of unknown outcome is the hazard.
        config.max_in_flight_requests_per_connection = 5;
        let producer = Producer::new(config).await.expect("producer");
        let tracker = Tracker::new();
        let sent = AtomicUsize::new(0);

        proxy.set_chaos(Some(CHAOS));
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
        let mut checker = outcome.checker;
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
