//! `Producer::transaction`: a closure's records committed on `Ok`, aborted on `Err`.

use crate::common::*;
use crate::support;
use kafkit::{Error, IsolationLevel, ProducerRecord};
use std::time::Duration;

#[derive(Debug)]
enum AppError {
    Kafka(Error),
    Rejected,
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Kafka(e)
    }
}

#[tokio::test]
async fn a_closure_s_records_are_committed_on_ok_and_aborted_on_err() {
    let bootstrap = support::bootstrap().await;
    let bootstrap = bootstrap.as_str();
    let topic = new_topic(bootstrap, "txn-helper", 1).await;
    let producer = txn_producer(bootstrap).await;

    let topic_ok = topic.clone();
    let count = producer
        .transaction(|p| async move {
            for i in 0..3 {
                drop(
                    p.send(ProducerRecord::new(topic_ok.as_str(), format!("ok-{i}")))
                        .await?,
                );
            }
            Ok::<_, Error>(3)
        })
        .await
        .unwrap();
    assert_eq!(count, 3);
    assert!(!producer.in_transaction());

    let topic_err = topic.clone();
    let outcome: Result<(), AppError> = producer
        .transaction(|p| async move {
            let delivery = p
                .send(ProducerRecord::new(topic_err.as_str(), "rejected"))
                .await?;
            p.flush().await;
            delivery.await?;
            Err(AppError::Rejected)
        })
        .await;
    match outcome {
        Err(AppError::Rejected) => {}
        Err(AppError::Kafka(e)) => panic!("the body's own error is returned, not {e}"),
        Ok(()) => panic!("the body failed"),
    }
    assert!(!producer.in_transaction(), "aborted");

    // The producer goes on: another transaction commits after the aborted one.
    producer
        .transaction(|p| {
            let topic = topic.clone();
            async move {
                drop(p.send(ProducerRecord::new(topic.as_str(), "last")).await?);
                Ok::<_, Error>(())
            }
        })
        .await
        .unwrap();
    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 1).await;
    let seen = poll_until(&committed, 4, Duration::from_secs(20)).await;
    let extra = poll_for(&committed, Duration::from_secs(1)).await;
    assert_eq!(support::values(&seen), ["ok-0", "ok-1", "ok-2", "last"]);
    assert!(extra.is_empty(), "{extra:?}");
    let uncommitted = reader(bootstrap, IsolationLevel::ReadUncommitted, &topic, 1).await;
    let all = poll_until(&uncommitted, 5, Duration::from_secs(20)).await;
    assert!(
        support::values(&all).contains(&"rejected".to_string()),
        "written, then aborted"
    );
    // A wrong-state call inside is the helper's error, typed.
    let nested: Result<(), Error> = producer
        .transaction(|p| async move { p.begin_transaction() })
        .await;
    assert!(
        matches!(nested, Err(Error::TransactionState(_))),
        "{nested:?}"
    );
    assert!(
        !producer.in_transaction(),
        "the failed body's transaction was aborted"
    );
    producer.close(Duration::from_secs(10)).await;
}
