//! A kafkit member and Java's console consumer, both with `group.protocol=consumer`, in one
//! group: the broker gives each a share, and together they consume every record.

use crate::common::*;
use crate::support::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 600;

struct Java {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Java {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Java {
    /// `(partition, value)` of each record printed.
    fn records(&self) -> Vec<(i32, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let (p, v) = l.strip_prefix("Partition:")?.split_once('\t')?;
                Some((p.trim().parse().ok()?, v.to_string()))
            })
            .collect()
    }
}

async fn java_consumer(bootstrap: &str, topic: &str, group: &str) -> Java {
    let (bootstrap, topic, group) = (bootstrap.to_string(), topic.to_string(), group.to_string());
    let mut cmd = tokio::task::spawn_blocking(|| {
        kafkit_testkit::java_tool("org.apache.kafka.tools.consumer.ConsoleConsumer")
    })
    .await
    .unwrap()
    .expect("the Java tools");
    let mut child = cmd
        .args([
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            &topic,
            "--group",
            &group,
        ])
        .args(["--from-beginning", "--property", "print.partition=true"])
        .args(["--consumer-property", "group.protocol=consumer"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Java console consumer");
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Java { child, lines }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_share_a_consumer_protocol_group() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-mixed", PARTITIONS).await;
    let group = topic.clone();
    let ledger = Ledger::default();
    let java = java_consumer(&broker.bootstrap, &topic, &group).await;
    let kafkit = Running::start(&broker.bootstrap, &group, &topic, "kafkit", &ledger).await;
    log(t0, "Java and kafkit members started");
    // The kafkit member's share shrinks from everything to part once Java has joined.
    wait_until(
        "the kafkit member owns part of the topic",
        Duration::from_secs(60),
        || {
            let n = ledger.owned_by("kafkit").len();
            n > 0 && n < PARTITIONS as usize
        },
    )
    .await;
    let share = ledger.owned_by("kafkit");
    log(t0, format!("kafkit owns {share:?}; producing {RECORDS}"));
    let produced = produce_values(&broker.bootstrap, &topic, "v", 0..RECORDS).await;
    wait_until(
        "every record consumed by one of them",
        Duration::from_secs(60),
        || {
            let mut all: BTreeSet<String> = ledger.values().into_iter().collect();
            all.extend(java.records().into_iter().map(|(_, v)| v));
            produced.iter().all(|v| all.contains(v))
        },
    )
    .await;
    let ours: BTreeSet<i32> = ledger.lock().records.iter().map(|r| r.1).collect();
    let theirs: BTreeSet<i32> = java.records().iter().map(|r| r.0).collect();
    log(
        t0,
        format!("kafkit read partitions {ours:?}, Java {theirs:?}"),
    );
    assert!(
        !ours.is_empty() && !theirs.is_empty(),
        "one member read nothing"
    );
    assert!(
        ours.is_disjoint(&theirs),
        "both read partitions {:?}",
        ours.intersection(&theirs).collect::<Vec<_>>()
    );
    assert_eq!(ours.len() + theirs.len(), PARTITIONS as usize);
    ledger.assert_clean();
    kafkit.close().await;
    drop(java);
}
