//! A rolling restart of all three brokers under a running group of static members
//! (`group.instance.id`): each node in turn is stopped cleanly (SIGTERM) and started again,
//! the next one only once every replica is back in sync. The group coordinator moves with
//! the restarts, and no member's rebalance hook may run: static members keep their places.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::HEAVY;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_static_members_causes_no_rebalance() {
    let _turn = HEAVY.lock().await;
    let mut group = GroupSpec::new(3);
    group.static_members = true;
    group.session_timeout = Duration::from_secs(30);
    let run = Run::start("rolling-restart", Layout::ThreeVoters, 3, group).await;
    let hooks_before = run
        .wait_group_settled(Duration::from_secs(3), Duration::from_secs(60))
        .await;
    run.log(format!("group settled after {hooks_before} hook calls"));
    let load = run
        .produce(ProduceSpec::new(
            sized(20_000, 200_000),
            sized(Duration::from_secs(45), Duration::from_secs(90)),
        ))
        .await;
    for node in 0..3 {
        let t = Instant::now();
        run.broker.stop(node).await;
        run.broker.restart(node).await;
        run.wait_full_isr(Duration::from_secs(120)).await;
        run.log(format!(
            "node {node} stopped, restarted and back in every ISR in {:.1?}",
            t.elapsed()
        ));
    }
    let hooks_after = run.checks.lock().group.report().rebalance_hooks;
    let verdict = run
        .conclude(
            load,
            Duration::from_secs(300),
            &format!("rolling restart; hook calls {hooks_before} before, {hooks_after} after"),
        )
        .await;
    assert_eq!(
        hooks_after, hooks_before,
        "the rolling restart rebalanced the static group: {}",
        verdict.line
    );
}
