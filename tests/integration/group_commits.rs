//! Offset commits against the real coordinator: `commit` commits what `poll` returned (not
//! what was fetched), `commit_offsets` keeps metadata, `commit_async` resolves, a new member
//! resumes from the commits, `auto.offset.reset=none` without a commit is an error, and
//! auto-commit commits only returned records and the final position on `close`.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, AutoOffsetReset, Consumer, Error, OffsetAndMetadata, TopicPartition};
use std::time::{Duration, Instant};

/// Polls until some records arrive (at most 20 s).
async fn poll_some(c: &Consumer) -> Vec<kafkit::ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records = c.poll(Duration::from_millis(500)).await.unwrap();
        if !records.is_empty() {
            return records;
        }
        assert!(Instant::now() < deadline, "no records within 20 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_commits_and_resume() {
    let (bootstrap, topic) = fresh_topic("group-commit", 1).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..50).await;
    let tp = TopicPartition::new(&topic, 0);

    let mut config = member_config(&bootstrap, &group, &[AssignorKind::Range]);
    config.max_poll_records = 5;
    let a = Consumer::new(config.clone()).await.unwrap();
    a.subscribe([topic.clone()]).await.unwrap();
    let first = poll_some(&a).await;
    assert_eq!(first.len(), 5, "max.poll.records");
    assert_eq!(first[0].offset, 0);
    let second = a.poll(Duration::from_millis(500)).await.unwrap();
    assert_eq!(second.len(), 5);
    let returned_up_to = second.last().unwrap().offset + 1;
    assert_eq!(returned_up_to, 10);

    // commit: the offset after the last record returned, not what sits in the buffer.
    a.commit().await.unwrap();
    let committed = a.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(
        committed.get(&tp).map(|o| o.offset),
        Some(returned_up_to),
        "commit() commits the position after the last returned record"
    );

    // commit_offsets with metadata round-trips.
    let with_meta = OffsetAndMetadata::new(7).with_metadata("checkpoint seven");
    a.commit_offsets([(tp.clone(), with_meta.clone())])
        .await
        .unwrap();
    let committed = a.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(committed.get(&tp), Some(&with_meta), "metadata round trip");

    // commit_async resolves Ok, and its commit lands.
    let third = a.poll(Duration::from_millis(500)).await.unwrap();
    assert_eq!(third.first().map(|r| r.offset), Some(10));
    let expected = third.last().unwrap().offset + 1;
    a.commit_async()
        .await
        .expect("commit_async resolved to an error");
    let committed = a.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(committed.get(&tp).map(|o| o.offset), Some(expected));

    // A new member of the group, after this one leaves, resumes from the committed offset.
    a.close().await.unwrap();
    let b = Consumer::new(config.clone()).await.unwrap();
    b.subscribe([topic.clone()]).await.unwrap();
    let resumed = poll_some(&b).await;
    assert_eq!(
        resumed[0].offset, expected,
        "the next member starts at the committed offset"
    );
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_reset_none_without_a_commit_is_an_error() {
    let (bootstrap, topic) = fresh_topic("group-reset-none", 2).await;
    produce_values(&bootstrap, &topic, "v", 0..10).await;
    let mut config = member_config(&bootstrap, &topic, &[AssignorKind::Range]);
    config.auto_offset_reset = AutoOffsetReset::Error;
    let c = Consumer::new(config).await.unwrap();
    c.subscribe([topic.clone()]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        match c.poll(Duration::from_millis(500)).await {
            Err(e) => break e,
            Ok(records) => {
                assert!(
                    records.is_empty(),
                    "records without a committed offset and auto.offset.reset=none: {records:?}"
                );
                assert!(Instant::now() < deadline, "no error within 20 s");
            }
        }
    };
    assert!(
        matches!(&err, Error::OffsetOutOfRange { topic: t, .. } if *t == topic),
        "expected OffsetOutOfRange, got {err:?}"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_commit_commits_only_returned_records_and_the_final_position() {
    let (bootstrap, topic) = fresh_topic("group-autocommit", 1).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..200).await;
    let tp = TopicPartition::new(&topic, 0);
    let mut config = member_config(&bootstrap, &group, &[AssignorKind::Range]);
    config.enable_auto_commit = true;
    config.auto_commit_interval = Duration::from_millis(100);
    config.max_poll_records = 5;
    let c = Consumer::new(config).await.unwrap();
    c.subscribe([topic.clone()]).await.unwrap();

    let mut returned = poll_some(&c).await.last().unwrap().offset + 1;
    let mut highest_committed = -1;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let records = c.poll(Duration::from_millis(500)).await.unwrap();
        // Let the background commit land, then look: never past what poll returned.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(last) = records.last() {
            returned = last.offset + 1;
        }
        let committed = c.committed(std::slice::from_ref(&tp)).await.unwrap();
        if let Some(o) = committed.get(&tp) {
            assert!(
                o.offset <= returned,
                "auto-commit committed {} but poll returned only up to {returned} (the rest \
                 sits fetched, unreturned, in the buffer)",
                o.offset
            );
            highest_committed = highest_committed.max(o.offset);
        }
    }
    assert!(
        highest_committed > 0,
        "auto-commit committed nothing in 10 polls 150 ms apart (interval 100 ms)"
    );
    assert!(returned < 200, "the test needs records left unreturned");
    c.close().await.unwrap();
    let after = Consumer::new(member_config(&bootstrap, &group, &[AssignorKind::Range]))
        .await
        .unwrap();
    let committed = after.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(
        committed.get(&tp).map(|o| o.offset),
        Some(returned),
        "close() commits the final position (the offset after the last returned record)"
    );
}
