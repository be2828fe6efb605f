//! What the group fault tests share besides `support`: their broker, the `group_member`
//! example as a separate process per member (so it can be SIGKILLed or SIGSTOPped), the
//! parsing of its output, a paced producer, and the loss check.

use crate::support::{log, producer_config, Broker};
use kafkit::{Acks, GroupProtocol, Producer, ProducerRecord};
use kafkit_testkit::KafkaCluster;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A single-node broker of the test's own for members of `protocol` whose sessions last
/// `session_timeout_ms`.
///
/// Classic members ask for their session timeout in JoinGroup; the broker's minimum is
/// lowered to 1 s so they can ask for 3 s and the tests stay short. With the consumer
/// protocol (KIP-848) the session timeout and the heartbeat interval are the broker's
/// (`group.consumer.session.timeout.ms`, `group.consumer.heartbeat.interval.ms`; a member
/// cannot ask), so they are set here: the same session, and a heartbeat every tenth of it
/// as the classic members' `heartbeat.interval.ms` is (the broker requires the interval
/// below the session, and both at least their `min` settings, lowered to allow it).
pub async fn start_broker(protocol: GroupProtocol, session_timeout_ms: u64) -> Broker {
    let builder = KafkaCluster::builder().property("group.min.session.timeout.ms", "1000");
    let builder = if protocol == GroupProtocol::Consumer {
        let session = session_timeout_ms.to_string();
        let heartbeat = (session_timeout_ms / 10).max(100).to_string();
        builder
            .property("group.consumer.min.session.timeout.ms", "1000")
            .property("group.consumer.session.timeout.ms", &session)
            .property("group.consumer.min.heartbeat.interval.ms", "100")
            .property("group.consumer.heartbeat.interval.ms", &heartbeat)
    } else {
        builder
    };
    Broker::start_with(builder).await
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
    /// `group.protocol`.
    pub protocol: GroupProtocol,
    pub topic: String,
    pub group: String,
    pub instance_id: Option<String>,
    /// The member's `session.timeout.ms` with the classic protocol; with the consumer
    /// protocol the broker's (see [`start_broker`]).
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
        protocol: GroupProtocol,
        topic: &str,
        test: &str,
        session_timeout_ms: u64,
        process_ms: u64,
    ) -> MemberArgs {
        MemberArgs {
            bootstrap: broker.bootstrap.clone(),
            protocol,
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
            .args([
                "--group-protocol",
                if args.protocol == GroupProtocol::Consumer {
                    "consumer"
                } else {
                    "classic"
                },
            ])
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

    /// The partitions the member owns as its hooks tell (`None`: none): each `# assigned`
    /// line adds, each `# revoked` or `# lost` line takes away. An eager (`range`) member
    /// revokes everything and is assigned its whole share; a cooperative or consumer-protocol
    /// one is told only what changes.
    pub fn owned(&self) -> Option<BTreeSet<i32>> {
        let mut owned = BTreeSet::new();
        for e in self.events() {
            if let Some(list) = e.strip_prefix("assigned ") {
                owned.extend(parse_list(list));
            } else if let Some(list) = e
                .strip_prefix("revoked ")
                .or_else(|| e.strip_prefix("lost "))
            {
                for p in parse_list(list) {
                    owned.remove(&p);
                }
            }
        }
        (!owned.is_empty()).then_some(owned)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} {} failed", self.pid());
    }

    /// SIGTERM: the member closes (commit, revoke hook, leave; a static member keeps its
    /// place) and exits; waits up to 20 s for that.
    pub async fn terminate(&mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().expect("wait for a member").is_none() {
            assert!(
                Instant::now() < deadline,
                "{} did not exit within 20 s of SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
