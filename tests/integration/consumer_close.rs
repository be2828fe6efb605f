//! Shutdown (issue 11, item 5; issue 15, M6): `close` is bounded by
//! `default.api.timeout.ms` even while a JoinGroup waits for the group, and leaves no join
//! running behind it; a consumer dropped without `close` still leaves the group, unless it
//! is a static member.
//!
//! Before the fix, LeaveGroup went on the connection where the JoinGroup waited (a broker
//! answers one request per connection at a time), so `close` waited for the whole
//! rebalance, and the join task went on afterwards and joined the group again: a zombie
//! member holding partitions. A dropped consumer left the group waiting out its session.

use crate::group_support::member_config;
use crate::support::*;
use kafkit::{AssignorKind, Consumer, ConsumerConfig};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn config(bootstrap: &str, group: &str) -> ConsumerConfig {
    member_config(bootstrap, group, &[AssignorKind::Range])
}

async fn partitions_of(consumer: &Consumer) -> BTreeSet<i32> {
    consumer
        .assignment()
        .await
        .iter()
        .map(|tp| tp.partition)
        .collect()
}

/// Polls until the consumer holds exactly `want`, for at most `limit`.
async fn poll_until_holding(consumer: &Consumer, want: &BTreeSet<i32>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while partitions_of(consumer).await != *want {
        assert!(
            Instant::now() < deadline,
            "never held {want:?} within {limit:?}; holds {:?}",
            partitions_of(consumer).await
        );
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
}

/// Polls on a task of its own until stopped.
fn keep_polling(consumer: Consumer) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            consumer.poll(Duration::from_millis(100)).await.unwrap();
        }
    });
    (stop, task)
}

#[tokio::test]
async fn close_is_bounded_while_a_join_waits_and_leaves_no_zombie() {
    let (bootstrap, topic) = fresh_topic("close-join", 2).await;
    let all: BTreeSet<i32> = [0, 1].into();
    // A holds both partitions, then stops polling (its application is busy): a new member's
    // JoinGroup waits up to A's rebalance timeout (max.poll.interval.ms, 20 s) for A.
    let mut a_config = config(&bootstrap, &topic);
    a_config.max_poll_interval = Duration::from_secs(20);
    let a = Consumer::new(a_config).await.unwrap();
    a.subscribe([topic.clone()]).await.unwrap();
    poll_until_holding(&a, &all, Duration::from_secs(30)).await;

    let mut b_config = config(&bootstrap, &topic);
    b_config.default_api_timeout = Duration::from_secs(3);
    let b = Consumer::new(b_config).await.unwrap();
    b.subscribe([topic.clone()]).await.unwrap();
    // B's join starts and waits for A.
    assert!(b.poll(Duration::from_secs(2)).await.unwrap().is_empty());
    assert!(partitions_of(&b).await.is_empty());
    let started = Instant::now();
    b.close().await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "close took {took:?} with default.api.timeout.ms at 3 s: it waited for the join"
    );

    // A comes back: the group rebalances without B and A takes everything, for good (a
    // join B left behind would rejoin and take a partition).
    poll_until_holding(&a, &all, Duration::from_secs(30)).await;
    let calm = Instant::now() + Duration::from_secs(8);
    while Instant::now() < calm {
        a.poll(Duration::from_millis(200)).await.unwrap();
        assert_eq!(
            partitions_of(&a).await,
            all,
            "a member closed {:?} ago took partitions from A",
            started.elapsed()
        );
    }
    a.close().await.unwrap();
}

#[tokio::test]
async fn a_dropped_member_leaves_the_group_and_a_static_one_keeps_its_place() {
    let (bootstrap, topic) = fresh_topic("drop-leave", 2).await;
    let all: BTreeSet<i32> = [0, 1].into();
    // Sessions of 30 s: the survivor gets the partitions long before one could expire.
    let session = Duration::from_secs(30);
    let member = |instance: Option<&str>| {
        let mut c = config(&bootstrap, &topic);
        c.session_timeout = session;
        c.heartbeat_interval = Duration::from_millis(500);
        c.group_instance_id = instance.map(str::to_string);
        c
    };
    let a = Consumer::new(member(None)).await.unwrap();
    a.subscribe([topic.clone()]).await.unwrap();
    poll_until_holding(&a, &all, Duration::from_secs(30)).await;

    // The dynamic member first: a dead static member would hold up the next rebalance.
    for (kind, instance) in [("dynamic", None), ("static", Some("drop-leave-static"))] {
        let b = Consumer::new(member(instance)).await.unwrap();
        b.subscribe([topic.clone()]).await.unwrap();
        let (stop, b_task) = keep_polling(b.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        while partitions_of(&a).await.len() != 1 || partitions_of(&b).await.len() != 1 {
            assert!(
                Instant::now() < deadline,
                "the {kind} member never got a share"
            );
            a.poll(Duration::from_millis(200)).await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        b_task.await.unwrap();
        drop(b); // the last clone, without close
        let dropped = Instant::now();
        if instance.is_some() {
            // A static member keeps its place: no rebalance gives A its partition.
            while dropped.elapsed() < Duration::from_secs(8) {
                a.poll(Duration::from_millis(200)).await.unwrap();
                assert_eq!(
                    partitions_of(&a).await.len(),
                    1,
                    "the static member left the group when dropped"
                );
            }
        } else {
            poll_until_holding(&a, &all, session / 2).await;
        }
    }
    a.close().await.unwrap();
}
