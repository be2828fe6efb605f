//! The whole cluster SIGKILLed and started again under produce and group consume: every
//! node at once, so nothing is left that holds the quorum, the partitions or the group.
//! Records acknowledged before the kill must survive it (acks=all: on every in-sync
//! replica's log, if not yet on disk); the producer and the group must ride out the
//! outage.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::HEAVY;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_sigkilled_and_restarted() {
    let _turn = HEAVY.lock().await;
    let mut group = GroupSpec::new(3);
    group.session_timeout = Duration::from_secs(30);
    let run = Run::start("full-restart", Layout::ThreeVoters, 3, group).await;
    let load = run
        .produce(ProduceSpec::new(
            sized(20_000, 100_000),
            sized(Duration::from_secs(30), Duration::from_secs(60)),
        ))
        .await;
    let progress = load.progress.clone();
    tokio::time::sleep(sized(Duration::from_secs(8), Duration::from_secs(20))).await;

    let acked_at_kill = progress.acked.load(Ordering::Relaxed);
    let down = Instant::now();
    for node in 0..3 {
        run.broker.kill(node).await;
    }
    run.log(format!(
        "SIGKILL all three nodes; {acked_at_kill} records acknowledged before"
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    run.broker
        .blocking(|c| c.restart_together(&[0, 1, 2]))
        .await
        .unwrap_or_else(|e| panic!("restart the cluster: {e}"));
    let outage = down.elapsed();
    run.log(format!("all three nodes serve again after {outage:.1?}"));
    run.conclude(
        load,
        Duration::from_secs(300),
        &format!("whole cluster down {outage:.1?}, {acked_at_kill} acked before the kill"),
    )
    .await;
}
