//! Typed records against the real broker: typed keys and values (String, i64, JSON) written
//! by `TypedProducer` and read back by `TypedConsumer`, and a malformed record that stops its
//! partition as a typed error until the consumer seeks past it.

use crate::support::*;
use kafkit::{
    Consumer, Error, ProducerRecord, RecordPart, TopicPartition, TypedConsumer, TypedConsumerRecord,
};
use std::time::{Duration, Instant};

/// Polls `consumer` until `n` records came back (at most 30 s); an error fails the test.
/// At least `n` records from `consumer`, within 30 s.
pub async fn poll_typed<K, V, KD, VD>(
    consumer: &TypedConsumer<K, V, KD, VD>,
    n: usize,
) -> Vec<TypedConsumerRecord<K, V>>
where
    KD: kafkit::Deserializer<K>,
    VD: kafkit::Deserializer<V>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut records = Vec::new();
    while records.len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} records within 30 s",
            records.len()
        );
        records.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    records
}

#[cfg(feature = "json")]
mod json {
    use super::*;
    use kafkit::{Json, Producer, TypedProducer, TypedProducerRecord};
    use std::collections::BTreeMap;

    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    struct Reading {
        sensor: String,
        celsius: f64,
        seq: u32,
    }

    /// String keys with JSON values on one topic, i64 values (keyed and keyless) on another:
    /// each comes back typed, equal to what was sent, in order per partition; the i64
    /// values are the 8 big-endian bytes Java's LongSerializer writes.
    #[tokio::test]
    async fn typed_json_and_i64_records_round_trip() {
        let (bootstrap, readings_topic) = fresh_topic("typed-json", 2).await;
        let counts_topic = topic("typed-i64");
        create_topic(&bootstrap, &counts_topic, 1).await;
        let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
        let readings: TypedProducer<String, Json<Reading>> = TypedProducer::new(producer.clone());
        let counts: TypedProducer<Option<String>, i64> = TypedProducer::new(producer);

        let sent: Vec<Reading> = (0..200)
            .map(|seq| Reading {
                sensor: format!("sensor-{}", seq % 7),
                celsius: f64::from(seq) / 4.0 - 10.0,
                seq,
            })
            .collect();
        let mut deliveries = Vec::new();
        for reading in &sent {
            let record = TypedProducerRecord::new(
                readings_topic.as_str(),
                reading.sensor.clone(),
                Json(reading.clone()),
            )
            .header("schema", "reading-v1");
            deliveries.push(readings.send(record).await.unwrap());
        }
        for i in 0..50_i64 {
            let key = (i % 2 == 0).then(|| format!("k{i}"));
            let record = TypedProducerRecord::new(counts_topic.as_str(), key, i * 1_000_000_007);
            deliveries.push(counts.send(record).await.unwrap());
        }
        readings.producer().flush().await;
        for delivery in deliveries {
            delivery.await.unwrap();
        }

        let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
        consumer
            .assign((0..2).map(|p| TopicPartition::new(&readings_topic, p)))
            .await
            .unwrap();
        let typed: TypedConsumer<String, Json<Reading>> = TypedConsumer::new(consumer);
        let got = poll_typed(&typed, sent.len()).await;
        assert_eq!(got.len(), sent.len());
        let mut by_partition: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
        for record in &got {
            assert_eq!(record.key, record.value.0.sensor, "the key is the sensor");
            assert_eq!(record.value.0, sent[record.value.0.seq as usize]);
            assert_eq!(
                record.headers,
                [kafkit::Header::new("schema", "reading-v1")]
            );
            by_partition
                .entry(record.partition)
                .or_default()
                .push(record.value.0.seq);
        }
        // One sensor's readings (one key) sit in one partition, in the order sent.
        for seqs in by_partition.values() {
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        }

        let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
        consumer
            .assign([TopicPartition::new(&counts_topic, 0)])
            .await
            .unwrap();
        let typed: TypedConsumer<Option<String>, i64> = TypedConsumer::new(consumer);
        let got = poll_typed(&typed, 50).await;
        let values: Vec<(Option<String>, i64)> =
            got.into_iter().map(|r| (r.key, r.value)).collect();
        let expected: Vec<(Option<String>, i64)> = (0..50_i64)
            .map(|i| ((i % 2 == 0).then(|| format!("k{i}")), i * 1_000_000_007))
            .collect();
        assert_eq!(values, expected);
        // The bytes on the wire are Java's.
        let raw = read_n(&bootstrap, &counts_topic, 0..1, 50).await;
        assert_eq!(
            raw[3].value.as_deref(),
            Some(&3_000_000_021_i64.to_be_bytes()[..])
        );
        assert_eq!(raw[3].key, None);
    }
}

/// A value that is not an i64 in the middle of a partition: the records before it come
/// back, then `RecordDeserialization` naming it (bytes included), again on the next poll
/// (nothing skipped), with the position and the group's commit at it; after a seek past it
/// the rest comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_record_is_a_typed_error_until_the_consumer_seeks_past_it() {
    let (bootstrap, topic) = fresh_topic("typed-malformed", 1).await;
    let value = |i: i64| ProducerRecord::new(topic.as_str(), i.to_be_bytes().to_vec());
    let records = vec![
        value(0),
        value(1),
        ProducerRecord::new(topic.as_str(), "oops").key("bad"),
        value(3),
        value(4),
    ];
    produce(&bootstrap, records).await;

    let mut config = consumer_config(&bootstrap);
    config.group_id = Some(topic.clone());
    config.enable_auto_commit = false;
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe([topic.clone()]).await.unwrap();
    let typed: TypedConsumer<(), i64> = TypedConsumer::new(consumer);
    let tp = TopicPartition::new(&topic, 0);

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut before = Vec::new();
    let failure = loop {
        assert!(
            Instant::now() < deadline,
            "no error within 30 s; got {before:?}"
        );
        match typed.poll(Duration::from_millis(500)).await {
            Ok(records) => before.extend(records.into_iter().map(|r| (r.offset, r.value))),
            Err(e) => break e,
        }
    };
    assert_eq!(before, [(0, 0), (1, 1)], "the records before the bad one");
    let Error::RecordDeserialization {
        part,
        reason,
        record,
    } = &failure
    else {
        panic!("expected RecordDeserialization, got {failure}");
    };
    assert_eq!(
        *part,
        RecordPart::Key,
        "the key (\"bad\", not null) fails first"
    );
    assert!(matches!(**reason, Error::Serialization { .. }), "{reason}");
    assert_eq!(
        (&*record.topic, record.partition, record.offset),
        (topic.as_str(), 0, 2)
    );
    assert_eq!(record.value.as_deref(), Some(&b"oops"[..]));
    assert!(!failure.is_retriable());

    // Nothing moves on by itself: the same error once the record is fetched again (polls
    // before that return nothing), the position and the commit at the record.
    for _ in 0..2 {
        let again = loop {
            assert!(
                Instant::now() < deadline,
                "the error did not come back within 30 s"
            );
            match typed.poll(Duration::from_millis(500)).await {
                Ok(records) => assert!(records.is_empty(), "skipped past it: {records:?}"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(&again, Error::RecordDeserialization { record, .. } if record.offset == 2),
            "{again}"
        );
    }
    assert_eq!(typed.consumer().position(&tp).await, Some(2));
    typed.consumer().commit().await.unwrap();
    let committed = typed
        .consumer()
        .committed(std::slice::from_ref(&tp))
        .await
        .unwrap();
    assert_eq!(committed.get(&tp).map(|o| o.offset), Some(2));

    // The application moves past it.
    typed.consumer().seek(&tp, record.offset + 1).await.unwrap();
    let rest = poll_typed(&typed, 2).await;
    let rest: Vec<(i64, i64)> = rest.into_iter().map(|r| (r.offset, r.value)).collect();
    assert_eq!(rest, [(3, 3), (4, 4)]);
    if let Err(e) = typed.consumer().close().await {
        panic!("close: {e}");
    }
}
