//! One broker cut off by its proxy, half-open (the connections stay up, nothing moves, no
//! FIN, no RST), for longer than the clients' `request.timeout.ms`, under produce and group
//! consume.
//!
//! The cut broker leads partition 0 and stays in the cluster (brokers talk to each other
//! directly), so only the clients lose it. They must notice through their request timeout,
//! keep the other brokers' partitions flowing meanwhile, and deliver everything once the
//! cut ends. The group's sessions (30 s) outlast the cut, so the coordinator's loss is no
//! reason to rebalance either.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::HEAVY;
use std::time::Duration;

/// The producer's request timeout is 5 s, the consumers' 10 s.
const CUT: Duration = Duration::from_secs(25);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_cut_off_half_open_beyond_request_timeout() {
    let _turn = HEAVY.lock().await;
    let mut group = GroupSpec::new(3);
    group.session_timeout = Duration::from_secs(30);
    let run = Run::start("half-open", Layout::ThreeVoters, 3, group).await;
    let load = run
        .produce(ProduceSpec::new(
            sized(20_000, 100_000),
            sized(Duration::from_secs(45), Duration::from_secs(75)),
        ))
        .await;
    let progress = load.progress.clone();
    tokio::time::sleep(Duration::from_secs(8)).await;

    let victim = run.leader(0).await;
    let led: Vec<i32> = {
        let mut led = Vec::new();
        for p in 0..run.partitions {
            if run.leader(p).await == victim {
                led.push(p);
            }
        }
        led
    };
    let proxy = run.broker.node_proxy(victim);
    proxy.half_open();
    let cut_at = progress.now();
    run.log(format!(
        "node {victim} (leader of partitions {led:?}) cut off half-open for {CUT:?}"
    ));
    tokio::time::sleep(CUT).await;
    proxy.end_half_open();
    let lifted_at = progress.now();
    let stalled = proxy.stalled();
    let partitions = run.partitions as usize;
    // The first seconds belong to requests already on their way.
    let from = cut_at + Duration::from_secs(2);
    let others = progress.acked_between(from, lifted_at, |p| !led.contains(&p));
    let cut_off = progress.acked_between(from, lifted_at, |p| led.contains(&p));
    run.log(format!(
        "cut lifted: {stalled} connections went silent; meanwhile {others} records acked on \
         other brokers' partitions, {cut_off} on node {victim}'s"
    ));
    assert!(stalled > 0, "no connection to node {victim} was cut");
    let verdict = run
        .conclude(
            load,
            Duration::from_secs(300),
            &format!(
                "node {victim} half-open {CUT:?}: {stalled} connections silenced, {others} \
                 acked elsewhere meanwhile"
            ),
        )
        .await;
    if led.len() < partitions {
        assert!(
            others > 0,
            "nothing was acknowledged on the other brokers' partitions while node {victim} \
             was cut off: {}",
            verdict.line
        );
    }
}
