//! kafkit's transactions read by the Java client and librdkafka with `read_committed`, and
//! theirs read by kafkit: exactly the committed records, at the offsets the writer was
//! given, nothing of the aborted ones.

use crate::common::{read_committed, read_isolated};
use crate::support::{bootstrap, fresh_topic, producer_config};
use kafkit::{IsolationLevel, Producer, ProducerRecord};
use kafkit_testkit::unique_name;
use kafkit_testkit::{PeerRecord, TxnPeer, TxnProduce};
use std::collections::BTreeSet;
use std::time::Duration;

const PARTITIONS: i32 = 3;
const TRANSACTIONS: u32 = 9;
const PER_TRANSACTION: u32 = 40;

fn peer_record(r: &kafkit::ConsumerRecord) -> PeerRecord {
    PeerRecord {
        partition: r.partition,
        offset: r.offset,
        key: r.key.as_ref().map(|k| k.to_vec()),
        value: r.value.as_ref().map(|v| v.to_vec()),
    }
}

/// Writes [`TRANSACTIONS`] transactions of [`PER_TRANSACTION`] keyed records with kafkit,
/// every third aborted after its records reached the log, and returns the committed
/// records as the broker placed them.
async fn kafkit_transactions(bootstrap: &str, topic: &str) -> Vec<PeerRecord> {
    let mut config = producer_config(bootstrap);
    config.transactional_id = Some(unique_name("kafkit-txn"));
    let producer = Producer::new(config).await.unwrap();
    producer.init_transactions().await.unwrap();
    let mut committed = Vec::new();
    let mut j = 0;
    for t in 0..TRANSACTIONS {
        producer.begin_transaction().unwrap();
        let mut deliveries = Vec::new();
        for _ in 0..PER_TRANSACTION {
            let (key, value) = (format!("kafkit-k{}", j % 5), format!("kafkit-{t}-{j}"));
            let record = ProducerRecord::new(topic, value.clone()).key(key.clone());
            deliveries.push((key, value, producer.send(record).await.unwrap()));
            j += 1;
        }
        if t % 3 == 2 {
            // In the log before the abort marker, so a reader that ignores aborts sees them.
            producer.flush().await;
            producer.abort_transaction().await.unwrap();
            continue;
        }
        producer.commit_transaction().await.unwrap();
        for (key, value, delivery) in deliveries {
            let m = delivery.await.unwrap();
            committed.push(PeerRecord {
                partition: m.partition,
                offset: m.offset,
                key: Some(key.into_bytes()),
                value: Some(value.into_bytes()),
            });
        }
    }
    producer.close(Duration::from_secs(10)).await;
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_and_librdkafka_read_kafkits_transactions_exactly() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let (bootstrap, topic) = fresh_topic("txn-kafkit", PARTITIONS).await;
    let committed = kafkit_transactions(&bootstrap, &topic).await;
    assert_eq!(
        committed.len() as u32,
        TRANSACTIONS / 3 * 2 * PER_TRANSACTION
    );
    let want: BTreeSet<PeerRecord> = committed.into_iter().collect();
    for peer in [TxnPeer::Java, TxnPeer::Librdkafka] {
        let (b, t) = (bootstrap.clone(), topic.clone());
        let read = tokio::task::spawn_blocking(move || {
            peer.read_committed(&b, &t, Duration::from_secs(60))
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{peer:?}: {e}"));
        assert_eq!(
            read.len(),
            want.len(),
            "{peer:?} read kafkit's committed records once each"
        );
        let got: BTreeSet<PeerRecord> = read.into_iter().collect();
        assert_eq!(
            got, want,
            "{peer:?} reads exactly kafkit's committed records"
        );
    }
    // The aborted records are in the log: without read_committed they show.
    let all = read_isolated(
        &bootstrap,
        &topic,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await;
    assert_eq!(all.len(), (TRANSACTIONS * PER_TRANSACTION) as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_reads_java_and_librdkafka_transactions_exactly() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    for peer in [TxnPeer::Java, TxnPeer::Librdkafka] {
        let (_, topic) = fresh_topic("txn-peer", PARTITIONS).await;
        let spec = TxnProduce {
            topic: topic.clone(),
            transactional_id: Some(unique_name("peer-txn")),
            transactions: TRANSACTIONS,
            records_per_transaction: PER_TRANSACTION,
            abort_every: 3,
            prefix: format!("{peer:?}"),
        };
        let (b, s) = (bootstrap.clone(), spec.clone());
        let committed = tokio::task::spawn_blocking(move || peer.produce_transactions(&b, &s))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{peer:?}: {e}"));
        assert_eq!(committed.len() as u64, spec.committed_records());
        let read = read_committed(&bootstrap, &topic, PARTITIONS).await;
        assert_eq!(
            read.len(),
            committed.len(),
            "kafkit read {peer:?}'s committed records once each"
        );
        let got: BTreeSet<PeerRecord> = read.iter().map(peer_record).collect();
        let want: BTreeSet<PeerRecord> = committed.into_iter().collect();
        assert_eq!(
            got, want,
            "kafkit reads exactly {peer:?}'s committed records"
        );
        // Per partition in offset order, as written.
        for p in 0..PARTITIONS {
            let offsets: Vec<i64> = read
                .iter()
                .filter(|r| r.partition == p)
                .map(|r| r.offset)
                .collect();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "partition {p}: {offsets:?}"
            );
        }
    }
}
