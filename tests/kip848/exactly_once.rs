//! Three kafkit members with `group.protocol=consumer` share a 6-partition topic, starting
//! one after another (so partitions move as each joins): every record is consumed exactly
//! once, no partition has two owners at once, each member gets a share, and the committed
//! offsets (OffsetCommit with the member epoch) reach the log end.

use crate::common::*;
use crate::support::*;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 1200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_consume_every_record_once() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-once", PARTITIONS).await;
    let group = topic.clone();
    let ledger = Ledger::default();
    let produced = produce_values(&broker.bootstrap, &topic, "v", 0..RECORDS / 2).await;
    log(t0, "broker up, first half produced");
    let mut members = Vec::new();
    for i in 0..3 {
        members.push(
            Running::start(&broker.bootstrap, &group, &topic, &format!("m{i}"), &ledger).await,
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut produced = produced;
    produced.extend(produce_values(&broker.bootstrap, &topic, "w", 0..RECORDS / 2).await);
    log(t0, "three members started, second half produced");
    wait_until("every record consumed", Duration::from_secs(60), || {
        let mut got = ledger.values();
        got.sort();
        got.dedup();
        got.len() >= RECORDS
    })
    .await;
    wait_until(
        "every member owns partitions",
        Duration::from_secs(30),
        || members.iter().all(|m| !ledger.owned_by(&m.name).is_empty()),
    )
    .await;
    // Let the last commits land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = ledger.values();
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for v in &got {
        *counts.entry(v).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(twice.is_empty(), "consumed more than once: {twice:?}");
    for v in &produced {
        assert!(counts.contains_key(v), "{v} never consumed");
    }
    assert_eq!(got.len(), RECORDS);
    ledger.assert_clean();
    let shares: Vec<_> = members.iter().map(|m| ledger.owned_by(&m.name)).collect();
    log(
        t0,
        format!("all {RECORDS} consumed once; shares {shares:?}"),
    );
    let committed = committed(&broker.bootstrap, &group, &topic, PARTITIONS).await;
    let ends = ends(&broker.bootstrap, &topic, PARTITIONS).await;
    assert_eq!(committed, ends, "committed offsets are not at the log end");
    for m in members {
        m.close().await;
    }
    ledger.assert_clean();
    log(t0, "closed");
}
