//! A record the broker refuses makes the transaction abortable (Java's abortable error):
//! every later call but an abort says so, and after the abort the producer goes on.

use crate::common::*;
use crate::support;
use kafkit::{Admin, ClientConfig, IsolationLevel, NewTopic, ProducerRecord};
use std::time::Duration;

#[tokio::test]
async fn a_refused_record_leaves_only_an_abort_and_the_next_transaction_commits() {
    let bootstrap = support::bootstrap().await;
    let bootstrap = bootstrap.as_str();
    let topic = support::topic("txn-abortable");
    let admin = Admin::new(ClientConfig::new(bootstrap)).await.unwrap();
    admin
        .create_topics([NewTopic::new(topic.as_str(), 1, 1).config("max.message.bytes", "1000")])
        .await
        .unwrap();
    let producer = txn_producer(bootstrap).await;

    producer.begin_transaction().unwrap();
    let too_large = producer
        .send(ProducerRecord::new(topic.as_str(), vec![b'x'; 4000]).partition(0))
        .await
        .unwrap();
    producer.flush().await;
    let refused = too_large.await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(kafkit::ErrorCode::MESSAGE_TOO_LARGE),
        "{refused}"
    );
    let send = producer
        .send(ProducerRecord::new(topic.as_str(), "after").partition(0))
        .await
        .unwrap_err();
    assert!(send.is_abortable(), "{send}");
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(commit.is_abortable() && !commit.is_fatal(), "{commit}");
    assert!(producer.in_transaction());
    producer.abort_transaction().await.unwrap();

    producer.begin_transaction().unwrap();
    let kept = send_values(&producer, &topic, 1, "kept", 0..2).await;
    producer.commit_transaction().await.unwrap();
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 2, Duration::from_secs(20)).await;
    let extra = poll_for(&committed, Duration::from_secs(1)).await;
    assert_eq!(support::values(&seen), kept);
    assert!(extra.is_empty(), "{extra:?}");
    producer.close(Duration::from_secs(10)).await;
}
