//! What the group tests share: a member's settings, a listener that records every hook call
//! (and can commit on revoke), who owns which partition, and poll rounds over several
//! members.

use crate::support::*;
use kafkit::{
    AssignorKind, Consumer, ConsumerConfig, ConsumerRecord, RebalanceListener, TopicPartition,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A group member's settings: manual commits, fast heartbeats, the broker's minimum
/// session timeout (6 s), the given assignors.
pub fn member_config(bootstrap: &str, group: &str, assignors: &[AssignorKind]) -> ConsumerConfig {
    let mut config = consumer_config(bootstrap);
    config.group_id = Some(group.to_string());
    config.enable_auto_commit = false;
    config.heartbeat_interval = Duration::from_millis(300);
    config.session_timeout = Duration::from_secs(6);
    config.max_poll_interval = Duration::from_secs(30);
    config.partition_assignment_strategy = assignors.to_vec();
    config
}

/// Which hook ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Assigned,
    Revoked,
    Lost,
}

/// One hook call: which member, which hook, which partitions, when, and (if the listener
/// commits in hooks) how the commit went.
#[derive(Clone, Debug)]
pub struct HookCall {
    pub member: usize,
    pub hook: Hook,
    pub partitions: BTreeSet<i32>,
    pub at: Instant,
    pub commit: Option<Result<(), String>>,
    /// The member's committed offsets of these partitions right after its hook's commit.
    pub committed_after: BTreeMap<i32, i64>,
    /// The member's positions of these partitions as the hook saw them.
    pub positions: BTreeMap<i32, Option<i64>>,
}

/// Every hook call of every member, in the order they happened.
#[derive(Clone, Default)]
pub struct HookLog(pub Arc<Mutex<Vec<HookCall>>>);

impl HookLog {
    pub fn calls(&self) -> Vec<HookCall> {
        self.0.lock().unwrap().clone()
    }

    pub fn of(&self, member: usize) -> Vec<HookCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.member == member)
            .collect()
    }
}

/// Records each hook call in a [`HookLog`]; with `commit_in_hooks`, calls `commit()` in the
/// revoked and lost hooks and records the outcome.
pub struct Recorder {
    pub member: usize,
    pub log: HookLog,
    pub commit_in_hooks: bool,
    /// Claims and releases partitions as the hooks run.
    pub owners: Option<Owners>,
}

impl Recorder {
    async fn record(&self, consumer: &Consumer, hook: Hook, partitions: &[TopicPartition]) {
        let mut positions = BTreeMap::new();
        for tp in partitions {
            positions.insert(tp.partition, consumer.position(tp).await);
        }
        let mut committed_after = BTreeMap::new();
        let commit = if self.commit_in_hooks && hook != Hook::Assigned {
            let result = consumer.commit().await.map_err(|e| format!("{e:?}"));
            if result.is_ok() && !partitions.is_empty() {
                if let Ok(c) = consumer.committed(partitions).await {
                    committed_after = c
                        .into_iter()
                        .map(|(tp, o)| (tp.partition, o.offset))
                        .collect();
                }
            }
            Some(result)
        } else {
            None
        };
        let numbers: BTreeSet<i32> = partitions.iter().map(|tp| tp.partition).collect();
        if let Some(owners) = &self.owners {
            owners.apply(self.member, hook, &numbers);
        }
        self.log.0.lock().unwrap().push(HookCall {
            member: self.member,
            hook,
            partitions: numbers,
            at: Instant::now(),
            commit,
            committed_after,
            positions,
        });
    }
}

impl RebalanceListener for Recorder {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(self.record(consumer, Hook::Revoked, partitions))
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(self.record(consumer, Hook::Assigned, partitions))
    }

    fn on_partitions_lost<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(self.record(consumer, Hook::Lost, partitions))
    }
}

/// Polls every member once, concurrently (a join waits for every member, so they must poll
/// together). Returns each member's records; a poll error fails the test.
pub async fn poll_round(members: &[&Consumer], timeout: Duration) -> Vec<Vec<ConsumerRecord>> {
    let polls = members.iter().map(|c| c.poll(timeout));
    futures::future::join_all(polls)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|e| panic!("member {i}'s poll failed: {e:?}")))
        .collect()
}

/// Each member's assigned partition numbers, and a panic if any partition is held by two
/// members at once.
pub async fn assert_disjoint(members: &[&Consumer], when: &str) -> Vec<BTreeSet<i32>> {
    let mut owners: BTreeMap<i32, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, c) in members.iter().enumerate() {
        let mine: BTreeSet<i32> = c.assignment().await.iter().map(|tp| tp.partition).collect();
        for &p in &mine {
            if let Some(other) = owners.insert(p, i) {
                panic!("{when}: partition {p} assigned to members {other} and {i} at once");
            }
        }
        out.push(mine);
    }
    out
}

/// Polls the members in rounds until `done` says so or `limit` passes (then panics with
/// `what`). Returns every record each member got.
pub async fn poll_until(
    members: &[&Consumer],
    limit: Duration,
    what: &str,
    mut done: impl FnMut(&[Vec<ConsumerRecord>], &[BTreeSet<i32>]) -> bool,
) -> Vec<Vec<ConsumerRecord>> {
    let deadline = Instant::now() + limit;
    let mut got: Vec<Vec<ConsumerRecord>> = members.iter().map(|_| Vec::new()).collect();
    loop {
        let round = poll_round(members, Duration::from_millis(200)).await;
        for (i, records) in round.into_iter().enumerate() {
            got[i].extend(records);
        }
        let assignments = assert_disjoint(members, what).await;
        if done(&got, &assignments) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not reached within {limit:?}; assignments {assignments:?}, records {:?}",
            got.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}

/// A topic's partitions as `TopicPartition`s.
pub fn partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Who owns which partition, as the members' hooks tell it: `assigned` claims, `revoked`
/// and `lost` release. A claim of a partition another member holds is a violation: two
/// members would process it at once. Each member's loop also checks, after every poll, that
/// its `assignment()` is exactly what its hooks claimed.
#[derive(Clone, Default)]
pub struct Owners(pub Arc<Mutex<OwnerState>>);

#[derive(Default)]
pub struct OwnerState {
    pub owner: BTreeMap<i32, usize>,
    pub violations: Vec<String>,
    /// `(member, value)` of every record returned.
    pub records: Vec<(usize, String)>,
    pub commit_refusals: Vec<String>,
}

impl Owners {
    pub fn apply(&self, member: usize, hook: Hook, partitions: &BTreeSet<i32>) {
        let mut s = self.0.lock().unwrap();
        for &p in partitions {
            match hook {
                Hook::Assigned => {
                    if let Some(other) = s.owner.insert(p, member) {
                        if other != member {
                            s.violations.push(format!(
                                "member {member} assigned partition {p} while member {other} \
                                 still held it"
                            ));
                        }
                    }
                }
                Hook::Revoked | Hook::Lost => {
                    if s.owner.get(&p) == Some(&member) {
                        s.owner.remove(&p);
                    }
                }
            }
        }
    }

    /// Each member's partitions.
    pub fn shares(&self, members: usize) -> Vec<BTreeSet<i32>> {
        let s = self.0.lock().unwrap();
        (0..members)
            .map(|m| {
                s.owner
                    .iter()
                    .filter(|(_, o)| **o == m)
                    .map(|(p, _)| *p)
                    .collect()
            })
            .collect()
    }

    pub fn assert_clean(&self) {
        let s = self.0.lock().unwrap();
        assert!(
            s.violations.is_empty(),
            "ownership violations: {:#?}",
            s.violations
        );
    }

    pub fn values(&self) -> Vec<String> {
        let s = self.0.lock().unwrap();
        s.records.iter().map(|(_, v)| v.clone()).collect()
    }
}

/// A member polling on its own task, as an application would.
pub struct Running {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the loop after its current poll.
    pub async fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.await.expect("a member's poll loop panicked");
    }
}

/// Polls `consumer` in a loop until stopped: records go to `owners`, and after each poll
/// the member checks its `assignment()` against what its hooks claimed; with `commit`, it
/// commits after each non-empty poll (a refusal racing a rebalance is noted, not fatal).
pub fn run_member(consumer: Consumer, member: usize, owners: Owners, commit: bool) -> Running {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let handle = tokio::spawn(async move {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let records = consumer
                .poll(Duration::from_millis(200))
                .await
                .unwrap_or_else(|e| panic!("member {member}'s poll failed: {e:?}"));
            let mine: BTreeSet<i32> = consumer
                .assignment()
                .await
                .iter()
                .map(|tp| tp.partition)
                .collect();
            {
                let mut s = owners.0.lock().unwrap();
                let claimed: BTreeSet<i32> = s
                    .owner
                    .iter()
                    .filter(|(_, o)| **o == member)
                    .map(|(p, _)| *p)
                    .collect();
                if claimed != mine {
                    s.violations.push(format!(
                        "member {member}: assignment() {mine:?} but its hooks claimed {claimed:?}"
                    ));
                }
                for r in &records {
                    s.records.push((member, value_of(r)));
                }
            }
            if commit && !records.is_empty() {
                if let Err(e) = consumer.commit().await {
                    owners
                        .0
                        .lock()
                        .unwrap()
                        .commit_refusals
                        .push(format!("member {member}: {e}"));
                }
            }
        }
    });
    Running { stop, handle }
}
