//! What the group fault tests share besides `support`: their broker, the `group_member`
//! example as a separate process per member (so it can be SIGKILLed or SIGSTOPped), the
//! parsing of its output, a paced producer, and the loss check.

use crate::support::{log, producer_config, Broker};
use kafkit::{Acks, Producer, ProducerRecord};
use kafkit_testkit::KafkaCluster;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A single-node broker of the test's own. Its minimum session timeout is lowered to 1 s so
/// members can use 3 s sessions and the tests stay short.
pub async fn start_broker() -> Broker {
    Broker::start_with(KafkaCluster::builder().property("group.min.session.timeout.ms", "1000"))
        .await
}

/// The `group_member` example's executable, built on first use.
pub fn member_binary() -> PathBuf {
    crate::support::example_binary("group_member")
}

/// A member process and the file it appends to.
pub struct Member {
    pub name: String,
    pub child: Child,
    pub out: PathBuf,
}

/// How a member is started.
#[derive(Clone)]
pub struct MemberArgs {
    pub bootstrap: String,
    pub topic: String,
    pub group: String,
    pub instance_id: Option<String>,
    pub session_timeout_ms: u64,
    pub process_ms: u64,
    pub dir: PathBuf,
    /// `Some(interval)`: auto-commit at that interval instead of committing after
    /// processing each batch.
    pub auto_commit_interval_ms: Option<u64>,
}

impl MemberArgs {
    /// Members of the group named like `topic`, on `broker`, each writing its file to a
    /// fresh folder named after the test; no `group.instance.id`.
    pub fn new(
        broker: &Broker,
        topic: &str,
        test: &str,
        session_timeout_ms: u64,
        process_ms: u64,
    ) -> MemberArgs {
        MemberArgs {
            bootstrap: broker.bootstrap.clone(),
            topic: topic.to_string(),
            group: topic.to_string(),
            instance_id: None,
            session_timeout_ms,
            process_ms,
            dir: out_dir(test),
            auto_commit_interval_ms: None,
        }
    }
}

impl Member {
    pub async fn start(args: &MemberArgs, name: &str) -> Member {
        let bin = tokio::task::spawn_blocking(member_binary).await.unwrap();
        let out = args.dir.join(format!("{name}.out"));
        let mut cmd = Command::new(bin);
        cmd.args(["--bootstrap-server", &args.bootstrap])
            .args(["--topic", &args.topic])
            .args(["--group", &args.group])
            .args(["--session-timeout-ms", &args.session_timeout_ms.to_string()])
            .args(["--process-ms", &args.process_ms.to_string()])
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(id) = &args.instance_id {
            cmd.args(["--instance-id", id]);
        }
        match args.auto_commit_interval_ms {
            Some(ms) => cmd.args(["--auto-commit-interval-ms", &ms.to_string()]),
            None => cmd.arg("--commit-after-processing"),
        };
        let child = cmd.spawn().expect("start group_member");
        Member {
            name: name.to_string(),
            child,
            out,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `(partition, offset, value)` of every complete record line.
    pub fn records(&self) -> Vec<(i32, i64, String)> {
        self.lines()
            .iter()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut parts = l.splitn(3, ' ');
                Some((
                    parts.next()?.parse().ok()?,
                    parts.next()?.parse().ok()?,
                    parts.next()?.to_string(),
                ))
            })
            .collect()
    }

    /// The hook and error lines (`# ...`), without the `# `; not the `# processed` marks,
    /// which follow every batch and say nothing about the group.
    pub fn events(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|e| *e != "processed")
            .map(str::to_string)
            .collect()
    }

    /// The partitions of the last `# assigned` line with any, the hooks' view of the
    /// current assignment (`range` is eager: each assigned line is the whole share).
    pub fn last_assigned(&self) -> Option<BTreeSet<i32>> {
        self.events()
            .iter()
            .rev()
            .filter_map(|e| e.strip_prefix("assigned "))
            .map(parse_list)
            .find(|s| !s.is_empty())
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        self.kill();
    }
}

pub fn parse_list(s: &str) -> BTreeSet<i32> {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().expect("a partition number"))
        .collect()
}

/// A temporary folder for the members' output, kept on failure for inspection.
fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(kafkit_testkit::unique_name(test));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Produces `"{prefix}-{i}"` for `i` in `0..count` at about `per_sec` records a second, in
/// the background; the task returns the values the broker acknowledged.
pub fn produce_paced(
    bootstrap: &str,
    topic: &str,
    prefix: &str,
    count: usize,
    per_sec: u64,
) -> tokio::task::JoinHandle<Vec<String>> {
    let mut config = producer_config(bootstrap);
    config.acks = Acks::All;
    config.delivery_timeout = Duration::from_secs(120);
    config.client.request_timeout = Duration::from_secs(5);
    let topic = topic.to_string();
    let prefix = prefix.to_string();
    tokio::spawn(async move {
        let producer = Producer::new(config).await.expect("producer");
        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut waits = Vec::new();
        let start = Instant::now();
        for i in 0..count {
            let due = start + Duration::from_micros(i as u64 * 1_000_000 / per_sec);
            tokio::time::sleep_until(due).await;
            let value = format!("{prefix}-{i}");
            let delivery = producer
                .send(ProducerRecord::new(topic.as_str(), value.clone()).key(format!("k{i}")))
                .await
                .expect("send");
            let acked = acked.clone();
            waits.push(tokio::spawn(async move {
                if delivery.await.is_ok() {
                    acked.lock().unwrap().push(value);
                }
            }));
        }
        producer.flush().await;
        for w in waits {
            let _ = w.await;
        }
        let acked = acked.lock().unwrap().clone();
        acked
    })
}

/// Every value any member output, with how many times.
pub fn consumed(members: &[&Member]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for m in members {
        for (_, _, v) in m.records() {
            *seen.entry(v).or_default() += 1;
        }
    }
    seen
}

/// Waits (up to `limit`) until every produced value was output by some member; panics
/// naming the missing ones. Returns the number of values output more than once.
pub async fn assert_all_consumed(
    t0: Instant,
    produced: &[String],
    members: &[&Member],
    limit: Duration,
) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let seen = consumed(members);
        let missing: Vec<&String> = produced.iter().filter(|v| !seen.contains_key(*v)).collect();
        if missing.is_empty() {
            let dups = seen.values().filter(|&&n| n > 1).count();
            log(
                t0,
                format!(
                    "all {} produced records consumed; {dups} consumed more than once",
                    produced.len()
                ),
            );
            return dups;
        }
        if Instant::now() > deadline {
            for m in members {
                println!("--- {} events: {:?}", m.name, m.events());
            }
            panic!(
                "{} of {} produced records never consumed (lost), e.g. {:?}",
                missing.len(),
                produced.len(),
                &missing[..missing.len().min(10)]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
