//! A `poll` dropped at any await of a rebalance (by a `select!` or a timeout around it)
//! loses nothing and repeats nothing (issue 15: H3, L7). The member under test is polled
//! through [`drop_after`], which drops each poll at its first (or n-th) suspension; every
//! hook sleeps, so a poll is also dropped inside hooks.
//!
//! Before the fix: a poll dropped during the OffsetFetch after SyncGroup left the new
//! partitions owned by the member in the group but never added (never fetched, no rejoin,
//! H3); dropped during an eager revoke it ran the revoke again, hook included (L7); dropped
//! inside the lost hook it never dropped the lost partitions and revoked them later instead
//! (L7).

use crate::group_support::member_config;
use crate::support::*;
use kafkit::{AssignorKind, Consumer, ConsumerRecord, RebalanceListener, TopicPartition};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// Drives `fut` until it has suspended `n + 1` times, then drops it; its output if it
/// finished first.
async fn drop_after<F: Future>(fut: F, n: usize) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut suspensions = 0;
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending if suspensions == n => Poll::Ready(None),
        Poll::Pending => {
            suspensions += 1;
            Poll::Pending
        }
    })
    .await
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Hook {
    Assigned(BTreeSet<i32>),
    Revoked(BTreeSet<i32>),
    Lost(BTreeSet<i32>),
}

/// Notes each hook call as it starts, then takes a while (a place for a poll to be dropped).
#[derive(Clone, Default)]
struct SlowHooks(Arc<Mutex<Vec<Hook>>>);

impl SlowHooks {
    fn calls(&self) -> Vec<Hook> {
        self.0.lock().unwrap().clone()
    }

    fn note(
        &self,
        hook: fn(BTreeSet<i32>) -> Hook,
        partitions: &[TopicPartition],
    ) -> kafkit::HookFuture<'static> {
        let numbers = partitions.iter().map(|tp| tp.partition).collect();
        self.0.lock().unwrap().push(hook(numbers));
        Box::pin(tokio::time::sleep(Duration::from_millis(100)))
    }
}

impl RebalanceListener for SlowHooks {
    fn on_partitions_revoked<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.note(Hook::Revoked, partitions)
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.note(Hook::Assigned, partitions)
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.note(Hook::Lost, partitions)
    }
}

async fn held(consumer: &Consumer) -> BTreeSet<i32> {
    consumer
        .assignment()
        .await
        .iter()
        .map(|tp| tp.partition)
        .collect()
}

/// Polls `consumer`, each poll dropped after `n` suspensions with `n` cycling through
/// 0..4, until `done` or `limit`; returns the records of the polls that finished.
async fn poll_dropping(
    consumer: &Consumer,
    limit: Duration,
    what: &str,
    mut done: impl FnMut(&[ConsumerRecord]) -> bool,
) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + limit;
    let mut records = Vec::new();
    for n in (0..4).cycle() {
        if let Some(polled) = drop_after(consumer.poll(Duration::from_millis(300)), n).await {
            records.extend(polled.unwrap());
        }
        // The work a dropped poll left (a join, a commit, an OffsetFetch) goes on meanwhile
        // (on this test's single thread, only while the test waits).
        tokio::time::sleep(Duration::from_millis(20)).await;
        if done(&records) {
            return records;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
    }
    unreachable!()
}

#[tokio::test]
async fn polls_dropped_during_an_eager_rebalance_revoke_once_and_fetch_what_was_assigned() {
    let (bootstrap, topic) = fresh_topic("cancel-eager", 4).await;
    let all: BTreeSet<i32> = (0..4).collect();
    let mut config = member_config(&bootstrap, &topic, &[AssignorKind::Range]);
    // The eager revoke commits first: one more await to drop the poll at.
    config.enable_auto_commit = true;
    let hooks = SlowHooks::default();
    let m1 = Consumer::new(config.clone()).await.unwrap();
    m1.set_rebalance_listener(hooks.clone());
    m1.subscribe([topic.clone()]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while held(&m1).await != all {
        poll_dropping(&m1, Duration::from_secs(60), "m1 holds everything", |_| {
            true
        })
        .await;
        assert!(Instant::now() < deadline, "m1 never held {all:?}");
    }
    assert_eq!(hooks.calls(), vec![Hook::Assigned(all.clone())]);

    // A second member joins; m1's polls keep being dropped through the revoke, the join,
    // the OffsetFetch of its new share and its assigned hook.
    let m2 = Consumer::new(config).await.unwrap();
    m2.subscribe([topic.clone()]).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let m2_records = Arc::new(Mutex::new(Vec::new()));
    let m2_task = {
        let (m2, stop, records) = (m2.clone(), stop.clone(), m2_records.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let polled = m2.poll(Duration::from_millis(100)).await.unwrap();
                records.lock().unwrap().extend(polled.iter().map(value_of));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        poll_dropping(&m1, Duration::from_secs(60), "the rebalance", |_| true).await;
        let (h1, h2) = (held(&m1).await, held(&m2).await);
        if h1.len() == 2 && h2.len() == 2 && h1.union(&h2).count() == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no stable split of {all:?}: m1 holds {h1:?}, m2 {h2:?}; m1's hooks {:?}",
            hooks.calls()
        );
    }
    let share = held(&m1).await;
    assert_eq!(
        hooks.calls(),
        vec![
            Hook::Assigned(all.clone()),
            Hook::Revoked(all.clone()),
            Hook::Assigned(share.clone())
        ],
        "each hook once per rebalance, whatever poll was dropped"
    );

    // What m1 was given is fetched: records written now reach m1 or m2, all of them.
    let values = produce_values(&bootstrap, &topic, "after", 0..40).await;
    let mine = poll_dropping(&m1, Duration::from_secs(30), "records after", |got| {
        let m2_has = m2_records.lock().unwrap().len();
        got.len() + m2_has >= values.len()
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    m2_task.await.unwrap();
    let mut seen: Vec<String> = mine.iter().map(value_of).collect();
    seen.extend(m2_records.lock().unwrap().iter().cloned());
    seen.sort();
    let mut want = values.clone();
    want.sort();
    assert_eq!(
        seen, want,
        "records of m1's share {share:?} were never fetched"
    );
    m1.close().await.unwrap();
    m2.close().await.unwrap();
}

#[tokio::test]
async fn polls_dropped_after_a_lost_membership_report_the_loss_once_and_revoke_nothing() {
    let (bootstrap, topic) = fresh_topic("cancel-lost", 2).await;
    let all: BTreeSet<i32> = (0..2).collect();
    let mut config = member_config(&bootstrap, &topic, &[AssignorKind::Range]);
    config.max_poll_interval = Duration::from_secs(2);
    let hooks = SlowHooks::default();
    let m = Consumer::new(config).await.unwrap();
    m.set_rebalance_listener(hooks.clone());
    m.subscribe([topic.clone()]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while held(&m).await != all {
        assert!(Instant::now() < deadline, "never assigned");
        m.poll(Duration::from_millis(200)).await.unwrap();
    }
    // No poll for longer than max.poll.interval.ms: the heartbeat task gives the
    // membership up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    poll_dropping(&m, Duration::from_secs(60), "joined again", |_| {
        hooks.calls().len() >= 3
    })
    .await;
    assert_eq!(
        hooks.calls(),
        vec![
            Hook::Assigned(all.clone()),
            Hook::Lost(all.clone()),
            Hook::Assigned(all.clone())
        ],
        "the lost partitions are reported lost once, never revoked"
    );
    m.close().await.unwrap();
}
