//! The group consumer load: in-process kafkit consumers in one group (eager `range`
//! assignment, manual commits after every poll and in the revoke hook), every record and
//! hook call fed to the checks, and a watcher that reads the group's committed offsets
//! from the broker a few times a second so the checks see them never go back.
//!
//! A saboteur member (for the negative control) once skips records by seeking ahead and
//! once commits an offset lower than its last: the checks must catch both.

use crate::checks::SharedChecks;
use kafkit::{
    AssignorKind, AutoOffsetReset, Consumer, ConsumerConfig, HookFuture, OffsetAndMetadata,
    RebalanceListener, TopicPartition,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How the group is made.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    pub members: usize,
    /// Static members (`group.instance.id`): a member that stays away less than its session
    /// timeout keeps its place without a rebalance.
    pub static_members: bool,
    pub session_timeout: Duration,
    /// The consumers' `request.timeout.ms`.
    pub request_timeout: Duration,
    /// Member 0 misbehaves once each way (negative control).
    pub sabotage: bool,
    /// The members' `fetch.max.bytes` and `max.partition.fetch.bytes`; unset, the defaults.
    pub fetch_max_bytes: Option<usize>,
}

impl GroupSpec {
    pub fn new(members: usize) -> GroupSpec {
        GroupSpec {
            members,
            static_members: false,
            session_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            sabotage: false,
            fetch_max_bytes: None,
        }
    }
}

/// What the members ran into, counted.
#[derive(Default)]
pub struct GroupCounts {
    pub poll_errors: AtomicU64,
    pub commit_errors: AtomicU64,
    pub watch_errors: AtomicU64,
    /// Hook calls after the first assignment of each member.
    pub later_hooks: AtomicU64,
    pub sabotaged_skips: AtomicU64,
    pub sabotaged_commits: AtomicU64,
}

impl GroupCounts {
    pub fn summary(&self) -> String {
        format!(
            "{} poll errors, {} commit errors, {} watcher errors, {} hook calls after the \
             first assignments",
            self.poll_errors.load(Ordering::Relaxed),
            self.commit_errors.load(Ordering::Relaxed),
            self.watch_errors.load(Ordering::Relaxed),
            self.later_hooks.load(Ordering::Relaxed)
        )
    }
}

/// A running group.
pub struct GroupLoad {
    pub counts: Arc<GroupCounts>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A member's next offset per partition it owns, from the records `poll` returned.
type Positions = Arc<Mutex<HashMap<i32, i64>>>;

fn member_config(bootstrap: &str, group: &str, spec: &GroupSpec, i: usize) -> ConsumerConfig {
    let mut config = ConsumerConfig::new(bootstrap);
    config.group_id = Some(group.to_string());
    if spec.static_members {
        config.group_instance_id = Some(format!("{group}-m{i}"));
    }
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    config.enable_auto_commit = false;
    config.session_timeout = spec.session_timeout;
    config.heartbeat_interval = (spec.session_timeout / 10).max(Duration::from_millis(100));
    config.partition_assignment_strategy = vec![AssignorKind::Range];
    config.client.request_timeout = spec.request_timeout;
    config.default_api_timeout = Duration::from_secs(15);
    if let Some(bytes) = spec.fetch_max_bytes {
        config.fetch_max_bytes = bytes;
        config.max_partition_fetch_bytes = bytes;
    }
    config
}

impl GroupLoad {
    /// Starts `spec.members` members of `group` on `topic` (`partitions` partitions), and the
    /// committed-offset watcher.
    pub async fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        group: &str,
        spec: GroupSpec,
        checks: SharedChecks,
    ) -> GroupLoad {
        let counts = Arc::new(GroupCounts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for i in 0..spec.members {
            let consumer = Consumer::new(member_config(bootstrap, group, &spec, i))
                .await
                .expect("group member");
            let member = Member {
                name: format!("m{i}"),
                topic: topic.to_string(),
                consumer,
                checks: checks.clone(),
                counts: counts.clone(),
                positions: Positions::default(),
                saboteur: spec.sabotage && i == 0,
            };
            member.consumer.set_rebalance_listener(Hooks {
                name: member.name.clone(),
                checks: checks.clone(),
                counts: counts.clone(),
                positions: member.positions.clone(),
                assigned_once: AtomicBool::new(false),
            });
            member
                .consumer
                .subscribe([topic.to_string()])
                .await
                .expect("subscribe");
            tasks.push(tokio::spawn(member.run(stop.clone())));
        }
        let mut config = member_config(bootstrap, group, &spec, 0);
        config.group_instance_id = None;
        config.client.request_timeout = Duration::from_secs(5);
        config.default_api_timeout = Duration::from_secs(5);
        let watcher = Consumer::new(config).await.expect("commit watcher");
        let tps: Vec<TopicPartition> = (0..partitions)
            .map(|p| TopicPartition::new(topic, p))
            .collect();
        tasks.push(tokio::spawn(watch_commits(
            watcher,
            tps,
            checks,
            counts.clone(),
            stop.clone(),
        )));
        GroupLoad {
            counts,
            stop,
            tasks,
        }
    }

    /// Stops the members (each commits and leaves) and the watcher.
    pub async fn stop(self) -> Arc<GroupCounts> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        }
        self.counts
    }
}

struct Member {
    name: String,
    topic: String,
    consumer: Consumer,
    checks: SharedChecks,
    counts: Arc<GroupCounts>,
    positions: Positions,
    saboteur: bool,
}

impl Member {
    async fn run(self, stop: Arc<AtomicBool>) {
        let mut sabotage = Sabotage::default();
        while !stop.load(Ordering::Relaxed) {
            let records = match self.consumer.poll(Duration::from_millis(200)).await {
                Ok(records) => records,
                Err(_) => {
                    self.counts.poll_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            for r in &records {
                let value = r.value.as_deref().unwrap_or_default();
                self.checks.read(&self.name, r.partition, r.offset, value);
                self.positions
                    .lock()
                    .unwrap()
                    .insert(r.partition, r.offset + 1);
            }
            if self.saboteur {
                sabotage.skip(&self).await;
            }
            if records.is_empty() {
                continue;
            }
            if commit(&self.consumer, &self.positions, &self.checks, None).await {
                if self.saboteur {
                    sabotage.regress(&self).await;
                }
            } else {
                self.counts.commit_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = self.consumer.close().await;
    }
}

/// Commits the member's positions (of `only` if given); on success tells the checks what
/// was committed.
async fn commit(
    consumer: &Consumer,
    positions: &Positions,
    checks: &SharedChecks,
    only: Option<&[TopicPartition]>,
) -> bool {
    let snapshot: Vec<(i32, i64)> = positions
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| only.is_none_or(|o| o.iter().any(|tp| tp.partition == **p)))
        .map(|(&p, &o)| (p, o))
        .collect();
    if consumer.commit().await.is_err() {
        return false;
    }
    let mut c = checks.lock();
    for (p, o) in snapshot {
        c.group.commit_succeeded(p, o);
    }
    true
}

/// The saboteur's two misdeeds, each done once.
#[derive(Default)]
struct Sabotage {
    skipped: bool,
    regressed: bool,
}

impl Sabotage {
    /// Once 200 records into a partition, seeks 5 records ahead: a skip.
    async fn skip(&mut self, m: &Member) {
        if self.skipped {
            return;
        }
        let target = m
            .positions
            .lock()
            .unwrap()
            .iter()
            .find(|(_, &o)| o >= 200)
            .map(|(&p, &o)| (p, o));
        if let Some((p, o)) = target {
            let tp = TopicPartition::new(m.topic.as_str(), p);
            if m.consumer.seek(&tp, o + 5).await.is_ok() {
                self.skipped = true;
                m.counts.sabotaged_skips.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Once a partition's commit is past 2,000, commits 50 less and holds it for 2 s, so
    /// the watcher sees the committed offset below one accepted before.
    async fn regress(&mut self, m: &Member) {
        if self.regressed {
            return;
        }
        let target = m
            .positions
            .lock()
            .unwrap()
            .iter()
            .find(|(_, &o)| o >= 2_000)
            .map(|(&p, &o)| (p, o));
        if let Some((p, o)) = target {
            let tp = TopicPartition::new(m.topic.as_str(), p);
            if m.consumer
                .commit_offsets([(tp, OffsetAndMetadata::new(o - 50))])
                .await
                .is_ok()
            {
                self.regressed = true;
                m.counts.sabotaged_commits.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The members' rebalance hooks: commit before giving partitions up, and tell the checks.
struct Hooks {
    name: String,
    checks: SharedChecks,
    counts: Arc<GroupCounts>,
    positions: Positions,
    assigned_once: AtomicBool,
}

fn numbers(partitions: &[TopicPartition]) -> Vec<i32> {
    partitions.iter().map(|tp| tp.partition).collect()
}

impl Hooks {
    fn count_later(&self) {
        if self.assigned_once.load(Ordering::Relaxed) {
            self.counts.later_hooks.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn forget(&self, partitions: &[TopicPartition]) {
        let mut positions = self.positions.lock().unwrap();
        for tp in partitions {
            positions.remove(&tp.partition);
        }
        drop(positions);
        self.checks
            .lock()
            .group
            .revoked(&self.name, &numbers(partitions));
    }
}

impl RebalanceListener for Hooks {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        Box::pin(async move {
            self.count_later();
            if !commit(consumer, &self.positions, &self.checks, Some(partitions)).await {
                self.counts.commit_errors.fetch_add(1, Ordering::Relaxed);
            }
            self.forget(partitions);
        })
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        Box::pin(async move {
            self.count_later();
            if !partitions.is_empty() {
                self.assigned_once.store(true, Ordering::Relaxed);
            }
            self.checks
                .lock()
                .group
                .assigned(&self.name, &numbers(partitions));
        })
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> HookFuture<'a> {
        Box::pin(async move {
            self.count_later();
            self.forget(partitions);
        })
    }
}

/// Reads the group's committed offsets every 250 ms until stopped, feeding the checks with
/// the marks they had before each read.
async fn watch_commits(
    watcher: Consumer,
    tps: Vec<TopicPartition>,
    checks: SharedChecks,
    counts: Arc<GroupCounts>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let marks: HashMap<i32, Option<i64>> = {
            let c = checks.lock();
            tps.iter()
                .map(|tp| (tp.partition, c.group.committed_mark(tp.partition)))
                .collect()
        };
        match watcher.committed(&tps).await {
            Ok(committed) => {
                let mut c = checks.lock();
                for (tp, om) in committed {
                    let mark = marks.get(&tp.partition).copied().flatten();
                    c.group.committed_sample(tp.partition, om.offset, mark);
                }
            }
            Err(_) => {
                counts.watch_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
