//! One scenario's run: a three-node cluster (RF 3, `min.insync.replicas` 2, unclean
//! election off), every node behind a proxy of its own; a topic; the checks; a group
//! consuming from the start; a producer load; and at the end the verdict, printed as one
//! `SCENARIO` line and asserted.

use crate::checks::SharedChecks;
use crate::group::{GroupCounts, GroupLoad, GroupSpec};
use crate::produce::{ProduceLoad, ProduceOutcome, ProduceSpec};
use crate::support::{log, read_all, Broker};
use kafkit_testkit::{KafkaCluster, PartitionRoles};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// `KAFKIT_SCENARIO_SIZE`: `quick` (the default, for `cargo test`) or `full` (the sizes
/// issue 15 names: 200,000 records and more faults; `bench/scenarios.sh`).
pub const SIZE_ENV: &str = "KAFKIT_SCENARIO_SIZE";

/// Whether the full sizes were asked for.
pub fn full_size() -> bool {
    match std::env::var(SIZE_ENV).as_deref() {
        Err(_) | Ok("") | Ok("quick") => false,
        Ok("full") => true,
        Ok(other) => panic!("{SIZE_ENV}={other:?}: expected quick or full"),
    }
}

/// `quick` or `full`, by [`full_size`].
pub fn sized<T>(quick: T, full: T) -> T {
    if full_size() {
        full
    } else {
        quick
    }
}

/// Which nodes are controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Three nodes, each broker and controller.
    ThreeVoters,
    /// Node 0 broker and the only controller; nodes 1 and 2 brokers only, so both can be
    /// frozen and the quorum still shrinks ISRs.
    OneController,
}

/// The cluster every scenario runs on.
pub async fn start_cluster(layout: Layout) -> Broker {
    let mut builder = KafkaCluster::builder()
        .property("min.insync.replicas", "2")
        .property("unclean.leader.election.enable", "false")
        .property("group.min.session.timeout.ms", "1000");
    if layout == Layout::OneController {
        builder = builder.controllers(1);
    }
    Broker::start_behind_proxies(builder, 3).await
}

/// A scenario in progress.
pub struct Run {
    pub name: &'static str,
    pub t0: Instant,
    pub broker: Broker,
    pub topic: String,
    pub partitions: i32,
    pub checks: SharedChecks,
    /// How long the group may take, once the producer is done, to read every acknowledged
    /// record (default 120 s).
    pub catch_up: Duration,
    group: Option<GroupLoad>,
}

impl Run {
    /// Starts the cluster, creates the topic and starts the group on it, with checks that
    /// keep every value.
    pub async fn start(
        name: &'static str,
        layout: Layout,
        partitions: i32,
        group: GroupSpec,
    ) -> Run {
        Run::start_with(name, layout, partitions, group, SharedChecks::new(true)).await
    }

    /// [`Run::start`] with the given checks.
    pub async fn start_with(
        name: &'static str,
        layout: Layout,
        partitions: i32,
        group: GroupSpec,
        checks: SharedChecks,
    ) -> Run {
        let t0 = Instant::now();
        let broker = start_cluster(layout).await;
        let topic = broker.create_topic(name, partitions).await;
        let group = GroupLoad::start(
            &broker.bootstrap,
            &topic,
            partitions,
            &kafkit_testkit::unique_name(name),
            group,
            checks.clone(),
        )
        .await;
        log(
            t0,
            format!("{name}: cluster up ({layout:?}), topic {topic}, group started"),
        );
        Run {
            name,
            t0,
            broker,
            topic,
            partitions,
            checks,
            catch_up: Duration::from_secs(120),
            group: Some(group),
        }
    }

    /// Starts the producer load.
    pub async fn produce(&self, spec: ProduceSpec) -> ProduceLoad {
        log(
            self.t0,
            format!("producing {} records at {:.0}/s", spec.records, spec.rate),
        );
        let run = kafkit_testkit::unique_name("r");
        ProduceLoad::start(
            &self.broker.bootstrap,
            &self.topic,
            self.partitions,
            &run,
            spec,
            self.checks.clone(),
            self.t0,
        )
        .await
    }

    /// The group's live counts.
    pub fn group_counts(&self) -> Arc<GroupCounts> {
        self.group.as_ref().expect("the group runs").counts.clone()
    }

    /// Prints a line of the scenario's story.
    pub fn log(&self, msg: impl std::fmt::Display) {
        log(self.t0, msg);
    }

    /// Leader and ISR of `partition` of the run's topic, waiting (up to 30 s) until some
    /// node answers and names a leader.
    pub async fn roles(&self, partition: i32) -> PartitionRoles {
        let topic = self.topic.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = topic.clone();
            let roles = self
                .broker
                .blocking(move |c| c.partition_roles(&t, partition))
                .await;
            match roles {
                Some(r) if r.leader.is_some() => return r,
                _ if Instant::now() > deadline => {
                    panic!("no leader for {topic}-{partition} within 30 s: {roles:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The leader of `partition`.
    pub async fn leader(&self, partition: i32) -> usize {
        self.roles(partition)
            .await
            .leader
            .expect("roles() waits for a leader")
    }

    /// The active controller, waiting (up to 30 s) until one is known.
    pub async fn controller(&self) -> usize {
        self.controller_other_than(usize::MAX).await
    }

    /// The active controller once it is not `old`, waiting up to 30 s.
    pub async fn controller_other_than(&self, old: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.broker.blocking(|c| c.active_controller()).await {
                Some(c) if c != old => return c,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "no active controller but node {old} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (up to `limit`) until every partition of the topic and of the group's offsets
    /// topic has all three replicas in sync, as a rolling restart must before it takes the
    /// next node down.
    pub async fn wait_full_isr(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        // The launcher gives __consumer_offsets 5 partitions.
        let topics = [
            (self.topic.as_str(), self.partitions),
            ("__consumer_offsets", 5),
        ];
        for (topic, partitions) in topics {
            for p in 0..partitions {
                loop {
                    let t = topic.to_string();
                    let roles = self
                        .broker
                        .blocking(move |c| c.partition_roles(&t, p))
                        .await;
                    if roles.as_ref().is_some_and(|r| r.isr.len() == 3) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{topic}-{p}: not whole within {limit:?}: {roles:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Waits (up to `limit`) until no member's hook has run for `quiet`; returns the number
    /// of hook calls so far.
    pub async fn wait_group_settled(&self, quiet: Duration, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        let hooks = || self.checks.lock().group.report().rebalance_hooks;
        let (mut last, mut since) = (hooks(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = hooks();
            if now != last {
                (last, since) = (now, Instant::now());
            } else if now > 0 && since.elapsed() >= quiet {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "the group did not settle within {limit:?} ({now} hook calls)"
            );
        }
    }

    /// The end of every scenario: waits for the producer (`limit`) and for the group to
    /// read every acknowledged record, stops the group, reads the whole log back, prints
    /// the `SCENARIO` line and panics unless everything is clean: no failed send, nothing
    /// acknowledged lost, duplicated or reordered (in what the group read and in the log),
    /// no poll skip, rewind or stray record, no committed offset going back.
    pub async fn conclude(self, load: ProduceLoad, limit: Duration, notes: &str) -> Verdict {
        let verdict = self.finish(load, limit, notes).await;
        assert!(verdict.clean, "{}\n{}", verdict.line, verdict.details);
        verdict
    }

    /// [`Run::conclude`] without the assertion, for the negative control.
    pub async fn finish(mut self, load: ProduceLoad, limit: Duration, notes: &str) -> Verdict {
        let produced = load.finish(limit).await;
        self.log(format!("producer done: {}", produced.summary()));
        let caught_up = self.wait_group_caught_up(self.catch_up).await;
        let group = self.group.take().expect("the group runs").stop().await;
        self.log(format!("group stopped: {}", group.summary()));
        let verdict = self.verdict(produced, &group, caught_up, notes).await;
        println!("{}", verdict.line);
        if let Ok(path) = std::env::var("KAFKIT_SCENARIO_REPORT") {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("open {path}: {e}"));
            writeln!(f, "{}", verdict.line).expect("write the scenario report");
        }
        verdict
    }

    /// Waits until the group has read every acknowledged record; false if it has not within
    /// `limit`.
    async fn wait_group_caught_up(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let unread = self.checks.lock().stream.unread();
            if unread == 0 {
                self.log("the group has read every acknowledged record");
                return true;
            }
            if Instant::now() > deadline {
                self.log(format!(
                    "the group left {unread} acknowledged records unread"
                ));
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn verdict(
        &self,
        produced: ProduceOutcome,
        group: &GroupCounts,
        caught_up: bool,
        notes: &str,
    ) -> Verdict {
        let (stream, full, g) = {
            let c = self.checks.lock();
            (c.stream.report(), c.full.clone(), c.group.report())
        };
        let wall = self.t0.elapsed();
        let mut line = format!(
            "SCENARIO {}: {:.0} s | acked {}, failed {}, producer retries {} | ",
            self.name,
            wall.as_secs_f64(),
            produced.acked,
            produced.failed,
            produced.metrics.retries,
        );
        let mut details = format!(
            "producer: {}\ngroup: {}\nstream check: {stream}group checks: {g}",
            produced.summary(),
            group.summary()
        );
        let mut clean = caught_up && produced.failed == 0 && stream.is_clean() && g.is_clean();
        let (mut in_log, mut group_read) = (None, None);
        if let Some(full) = full {
            // The log as a fresh reader sees it, against the acknowledgements alone: tells a
            // consumer's loss (in the log, not read) from a producer's or broker's.
            let mut log_check = full.without_reads();
            for r in read_all(&self.broker.bootstrap, &self.topic, self.partitions).await {
                log_check.observe(
                    r.partition,
                    r.offset,
                    r.value.as_deref().unwrap_or_default(),
                );
            }
            let (read, logged) = (full.report(), log_check.report());
            line.push_str(&format!(
                "group read: {} lost, {} duplicated, {} reordered | log: {} records, {} lost, \
                 {} duplicated, {} reordered | ",
                read.lost.len(),
                read.duplicated.len(),
                read.reordered.len(),
                logged.read,
                logged.lost.len(),
                logged.duplicated.len(),
                logged.reordered.len(),
            ));
            details.push_str(&format!("group reads: {read}log: {logged}"));
            clean &= read.is_clean() && logged.is_clean();
            in_log = Some(logged);
            group_read = Some(read);
        } else {
            line.push_str(&format!(
                "group read: {} lost, {} out of order, {} misplaced | ",
                stream.lost, stream.out_of_order, stream.misplaced
            ));
        }
        line.push_str(&format!(
            "polled {}, skips {}, rewinds {}, strays {}, commit regressions {} ({} samples), \
             rebalance hooks {} | {}",
            g.polled,
            g.skips,
            g.rewinds,
            g.strays,
            g.commit_regressions,
            g.commit_samples,
            g.rebalance_hooks,
            notes
        ));
        Verdict {
            line,
            details,
            clean,
            group: g,
            in_log,
            read: group_read,
        }
    }
}

/// What [`Run::conclude`] found.
pub struct Verdict {
    /// The one-line summary (also printed).
    pub line: String,
    pub details: String,
    pub clean: bool,
    pub group: kafkit_testkit::GroupReport,
    /// The log, against the acknowledgements (when the checks keep values).
    pub in_log: Option<kafkit_testkit::CheckReport>,
    /// What the group read, against the acknowledgements (when the checks keep values).
    pub read: Option<kafkit_testkit::CheckReport>,
}
