//! The broker (also the group coordinator) stopped and restarted under a running group of
//! two members: they ride out the outage and consumption resumes from the committed offsets
//! with nothing lost. Run with each group protocol: a consumer-protocol group is reloaded
//! from `__consumer_offsets` with its members' epochs, which they keep heartbeating with.

use crate::common::*;
use crate::support::*;
use kafkit::GroupProtocol;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_under_a_running_group_loses_nothing() {
    broker_restart_under_a_running_group(GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_under_a_running_group_loses_nothing_consumer_protocol() {
    broker_restart_under_a_running_group(GroupProtocol::Consumer).await;
}

async fn broker_restart_under_a_running_group(protocol: GroupProtocol) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker(protocol, 6000).await;
    let topic = broker.create_topic("gf-restart", 4).await;
    let args = MemberArgs::new(&broker, protocol, &topic, "gf-restart", 6000, 20);
    let a = Member::start(&args, "a").await;
    let b = Member::start(&args, "b").await;
    log(
        t0,
        format!("broker up, 2 members, output in {}", args.dir.display()),
    );
    wait_until("both members assigned", Duration::from_secs(30), || {
        a.owned().is_some() && b.owned().is_some()
    })
    .await;
    let producer = produce_paced(&broker.bootstrap, &topic, "v", 3000, 200);
    wait_until("some records consumed", Duration::from_secs(30), || {
        a.records().len() + b.records().len() >= 500
    })
    .await;
    let down = Instant::now();
    broker.stop(0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restart(0).await;
    log(
        t0,
        format!("broker stopped and restarted in {:.1?}", down.elapsed()),
    );
    let produced = producer.await.unwrap();
    log(t0, format!("{} records acknowledged", produced.len()));
    assert!(
        produced.len() >= 2990,
        "the producer lost most records: {}",
        produced.len()
    );
    let dups = assert_all_consumed(t0, &produced, &[&a, &b], Duration::from_secs(60)).await;
    let errors: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|m| m.events())
        .filter(|e| e.contains("error"))
        .collect();
    log(
        t0,
        format!(
            "duplicates: {dups}; errors the members saw: {} (first: {:?})",
            errors.len(),
            errors.first()
        ),
    );
}
