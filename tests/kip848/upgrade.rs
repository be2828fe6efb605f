//! An online upgrade: a group of three classic kafkit members (JoinGroup/SyncGroup) is
//! rolled, one member at a time, to `group.protocol=consumer` while records are produced.
//! Each member closes (leaving the group) and comes back with the consumer protocol under
//! the same group id; the group is never empty, so the coordinator converts it to a consumer
//! group when the first KIP-848 member joins (Kafka 4's `group.consumer.migration.policy`
//! defaults to `bidirectional`) and runs the remaining classic members through their
//! JoinGroup/SyncGroup with its own assignor until they are gone. Throughout, no partition
//! has two owners at once, the committed offsets never go back, and every record produced
//! is consumed. The classic members run once with `range` (eager: each rebalance revokes
//! everything) and once with `cooperative-sticky` (only what moves is revoked), the two ways
//! a coordinator that assigns for them must drive them; and once as static members
//! (`group.instance.id`, `range`), where each new member takes its predecessor's instance
//! id: a classic static member leaves no LeaveGroup on close, and the coordinator hands its
//! place and partitions to the consumer-protocol member with the same id, so the other
//! members see no rebalance at all (their hooks are not called, as eager ones would be).
//!
//! The way back too: a consumer group rolled to classic members stays a consumer group
//! (the coordinator drives the classic ones) until its last consumer-protocol member
//! leaves, and is then converted back to a classic group (the `bidirectional` policy).

use crate::common::*;
use crate::support::*;
use kafkit::{Admin, AssignorKind, ClientConfig, ConsumerConfig, GroupProtocol, GroupType};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 2400;

/// The group's type and its members' assignments as the coordinator describes them.
async fn describe(admin: &Admin, group: &str) -> (GroupType, Vec<Vec<i32>>) {
    let mut groups = admin.describe_consumer_groups([group]).await.unwrap();
    let described = groups.remove(group).unwrap().unwrap();
    let shares = described
        .members
        .iter()
        .map(|m| m.assignment.iter().map(|tp| tp.partition).collect())
        .collect();
    (described.group_type, shares)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_group_rolled_to_the_consumer_protocol_loses_nothing() {
    roll(GroupProtocol::Classic, AssignorKind::Range, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperative_group_rolled_to_the_consumer_protocol_loses_nothing() {
    roll(
        GroupProtocol::Classic,
        AssignorKind::CooperativeSticky,
        false,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_group_rolled_to_the_consumer_protocol_keeps_each_members_share() {
    roll(GroupProtocol::Classic, AssignorKind::Range, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_rolled_back_to_classic_loses_nothing() {
    roll(
        GroupProtocol::Consumer,
        AssignorKind::CooperativeSticky,
        false,
    )
    .await;
}

/// Rolls a group of three members `from` one protocol to the other, one at a time, under
/// load; classic members use `assignor`.
async fn roll(from: GroupProtocol, assignor: AssignorKind, with_instance_ids: bool) {
    let upgrade = from == GroupProtocol::Classic;
    let config = |bootstrap: &str, group: &str, classic: bool, i: usize| -> ConsumerConfig {
        let mut config = if classic {
            let mut config = classic_member_config(bootstrap, group);
            config.partition_assignment_strategy = vec![assignor];
            config
        } else {
            member_config(bootstrap, group)
        };
        config.group_instance_id = with_instance_ids.then(|| format!("instance-{i}"));
        config
    };
    // Classic members are c0.., consumer-protocol ones k0...
    let (old, new) = if upgrade { ("c", "k") } else { ("k", "c") };
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-upgrade", PARTITIONS).await;
    let group = topic.clone();
    let admin = Admin::new(ClientConfig::new(&broker.bootstrap))
        .await
        .unwrap();
    let ledger = Ledger::default();
    let mut before = Vec::new();
    for i in 0..3 {
        let config = config(&broker.bootstrap, &group, upgrade, i);
        before.push(Running::start_with(config, &topic, &format!("{old}{i}"), &ledger).await);
    }
    wait_until(
        "the three members own partitions",
        Duration::from_secs(60),
        || before.iter().all(|m| !ledger.owned_by(&m.name).is_empty()),
    )
    .await;
    // Settled: no hook call for 2 s (a cooperative group rebalances twice as members join).
    let mut calls = BTreeMap::new();
    let mut quiet_since = Instant::now();
    wait_until("the group settles", Duration::from_secs(30), || {
        let now = ledger.lock().hook_calls.clone();
        if now != calls {
            calls = now;
            quiet_since = Instant::now();
        }
        quiet_since.elapsed() > Duration::from_secs(2)
    })
    .await;
    let (kind, shares) = describe(&admin, &group).await;
    log(
        t0,
        format!("group up ({from:?}, {assignor:?}): {kind:?}, shares {shares:?}"),
    );
    let start = if upgrade {
        GroupType::Classic
    } else {
        GroupType::Consumer
    };
    assert_eq!(kind, start);
    let watch = CommitWatch::start(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    let producer = produce_values_paced(&broker.bootstrap, &topic, RECORDS);
    log(t0, format!("producing {RECORDS} over ~12 s"));
    let mut after = Vec::new();
    for (i, member) in before.into_iter().enumerate() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let share = ledger.owned_by(&member.name);
        member.close().await;
        let name = format!("{new}{i}");
        let config = config(&broker.bootstrap, &group, !upgrade, i);
        after.push(Running::start_with(config, &topic, &name, &ledger).await);
        wait_until(
            &format!("{name} owns partitions"),
            Duration::from_secs(30),
            || !ledger.owned_by(&name).is_empty(),
        )
        .await;
        let (kind, shares) = describe(&admin, &group).await;
        log(
            t0,
            format!("{old}{i} closed, {name} joined: {kind:?}, shares {shares:?}"),
        );
        // Upgraded at the first consumer-protocol member to join, with two classic ones
        // still in; downgraded only when the last consumer-protocol member leaves.
        let expected = if upgrade || i < 2 {
            GroupType::Consumer
        } else {
            GroupType::Classic
        };
        assert_eq!(kind, expected, "after {old}{i} closed and {name} joined");
        if with_instance_ids {
            assert_eq!(
                ledger.owned_by(&name),
                share,
                "{name} did not take {old}{i}'s place"
            );
        }
    }
    let produced = producer.await.unwrap();
    log(t0, format!("{} records produced", produced.len()));
    let now = ledger.lock().hook_calls.clone();
    log(t0, format!("hook calls with partitions: {now:?}"));
    if with_instance_ids {
        // Each new member took its predecessor's place: one assignment for it, one
        // revocation (at close) for the classic member, and no rebalance for the others.
        for i in 0..3 {
            let (o, n) = (format!("{old}{i}"), format!("{new}{i}"));
            assert_eq!(
                now.get(&o).copied(),
                calls.get(&o).map(|n| n + 1),
                "{o}: {now:?}"
            );
            assert_eq!(now.get(&n), Some(&1), "{n}: {now:?}");
        }
    }
    wait_until("every record consumed", Duration::from_secs(60), || {
        let all: BTreeSet<String> = ledger.values().into_iter().collect();
        produced.iter().all(|v| all.contains(v))
    })
    .await;
    let owned: BTreeSet<i32> = after
        .iter()
        .flat_map(|m| ledger.owned_by(&m.name))
        .collect();
    assert_eq!(
        owned.len(),
        PARTITIONS as usize,
        "the new members own {owned:?}"
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in ledger.values() {
        *counts.entry(v).or_default() += 1;
    }
    let twice = counts.values().filter(|&&n| n > 1).count();
    log(
        t0,
        format!(
            "every record consumed ({twice} more than once); the new members own every partition"
        ),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = watch.finish().await;
    log(
        t0,
        format!("{samples} committed-offset samples, none went back"),
    );
    ledger.assert_clean();
    for m in after {
        m.close().await;
    }
    ledger.assert_clean();
    let committed = committed(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    assert_eq!(committed, ends(&broker.bootstrap, &topic, PARTITIONS).await);
}
