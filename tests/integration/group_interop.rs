//! A kafkit member and a librdkafka member (Python confluent-kafka, `tests/interop/
//! group_member.py`) in one group: with `range`, `roundrobin` and `cooperative-sticky`, each gets a
//! non-empty share, the shares are disjoint and cover every partition, and together they
//! consume every record. Either client may be the group leader that computes the
//! assignment, so both orders are run.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, Consumer};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 600;

/// The Python member: its process and the lines it printed so far.
struct PyMember {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl PyMember {
    async fn start(bootstrap: &str, topic: &str, group: &str, strategy: &str) -> PyMember {
        let python = python().await;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/group_member.py");
        let mut child = Command::new(python)
            .arg(script)
            .args([bootstrap, topic, group, strategy, "90"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start group_member.py");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        PyMember { child, lines }
    }

    /// The last assignment it printed (`None` before the first).
    fn assignment(&self) -> Option<BTreeSet<i32>> {
        let lines = self.lines.lock().unwrap();
        let last = lines
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("# assignment"))?;
        Some(
            last.trim()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect(),
        )
    }

    /// `(partition, value)` of every record it printed.
    fn records(&self) -> Vec<(i32, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut parts = l.splitn(3, ' ');
                let p = parts.next()?.parse().ok()?;
                let _offset = parts.next()?;
                Some((p, parts.next()?.to_string()))
            })
            .collect()
    }

    fn errors(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("# error"))
            .cloned()
            .collect()
    }

    /// Closes its stdin (it leaves the group and exits) and waits.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "group_member.py exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("group_member.py did not exit after its stdin closed");
    }
}

impl Drop for PyMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn kafkit_and_librdkafka_share(kind: AssignorKind, python_first: bool) {
    let strategy = kind.protocol_name();
    let (bootstrap, topic) = fresh_topic(&format!("group-interop-{strategy}"), PARTITIONS).await;
    let group = topic.clone();

    let mut py = None;
    if python_first {
        py = Some(PyMember::start(&bootstrap, &topic, &group, strategy).await);
        // Let it join alone, so it leads the group.
        let deadline = Instant::now() + Duration::from_secs(30);
        while py
            .as_ref()
            .unwrap()
            .assignment()
            .is_none_or(|a| a.is_empty())
        {
            assert!(
                Instant::now() < deadline,
                "librdkafka member never assigned"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let kafkit = Consumer::new(member_config(&bootstrap, &group, &[kind]))
        .await
        .unwrap();
    kafkit.subscribe([topic.clone()]).await.unwrap();
    if !python_first {
        let deadline = Instant::now() + Duration::from_secs(20);
        while kafkit.assignment().await.is_empty() {
            kafkit.poll(Duration::from_millis(200)).await.unwrap();
            assert!(Instant::now() < deadline, "kafkit member never assigned");
        }
        py = Some(PyMember::start(&bootstrap, &topic, &group, strategy).await);
    }
    let py = py.unwrap();

    // Settle: both non-empty, disjoint, covering every partition, for 2 s.
    let all: BTreeSet<i32> = (0..PARTITIONS).collect();
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut settled_since: Option<Instant> = None;
    let (mine, theirs) =
        loop {
            kafkit.poll(Duration::from_millis(200)).await.unwrap();
            let mine: BTreeSet<i32> = kafkit
                .assignment()
                .await
                .iter()
                .map(|t| t.partition)
                .collect();
            let theirs = py.assignment().unwrap_or_default();
            let good = !mine.is_empty()
                && !theirs.is_empty()
                && mine.is_disjoint(&theirs)
                && mine.union(&theirs).cloned().collect::<BTreeSet<_>>() == all;
            match (good, settled_since) {
                (true, Some(t)) if t.elapsed() > Duration::from_secs(2) => break (mine, theirs),
                (true, None) => settled_since = Some(Instant::now()),
                (true, Some(_)) => {}
                (false, _) => settled_since = None,
            }
            assert!(
            Instant::now() < deadline,
            "{strategy}: no settled split within 40 s: kafkit {mine:?}, librdkafka {theirs:?}; \
             librdkafka said {:?}",
            py.lines.lock().unwrap().iter().filter(|l| l.starts_with('#')).collect::<Vec<_>>()
        );
        };
    println!("{strategy} (python first: {python_first}): kafkit {mine:?}, librdkafka {theirs:?}");

    let produced: BTreeSet<String> = produce_values(&bootstrap, &topic, "v", 0..RECORDS)
        .await
        .into_iter()
        .collect();
    let mut by_kafkit: BTreeMap<String, i32> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for r in kafkit.poll(Duration::from_millis(200)).await.unwrap() {
            by_kafkit.insert(value_of(&r), r.partition);
        }
        let by_py = py.records();
        let seen: BTreeSet<&String> = by_kafkit
            .keys()
            .chain(by_py.iter().map(|(_, v)| v))
            .collect();
        if produced.iter().all(|v| seen.contains(v)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{strategy}: {} of {RECORDS} records consumed in 30 s (kafkit {}, librdkafka {})",
            seen.len(),
            by_kafkit.len(),
            by_py.len()
        );
    }
    assert!(
        py.errors().is_empty(),
        "librdkafka errors: {:?}",
        py.errors()
    );
    // Each read only its own partitions, and the split did not move meanwhile.
    assert!(
        by_kafkit.values().all(|p| mine.contains(p)),
        "kafkit read a partition outside its share"
    );
    assert!(
        py.records().iter().all(|(p, _)| theirs.contains(p)),
        "librdkafka read a partition outside its share"
    );
    assert!(
        !by_kafkit.is_empty() && !py.records().is_empty(),
        "both consumed"
    );
    let mine_now: BTreeSet<i32> = kafkit
        .assignment()
        .await
        .iter()
        .map(|t| t.partition)
        .collect();
    assert_eq!(mine_now, mine, "kafkit's share moved while consuming");
    tokio::task::spawn_blocking(move || py.finish())
        .await
        .unwrap();
    kafkit.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_with_librdkafka_leading() {
    kafkit_and_librdkafka_share(AssignorKind::Range, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_with_librdkafka_leading() {
    kafkit_and_librdkafka_share(AssignorKind::CooperativeSticky, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_with_kafkit_leading() {
    kafkit_and_librdkafka_share(AssignorKind::CooperativeSticky, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_with_kafkit_leading() {
    kafkit_and_librdkafka_share(AssignorKind::RoundRobin, false).await;
}
