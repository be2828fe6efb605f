use crate::support::*;
use kafkit::{Error, Producer, ProducerRecord, RecordMetadata};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Outcomes = Arc<Mutex<Vec<(usize, kafkit::Result<RecordMetadata>)>>>;

/// `send_with_callback`: every queued record's callback runs exactly once before `flush`
/// returns, in send order per partition, with the offset the record was really written at.
#[tokio::test]
async fn callbacks_run_once_in_order_with_the_written_offsets() {
    let (bootstrap, topic) = fresh_topic("callbacks", 3).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let name: Arc<str> = topic.as_str().into();
    let outcomes: Outcomes = Arc::default();
    for i in 0..3_000usize {
        let outcomes = outcomes.clone();
        let record =
            ProducerRecord::new(name.clone(), format!("value-{i}")).key(format!("k{}", i % 7));
        producer
            .send_with_callback(record, move |outcome| {
                outcomes.lock().unwrap().push((i, outcome))
            })
            .await
            .unwrap();
    }
    producer.flush().await;
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert_eq!(
        outcomes.len(),
        3_000,
        "one callback per record, all before flush returned"
    );
    let mut per_partition: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, outcome) in &outcomes {
        let metadata = outcome.as_ref().unwrap();
        assert_eq!(&*metadata.topic, topic);
        per_partition
            .entry(metadata.partition)
            .or_default()
            .push((*i, metadata.offset));
    }
    for (partition, calls) in &per_partition {
        assert!(
            calls
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 + 1 == w[1].1),
            "partition {partition}: callbacks in send order, offsets consecutive"
        );
    }

    // The offsets the callbacks reported hold exactly those records.
    let read: BTreeMap<(i32, i64), String> = read_n(&bootstrap, &topic, 0..3, 3_000)
        .await
        .iter()
        .map(|r| ((r.partition, r.offset), value_of(r)))
        .collect();
    assert_eq!(read.len(), 3_000, "every record read back");
    for (i, outcome) in outcomes {
        let m = outcome.unwrap();
        assert_eq!(read[&(m.partition, m.offset)], format!("value-{i}"));
    }
}

/// A record that cannot be queued is an error from the call, and its callback never runs; a
/// panicking callback is contained and the producer keeps delivering.
#[tokio::test]
async fn refused_records_skip_the_callback_and_a_panicking_callback_is_contained() {
    let (bootstrap, topic) = fresh_topic("callbacks-errors", 1).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let called = Arc::new(Mutex::new(0));
    let c = called.clone();
    let refused = producer
        .send_with_callback(
            ProducerRecord::new(topic.as_str(), "v").partition(5),
            move |_| *c.lock().unwrap() += 1,
        )
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidPartition { partition: 5, .. })),
        "{refused:?}"
    );

    producer
        .send_with_callback(ProducerRecord::new(topic.as_str(), "boom"), |_| {
            panic!("a callback panicking on purpose")
        })
        .await
        .unwrap();
    let c = called.clone();
    producer
        .send_with_callback(
            ProducerRecord::new(topic.as_str(), "after"),
            move |outcome| {
                outcome.unwrap();
                *c.lock().unwrap() += 1
            },
        )
        .await
        .unwrap();
    producer.flush().await;
    assert_eq!(
        *called.lock().unwrap(),
        1,
        "only the queued, non-panicking callback counted"
    );
    // Still usable after the panic, with futures as well.
    let delivery = producer
        .send(ProducerRecord::new(topic.as_str(), "later"))
        .await
        .unwrap();
    assert_eq!(delivery.await.unwrap().offset, 2);
}
