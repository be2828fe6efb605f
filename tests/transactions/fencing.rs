//! Zombie fencing: a second producer of the same `transactional.id` fences the first.

use crate::common::*;
use crate::support;
use kafkit::{Error, IsolationLevel, ProducerRecord};
use std::time::Duration;

fn fenced(e: &Error, id: &str) -> bool {
    matches!(e, Error::ProducerFenced { transactional_id } if transactional_id == id)
        && e.is_fatal()
}

#[tokio::test]
async fn the_older_producer_of_a_transactional_id_is_fenced_and_its_records_never_appear() {
    the_older_producer_of_a_transactional_id_is_fenced_and_its_records_never_appear_on(
        &support::bootstrap().await,
    )
    .await;
}

pub async fn the_older_producer_of_a_transactional_id_is_fenced_and_its_records_never_appear_on(
    bootstrap: &str,
) {
    let topic = new_topic(bootstrap, "txn-fence", 2).await;
    let id = support::topic("txn-fenced");
    let zombie = producer_of(txn_config(bootstrap, &id)).await;
    zombie.begin_transaction().unwrap();
    send_values(&zombie, &topic, 2, "zombie", 0..5).await;

    // The new instance: its init fences the zombie and aborts its open transaction.
    let successor = producer_of(txn_config(bootstrap, &id)).await;
    successor.begin_transaction().unwrap();
    let kept = send_values(&successor, &topic, 2, "successor", 0..3).await;
    successor.commit_transaction().await.unwrap();

    let commit = zombie.commit_transaction().await.unwrap_err();
    assert!(fenced(&commit, &id), "{commit}");
    // Fatal: every later call returns the same error, and nothing more is written.
    let send = zombie
        .send(ProducerRecord::new(topic.as_str(), "late"))
        .await
        .unwrap_err();
    assert!(fenced(&send, &id), "{send}");
    let begin = zombie.begin_transaction().unwrap_err();
    assert!(fenced(&begin, &id), "{begin}");
    let abort = zombie.abort_transaction().await.unwrap_err();
    assert!(fenced(&abort, &id), "{abort}");

    let committed = reader(bootstrap, IsolationLevel::ReadCommitted, &topic, 2).await;
    let seen = poll_until(&committed, 3, Duration::from_secs(20)).await;
    let extra = poll_for(&committed, Duration::from_secs(1)).await;
    assert_eq!(sorted_values(&seen), sorted(kept));
    assert!(extra.is_empty(), "the zombie's records appeared: {extra:?}");
    zombie.close(Duration::from_secs(5)).await;
    successor.close(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_fenced_producer_s_records_in_flight_fail_fatally() {
    let (bootstrap, topic) = support::fresh_topic("txn-fence-send", 1).await;
    let bootstrap = bootstrap.as_str();
    let id = support::topic("txn-fenced");
    let zombie = producer_of(txn_config(bootstrap, &id)).await;
    zombie.begin_transaction().unwrap();
    send_values(&zombie, &topic, 1, "first", 0..2).await;
    let _successor = producer_of(txn_config(bootstrap, &id)).await;
    // The zombie's partition is in its (aborted) transaction already: its next batch goes
    // straight to the leader, which refuses the old epoch.
    let delivery = zombie
        .send(ProducerRecord::new(topic.as_str(), "after-fencing"))
        .await
        .unwrap();
    zombie.flush().await;
    let outcome = delivery.await.unwrap_err();
    assert!(outcome.is_fatal(), "{outcome}");
    let commit = zombie.commit_transaction().await.unwrap_err();
    assert!(fenced(&commit, &id), "{commit}");
}
