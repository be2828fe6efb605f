//! A producer dropped without `close`: every record it held still hears of its fate once
//! (its callback called, its `Delivery` resolved) with `Error::Dropped`, saying so if the
//! record may have been written, and the producer's tasks end.

use crate::support::*;
use kafka_protocol::messages::ApiKey;
use kafkit::{Error, Producer, ProducerRecord};
use kafkit_testkit::{FakeBroker, Reply};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Outcomes = Arc<Mutex<Vec<(usize, kafkit::Result<kafkit::RecordMetadata>)>>>;

/// Sends `count` records with callbacks that note their outcome.
async fn send_noted(producer: &Producer, topic: &str, count: usize, outcomes: &Outcomes) {
    for i in 0..count {
        let noted = outcomes.clone();
        producer
            .send_with_callback(ProducerRecord::new(topic, format!("r{i}")), move |o| {
                noted.lock().unwrap().push((i, o))
            })
            .await
            .expect("queued");
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Records lingering in their batches when the last clone is dropped: each callback is
/// called once and each `Delivery` resolves, with `Dropped` (never sent, so not written),
/// and the producer's tasks (sender, metadata refresh, connections) end. Before, the
/// callbacks were dropped uncalled.
#[tokio::test]
async fn dropping_the_producer_fails_what_it_holds_once_and_ends_its_tasks() {
    let (bootstrap, topic) = fresh_topic("dropped", 1).await;
    // Whatever the topic's admin client left running has ended.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = alive_tasks();
    let mut config = producer_config(&bootstrap);
    config.linger = Duration::from_secs(60);
    let producer = Producer::new(config).await.unwrap();
    let clone = producer.clone();
    let outcomes = Outcomes::default();
    send_noted(&producer, &topic, 3, &outcomes).await;
    let delivery = producer
        .send(ProducerRecord::new(topic.as_str(), "future"))
        .await
        .unwrap();
    drop(producer);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        outcomes.lock().unwrap().is_empty(),
        "a clone is left: nothing is given up"
    );
    drop(clone);

    wait_until("every callback called", Duration::from_secs(5), || {
        outcomes.lock().unwrap().len() == 3
    })
    .await;
    let err = tokio::time::timeout(Duration::from_secs(5), delivery)
        .await
        .expect("the Delivery resolves")
        .expect_err("never sent");
    assert!(
        matches!(err, Error::Dropped) && !err.is_outcome_unknown(),
        "{err}"
    );
    wait_until("the producer's tasks end", Duration::from_secs(5), || {
        alive_tasks() <= before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let outcomes = outcomes.lock().unwrap();
    let mut called: Vec<usize> = outcomes.iter().map(|(i, _)| *i).collect();
    called.sort();
    assert_eq!(called, [0, 1, 2], "each callback once");
    for (i, outcome) in outcomes.iter() {
        assert!(
            matches!(outcome, Err(Error::Dropped)),
            "record {i}: {outcome:?}"
        );
    }
}

/// A record sent to a broker that never answered, its outcome unknown, when the producer
/// is dropped: its callback hears `OutcomeUnknown` wrapping `Dropped`. Before, an
/// idempotent producer retried it for as long as its requests kept the producer alive, and
/// the callback waited as long.
#[tokio::test]
async fn a_record_of_unknown_outcome_says_so_when_the_producer_is_dropped() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    broker.script(ApiKey::Produce, |_| Reply::Hang);
    let mut config = producer_config(&broker.bootstrap());
    config.linger = Duration::ZERO;
    config.client.request_timeout = Duration::from_millis(500);
    let producer = Producer::new(config).await.unwrap();
    let outcomes = Outcomes::default();
    send_noted(&producer, "t", 1, &outcomes).await;
    // The request times out: the record may have been written from then on.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    drop(producer);
    wait_until("the callback is called", Duration::from_secs(5), || {
        !outcomes.lock().unwrap().is_empty()
    })
    .await;
    let outcomes = outcomes.lock().unwrap();
    let err = outcomes[0].1.as_ref().expect_err("never answered");
    assert!(
        matches!(err, Error::OutcomeUnknown { reason } if matches!(**reason, Error::Dropped)),
        "{err}"
    );
}
