//! The group calls' batching, retries and partial failures against the testkit's scripted
//! fake broker, where a coordinator's refusals can be made to order and every request is
//! counted.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as NewGroup;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    FindCoordinatorRequest, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafkit::{Admin, AdminConfig, ErrorCode, GroupState, OffsetAndMetadata, TopicPartition};
use kafkit_testkit::{FakeBroker, Reply};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn admin(broker: &FakeBroker) -> Admin {
    Admin::new(
        AdminConfig::from_properties([
            ("bootstrap.servers", broker.bootstrap().as_str()),
            ("request.timeout.ms", "2000"),
            ("default.api.timeout.ms", "2000"),
        ])
        .unwrap(),
    )
    .await
    .unwrap()
}

/// The group ids of each request of one API, in order.
fn asked<R: kafka_protocol::protocol::Decodable>(
    broker: &FakeBroker,
    api: ApiKey,
    ids: impl Fn(R) -> Vec<String>,
) -> Vec<Vec<String>> {
    broker
        .received()
        .iter()
        .filter(|r| r.api_key == api)
        .map(|r| {
            let mut ids = ids(r.decode());
            ids.sort();
            ids
        })
        .collect()
}

fn lookups(broker: &FakeBroker) -> Vec<Vec<String>> {
    asked(
        broker,
        ApiKey::FindCoordinator,
        |r: FindCoordinatorRequest| r.coordinator_keys.iter().map(|k| k.to_string()).collect(),
    )
}

/// Group "a" is loading, then elsewhere, then deleted; "b" has members; "c" loads forever.
/// All three go in one DeleteGroups; only those still without an answer go again.
#[tokio::test]
async fn coordinator_refusals_are_retried_and_each_group_fails_alone() {
    let broker = FakeBroker::start().await.unwrap();
    let tries_of_a = Arc::new(AtomicUsize::new(0));
    let tries = tries_of_a.clone();
    broker.script(ApiKey::DeleteGroups, move |req| {
        let asked: DeleteGroupsRequest = req.decode();
        let results = asked
            .groups_names
            .into_iter()
            .map(|group| {
                let code = match group.0.as_str() {
                    "a" => match tries.fetch_add(1, Ordering::SeqCst) {
                        0 => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                        1 => ErrorCode::NOT_COORDINATOR,
                        _ => ErrorCode::NONE,
                    },
                    "b" => ErrorCode::NON_EMPTY_GROUP,
                    _ => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                };
                DeletableGroupResult::default()
                    .with_group_id(group)
                    .with_error_code(code.0)
            })
            .collect();
        Reply::response(DeleteGroupsResponse::default().with_results(results))
    });
    let admin = admin(&broker).await;
    let started = Instant::now();
    let deleted = admin.delete_consumer_groups(["a", "b", "c"]).await.unwrap();
    assert!(deleted["a"].is_ok(), "{deleted:?}");
    assert_eq!(tries_of_a.load(Ordering::SeqCst), 3);
    let busy = deleted["b"].as_ref().unwrap_err();
    assert_eq!(busy.code(), Some(ErrorCode::NON_EMPTY_GROUP));
    assert!(busy.to_string().contains("group b"), "{busy}");
    // Still loading at default.api.timeout.ms: the last refusal, retriable.
    let loading = deleted["c"].as_ref().unwrap_err();
    assert_eq!(
        loading.code(),
        Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    );
    assert!(loading.is_retriable());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let deletes = asked(&broker, ApiKey::DeleteGroups, |r: DeleteGroupsRequest| {
        r.groups_names.iter().map(|g| g.0.to_string()).collect()
    });
    assert_eq!(deletes[0], ["a", "b", "c"]);
    assert_eq!(deletes[1], ["a", "c"]);
    assert_eq!(deletes[2], ["a", "c"]);
    assert!(deletes[3..].iter().all(|d| d == &["c"]), "{deletes:?}");
    // Each round found the coordinators of its groups with one lookup.
    assert_eq!(lookups(&broker), deletes);
}

/// Twenty groups described in one call: one FindCoordinator with every key, one
/// ConsumerGroupDescribe and one DescribeGroups with every group; the two groups whose
/// coordinator moved or was loading are asked again, alone, and every group keeps its own
/// answer.
#[tokio::test]
async fn twenty_groups_take_one_request_per_coordinator() {
    let broker = FakeBroker::start().await.unwrap();
    // Not KIP-848 groups: DescribeGroups decides.
    broker.script(ApiKey::ConsumerGroupDescribe, |req| {
        let asked: ConsumerGroupDescribeRequest = req.decode();
        Reply::response(
            ConsumerGroupDescribeResponse::default().with_groups(
                asked
                    .group_ids
                    .into_iter()
                    .map(|g| {
                        NewGroup::default()
                            .with_group_id(g)
                            .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.0)
                    })
                    .collect(),
            ),
        )
    });
    let refused: Arc<Mutex<HashMap<String, ErrorCode>>> = Arc::new(Mutex::new(HashMap::from([
        ("g07".to_string(), ErrorCode::NOT_COORDINATOR),
        ("g13".to_string(), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
    ])));
    broker.script(ApiKey::DescribeGroups, move |req| {
        let asked: DescribeGroupsRequest = req.decode();
        let groups = asked
            .groups
            .into_iter()
            .map(|g| {
                let once = refused.lock().unwrap().remove(g.0.as_str());
                let (code, state) = match once {
                    Some(code) => (code, ""),
                    // An unknown group from a coordinator of Kafka 2.x: Dead.
                    None if g.0.as_str() == "g19" => (ErrorCode::NONE, "Dead"),
                    None => (ErrorCode::NONE, "Empty"),
                };
                DescribedGroup::default()
                    .with_group_id(g)
                    .with_error_code(code.0)
                    .with_group_state(StrBytes::from_static_str(state))
                    .with_protocol_type(StrBytes::from_static_str("consumer"))
            })
            .collect();
        Reply::response(DescribeGroupsResponse::default().with_groups(groups))
    });
    let admin = admin(&broker).await;
    let names: Vec<String> = (0..20).map(|i| format!("g{i:02}")).collect();
    let described = admin.describe_consumer_groups(&names).await.unwrap();
    assert_eq!(described.len(), 20);
    for name in &names {
        let d = described[name].as_ref().unwrap();
        let state = if name == "g19" {
            GroupState::Dead
        } else {
            GroupState::Empty
        };
        assert_eq!((d.group_id.as_str(), d.state), (name.as_str(), state));
        assert_eq!(d.coordinator, broker.bootstrap());
    }
    let again = vec!["g07".to_string(), "g13".to_string()];
    assert_eq!(lookups(&broker), [names.clone(), again.clone()]);
    let consumer_describes = asked(
        &broker,
        ApiKey::ConsumerGroupDescribe,
        |r: ConsumerGroupDescribeRequest| r.group_ids.iter().map(|g| g.to_string()).collect(),
    );
    assert_eq!(consumer_describes, [names.clone(), again.clone()]);
    let classic_describes = asked(
        &broker,
        ApiKey::DescribeGroups,
        |r: DescribeGroupsRequest| r.groups.iter().map(|g| g.0.to_string()).collect(),
    );
    assert_eq!(classic_describes, [names, again]);
}

/// The offset each group of the fake committed for partition t-0: its number.
fn committed_by(group: &str) -> i64 {
    group.trim_start_matches('g').parse().unwrap()
}

/// Three groups' offsets in one call: one FindCoordinator and one OffsetFetch (v8+) carry
/// all three, each with its own partitions; the group whose coordinator moved goes again
/// alone, and a refused group fails alone.
#[tokio::test]
async fn offsets_of_several_groups_take_one_offset_fetch_and_a_moved_group_goes_again_alone() {
    let broker = FakeBroker::start().await.unwrap();
    let moved_once = Arc::new(AtomicUsize::new(0));
    let moved = moved_once.clone();
    broker.script(ApiKey::OffsetFetch, move |req| {
        let asked: OffsetFetchRequest = req.decode();
        let groups = asked
            .groups
            .into_iter()
            .map(|g| {
                let code = match g.group_id.0.as_str() {
                    "g2" if moved.fetch_add(1, Ordering::SeqCst) == 0 => ErrorCode::NOT_COORDINATOR,
                    "g3" => ErrorCode::GROUP_AUTHORIZATION_FAILED,
                    _ => ErrorCode::NONE,
                };
                let offset = committed_by(g.group_id.0.as_str());
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_error_code(code.0)
                    .with_topics(vec![OffsetFetchResponseTopics::default()
                        .with_name(TopicName(StrBytes::from_static_str("t")))
                        .with_partitions(vec![OffsetFetchResponsePartitions::default()
                            .with_partition_index(0)
                            .with_committed_offset(offset)])])
            })
            .collect();
        Reply::response(OffsetFetchResponse::default().with_groups(groups))
    });
    let admin = admin(&broker).await;
    let t0 = TopicPartition::new("t", 0);
    let listed = admin
        .list_consumer_groups_offsets([
            ("g1", Some(vec![t0.clone(), TopicPartition::new("t", 1)])),
            ("g2", None),
            ("g3", None),
        ])
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    for (group, offset) in [("g1", 1), ("g2", 2)] {
        let offsets = listed[group].as_ref().unwrap();
        assert_eq!(offsets[&t0], OffsetAndMetadata::new(offset), "{group}");
    }
    let refused = listed["g3"].as_ref().unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
    assert_eq!(moved_once.load(Ordering::SeqCst), 2);

    let fetches: Vec<(i16, OffsetFetchRequest)> = broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::OffsetFetch)
        .map(|r| (r.version, r.decode()))
        .collect();
    let fetched: Vec<Vec<String>> = fetches
        .iter()
        .map(|(_, r)| r.groups.iter().map(|g| g.group_id.0.to_string()).collect())
        .collect();
    assert_eq!(fetched, [vec!["g1", "g2", "g3"], vec!["g2"]]);
    assert!(fetches.iter().all(|(v, _)| *v >= 8), "the batched form");
    assert_eq!(lookups(&broker), fetched);
    // g1 asked for its two partitions, the others for all (a null topic list).
    let first = &fetches[0].1.groups;
    let g1 = first[0].topics.as_ref().unwrap();
    assert_eq!(
        (g1[0].name.0.as_str(), &g1[0].partition_indexes[..]),
        ("t", &[0, 1][..])
    );
    assert!(first[1].topics.is_none() && first[2].topics.is_none());

    // The one-group call is the same request with one group, and the group's error is the
    // call's.
    let one = admin.list_consumer_group_offsets("g1", None).await.unwrap();
    assert_eq!(one[&t0], OffsetAndMetadata::new(1));
    let refused = admin
        .list_consumer_group_offsets("g3", None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
}

/// A coordinator older than OffsetFetch v8 (Kafka before 3.0) gets one OffsetFetch per
/// group, in the one-group shape, and each group keeps its own answer.
#[tokio::test]
async fn an_old_coordinator_gets_one_offset_fetch_per_group() {
    let broker = FakeBroker::start().await.unwrap();
    broker.script(ApiKey::ApiVersions, |_| {
        let keys = ApiKey::iter()
            .map(|key| {
                let range = key.valid_versions();
                let max = if key == ApiKey::OffsetFetch {
                    7
                } else {
                    range.max
                };
                ApiVersion::default()
                    .with_api_key(key as i16)
                    .with_min_version(range.min)
                    .with_max_version(max)
            })
            .collect();
        Reply::response(ApiVersionsResponse::default().with_api_keys(keys))
    });
    broker.script(ApiKey::OffsetFetch, |req| {
        let asked: OffsetFetchRequest = req.decode();
        let group = asked.group_id.0.as_str();
        let code = if group == "g9" {
            ErrorCode::GROUP_AUTHORIZATION_FAILED
        } else {
            ErrorCode::NONE
        };
        Reply::response(
            OffsetFetchResponse::default()
                .with_error_code(code.0)
                .with_topics(vec![OffsetFetchResponseTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![OffsetFetchResponsePartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(committed_by(group))])]),
        )
    });
    let admin = admin(&broker).await;
    let listed = admin
        .list_consumer_groups_offsets([("g4", None), ("g5", None), ("g9", None)])
        .await
        .unwrap();
    let t0 = TopicPartition::new("t", 0);
    assert_eq!(listed["g4"].as_ref().unwrap()[&t0].offset, 4);
    assert_eq!(listed["g5"].as_ref().unwrap()[&t0].offset, 5);
    assert_eq!(
        listed["g9"].as_ref().unwrap_err().code(),
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    );
    let fetches: Vec<(i16, String)> = broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::OffsetFetch)
        .map(|r| {
            (
                r.version,
                r.decode::<OffsetFetchRequest>().group_id.0.to_string(),
            )
        })
        .collect();
    assert_eq!(
        fetches,
        [
            (7, "g4".to_string()),
            (7, "g5".to_string()),
            (7, "g9".to_string())
        ]
    );
}
