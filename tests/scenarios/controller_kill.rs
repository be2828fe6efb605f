//! The active controller SIGKILLed (twice: the one that takes over goes too, after the
//! first is back) under produce and group consume. While a killed controller is down, a
//! topic is created: the quorum has a new leader that serves. The topic is replicated to
//! every node: until its session times out the killed node still counts as a broker and may
//! be given a partition, which with one replica would have no leader until it came back.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::HEAVY;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_controller_sigkilled() {
    let _turn = HEAVY.lock().await;
    let run = Run::start("controller-kill", Layout::ThreeVoters, 3, GroupSpec::new(3)).await;
    let load = run
        .produce(ProduceSpec::new(
            sized(20_000, 100_000),
            sized(Duration::from_secs(30), Duration::from_secs(60)),
        ))
        .await;
    let mut kills = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(sized(Duration::from_secs(5), Duration::from_secs(15))).await;
        let controller = run.controller().await;
        run.broker.kill(controller).await;
        kills.push(controller);
        let successor = run.controller_other_than(controller).await;
        run.log(format!(
            "SIGKILL node {controller} (active controller); node {successor} took over"
        ));
        let name = run.broker.create_topic("after-controller-kill", 1).await;
        run.log(format!("created {name} while node {controller} was down"));
        run.broker.restart(controller).await;
        run.log(format!("node {controller} back"));
    }
    run.conclude(
        load,
        Duration::from_secs(300),
        &format!("controller kills: nodes {kills:?}"),
    )
    .await;
}
