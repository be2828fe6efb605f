//! A transaction's coordinator lost during `commit_transaction`: SIGKILLed, or frozen
//! (SIGSTOP) past `request.timeout.ms`. The commit either completes (its EndTxn is asked
//! again of the coordinator that takes over) or fails with a typed error; a
//! `read_committed` reader then sees the transaction's records all exactly once, or none of
//! them, never a part. A commit whose outcome is unknown is asked again, never aborted.

use crate::support::*;
use kafkit::{
    Admin, ClientConfig, Consumer, Error, IsolationLevel, OffsetSpec, Producer, ProducerRecord,
    TopicPartition,
};
use kafkit_testkit::KafkaCluster;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
/// Records per transaction, spread over every partition.
const RECORDS: usize = 1000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one `commit_transaction` call may retry its EndTxn.
const MAX_BLOCK: Duration = Duration::from_secs(30);
/// A commit call longer than this hangs.
const COMMIT_LIMIT: Duration = Duration::from_secs(60);
/// The topics whose every partition must be back on all three nodes before a round.
const TXN_STATE: &str = "__transaction_state";
/// `transaction.state.log.num.partitions`, as the cluster is started with.
const TXN_STATE_PARTITIONS: i32 = 5;

/// A three-node cluster whose transaction log is on every node and needs two of them.
async fn cluster() -> Broker {
    Broker::start_with(
        KafkaCluster::builder()
            .nodes(3)
            .property("transaction.state.log.replication.factor", "3")
            .property("transaction.state.log.min.isr", "2")
            .property(
                "transaction.state.log.num.partitions",
                TXN_STATE_PARTITIONS.to_string(),
            )
            .property("min.insync.replicas", "2"),
    )
    .await
}

/// A transactional producer of `id`, initialized, with a short `request.timeout.ms` (a
/// frozen coordinator is given up on after it) and `max.block.ms` bounding each call.
async fn producer(bootstrap: &str, id: &str) -> Producer {
    let mut config = producer_config(bootstrap);
    config.transactional_id = Some(id.to_string());
    config.client.request_timeout = REQUEST_TIMEOUT;
    config.max_block = MAX_BLOCK;
    config.delivery_timeout = Duration::from_secs(30);
    let producer = Producer::new(config).await.expect("producer");
    producer
        .init_transactions()
        .await
        .expect("init_transactions");
    producer
}

/// Sends `"{prefix}-{i}"` for `i` in `0..n`, spread over every partition; with `settle`,
/// waits until each is written, else leaves them to the commit's flush.
async fn send(producer: &Producer, topic: &str, prefix: &str, n: usize, settle: bool) {
    let mut deliveries = Vec::new();
    for i in 0..n {
        let record =
            ProducerRecord::new(topic, format!("{prefix}-{i}")).partition(i as i32 % PARTITIONS);
        deliveries.push(producer.send(record).await.expect("send"));
    }
    if settle {
        producer.flush().await;
        for (i, delivery) in deliveries.into_iter().enumerate() {
            delivery
                .await
                .unwrap_or_else(|e| panic!("{prefix}: record {i} was not written: {e}"));
        }
    }
}

/// The coordinator of `id`, once a running node names one.
async fn coordinator(broker: &Broker, id: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let id = id.to_string();
        if let Some(node) = broker
            .blocking(move |c| c.transaction_coordinator(&id))
            .await
        {
            return node;
        }
        assert!(Instant::now() < deadline, "no node names a coordinator");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until every partition of `topic` and of the transaction log is on all three nodes
/// again, so the next fault leaves two of each.
async fn wait_in_sync(broker: &Broker, topic: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let partitions: Vec<(String, i32)> = (0..PARTITIONS)
        .map(|p| (topic.to_string(), p))
        .chain((0..TXN_STATE_PARTITIONS).map(|p| (TXN_STATE.to_string(), p)))
        .collect();
    loop {
        let partitions = partitions.clone();
        let lagging = broker
            .blocking(move |c| {
                partitions
                    .into_iter()
                    .filter(|(t, p)| c.partition_roles(t, *p).is_none_or(|r| r.isr.len() < 3))
                    .collect::<Vec<_>>()
            })
            .await;
        if lagging.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not back in sync on all three nodes: {lagging:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How a commit ended, once settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Committed,
    Aborted,
}

/// A commit call, bounded: past [`COMMIT_LIMIT`] it hangs, and the test fails.
async fn commit(producer: &Producer) -> kafkit::Result<()> {
    tokio::time::timeout(COMMIT_LIMIT, producer.commit_transaction())
        .await
        .unwrap_or_else(|_| panic!("commit_transaction hung for {COMMIT_LIMIT:?}"))
}

/// Settles a commit that returned `first`: an abortable error is followed by an abort (the
/// coordinator refused the commit: nothing committed); an unknown outcome by asking again
/// (never an abort, it may have committed). A fatal error fails the test: a coordinator's
/// loss fences no one.
async fn settle(t0: Instant, producer: &Producer, first: kafkit::Result<()>) -> Outcome {
    let mut result = first;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match result {
            Ok(()) => {
                assert!(!producer.in_transaction());
                return Outcome::Committed;
            }
            Err(e) if e.is_fatal() => panic!("the commit made the producer fatal: {e}"),
            Err(e) if e.is_abortable() => {
                log(t0, format!("commit refused ({e}); aborting"));
                tokio::time::timeout(COMMIT_LIMIT, producer.abort_transaction())
                    .await
                    .expect("abort_transaction hung")
                    .expect("abort_transaction");
                return Outcome::Aborted;
            }
            Err(e) => {
                log(
                    t0,
                    format!("commit attempt {attempt}: outcome unknown ({e})"),
                );
                assert!(attempt < 5, "the commit never settled: {e}");
                assert!(producer.in_transaction(), "an unknown commit is still open");
                let abort = producer.abort_transaction().await.unwrap_err();
                assert!(
                    matches!(&abort, Error::TransactionState(_)),
                    "an unknown commit refuses an abort: {abort}"
                );
                result = commit(producer).await;
            }
        }
    }
}

/// Every value a `read_committed` reader finds in `topic`, read from the beginning until
/// its position reaches each partition's log end as it was when called (so past every
/// transaction decided by then: one still open stalls the reader, and fails the test).
async fn read_committed(bootstrap: &str, topic: &str) -> Vec<String> {
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let admin = Admin::new(ClientConfig::new(bootstrap)).await.unwrap();
    let ends: HashMap<TopicPartition, i64> = admin
        .list_offsets(tps.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)))
        .await
        .expect("log end offsets")
        .into_iter()
        .map(|(tp, o)| (tp, o.offset))
        .collect();
    let mut config = consumer_config(bootstrap);
    config.isolation_level = IsolationLevel::ReadCommitted;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.assign(tps.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        seen.extend(values(
            &consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        ));
        let mut behind = Vec::new();
        for tp in &tps {
            let position = consumer.position(tp).await.unwrap_or(-1);
            if position < ends[tp] {
                behind.push((tp.partition, position, ends[tp]));
            }
        }
        if behind.is_empty() {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "read_committed stalled below the log end (partition, position, end): {behind:?}"
        );
    }
}

/// Checks the topic against the transactions' outcomes: every committed one's records
/// exactly once, nothing of an aborted one.
async fn check(t0: Instant, bootstrap: &str, topic: &str, outcomes: &[(String, Outcome)]) {
    let mut seen = read_committed(bootstrap, topic).await;
    seen.sort();
    let mut expected: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Committed)
        .flat_map(|(prefix, _)| (0..RECORDS).map(move |i| format!("{prefix}-{i}")))
        .collect();
    expected.sort();
    if seen != expected {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for value in &seen {
            *counts
                .entry(value.split('-').next().unwrap_or_default())
                .or_default() += 1;
        }
        panic!(
            "read_committed found {} records, {} expected; per transaction: {counts:?}, \
             outcomes: {outcomes:?}",
            seen.len(),
            expected.len()
        );
    }
    log(
        t0,
        format!("read_committed: {} records, as expected", seen.len()),
    );
}

/// The fault a round inflicts on the coordinator.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL, then a restart once the commit has settled.
    Kill,
    /// SIGSTOP for this long, then SIGCONT.
    Pause(Duration),
}

/// Rounds of: a transaction of [`RECORDS`] records, `commit_transaction` spawned, the
/// coordinator of the transactional id hit by `fault` after a delay (records written
/// first, or left to the commit's flush), the outcome settled and checked; then a last
/// transaction on the same producer commits.
async fn coordinator_lost_during_commit(name: &str, fault: Fault) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = cluster().await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic(name, PARTITIONS).await;
    let id = crate::support::topic(&format!("{name}-id"));
    let producer = producer(&bootstrap, &id).await;
    log(t0, format!("three nodes up; producer of {id} initialized"));

    // (records written before the commit, delay before the fault)
    let rounds = [(true, 0), (false, 0), (true, 20)];
    let mut outcomes = Vec::new();
    let mut hits = Vec::new();
    for (round, (settled, delay)) in rounds.into_iter().enumerate() {
        wait_in_sync(&broker, &topic).await;
        let prefix = format!("r{round}");
        producer.begin_transaction().unwrap();
        send(&producer, &topic, &prefix, RECORDS, settled).await;
        let node = coordinator(&broker, &id).await;
        log(
            t0,
            format!(
                "round {round}: {RECORDS} records {}; committing, {fault:?} of coordinator \
                 node {node} after {delay} ms",
                if settled { "written" } else { "sent" }
            ),
        );
        let committing = producer.clone();
        let started = Instant::now();
        let call = tokio::spawn(async move {
            let result = commit(&committing).await;
            (result, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
        match fault {
            Fault::Kill => broker.kill(node).await,
            Fault::Pause(_) => broker.pause(node).await,
        }
        let fault_at = started.elapsed();
        if let Fault::Pause(period) = fault {
            tokio::time::sleep(period).await;
            broker.resume(node).await;
            log(t0, format!("round {round}: node {node} resumed"));
        }
        let (first, took) = call.await.expect("the commit task panicked");
        // The fault hit the commit in flight if the call ended after it.
        let hit = took > fault_at;
        log(
            t0,
            format!(
                "round {round}: commit returned {first:?} after {took:?} (fault at {fault_at:?}: \
                 {})",
                if hit { "in flight" } else { "after the answer" }
            ),
        );
        let outcome = settle(t0, &producer, first).await;
        log(t0, format!("round {round}: {outcome:?}"));
        outcomes.push((prefix, outcome));
        hits.push((hit, outcome));
        check(t0, &bootstrap, &topic, &outcomes).await;
        if let Fault::Kill = fault {
            broker.restart(node).await;
            log(t0, format!("round {round}: node {node} restarted"));
        }
    }
    // Else the fault never met a commit in flight, and the rounds proved nothing.
    assert!(
        hits.contains(&(true, Outcome::Committed)),
        "no commit hit in flight survived its coordinator's loss (hit, outcome): {hits:?}"
    );

    // The producer goes on: its next transaction commits.
    wait_in_sync(&broker, &topic).await;
    producer.begin_transaction().unwrap();
    send(&producer, &topic, "last", RECORDS, true).await;
    commit(&producer).await.expect("the last commit");
    outcomes.push(("last".to_string(), Outcome::Committed));
    check(t0, &bootstrap, &topic, &outcomes).await;
    producer.close(Duration::from_secs(10)).await;
    log(t0, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_survives_its_coordinator_sigkilled_all_or_nothing() {
    coordinator_lost_during_commit("txn-coord-kill", Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_survives_its_coordinator_frozen_past_the_request_timeout() {
    coordinator_lost_during_commit(
        "txn-coord-pause",
        Fault::Pause(REQUEST_TIMEOUT.saturating_mul(5) / 2),
    )
    .await;
}
