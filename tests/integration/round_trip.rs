use crate::support::*;
use kafkit::{Header, ProducerRecord};
use std::collections::BTreeMap;

/// 10,000 records with keys, headers (a duplicate key and a null value) and timestamps,
/// across three partitions, read back exactly and in order per partition.
#[tokio::test]
async fn ten_thousand_records_round_trip_exactly() {
    let (bootstrap, topic) = fresh_topic("roundtrip", 3).await;
    let base_ts = now_ms() - 3_600_000;
    let sent: Vec<ProducerRecord> = (0..10_000i64)
        .map(|i| {
            ProducerRecord::new(topic.as_str(), format!("value-{i}"))
                .key(format!("key-{}", i % 97))
                .header("dup", "first")
                .header("dup", format!("second-{i}"))
                .null_header("nothing")
                .timestamp(base_ts + i)
        })
        .collect();
    let written = produce(&bootstrap, sent.clone()).await;
    let mut expected: BTreeMap<i32, Vec<(i64, ProducerRecord)>> = BTreeMap::new();
    for (metadata, record) in written.into_iter().zip(sent) {
        assert_eq!(metadata.timestamp, record.timestamp.unwrap());
        expected
            .entry(metadata.partition)
            .or_default()
            .push((metadata.offset, record));
    }
    assert_eq!(expected.len(), 3, "keys spread over all three partitions");

    let mut read: BTreeMap<i32, Vec<kafkit::ConsumerRecord>> = BTreeMap::new();
    let records = read_n(&bootstrap, &topic, 0..3, 10_000).await;
    assert_eq!(records.len(), 10_000);
    for record in records {
        read.entry(record.partition).or_default().push(record);
    }
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
