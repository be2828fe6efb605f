//! A commit whose answer is lost: its outcome is unknown, so it is asked again with
//! EndTxn(commit), never turned into an abort (the Bufstream / KAFKA-17754 anomaly).

use crate::common::*;
use crate::support::{self, Broker};
use kafkit::{Error, IsolationLevel};
use std::time::Duration;

#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_asked_again_and_never_aborted() {
    let _heavy = support::HEAVY.lock().await;
    let broker = Broker::start_behind_proxy().await;
    let bootstrap = broker.bootstrap.as_str();
    let topic = broker.create_topic("txn-unknown-commit", 1).await;
    let mut config = txn_config(bootstrap, &support::topic("txn"));
    config.client.request_timeout = Duration::from_secs(2);
    config.max_block = Duration::from_secs(5);
    let producer = producer_of(config).await;
    producer.begin_transaction().unwrap();
    let sent = send_values(&producer, &topic, 1, "unknown", 0..5).await;

    // The broker goes silent: EndTxn(commit) gets no answer.
    broker.proxy().half_open();
    let lost = producer.commit_transaction().await.unwrap_err();
    assert!(!lost.is_abortable() && !lost.is_fatal(), "{lost}");
    assert!(producer.in_transaction(), "the commit's outcome is unknown");
    let abort = producer.abort_transaction().await.unwrap_err();
    assert!(
        matches!(&abort, Error::TransactionState(what) if what.contains("never turns into an abort")),
        "{abort}"
    );
    let begin = producer.begin_transaction().unwrap_err();
    assert!(matches!(begin, Error::TransactionState(_)), "{begin}");

    broker.proxy().end_half_open();
    producer.commit_transaction().await.unwrap();
    assert!(!producer.in_transaction());
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 5, Duration::from_secs(30)).await;
    assert_eq!(support::values(&seen), sent);
    producer.close(Duration::from_secs(10)).await;
}
