//! Against the fake broker: bad input sends nothing, and a partition whose leader moved is
//! asked again while the others keep their answers.

use crate::admin;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DeleteRecordsResponse};
use kafkit::{AlterConfigOp, ConfigResource, ElectionType, Error, NewPartitions, TopicPartition};
use kafkit_testkit::{FakeBroker, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn invalid(result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(Error::InvalidArgument(_) | Error::InvalidTopic { .. }) => {}
        other => panic!("expected a typed refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let admin = admin(&broker.bootstrap()).await;
    invalid(admin.describe_topics([".."]).await);
    invalid(
        admin
            .create_partitions([("t", NewPartitions::increase_to(0))])
            .await,
    );
    invalid(admin.describe_configs([ConfigResource::topic("a b")]).await);
    invalid(
        admin
            .incremental_alter_configs([(
                ConfigResource::topic("t"),
                vec![AlterConfigOp::set("x", "1"), AlterConfigOp::set("x", "2")],
            )])
            .await,
    );
    invalid(
        admin
            .delete_records([(TopicPartition::new("t", 0), -5)])
            .await,
    );
    invalid(admin.describe_log_dirs([-3]).await);
    invalid(
        admin
            .elect_leaders(
                ElectionType::Preferred,
                Some([TopicPartition::new("t/1", 0)]),
            )
            .await,
    );
    let sent: Vec<ApiKey> = broker.received().iter().map(|r| r.api_key).collect();
    assert!(
        sent.iter()
            .all(|k| matches!(k, ApiKey::ApiVersions | ApiKey::Metadata)),
        "{sent:?}"
    );
}

#[tokio::test]
async fn delete_records_asks_again_for_the_partition_whose_leader_moved() {
    let broker = FakeBroker::builder().topic("t", 2).start().await.unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    broker.script(ApiKey::DeleteRecords, move |request| {
        let request: DeleteRecordsRequest = request.decode();
        let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
        let partitions = request.topics[0]
            .partitions
            .iter()
            .map(|p| {
                // The first time, partition 0's leader has moved.
                let moved = first && p.partition_index == 0;
                DeleteRecordsPartitionResult::default()
                    .with_partition_index(p.partition_index)
                    .with_low_watermark(if moved { -1 } else { p.offset })
                    .with_error_code(if moved { 6 } else { 0 })
            })
            .collect();
        Reply::response(DeleteRecordsResponse::default().with_topics(
            vec![DeleteRecordsTopicResult::default()
                .with_name(request.topics[0].name.clone())
                .with_partitions(partitions)],
        ))
    });
    let admin = admin(&broker.bootstrap()).await;
    let deleted = admin
        .delete_records([
            (TopicPartition::new("t", 0), 3),
            (TopicPartition::new("t", 1), 5),
        ])
        .await
        .unwrap();
    assert_eq!(
        deleted[&TopicPartition::new("t", 0)]
            .as_ref()
            .unwrap()
            .low_watermark,
        3
    );
    assert_eq!(
        deleted[&TopicPartition::new("t", 1)]
            .as_ref()
            .unwrap()
            .low_watermark,
        5
    );
    let requests: Vec<DeleteRecordsRequest> = broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::DeleteRecords)
        .map(|r| r.decode())
        .collect();
    assert_eq!(requests.len(), 2);
    let second: Vec<i32> = requests[1].topics[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(
        second,
        vec![0],
        "only the partition that failed is asked again"
    );
}
