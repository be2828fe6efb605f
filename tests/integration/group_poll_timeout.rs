//! `poll(timeout)` returns within its timeout even while a rebalance waits for another
//! member (as Java's `poll(Duration)` does since KIP-266): a joining member must not block
//! the caller for the group's whole rebalance timeout.

use crate::group_support::*;
use crate::support::*;
use kafkit::{AssignorKind, Consumer};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_returns_within_its_timeout_during_a_rebalance() {
    let (bootstrap, topic) = fresh_topic("group-polltimeout", 2).await;
    let group = topic.clone();
    let mut config = member_config(&bootstrap, &group, &[AssignorKind::Range]);
    // The rebalance timeout: how long the coordinator waits for members to rejoin.
    config.max_poll_interval = Duration::from_secs(6);
    let a = Consumer::new(config.clone()).await.unwrap();
    a.subscribe([topic.clone()]).await.unwrap();
    poll_until(
        &[&a],
        Duration::from_secs(20),
        "first member assigned",
        |_, asg| !asg[0].is_empty(),
    )
    .await;
    // `a` stops polling for a while (its heartbeats go on), so the rebalance `b` starts
    // waits for `a` to rejoin. `b.poll(500 ms)` must still return in about 500 ms.
    let b = Consumer::new(config).await.unwrap();
    b.subscribe([topic.clone()]).await.unwrap();
    let started = Instant::now();
    let polled = b.poll(Duration::from_millis(500)).await;
    let took = started.elapsed();
    a.close().await.unwrap();
    b.close().await.unwrap();
    polled.unwrap();
    assert!(
        took < Duration::from_secs(3),
        "poll(500 ms) blocked for {took:?} in a rebalance waiting for another member"
    );
}
