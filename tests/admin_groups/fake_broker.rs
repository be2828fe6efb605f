//! The group calls' batching, retries and partial failures against the testkit's scripted
//! fake broker, where a coordinator's refusals can be made to order and every request is
//! counted.

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as NewGroup;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafkit::{Admin, AdminConfig, ErrorCode, GroupState};
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
