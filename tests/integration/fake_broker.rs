//! kafkit against the testkit's scripted fake broker: the fake serves a real client, and a
//! scripted fault reaches kafkit's retry path exactly as it was scripted.

use crate::support::*;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnResponse,
    FindCoordinatorResponse,
};
use kafkit::ProducerRecord;
use kafkit_testkit::{FakeBroker, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A round trip through the fake broker: what kafkit writes, the fake stores and serves back.
#[tokio::test]
async fn the_fake_broker_serves_kafkits_producer_and_consumer() {
    let broker = FakeBroker::builder().topic("t", 2).start().await.unwrap();
    let records = (0..10).map(|i| ProducerRecord::new("t", format!("v{i}")).partition(i % 2));
    let written = produce(&broker.bootstrap(), records).await;
    assert_eq!(written[9].offset, 4);
    let read = read_n(&broker.bootstrap(), "t", 0..2, 10).await;
    let mut read = values(&read);
    read.sort();
    assert_eq!(read, (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());
    assert_eq!(broker.batches("t", 1).len(), 1, "one batch per partition");
}

/// A partition that answers NOT_LEADER_OR_FOLLOWER once: the producer refreshes its
/// metadata, retries, and the record is written once.
#[tokio::test]
async fn a_retriable_produce_error_is_retried_after_a_metadata_refresh() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let failures = Arc::new(AtomicUsize::new(0));
    let counted = failures.clone();
    broker.script(ApiKey::Produce, move |_| {
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::errors([("t", 0)], 6),
            _ => Reply::Default,
        }
    });
    let written = produce(&broker.bootstrap(), [ProducerRecord::new("t", "once")]).await;
    assert_eq!(written[0].offset, 0);
    assert_eq!(broker.batches("t", 0).len(), 1, "written once");
    let sent: Vec<ApiKey> = broker.received().iter().map(|r| r.api_key).collect();
    let produces = sent.iter().filter(|k| **k == ApiKey::Produce).count();
    assert_eq!(produces, 2, "the failed attempt and its retry: {sent:?}");
    let first_produce = sent.iter().position(|k| *k == ApiKey::Produce).unwrap();
    assert!(
        sent[first_produce..].contains(&ApiKey::Metadata),
        "metadata refreshed after NOT_LEADER_OR_FOLLOWER: {sent:?}"
    );
}

/// A transactional producer whose coordinator is `stale`, which answers AddPartitionsToTxn
/// and refuses the EndTxn as INVALID_TXN_STATE, as a coordinator frozen past its failover
/// does when it wakes (it knows the transaction before this one); `other` is the only
/// other broker. Returns what `commit_transaction` returned.
async fn commit_refused_by(stale: &FakeBroker, other: &FakeBroker) -> kafkit::Result<()> {
    stale.script(ApiKey::AddPartitionsToTxn, |request| {
        let asked: AddPartitionsToTxnRequest = request.decode();
        let topics = asked.v3_and_below_topics.into_iter().map(|topic| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic.name)
                .with_results_by_partition(
                    topic
                        .partitions
                        .into_iter()
                        .map(|p| {
                            AddPartitionsToTxnPartitionResult::default().with_partition_index(p)
                        })
                        .collect(),
                )
        });
        Reply::response(
            AddPartitionsToTxnResponse::default()
                .with_results_by_topic_v3_and_below(topics.collect()),
        )
    });
    stale.script(ApiKey::EndTxn, |_| {
        Reply::response(EndTxnResponse::default().with_error_code(48))
    });
    let mut config = producer_config(&format!("{},{}", stale.bootstrap(), other.bootstrap()));
    config.transactional_id = Some("stale-coordinator".into());
    config.max_block = std::time::Duration::from_secs(10);
    let producer = kafkit::Producer::new(config).await.unwrap();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let delivery = producer
        .send(ProducerRecord::new("t", "v").partition(0))
        .await
        .unwrap();
    producer.flush().await;
    delivery.await.expect("the record is written");
    producer.commit_transaction().await
}

/// A coordinator that another broker says was replaced refuses a commit as invalid: its
/// successor is asked, and commits. Before, INVALID_TXN_STATE made the producer fatal at
/// once (two of five runs of consumer_cluster's coordinator pause test failed so).
#[tokio::test]
async fn a_replaced_coordinators_refusal_of_a_commit_is_asked_of_its_successor() {
    let stale = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let successor = FakeBroker::builder().node_id(1).start().await.unwrap();
    successor.script(ApiKey::EndTxn, |_| {
        Reply::response(EndTxnResponse::default())
    });
    commit_refused_by(&stale, &successor)
        .await
        .expect("the successor commits");
    let asked = |b: &FakeBroker| {
        b.received()
            .iter()
            .filter(|r| r.api_key == ApiKey::EndTxn)
            .count()
    };
    assert_eq!((asked(&stale), asked(&successor)), (1, 1));
}

/// The same refusal from a coordinator that the other broker confirms is fatal, as in Java.
#[tokio::test]
async fn a_confirmed_coordinators_invalid_txn_state_is_fatal() {
    let coordinator = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let other = FakeBroker::builder().node_id(1).start().await.unwrap();
    let addr = coordinator.addr();
    other.script(ApiKey::FindCoordinator, move |_| {
        Reply::response(
            FindCoordinatorResponse::default()
                .with_host(addr.ip().to_string().into())
                .with_port(addr.port().into()),
        )
    });
    let e = commit_refused_by(&coordinator, &other).await.unwrap_err();
    assert!(e.is_fatal(), "{e}");
    assert!(e.to_string().contains("INVALID_TXN_STATE"), "{e}");
}
