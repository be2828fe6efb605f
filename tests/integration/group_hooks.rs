//! The rebalance hooks against the real group coordinator: `assigned` names the partitions,
//! a second member's arrival revokes from the first (eager range: everything; cooperative
//! sticky: only what moves) before the newcomer is assigned them, and a revoke hook that
//! commits succeeds, so the newcomer starts where the first member stopped.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, Consumer, TopicPartition};
use std::collections::BTreeSet;
use std::time::Duration;

const PARTITIONS: i32 = 4;
const RECORDS: usize = 40;

async fn second_member_revokes_first(assignor: AssignorKind, eager: bool) {
    let (bootstrap, topic) = fresh_topic("group-hooks", PARTITIONS).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..RECORDS).await;
    let log = HookLog::default();

    let owners = Owners::default();

    let a = Consumer::new(member_config(&bootstrap, &group, &[assignor]))
        .await
        .unwrap();
    a.set_rebalance_listener(Recorder {
        member: 0,
        log: log.clone(),
        commit_in_hooks: true,
        owners: Some(owners.clone()),
    });
    a.subscribe([topic.clone()]).await.unwrap();
    let run_a = run_member(a.clone(), 0, owners.clone(), false);
    wait_until(
        "the first member reads everything",
        Duration::from_secs(30),
        || owners.values().len() >= RECORDS,
    )
    .await;
    let all: BTreeSet<i32> = (0..PARTITIONS).collect();
    let first = log.of(0);
    assert_eq!(first.len(), 1, "one hook call so far: {first:?}");
    assert_eq!(first[0].hook, Hook::Assigned);
    assert_eq!(first[0].partitions, all, "assigned names every partition");

    let b = Consumer::new(member_config(&bootstrap, &group, &[assignor]))
        .await
        .unwrap();
    b.set_rebalance_listener(Recorder {
        member: 1,
        log: log.clone(),
        commit_in_hooks: true,
        owners: Some(owners.clone()),
    });
    b.subscribe([topic.clone()]).await.unwrap();
    let run_b = run_member(b.clone(), 1, owners.clone(), false);
    wait_until("the second member joins", Duration::from_secs(30), || {
        let shares = owners.shares(2);
        !shares[0].is_empty() && !shares[1].is_empty() && shares[0].len() + shares[1].len() == 4
    })
    .await;
    // Let a follow-up round (cooperative) or a stray rebalance show itself.
    tokio::time::sleep(Duration::from_secs(1)).await;
    run_a.stop().await;
    run_b.stop().await;
    owners.assert_clean();
    let assignments = assert_disjoint(&[&a, &b], "after the join").await;
    let calls = log.calls();
    let a_revoked: Vec<_> = calls
        .iter()
        .filter(|c| c.member == 0 && c.hook == Hook::Revoked)
        .collect();
    let b_assigned: Vec<_> = calls
        .iter()
        .filter(|c| c.member == 1 && c.hook == Hook::Assigned && !c.partitions.is_empty())
        .collect();
    assert!(
        calls.iter().all(|c| c.hook != Hook::Lost),
        "no member lost partitions: {calls:#?}"
    );
    assert_eq!(
        a_revoked.len(),
        1,
        "the first member revoked once: {calls:#?}"
    );
    let revoked = &a_revoked[0];
    if eager {
        assert_eq!(revoked.partitions, all, "eager: everything revoked");
    } else {
        assert_eq!(
            revoked.partitions, assignments[1],
            "cooperative: only the partitions that moved are revoked ({calls:#?})"
        );
        assert!(
            revoked.partitions.is_disjoint(&assignments[0]),
            "cooperative: a kept partition was revoked"
        );
    }
    assert_eq!(
        b_assigned.len(),
        1,
        "the newcomer was assigned once: {calls:#?}"
    );
    assert_eq!(b_assigned[0].partitions, assignments[1]);
    assert!(
        revoked.at <= b_assigned[0].at,
        "the newcomer got its partitions before the first member revoked them"
    );
    // The revoke hook's commit worked and committed the positions the hook saw.
    assert_eq!(
        revoked.commit,
        Some(Ok(())),
        "commit in the revoke hook failed"
    );
    for p in &revoked.partitions {
        let position = revoked.positions[p].expect("a position at revocation");
        assert_eq!(
            revoked.committed_after.get(p),
            Some(&position),
            "partition {p}: the revoke hook's commit is the position it had"
        );
        if !assignments[1].contains(p) {
            continue; // eager: revoked, then assigned back to the first member
        }
        // ... and the newcomer starts there.
        assert_eq!(
            b.position(&TopicPartition::new(&topic, *p)).await,
            Some(position),
            "partition {p}: the newcomer resumes from the committed offset"
        );
    }
    // After the rebalance, the first member is assigned its share (eager: again).
    let a_assigned: Vec<_> = log
        .of(0)
        .into_iter()
        .filter(|c| c.hook == Hook::Assigned && !c.partitions.is_empty())
        .collect();
    if eager {
        assert_eq!(a_assigned.len(), 2, "{a_assigned:#?}");
        assert_eq!(a_assigned[1].partitions, assignments[0]);
        assert!(a_assigned[1].at >= revoked.at);
    } else {
        assert_eq!(
            a_assigned.len(),
            1,
            "cooperative: kept partitions are not reassigned"
        );
    }
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_range_revokes_everything_before_the_newcomer_is_assigned() {
    second_member_revokes_first(AssignorKind::Range, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_revokes_only_what_moves() {
    second_member_revokes_first(AssignorKind::CooperativeSticky, false).await;
}
