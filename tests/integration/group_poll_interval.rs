//! `max.poll.interval.ms`: a member that stops polling longer than that leaves the group;
//! the other member takes its partitions; the stalled member's commit is refused by the
//! broker (it cannot overwrite the new owner's offsets), and its next poll reports the
//! partitions lost, not revoked.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, Consumer, ErrorCode};
use std::collections::BTreeSet;
use std::time::Duration;

const PARTITIONS: i32 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_loses_its_partitions() {
    let (bootstrap, topic) = fresh_topic("group-pollint", PARTITIONS).await;
    let group = topic.clone();
    let all = partitions(&topic, PARTITIONS);
    let log = HookLog::default();
    produce_values(&bootstrap, &topic, "a", 0..40).await;

    let mut slow_config = member_config(&bootstrap, &group, &[AssignorKind::Range]);
    slow_config.max_poll_interval = Duration::from_secs(3);
    let slow = Consumer::new(slow_config).await.unwrap();
    slow.set_rebalance_listener(Recorder {
        member: 0,
        log: log.clone(),
        commit_in_hooks: true,
        owners: None,
    });
    let other = Consumer::new(member_config(&bootstrap, &group, &[AssignorKind::Range]))
        .await
        .unwrap();
    other.set_rebalance_listener(Recorder {
        member: 1,
        log: log.clone(),
        commit_in_hooks: false,
        owners: None,
    });
    slow.subscribe([topic.clone()]).await.unwrap();
    other.subscribe([topic.clone()]).await.unwrap();
    let mut read = 0;
    poll_until(
        &[&slow, &other],
        Duration::from_secs(30),
        "both members assigned, all read",
        |got, asg| {
            read = got[0].len() + got[1].len();
            !asg[0].is_empty() && !asg[1].is_empty() && read >= 40
        },
    )
    .await;
    slow.commit().await.unwrap();
    other.commit().await.unwrap();
    let slow_partitions: BTreeSet<i32> = slow
        .assignment()
        .await
        .iter()
        .map(|tp| tp.partition)
        .collect();
    let calls_before_stall = log.of(0).len();

    // The slow member stops polling; the other keeps going and takes everything.
    let stall = tokio::time::Instant::now();
    poll_until(
        &[&other],
        Duration::from_secs(20),
        "the other member takes every partition",
        |_, asg| asg[0].len() == PARTITIONS as usize,
    )
    .await;
    println!("taken over after {:?}", stall.elapsed());
    produce_values(&bootstrap, &topic, "b", 0..40).await;
    poll_until(
        &[&other],
        Duration::from_secs(20),
        "the new owner reads the new records",
        |got, _| got[0].len() >= 40,
    )
    .await;
    other.commit().await.unwrap();
    let owner_offsets = other.committed(&all).await.unwrap();

    // Still without polling, the slow member commits its stale positions: refused.
    let err = slow
        .commit()
        .await
        .expect_err("a member removed for not polling committed over the new owner");
    assert!(
        matches!(
            err.code(),
            Some(ErrorCode::ILLEGAL_GENERATION)
                | Some(ErrorCode::UNKNOWN_MEMBER_ID)
                | Some(ErrorCode::REBALANCE_IN_PROGRESS)
                | Some(ErrorCode::FENCED_INSTANCE_ID)
        ),
        "the stale commit failed with a typed broker error, got {err:?}"
    );
    assert_eq!(
        other.committed(&all).await.unwrap(),
        owner_offsets,
        "the stale member's commit changed the new owner's offsets"
    );

    // Its next poll reports the partitions lost (not revoked). Poll both: the slow member
    // rejoins, which the other must take part in.
    poll_round(&[&slow, &other], Duration::from_millis(500)).await;
    let after: Vec<HookCall> = log.of(0).into_iter().skip(calls_before_stall).collect();
    assert!(
        after.iter().all(|c| c.hook != Hook::Revoked),
        "the stalled member's partitions were revoked (they were already someone else's): \
         {after:#?}"
    );
    let lost: Vec<&HookCall> = after.iter().filter(|c| c.hook == Hook::Lost).collect();
    assert_eq!(
        lost.len(),
        1,
        "one lost hook call after the stall: {after:#?}"
    );
    assert_eq!(
        lost[0].partitions, slow_partitions,
        "lost names its partitions"
    );
    // A commit from inside the lost hook cannot succeed either: those partitions are gone.
    assert!(
        matches!(lost[0].commit, Some(Err(_))),
        "commit() inside on_partitions_lost returned {:?}; the partitions belong to another \
         member, so reporting success misleads the application (nothing was committed)",
        lost[0].commit
    );
    assert_eq!(
        other.committed(&all).await.unwrap(),
        owner_offsets,
        "offsets changed by the stale member"
    );
    // It rejoins; both poll until the rebalance completes (closing mid-join would wait for
    // the join: the coordinator answers one request per connection at a time).
    poll_until(
        &[&slow, &other],
        Duration::from_secs(20),
        "the stalled member rejoins",
        |_, asg| !asg[0].is_empty() && !asg[1].is_empty(),
    )
    .await;
    slow.close().await.unwrap();
    other.close().await.unwrap();
}
