//! kafkit against the testkit's scripted fake broker: the fake serves a real client, and a
//! scripted fault reaches kafkit's retry path exactly as it was scripted.

use crate::support::*;
use kafka_protocol::messages::ApiKey;
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
