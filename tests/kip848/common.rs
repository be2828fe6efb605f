//! What the KIP-848 tests share: their broker, a member's settings, the ownership ledger
//! the members' hooks (and the process members' output files) feed, and a sampler that
//! checks committed offsets never go back.

use crate::support::*;
use kafkit::{Consumer, ConsumerConfig, GroupProtocol, RebalanceListener, TopicPartition};
use kafkit_testkit::KafkaCluster;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A broker of the test's own whose consumer groups fence a silent member after 6 s and
/// ask for a heartbeat every 500 ms.
pub async fn start_broker() -> Broker {
    Broker::start_with(
        KafkaCluster::builder()
            .property("group.consumer.min.session.timeout.ms", "3000")
            .property("group.consumer.session.timeout.ms", "6000")
            .property("group.consumer.min.heartbeat.interval.ms", "500")
            .property("group.consumer.heartbeat.interval.ms", "500"),
    )
    .await
}

/// A kafkit member's settings: the consumer protocol, manual commits.
pub fn member_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut config = consumer_config(bootstrap);
    config.group_id = Some(group.to_string());
    config.group_protocol = GroupProtocol::Consumer;
    config.enable_auto_commit = false;
    config.max_poll_interval = Duration::from_secs(30);
    config
}

/// A kafkit member's settings with the classic protocol (JoinGroup, SyncGroup), as a
/// group's members had them before an upgrade: manual commits, the default assignors, a
/// 1 s heartbeat so a rebalance the coordinator starts reaches them quickly.
pub fn classic_member_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut config = member_config(bootstrap, group);
    config.group_protocol = GroupProtocol::Classic;
    config.session_timeout = Duration::from_secs(10);
    config.heartbeat_interval = Duration::from_secs(1);
    config
}

/// Who owns which partition, from the hooks as they run: an assignment of a partition
/// another member holds is a violation. Process members (which the test may SIGKILL)
/// write their hooks to files; those are read before every claim, so a revocation they
/// wrote before the broker moved the partition is always seen first.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<LedgerState>>);

#[derive(Default)]
pub struct LedgerState {
    owner: BTreeMap<i32, String>,
    pub violations: Vec<String>,
    /// `(member, partition, offset, value)` of every record an in-process member got.
    pub records: Vec<(String, i32, i64, String)>,
    /// How many hook calls with partitions each in-process member made: a rebalance
    /// shows as calls.
    pub hook_calls: BTreeMap<String, usize>,
    /// Process members' files and how many of their lines were taken in.
    files: BTreeMap<String, (PathBuf, usize)>,
}

impl LedgerState {
    fn claim(&mut self, member: &str, partitions: &BTreeSet<i32>) {
        for &p in partitions {
            if let Some(other) = self.owner.insert(p, member.to_string()) {
                if other != member {
                    self.violations.push(format!(
                        "{member} assigned partition {p} while {other} still held it"
                    ));
                }
            }
        }
    }

    fn release(&mut self, member: &str, partitions: &BTreeSet<i32>) {
        for p in partitions {
            if self.owner.get(p).map(String::as_str) == Some(member) {
                self.owner.remove(p);
            }
        }
    }

    /// Takes in the hook lines the process members wrote since the last look.
    fn read_files(&mut self) {
        let files: Vec<(String, PathBuf, usize)> = self
            .files
            .iter()
            .map(|(n, (p, seen))| (n.clone(), p.clone(), *seen))
            .collect();
        for (name, path, seen) in files {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Only whole lines: a line being written has no newline yet.
            let complete = text.rfind('\n').map_or("", |end| &text[..end]);
            let lines: Vec<&str> = complete.lines().collect();
            for line in &lines[seen.min(lines.len())..] {
                let mut words = line.splitn(3, ' ');
                if words.next() != Some("#") {
                    continue;
                }
                let hook = words.next().unwrap_or("");
                let list = || parse_list(words.clone().next().unwrap_or(""));
                match hook {
                    "assigned" => self.claim(&name, &list()),
                    "revoked" | "lost" => self.release(&name, &list()),
                    _ => {}
                }
            }
            self.files.get_mut(&name).unwrap().1 = lines.len();
        }
    }
}

impl Ledger {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.0.lock().unwrap()
    }

    /// Follows a process member's output file.
    pub fn follow(&self, name: &str, path: PathBuf) {
        self.lock().files.insert(name.to_string(), (path, 0));
    }

    /// Takes in what the process members wrote so far.
    pub fn refresh(&self) {
        self.lock().read_files();
    }

    /// A process member died: it owns nothing any more (what it wrote before is taken in).
    pub fn died(&self, name: &str) {
        let mut s = self.lock();
        s.read_files();
        s.files.remove(name);
        let owned: BTreeSet<i32> = s
            .owner
            .iter()
            .filter(|(_, o)| o.as_str() == name)
            .map(|(p, _)| *p)
            .collect();
        s.release(name, &owned);
    }

    fn hook(&self, member: &str, assigned: bool, partitions: &[TopicPartition]) {
        let list: BTreeSet<i32> = partitions.iter().map(|tp| tp.partition).collect();
        let mut s = self.lock();
        s.read_files();
        if !list.is_empty() {
            *s.hook_calls.entry(member.to_string()).or_default() += 1;
        }
        if assigned {
            s.claim(member, &list);
        } else {
            s.release(member, &list);
        }
    }

    pub fn owned_by(&self, member: &str) -> BTreeSet<i32> {
        self.lock()
            .owner
            .iter()
            .filter(|(_, o)| o.as_str() == member)
            .map(|(p, _)| *p)
            .collect()
    }

    pub fn values(&self) -> Vec<String> {
        self.lock().records.iter().map(|r| r.3.clone()).collect()
    }

    pub fn assert_clean(&self) {
        let s = self.lock();
        assert!(s.violations.is_empty(), "ownership: {:#?}", s.violations);
    }
}

pub fn parse_list(s: &str) -> BTreeSet<i32> {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().expect("a partition number"))
        .collect()
}

/// The hooks of an in-process member: claims and releases in the ledger; the revoke hook
/// commits first, as an application that processes before committing would.
pub struct Hooks {
    pub name: String,
    pub ledger: Ledger,
}

impl RebalanceListener for Hooks {
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(async move {
            if let Err(e) = consumer.commit().await {
                println!("{}: commit on revoke failed: {e}", self.name);
            }
            self.ledger.hook(&self.name, false, partitions);
        })
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(async move { self.ledger.hook(&self.name, true, partitions) })
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        Box::pin(async move { self.ledger.hook(&self.name, false, partitions) })
    }
}

/// An in-process member polling on its own task.
pub struct Running {
    pub name: String,
    pub consumer: Consumer,
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Subscribes a new member to `topic` and polls until stopped: its records go to the
    /// ledger, it commits after each non-empty poll, and after each poll its
    /// `assignment()` must be what its hooks claimed.
    pub async fn start(
        bootstrap: &str,
        group: &str,
        topic: &str,
        name: &str,
        ledger: &Ledger,
    ) -> Running {
        Running::start_with(member_config(bootstrap, group), topic, name, ledger).await
    }

    /// [`Running::start`] with settings of the test's own (the classic protocol, say).
    pub async fn start_with(
        config: ConsumerConfig,
        topic: &str,
        name: &str,
        ledger: &Ledger,
    ) -> Running {
        let consumer = Consumer::new(config).await.unwrap();
        consumer.set_rebalance_listener(Hooks {
            name: name.to_string(),
            ledger: ledger.clone(),
        });
        consumer.subscribe([topic]).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, c, ledger, me) = (
            stop.clone(),
            consumer.clone(),
            ledger.clone(),
            name.to_string(),
        );
        let handle = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                let records = c
                    .poll(Duration::from_millis(200))
                    .await
                    .unwrap_or_else(|e| panic!("{me}'s poll failed: {e:?}"));
                let mine: BTreeSet<i32> =
                    c.assignment().await.iter().map(|tp| tp.partition).collect();
                {
                    let claimed = ledger.owned_by(&me);
                    let mut s = ledger.lock();
                    if claimed != mine {
                        s.violations.push(format!(
                            "{me}: assignment() {mine:?} but its hooks claimed {claimed:?}"
                        ));
                    }
                    for r in &records {
                        s.records
                            .push((me.clone(), r.partition, r.offset, value_of(r)));
                    }
                }
                if !records.is_empty() {
                    if let Err(e) = c.commit().await {
                        println!("{me}: commit failed: {e}");
                    }
                }
            }
        });
        Running {
            name: name.to_string(),
            consumer,
            stop,
            handle,
        }
    }

    /// Stops polling, then closes (commit, revoke hook, leave heartbeat).
    pub async fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.expect("a member's poll loop panicked");
        self.consumer.close().await.unwrap();
    }
}

/// Samples the group's committed offsets every 100 ms with a consumer that never joins,
/// and records any that went back.
pub struct CommitWatch {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(usize, Vec<String>)>,
}

impl CommitWatch {
    pub async fn start(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> CommitWatch {
        let observer = Consumer::new(member_config(bootstrap, group))
            .await
            .unwrap();
        let tps: Vec<TopicPartition> = (0..partitions)
            .map(|p| TopicPartition::new(topic, p))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let mut high: BTreeMap<i32, i64> = BTreeMap::new();
            let mut regressions = Vec::new();
            let mut samples = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(committed) = observer.committed(&tps).await {
                    samples += 1;
                    for (tp, o) in committed {
                        let before = high.entry(tp.partition).or_insert(o.offset);
                        if o.offset < *before {
                            regressions.push(format!(
                                "partition {}: committed {} after {}",
                                tp.partition, o.offset, before
                            ));
                        }
                        *before = (*before).max(o.offset);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (samples, regressions)
        });
        CommitWatch { stop, handle }
    }

    /// Stops sampling; panics if a committed offset went back.
    pub async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let (samples, regressions) = self.handle.await.unwrap();
        assert!(samples > 0, "no committed offsets could be sampled");
        assert!(
            regressions.is_empty(),
            "committed offsets went back: {regressions:#?}"
        );
        samples
    }
}

/// Each partition's committed offset.
pub async fn committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let observer = Consumer::new(member_config(bootstrap, group))
        .await
        .unwrap();
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    observer
        .committed(&tps)
        .await
        .unwrap()
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

/// The log end offset of each partition.
pub async fn ends(bootstrap: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let admin = kafkit::Admin::new(kafkit::ClientConfig::new(bootstrap))
        .await
        .unwrap();
    admin
        .list_offsets(
            (0..partitions).map(|p| (TopicPartition::new(topic, p), kafkit::OffsetSpec::Latest)),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

/// Produces `"v-{i}"` for `i` in `0..count` at about 200 a second, in the background; the
/// task returns the values once all are acknowledged.
pub fn produce_values_paced(
    bootstrap: &str,
    topic: &str,
    count: usize,
) -> tokio::task::JoinHandle<Vec<String>> {
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::spawn(async move {
        let producer = kafkit::Producer::new(producer_config(&bootstrap))
            .await
            .unwrap();
        let mut values = Vec::new();
        for chunk in 0..count / 100 {
            let records: Vec<kafkit::ProducerRecord> = (chunk * 100..(chunk + 1) * 100)
                .map(|i| {
                    values.push(format!("v-{i}"));
                    kafkit::ProducerRecord::new(topic.clone(), format!("v-{i}"))
                        .key(format!("k{i}"))
                })
                .collect();
            send_all(&producer, records).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        values
    })
}
