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

/// A per-item call's outcome as one: the call's error, or the first item's.
fn first_error<K, V>(
    result: Result<impl IntoIterator<Item = (K, Result<V, Error>)>, Error>,
) -> Result<(), Error> {
    for (_, item) in result? {
        item?;
    }
    Ok(())
}

/// Every admin call against a broker that answers nothing but ApiVersions (each request
/// hangs until `request.timeout.ms` closes its connection): each fails with a typed timeout
/// by `default.api.timeout.ms`, not later, whatever its retries.
#[tokio::test]
async fn every_call_ends_by_default_api_timeout() {
    use kafkit::{
        AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
        AdminConfig, ListConsumerGroupsOptions, NewTopic, OffsetAndMetadata, OffsetSpec,
        PatternType, ResourcePattern, ResourceType, ScramMechanism, UserScramCredentialDeletion,
    };
    use std::future::Future;
    use std::pin::Pin;
    use std::time::{Duration, Instant};

    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let api_timeout = Duration::from_millis(1500);
    let admin = kafkit::Admin::new(
        AdminConfig::from_properties([
            ("bootstrap.servers", broker.bootstrap().as_str()),
            ("request.timeout.ms", "500"),
            ("default.api.timeout.ms", "1500"),
        ])
        .unwrap(),
    )
    .await
    .unwrap();
    for api in [
        ApiKey::Metadata,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::DescribeCluster,
        ApiKey::CreatePartitions,
        ApiKey::DescribeConfigs,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::DeleteRecords,
        ApiKey::DescribeLogDirs,
        ApiKey::ElectLeaders,
        ApiKey::ListOffsets,
        ApiKey::FindCoordinator,
        ApiKey::ListGroups,
        ApiKey::DescribeGroups,
        ApiKey::ConsumerGroupDescribe,
        ApiKey::DeleteGroups,
        ApiKey::OffsetFetch,
        ApiKey::OffsetCommit,
        ApiKey::OffsetDelete,
        ApiKey::DescribeAcls,
        ApiKey::CreateAcls,
        ApiKey::DeleteAcls,
        ApiKey::DescribeUserScramCredentials,
        ApiKey::AlterUserScramCredentials,
    ] {
        broker.script(api, |_| Reply::Hang);
    }
    let tp = TopicPartition::new("t", 0);
    let binding = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, "t", PatternType::Literal),
        AccessControlEntry::new(
            "User:bob",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        ),
    );
    let a = &admin;
    type Call<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;
    let calls: Vec<(&str, Call)> = vec![
        (
            "describe_cluster",
            Box::pin(async { a.describe_cluster().await.map(drop) }),
        ),
        (
            "list_topics",
            Box::pin(async { a.list_topics().await.map(drop) }),
        ),
        (
            "describe_topics",
            Box::pin(async { first_error(a.describe_topics(["t"]).await) }),
        ),
        (
            "create_topics",
            Box::pin(async { a.create_topics([NewTopic::new("n", 1, 1)]).await }),
        ),
        (
            "delete_topics",
            Box::pin(async { a.delete_topics(["t"]).await }),
        ),
        (
            "create_partitions",
            Box::pin(async {
                first_error(
                    a.create_partitions([("t", NewPartitions::increase_to(2))])
                        .await,
                )
            }),
        ),
        (
            "describe_configs",
            Box::pin(async { first_error(a.describe_configs([ConfigResource::topic("t")]).await) }),
        ),
        (
            "incremental_alter_configs",
            Box::pin(async {
                first_error(
                    a.incremental_alter_configs([(
                        ConfigResource::topic("t"),
                        vec![AlterConfigOp::set("retention.ms", "1000")],
                    )])
                    .await,
                )
            }),
        ),
        (
            "delete_records",
            Box::pin(async { first_error(a.delete_records([(tp.clone(), 1)]).await) }),
        ),
        (
            "describe_log_dirs",
            Box::pin(async { first_error(a.describe_log_dirs([0]).await) }),
        ),
        (
            "elect_leaders",
            Box::pin(async {
                first_error(
                    a.elect_leaders(ElectionType::Preferred, Some([tp.clone()]))
                        .await,
                )
            }),
        ),
        (
            "list_offsets",
            Box::pin(async {
                a.list_offsets([(tp.clone(), OffsetSpec::Latest)])
                    .await
                    .map(drop)
            }),
        ),
        (
            "list_consumer_groups",
            Box::pin(async {
                a.list_consumer_groups(ListConsumerGroupsOptions::default())
                    .await
                    .map(drop)
            }),
        ),
        (
            "describe_consumer_groups",
            Box::pin(async { first_error(a.describe_consumer_groups(["g"]).await) }),
        ),
        (
            "delete_consumer_groups",
            Box::pin(async { first_error(a.delete_consumer_groups(["g"]).await) }),
        ),
        (
            "list_consumer_group_offsets",
            Box::pin(async { a.list_consumer_group_offsets("g", None).await.map(drop) }),
        ),
        (
            "list_consumer_groups_offsets",
            Box::pin(async {
                first_error(
                    a.list_consumer_groups_offsets([("g", None), ("h", Some(vec![tp.clone()]))])
                        .await,
                )
            }),
        ),
        (
            "alter_consumer_group_offsets",
            Box::pin(async {
                first_error(
                    a.alter_consumer_group_offsets("g", [(tp.clone(), OffsetAndMetadata::new(1))])
                        .await,
                )
            }),
        ),
        (
            "delete_consumer_group_offsets",
            Box::pin(async {
                first_error(a.delete_consumer_group_offsets("g", [tp.clone()]).await)
            }),
        ),
        (
            "consumer_group_lag",
            Box::pin(async { a.consumer_group_lag("g").await.map(drop) }),
        ),
        (
            "describe_acls",
            Box::pin(async { a.describe_acls(AclBindingFilter::ANY).await.map(drop) }),
        ),
        (
            "create_acls",
            Box::pin(async { first_error(a.create_acls([binding.clone()]).await) }),
        ),
        (
            "delete_acls",
            Box::pin(async { first_error(a.delete_acls([binding.to_filter()]).await) }),
        ),
        (
            "describe_user_scram_credentials",
            Box::pin(async { first_error(a.describe_user_scram_credentials(["bob"]).await) }),
        ),
        (
            "alter_user_scram_credentials",
            Box::pin(async {
                first_error(
                    a.alter_user_scram_credentials([UserScramCredentialDeletion::new(
                        "bob",
                        ScramMechanism::ScramSha256,
                    )
                    .into()])
                        .await,
                )
            }),
        ),
    ];
    // One at a time: a request timing out closes the connection under the others'.
    let mut outcomes = Vec::new();
    for (name, call) in calls {
        let started = Instant::now();
        let result = call.await;
        outcomes.push((name, result, started.elapsed()));
    }
    let mut api_timeouts = 0;
    for (name, result, elapsed) in outcomes {
        match &result {
            Err(Error::ApiTimeout { call, timeout }) => {
                assert_eq!((*call, *timeout), (name, api_timeout));
                api_timeouts += 1;
            }
            Err(Error::RequestTimeout { .. }) => {}
            other => panic!("{name}: expected a timeout, got {other:?}"),
        }
        assert!(
            elapsed <= api_timeout + Duration::from_millis(500),
            "{name} took {elapsed:?}: {result:?}"
        );
    }
    // The calls that retry were still retrying when the deadline cut them off.
    assert!(
        api_timeouts >= 10,
        "{api_timeouts} calls ended by the deadline"
    );
}
