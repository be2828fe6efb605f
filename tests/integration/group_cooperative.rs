//! Cooperative-sticky incremental rebalancing: three members join one by one, then one
//! leaves with `close`. After every poll round no partition is assigned to two members,
//! committed offsets never go backwards, and in the end every record was consumed.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, Consumer};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;
const PER_PHASE: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_join_one_by_one_and_one_leaves() {
    let (bootstrap, topic) = fresh_topic("group-coop", PARTITIONS).await;
    let group = topic.clone();
    let all = partitions(&topic, PARTITIONS);
    let log = HookLog::default();

    let owners = Owners::default();
    let mut members: Vec<(usize, Consumer, Running)> = Vec::new();
    let mut produced: BTreeSet<String> = BTreeSet::new();
    let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut samples = 0;

    // Phases: join 0, join 1, join 2, close 1. Each phase produces more records; members
    // poll on their own tasks and commit after each non-empty poll. The test samples the
    // committed offsets until the group is settled (every partition owned, the live members
    // balanced) and every record so far is consumed.
    for phase in 0..4 {
        if phase < 3 {
            let c = Consumer::new(member_config(
                &bootstrap,
                &group,
                &[AssignorKind::CooperativeSticky],
            ))
            .await
            .unwrap();
            c.set_rebalance_listener(Recorder {
                member: phase,
                log: log.clone(),
                commit_in_hooks: true,
                owners: Some(owners.clone()),
            });
            c.subscribe([topic.clone()]).await.unwrap();
            let running = run_member(c.clone(), phase, owners.clone(), true);
            members.push((phase, c, running));
        } else {
            let (_, leaving, running) = members.remove(1);
            running.stop().await;
            leaving.close().await.unwrap();
        }
        produced.extend(
            produce_values(
                &bootstrap,
                &topic,
                &format!("p{phase}"),
                phase * PER_PHASE..(phase + 1) * PER_PHASE,
            )
            .await,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            samples += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            owners.assert_clean();
            let now = members[0].1.committed(&all).await.unwrap();
            for (tp, o) in &now {
                let before = committed.insert(tp.partition, o.offset);
                assert!(
                    before.is_none_or(|b| b <= o.offset),
                    "phase {phase} sample {samples}: committed offset of {tp} went back from \
                     {before:?} to {}",
                    o.offset
                );
            }
            let shares = owners.shares(3);
            let sizes: Vec<usize> = members.iter().map(|(i, _, _)| shares[*i].len()).collect();
            let owned: usize = sizes.iter().sum();
            let balanced = sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1;
            let consumed: BTreeSet<String> = owners.values().into_iter().collect();
            let all_read = produced.iter().all(|v| consumed.contains(v));
            if owned == PARTITIONS as usize && balanced && all_read {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "phase {phase}: not settled in 30 s: sizes {sizes:?}, {} of {} records read",
                produced.iter().filter(|v| consumed.contains(*v)).count(),
                produced.len()
            );
        }
    }
    let mut consumed: BTreeMap<String, usize> = BTreeMap::new();
    for v in owners.values() {
        *consumed.entry(v).or_default() += 1;
    }
    let commit_refusals = owners.0.lock().unwrap().commit_refusals.clone();
    let rounds = samples;
    let mut stopped = Vec::new();
    for (i, c, running) in members {
        running.stop().await;
        stopped.push((i, c));
    }
    let members: Vec<Consumer> = stopped.into_iter().map(|(_, c)| c).collect();
    owners.assert_clean();
    let missing: Vec<&String> = produced
        .iter()
        .filter(|v| !consumed.contains_key(*v))
        .collect();
    assert!(missing.is_empty(), "records never consumed: {missing:?}");
    let duplicates = consumed.values().filter(|&&n| n > 1).count();
    println!(
        "cooperative: {} records, {duplicates} consumed twice, {rounds} samples, \
         commit refusals: {commit_refusals:?}",
        produced.len()
    );
    // Incremental: nobody revoked a partition it kept, and nobody lost partitions.
    let calls = log.calls();
    assert!(
        calls.iter().all(|c| c.hook != Hook::Lost),
        "partitions lost: {calls:#?}"
    );
    for c in calls.iter().filter(|c| c.hook == Hook::Revoked) {
        assert_eq!(c.commit, Some(Ok(())), "commit in revoke hook: {c:?}");
    }
    // Committed offsets end at the log end: every record consumed is committed.
    for c in &members {
        c.commit().await.unwrap();
    }
    let end: i64 = members[0]
        .committed(&all)
        .await
        .unwrap()
        .values()
        .map(|o| o.offset)
        .sum();
    assert_eq!(
        end,
        produced.len() as i64,
        "committed offsets sum to the log end"
    );
    for c in &members {
        c.close().await.unwrap();
    }
}
