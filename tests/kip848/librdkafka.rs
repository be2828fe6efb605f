//! A kafkit member and librdkafka members (confluent-kafka, `librdkafka_member.py`), all with
//! `group.protocol=consumer`, in one group while records are produced: the first librdkafka
//! member leaves midway (its partitions go to kafkit, which must start at librdkafka's
//! commits), then a second one joins (kafkit revokes part of its share, committing first).
//! Between them every record is consumed exactly once, no partition has two owners at once
//! (the librdkafka members' callbacks feed the same ledger as kafkit's hooks, through their
//! output files), and the committed offsets never go back.

use crate::common::*;
use crate::support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 3000;

/// A librdkafka member process and the file it appends to.
struct Librdkafka {
    name: String,
    child: Child,
    out: PathBuf,
}

impl Drop for Librdkafka {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Librdkafka {
    /// Starts a member that the ledger follows.
    async fn start(
        bootstrap: &str,
        topic: &str,
        group: &str,
        dir: &Path,
        name: &str,
        ledger: &Ledger,
    ) -> Librdkafka {
        let python = python().await;
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kip848/librdkafka_member.py");
        let out = dir.join(format!("{name}.out"));
        ledger.follow(name, out.clone());
        let child = Command::new(python)
            .arg(script)
            .args([bootstrap, topic, group])
            .arg(&out)
            .arg("120")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start librdkafka_member.py");
        Librdkafka {
            name: name.to_string(),
            child,
            out,
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The values of the records it wrote.
    fn values(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.splitn(3, ' ').nth(2).map(str::to_string))
            .collect()
    }

    /// Closes its stdin, so it leaves the group, and waits (up to 30 s) until it has.
    async fn leave(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not leave within 30 s",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "{} exited with {status}", self.name);
        assert_eq!(
            self.lines().last().map(String::as_str),
            Some("# closed"),
            "{} did not close",
            self.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_librdkafka_share_a_consumer_protocol_group() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    python().await;
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-librdkafka", PARTITIONS).await;
    let group = topic.clone();
    let dir = std::env::temp_dir().join(kafkit_testkit::unique_name("kip848-librdkafka"));
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = Ledger::default();
    let kafkit = Running::start(&broker.bootstrap, &group, &topic, "kafkit", &ledger).await;
    let mut first =
        Librdkafka::start(&broker.bootstrap, &topic, &group, &dir, "rdk0", &ledger).await;
    wait_until(
        "kafkit and librdkafka own partitions",
        Duration::from_secs(60),
        || {
            ledger.refresh();
            !ledger.owned_by("kafkit").is_empty() && !ledger.owned_by("rdk0").is_empty()
        },
    )
    .await;
    log(
        t0,
        format!(
            "kafkit owns {:?}, librdkafka {:?} (output in {}); producing {RECORDS} over ~15 s",
            ledger.owned_by("kafkit"),
            ledger.owned_by("rdk0"),
            dir.display()
        ),
    );
    let watch = CommitWatch::start(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    let producer = produce_values_paced(&broker.bootstrap, &topic, RECORDS);
    tokio::time::sleep(Duration::from_secs(4)).await;
    first.leave().await;
    ledger.refresh();
    log(t0, "the librdkafka member left");
    wait_until(
        "kafkit owns every partition",
        Duration::from_secs(30),
        || ledger.owned_by("kafkit").len() == PARTITIONS as usize,
    )
    .await;
    log(t0, "kafkit owns every partition");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut second =
        Librdkafka::start(&broker.bootstrap, &topic, &group, &dir, "rdk1", &ledger).await;
    wait_until(
        "the second librdkafka member owns partitions",
        Duration::from_secs(60),
        || {
            ledger.refresh();
            !ledger.owned_by("rdk1").is_empty()
        },
    )
    .await;
    log(
        t0,
        format!(
            "a second librdkafka member joined: kafkit owns {:?}, it {:?}",
            ledger.owned_by("kafkit"),
            ledger.owned_by("rdk1")
        ),
    );
    let produced = producer.await.unwrap();
    let consumed = || {
        let mut all = ledger.values();
        all.extend(first.values());
        all.extend(second.values());
        all
    };
    wait_until("every record consumed", Duration::from_secs(60), || {
        let all: std::collections::BTreeSet<String> = consumed().into_iter().collect();
        produced.iter().all(|v| all.contains(v))
    })
    .await;
    // Let the last commits land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in consumed() {
        *counts.entry(v).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(twice.is_empty(), "consumed more than once: {twice:?}");
    assert_eq!(counts.len(), produced.len());
    let (ours, first_read, second_read) = (
        ledger.values().len(),
        first.values().len(),
        second.values().len(),
    );
    log(
        t0,
        format!(
            "all {} consumed once: kafkit {ours}, the first librdkafka member {first_read}, the second {second_read}",
            produced.len()
        ),
    );
    assert!(
        first_read > 0 && second_read > 0,
        "a librdkafka member read nothing"
    );
    let samples = watch.finish().await;
    log(
        t0,
        format!("{samples} committed-offset samples, none went back"),
    );
    ledger.assert_clean();
    second.leave().await;
    kafkit.close().await;
    ledger.refresh();
    ledger.assert_clean();
    let committed = committed(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    assert_eq!(committed, ends(&broker.bootstrap, &topic, PARTITIONS).await);
}
