use crate::common::*;
use kafkit::{Consumer, Header, Producer, ProducerRecord, TopicPartition};
use std::collections::BTreeMap;
use std::time::Duration;

/// 10,000 records with keys, headers (a duplicate key and a null value) and timestamps,
/// across three partitions, read back exactly and in order per partition.
#[tokio::test]
async fn ten_thousand_records_round_trip_exactly() {
    let bootstrap = bootstrap().await;
    let topic = topic("roundtrip");
    create_topic(&bootstrap, &topic, 3).await;
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let base_ts = now_ms() - 3_600_000;
    let mut deliveries = Vec::new();
    let mut sent: Vec<ProducerRecord> = Vec::new();
    for i in 0..10_000i64 {
        let record = ProducerRecord::new(topic.as_str(), format!("value-{i}"))
            .key(format!("key-{}", i % 97))
            .header("dup", "first")
            .header("dup", format!("second-{i}"))
            .null_header("nothing")
            .timestamp(base_ts + i);
        sent.push(record.clone());
        deliveries.push(producer.send(record).await.unwrap());
    }
    producer.flush().await;
    let mut expected: BTreeMap<i32, Vec<(i64, ProducerRecord)>> = BTreeMap::new();
    for (delivery, record) in deliveries.into_iter().zip(sent) {
        let metadata = delivery.await.unwrap();
        assert_eq!(metadata.timestamp, record.timestamp.unwrap());
        expected
            .entry(metadata.partition)
            .or_default()
            .push((metadata.offset, record));
    }
    assert_eq!(expected.len(), 3, "keys spread over all three partitions");

    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign((0..3).map(|p| TopicPartition::new(&topic, p)))
        .await
        .unwrap();
    let mut read: BTreeMap<i32, Vec<kafkit::ConsumerRecord>> = BTreeMap::new();
    let mut total = 0;
    for _ in 0..200 {
        for record in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            read.entry(record.partition).or_default().push(record);
            total += 1;
        }
        if total >= 10_000 {
            break;
        }
    }
    assert_eq!(total, 10_000);
    for (partition, records) in &expected {
        let got = &read[partition];
        assert_eq!(got.len(), records.len(), "partition {partition}");
        for ((offset, want), have) in records.iter().zip(got) {
            assert_eq!(have.offset, *offset);
            assert_eq!(have.key, want.key);
            assert_eq!(have.value, want.value);
            assert_eq!(have.timestamp, want.timestamp.unwrap());
            assert_eq!(have.headers, want.headers);
            assert_eq!(have.headers[2], Header::null("nothing"));
        }
        // In order: offsets strictly increase and match send order.
        assert!(got.windows(2).all(|w| w[0].offset < w[1].offset));
    }
    // Same key, same partition, like the Java client.
    let mut key_partition = BTreeMap::new();
    for (partition, records) in &expected {
        for (_, r) in records {
            let previous = key_partition.insert(r.key.clone(), *partition);
            assert!(previous.is_none() || previous == Some(*partition));
        }
    }
}
