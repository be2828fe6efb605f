//! The partition leader SIGKILLed every 5 s while idempotent records are produced and a
//! group consumes them.
//!
//! Each kill takes the leader of partition 0 (whoever it is by then) and restarts it at
//! once. A kill waits for the previous victim to be back, so at most one node is down and
//! the quorum and `min.insync.replicas` survive; the 5 s are counted from the previous kill,
//! so where a restart takes longer (10-20 s on a busy 2-core machine) the kills come as
//! soon as it is done. The full size (200,000 records over a minute) must see at least
//! three kills, the quick one at least one.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::HEAVY;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

const PERIOD: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_leader_sigkilled_every_5_s() {
    let _turn = HEAVY.lock().await;
    let run = Run::start("leader-kill", Layout::ThreeVoters, 3, GroupSpec::new(3)).await;
    let records = sized(20_000, 200_000);
    let load = run
        .produce(ProduceSpec::new(
            records,
            sized(Duration::from_secs(20), Duration::from_secs(60)),
        ))
        .await;
    let progress = load.progress.clone();

    let mut kills = Vec::new();
    let mut at = Vec::new();
    let mut restarting: Option<tokio::task::JoinHandle<()>> = None;
    let mut last_kill = Instant::now();
    while progress.sent.load(Ordering::Relaxed) < records {
        tokio::time::sleep_until(last_kill + PERIOD).await;
        if let Some(previous) = restarting.take() {
            previous.await.expect("a restart failed");
        }
        if progress.sent.load(Ordering::Relaxed) >= records {
            break;
        }
        let leader = run.leader(0).await;
        last_kill = Instant::now();
        run.broker.kill(leader).await;
        kills.push(leader);
        at.push(format!("{:.0?}", progress.now()));
        run.log(format!(
            "SIGKILL node {leader} (leader of partition 0); {} acknowledged so far",
            progress.acked.load(Ordering::Relaxed)
        ));
        let broker = run.broker.clone();
        restarting = Some(tokio::spawn(async move { broker.restart(leader).await }));
    }
    if let Some(previous) = restarting {
        previous.await.expect("a restart failed");
    }
    assert!(
        kills.len() >= sized(1, 3),
        "only {} kills before the producer finished sending",
        kills.len()
    );
    run.conclude(
        load,
        Duration::from_secs(300),
        &format!(
            "{} leader kills (nodes {kills:?} at {})",
            kills.len(),
            at.join(", ")
        ),
    )
    .await;
}
