//! The group calls' retries and partial failures against the testkit's scripted fake
//! broker, where a coordinator's refusals can be made to order.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{ApiKey, DeleteGroupsRequest, DeleteGroupsResponse};
use kafkit::{Admin, AdminConfig, ErrorCode};
use kafkit_testkit::{FakeBroker, Reply};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Group "a" is loading, then elsewhere, then deleted; "b" has members; "c" loads forever.
#[tokio::test]
async fn coordinator_refusals_are_retried_and_each_group_fails_alone() {
    let broker = FakeBroker::start().await.unwrap();
    let tries_of_a = Arc::new(AtomicUsize::new(0));
    let tries = tries_of_a.clone();
    broker.script(ApiKey::DeleteGroups, move |req| {
        let asked: DeleteGroupsRequest = req.decode();
        let group = asked.groups_names[0].clone();
        let code = match group.0.as_str() {
            "a" => match tries.fetch_add(1, Ordering::SeqCst) {
                0 => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                1 => ErrorCode::NOT_COORDINATOR,
                _ => ErrorCode::NONE,
            },
            "b" => ErrorCode::NON_EMPTY_GROUP,
            _ => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        };
        Reply::response(DeleteGroupsResponse::default().with_results(vec![
            DeletableGroupResult::default()
                .with_group_id(group)
                .with_error_code(code.0),
        ]))
    });
    let admin = Admin::new(
        AdminConfig::from_properties([
            ("bootstrap.servers", broker.bootstrap().as_str()),
            ("request.timeout.ms", "2000"),
            ("default.api.timeout.ms", "2000"),
        ])
        .unwrap(),
    )
    .await
    .unwrap();
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
    // NOT_COORDINATOR looked the coordinator up again: a FindCoordinator per group, one more
    // for "a".
    let lookups = broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::FindCoordinator)
        .count();
    assert!(lookups >= 4, "{lookups} FindCoordinator requests");
}
