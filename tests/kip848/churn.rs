//! Churn under load with `group.protocol=consumer`: members join, one closes, and one —
//! a separate process (the `group_member` example), so it can be SIGKILLed — dies without
//! a word, while records are produced. The broker fences the dead member after its session
//! timeout and hands its partitions on. Throughout, no partition has two owners at once
//! (the hooks, in-process and in the process's output file, feed one ledger), the group's
//! committed offsets never go back, and every record is consumed.

use crate::common::*;
use crate::support::*;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 3000;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_leave_and_die_without_two_owners() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-churn", PARTITIONS).await;
    let group = topic.clone();
    let ledger = Ledger::default();
    let dir = std::env::temp_dir().join(kafkit_testkit::unique_name("kip848-churn"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("p0.out");
    ledger.follow("p0", out.clone());
    let bin = tokio::task::spawn_blocking(|| example_binary("group_member"))
        .await
        .unwrap();
    let mut p0 = Process(
        Command::new(bin)
            .args(["--bootstrap-server", &broker.bootstrap, "--topic", &topic])
            .args(["--group", &group, "--group-protocol", "consumer"])
            .args(["--commit-after-processing", "--process-ms", "50"])
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start group_member"),
    );
    let m0 = Running::start(&broker.bootstrap, &group, &topic, "m0", &ledger).await;
    let m1 = Running::start(&broker.bootstrap, &group, &topic, "m1", &ledger).await;
    let watch = CommitWatch::start(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    wait_until(
        "p0, m0 and m1 own partitions",
        Duration::from_secs(60),
        || {
            ledger.refresh();
            ["p0", "m0", "m1"]
                .iter()
                .all(|m| !ledger.owned_by(m).is_empty())
        },
    )
    .await;
    log(
        t0,
        format!(
            "members up (p0's output in {}); producing {RECORDS} over ~15 s",
            dir.display()
        ),
    );
    let producer = produce_values_paced(&broker.bootstrap, &topic, RECORDS);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m2 = Running::start(&broker.bootstrap, &group, &topic, "m2", &ledger).await;
    log(t0, "m2 joined");
    tokio::time::sleep(Duration::from_secs(3)).await;
    m1.close().await;
    log(t0, "m1 closed");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = p0.0.kill();
    let _ = p0.0.wait();
    ledger.refresh();
    let victim = ledger.owned_by("p0");
    ledger.died("p0");
    log(t0, format!("p0 SIGKILLed, owning {victim:?}"));
    let produced = producer.await.unwrap();
    log(t0, format!("{} records produced", produced.len()));
    let p0_values = || -> BTreeSet<String> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.splitn(3, ' ').nth(2).map(str::to_string))
            .collect()
    };
    wait_until("every record consumed", Duration::from_secs(90), || {
        let mut all: BTreeSet<String> = ledger.values().into_iter().collect();
        all.extend(p0_values());
        produced.iter().all(|v| all.contains(v))
    })
    .await;
    let survivors: BTreeSet<i32> = ["m0", "m2"]
        .iter()
        .flat_map(|m| ledger.owned_by(m))
        .collect();
    assert_eq!(
        survivors.len(),
        PARTITIONS as usize,
        "the survivors own {survivors:?}"
    );
    log(
        t0,
        "every record consumed; the survivors own every partition",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let samples = watch.finish().await;
    log(
        t0,
        format!("{samples} committed-offset samples, none went back"),
    );
    ledger.assert_clean();
    m0.close().await;
    m2.close().await;
    ledger.assert_clean();
    let committed = committed(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    assert_eq!(committed, ends(&broker.bootstrap, &topic, PARTITIONS).await);
}
