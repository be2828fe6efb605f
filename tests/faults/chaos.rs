//! Every client connection reset by a proxy after a random 0.5–1.5 s.
//!
//! Each reset loses whatever produce requests and responses were on the wire; the producer
//! reconnects and resends. The broker writes some of those requests before the reset, so
//! only idempotence (the broker recognising the resent sequence numbers) keeps the log free
//! of duplicates, and only correct sequencing keeps it in send order.

use crate::common::{assert_delivered_once, producer_config, Load, Tracker, PARTITIONS};
use crate::support::{log, Broker, HEAVY};
use kafkit::Producer;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;
use tokio::time::Instant;

const RECORDS: usize = 60_000;
const VALUE_LEN: usize = 100;
/// Paced so the stream spans ~15 s of chaos (~15 resets per connection) rather than being
/// queued in the first second.
const RATE: f64 = 4_000.0;
const CHAOS: (Duration, Duration) = (Duration::from_millis(500), Duration::from_millis(1500));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_chaos_loses_and_duplicates_nothing() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_behind_proxy().await;
    let proxy = broker.proxy();
    let topic = broker.create_topic("faults-chaos", PARTITIONS).await;
    let run = kafkit_testkit::unique_name("c");
    // Created before the chaos starts: bootstrapping is not what is under test.
    let producer = Producer::new(producer_config(&broker.bootstrap, true))
        .await
        .expect("producer");
    let tracker = Tracker::new();
    let sent = AtomicUsize::new(0);

    proxy.set_chaos(Some(CHAOS));
    let resets_before = proxy.resets();
    log(t0, "broker up behind the proxy, chaos on, producing");
    let load = Load {
        producer: &producer,
        topic: &topic,
        run: &run,
        len: VALUE_LEN,
        rate: Some(RATE),
    };
    load.send(0..RECORDS, &tracker, &sent).await;
    log(t0, format!("all {RECORDS} sends accepted"));
    let outcome = tracker.finish(Duration::from_secs(150)).await;
    let resets = proxy.resets() - resets_before;
    proxy.set_chaos(None);
    log(
        t0,
        format!(
            "deliveries resolved: {}; {resets} connections reset, {} accepted",
            outcome.summary(),
            proxy.connections()
        ),
    );
    // Without resets this test would prove nothing.
    assert!(
        resets > 0,
        "the proxy reset no connection while the records were produced"
    );
    outcome.assert_few_failed(RECORDS, "under connection chaos");

    assert_delivered_once(
        t0,
        "chaos",
        "connection chaos",
        &broker.bootstrap,
        &topic,
        &outcome,
    )
    .await;
}
