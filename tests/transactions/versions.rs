//! Both transaction protocols: the shared broker (Kafka 4's defaults) finalizes
//! `transaction.version` 2, so the suite's other tests run KIP-890's protocol (no
//! AddPartitionsToTxn nor AddOffsetsToTxn, an epoch bump per EndTxn); here a broker
//! formatted with `transaction.version=1` runs the same scenarios under version 1
//! (AddPartitionsToTxn before a partition's first batch, AddOffsetsToTxn, EndTxn v4).

use crate::common::*;
use crate::support::{self, Broker};
use crate::{fencing, offsets, stable_offset, visibility};
use kafkit_testkit::KafkaCluster;

/// Kafka 4 finalizes transaction version 2 on a fresh cluster; 3.x (the CI's 3.9 smoke run)
/// does not.
#[tokio::test]
async fn the_shared_broker_runs_transaction_version_2_from_kafka_4_on() {
    let bootstrap = support::bootstrap().await;
    let producer = kafkit::Producer::new(txn_config(&bootstrap, &support::topic("txn")))
        .await
        .unwrap();
    assert_eq!(
        producer.transaction_version(),
        None,
        "not before init_transactions"
    );
    producer.init_transactions().await.unwrap();
    let release = kafkit_testkit::kafka_version();
    let major: u32 = release
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap();
    let expected = if major >= 4 { 2 } else { 1 };
    assert_eq!(
        producer.transaction_version(),
        Some(expected),
        "Kafka {release}"
    );
}

#[tokio::test]
async fn transaction_version_1_commits_aborts_fences_and_commits_offsets() {
    let _heavy = support::HEAVY.lock().await;
    let builder = KafkaCluster::builder()
        .format_arg("--feature")
        .format_arg("transaction.version=1");
    let broker = Broker::start_with(builder).await;
    let bootstrap = broker.bootstrap.as_str();
    let producer = producer_of(txn_config(bootstrap, &support::topic("txn"))).await;
    assert_eq!(producer.transaction_version(), Some(1));
    producer.close(std::time::Duration::from_secs(5)).await;

    visibility::a_commit_is_seen_by_read_committed_only_once_committed_on(bootstrap).await;
    visibility::an_abort_is_never_seen_by_read_committed_but_is_by_read_uncommitted_on(bootstrap)
        .await;
    visibility::an_abort_fails_the_records_not_yet_sent_on(bootstrap).await;
    offsets::offsets_are_committed_with_the_transaction_and_only_then_on(bootstrap).await;
    fencing::the_older_producer_of_a_transactional_id_is_fenced_and_its_records_never_appear_on(
        bootstrap,
    )
    .await;
    stable_offset::a_partition_of_only_aborted_transactions_does_not_stall_read_committed_on(
        bootstrap,
    )
    .await;
}
