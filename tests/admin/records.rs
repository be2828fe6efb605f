//! `delete_records` on the shared broker: the log start moves, per partition.

use crate::support::*;
use crate::{admin, code};
use kafkit::{Error, ErrorCode, OffsetSpec, ProducerRecord, TopicPartition};

#[tokio::test]
async fn delete_records_moves_the_log_start_of_each_partition() {
    let (bootstrap, name) = fresh_topic("delete-records", 3).await;
    let missing = topic("delete-records-missing");
    produce(
        &bootstrap,
        (0..30).map(|i| ProducerRecord::new(name.as_str(), format!("v{i}")).partition(i % 3)),
    )
    .await;
    let admin = admin(&bootstrap).await;
    let tp = |p| TopicPartition::new(&name, p);

    let deleted = admin
        .delete_records([
            (tp(0), 4),
            (tp(1), -1),
            (tp(2), 11),
            (TopicPartition::new(&missing, 0), 1),
        ])
        .await
        .unwrap();
    assert_eq!(deleted.len(), 4);
    assert_eq!(deleted[&tp(0)].as_ref().unwrap().low_watermark, 4);
    assert_eq!(deleted[&tp(1)].as_ref().unwrap().low_watermark, 10);
    // Past the high watermark (10).
    assert_eq!(code(&deleted[&tp(2)]), ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(
        code(&deleted[&TopicPartition::new(&missing, 0)]),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let earliest = admin
        .list_offsets((0..3).map(|p| (tp(p), OffsetSpec::Earliest)))
        .await
        .unwrap();
    let starts: Vec<i64> = (0..3).map(|p| earliest[&tp(p)].offset).collect();
    assert_eq!(starts, vec![4, 10, 0]);
    let records = read_n(&bootstrap, &name, 0..3, 16).await;
    assert_eq!(
        records.len(),
        16,
        "6 left in partition 0 and 10 in partition 2"
    );
    assert!(records
        .iter()
        .all(|r| (r.partition == 0 && r.offset >= 4) || r.partition == 2));

    let err = admin.delete_records([(tp(0), -2)]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = admin
        .delete_records([(TopicPartition::new("bad name", 0), 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTopic { .. }), "{err:?}");
    let unknown_partition = admin.delete_records([(tp(7), 1)]).await.unwrap();
    assert!(
        matches!(
            unknown_partition[&tp(7)],
            Err(Error::InvalidPartition { .. })
        ),
        "{unknown_partition:?}"
    );
}
