//! `isolation.level=read_committed` against transactions an independent client wrote:
//! librdkafka commits and aborts transactions interleaved on the same partitions; kafkit
//! must return exactly the committed records, in order, and none of the control records.
//! With `read_uncommitted` the aborted records are visible, which shows the test can fail.

use crate::common::{run_script, PARTITIONS};
use crate::support::{consumer_config, fresh_topic, value_of};
use kafkit::{Consumer, IsolationLevel, TopicPartition};
use std::time::Duration;

const ROUNDS: usize = 4;

async fn read_all(
    bootstrap: &str,
    topic: &str,
    isolation: IsolationLevel,
    want: usize,
) -> Vec<String> {
    let mut config = consumer_config(bootstrap);
    config.isolation_level = isolation;
    let consumer = Consumer::new(config).await.unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .await
        .unwrap();
    let mut values = Vec::new();
    let mut idle = 0;
    while idle < 6 {
        let records = consumer.poll(Duration::from_millis(500)).await.unwrap();
        if records.is_empty() {
            idle += 1;
            if values.len() >= want {
                break;
            }
        }
        values.extend(records.iter().map(value_of));
    }
    values
}

#[tokio::test]
async fn read_committed_returns_only_committed_transactions() {
    let (bootstrap, topic) = fresh_topic("txn", PARTITIONS).await;
    let out = run_script(
        "transactions.py",
        vec![
            bootstrap.clone(),
            topic.clone(),
            PARTITIONS.to_string(),
            ROUNDS.to_string(),
        ],
    )
    .await;
    let committed: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(committed.len(), ROUNDS * PARTITIONS as usize * 10);

    let mut read = read_all(
        &bootstrap,
        &topic,
        IsolationLevel::ReadCommitted,
        committed.len(),
    )
    .await;
    let aborted: Vec<&String> = read.iter().filter(|v| v.starts_with("a-")).collect();
    assert!(
        aborted.is_empty(),
        "read_committed returned aborted records: {aborted:?}"
    );
    // Per partition the committed values come in the order they were written.
    // Values are "<kind>-<round>-<partition>-<i>".
    let partition_of = |v: &String| v.split('-').nth(2).map(str::to_owned);
    for p in 0..PARTITIONS {
        let p = Some(p.to_string());
        let got: Vec<&String> = read.iter().filter(|v| partition_of(v) == p).collect();
        let want: Vec<&String> = committed.iter().filter(|v| partition_of(v) == p).collect();
        assert_eq!(got, want, "partition {p:?}");
    }
    read.sort();
    let mut sorted = committed.clone();
    sorted.sort();
    assert_eq!(read, sorted, "exactly the committed records");

    let uncommitted = read_all(
        &bootstrap,
        &topic,
        IsolationLevel::ReadUncommitted,
        committed.len() * 2,
    )
    .await;
    assert_eq!(
        uncommitted.iter().filter(|v| v.starts_with("a-")).count(),
        committed.len(),
        "read_uncommitted sees the aborted records too"
    );
}
