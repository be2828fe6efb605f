//! The ISR shrunk below `min.insync.replicas`: both followers frozen (SIGSTOP) under
//! produce and group consume.
//!
//! The cluster has one controller (node 0), so the quorum outlives the two frozen brokers
//! (with three voters it would not, and no ISR could shrink: the leader would only time
//! out). The controller fences them, every partition ends up led by node 0 with an ISR of
//! one, and the leader answers `NOT_ENOUGH_REPLICAS` to acks=all. The producer must retry
//! rather than fail or lose records, and records must flow again once the followers are
//! back.

use crate::group::GroupSpec;
use crate::produce::ProduceSpec;
use crate::runner::{sized, Layout, Run};
use crate::support::{wait_until, HEAVY};
use std::time::Duration;

const FROZEN: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isr_below_min_insync_is_retried_and_resumes() {
    let _turn = HEAVY.lock().await;
    let run = Run::start("isr-shrink", Layout::OneController, 3, GroupSpec::new(3)).await;
    let load = run
        .produce(ProduceSpec::new(
            sized(20_000, 100_000),
            sized(Duration::from_secs(40), Duration::from_secs(60)),
        ))
        .await;
    let progress = load.progress.clone();
    tokio::time::sleep(Duration::from_secs(8)).await;

    run.broker.pause(1).await;
    run.broker.pause(2).await;
    let frozen_at = progress.now();
    run.log("SIGSTOP nodes 1 and 2 (the followers)");
    // The controller fences them after broker.session.timeout.ms (3 s) and shrinks the ISRs.
    let topic = run.topic.clone();
    let partitions = run.partitions;
    let shrunk = run
        .broker
        .blocking(move |c| {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let roles: Vec<_> = (0..partitions)
                    .map(|p| c.partition_roles(&topic, p))
                    .collect();
                if roles
                    .iter()
                    .all(|r| r.as_ref().is_some_and(|r| r.isr == [0]))
                {
                    return Ok(roles);
                }
                if std::time::Instant::now() > deadline {
                    return Err(roles);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
        .await
        .unwrap_or_else(|roles| panic!("the ISRs did not shrink to node 0: {roles:?}"));
    let shrunk_at = progress.now();
    run.log(format!("every ISR is [0]: {shrunk:?}"));
    tokio::time::sleep(FROZEN).await;
    // From the next whole second: an acknowledgement of the second the ISRs shrank may
    // predate the shrink.
    let acked_frozen =
        progress.acked_between(shrunk_at + Duration::from_secs(1), progress.now(), |_| true);
    run.broker.resume(1).await;
    run.broker.resume(2).await;
    let resumed_at = progress.now();
    run.log(format!(
        "SIGCONT nodes 1 and 2; {acked_frozen} records acknowledged while the ISRs were [0]"
    ));
    run.wait_full_isr(Duration::from_secs(60)).await;
    run.log("every ISR whole again");
    wait_until("records flow again", Duration::from_secs(60), || {
        progress.acked_between(resumed_at, progress.now() + Duration::from_secs(1), |_| {
            true
        }) > 0
    })
    .await;
    let resumed =
        progress.acked_between(resumed_at, progress.now() + Duration::from_secs(1), |_| {
            true
        });

    let log = std::fs::read_to_string(run.broker.blocking(|c| c.log_file(0)).await)
        .expect("node 0's log");
    let refusals = log.matches("NotEnoughReplicasException").count();
    let verdict = run
        .conclude(
            load,
            Duration::from_secs(300),
            &format!(
                "frozen at {frozen_at:.1?}, ISR [0] from {shrunk_at:.1?} to {resumed_at:.1?}: \
                 {acked_frozen} acked meanwhile, {resumed} after; node 0 logged \
                 {refusals} NotEnoughReplicasException"
            ),
        )
        .await;
    assert!(
        refusals > 0,
        "node 0 never refused a write for want of replicas: {}",
        verdict.line
    );
    assert_eq!(
        acked_frozen, 0,
        "records were acknowledged with acks=all while the ISR was below min.insync.replicas"
    );
}
