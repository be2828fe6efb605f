//! What the consumer's group settings do on a real broker under KIP-848: `client.rack`
//! reaches the group coordinator as the heartbeat's `RackId` (the group describes it), and
//! the refusals a setting fixes come out of `poll` as typed errors that name the setting:
//! `GROUP_MAX_SIZE_REACHED` (the broker's `group.consumer.max.size`) and
//! `UNSUPPORTED_ASSIGNOR` (`group.remote.assignor`).

use crate::common::*;
use crate::support::*;
use kafkit::{Admin, ClientConfig, Consumer, Error, ErrorCode};
use kafkit_testkit::KafkaCluster;
use std::time::Duration;
use tokio::time::Instant;

/// Polls until `poll` fails (at most 30 s) and returns the error.
async fn first_error(consumer: &Consumer) -> Error {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Err(e) = consumer.poll(Duration::from_millis(200)).await {
            return e;
        }
        assert!(Instant::now() < deadline, "no error from poll within 30 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_rack_is_the_rack_the_group_describes() {
    let _turn = HEAVY.lock().await;
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-rack", 2).await;
    let group = topic.clone();
    let mut config = member_config(&broker.bootstrap, &group);
    config.client_rack = Some("rack-7".into());
    let racked = Consumer::new(config).await.unwrap();
    let plain = Consumer::new(member_config(&broker.bootstrap, &group))
        .await
        .unwrap();
    for c in [&racked, &plain] {
        c.subscribe([&topic]).await.unwrap();
    }
    let admin = Admin::new(ClientConfig::new(&broker.bootstrap))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let members = loop {
        for c in [&racked, &plain] {
            c.poll(Duration::from_millis(100)).await.unwrap();
        }
        let described = admin.describe_consumer_groups([&group]).await.unwrap()[&group].clone();
        if let Ok(d) = described {
            if d.members.len() == 2 {
                break d.members;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the group never had both members"
        );
    };
    let rack_of = |c: &Consumer| {
        let id = c.group_metadata().unwrap().member_id;
        members
            .iter()
            .find(|m| m.member_id == id)
            .unwrap_or_else(|| panic!("member {id} not described: {members:#?}"))
            .rack_id
            .clone()
    };
    assert_eq!(rack_of(&racked), Some("rack-7".to_string()));
    assert_eq!(rack_of(&plain), None);
    racked.close().await.unwrap();
    plain.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_past_group_consumer_max_size_gets_a_typed_error() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = Broker::start_with(
        KafkaCluster::builder()
            .property("group.consumer.max.size", "2")
            .property("group.consumer.min.heartbeat.interval.ms", "500")
            .property("group.consumer.heartbeat.interval.ms", "500"),
    )
    .await;
    let topic = broker.create_topic("kip848-full", 4).await;
    let group = topic.clone();
    let ledger = Ledger::default();
    let m0 = Running::start(&broker.bootstrap, &group, &topic, "m0", &ledger).await;
    let m1 = Running::start(&broker.bootstrap, &group, &topic, "m1", &ledger).await;
    wait_until(
        "both members own partitions",
        Duration::from_secs(60),
        || !ledger.owned_by("m0").is_empty() && !ledger.owned_by("m1").is_empty(),
    )
    .await;
    let third = Consumer::new(member_config(&broker.bootstrap, &group))
        .await
        .unwrap();
    third.subscribe([&topic]).await.unwrap();
    let error = first_error(&third).await;
    log(t0, format!("the third member's poll: {error}"));
    assert_eq!(error.code(), Some(ErrorCode::GROUP_MAX_SIZE_REACHED));
    assert!(
        error.to_string().contains("group.consumer.max.size"),
        "names the setting: {error}"
    );
    assert!(third.assignment().await.is_empty());
    // Until the application subscribes again.
    assert_eq!(
        first_error(&third).await.code(),
        Some(ErrorCode::GROUP_MAX_SIZE_REACHED)
    );
    // Room again once a member leaves: subscribing again joins.
    m1.close().await;
    third.subscribe([&topic]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while third.assignment().await.is_empty() {
        third.poll(Duration::from_millis(200)).await.unwrap();
        assert!(Instant::now() < deadline, "the third member never joined");
    }
    log(t0, "after a member left, subscribing again joined");
    third.close().await.unwrap();
    m0.close().await;
    ledger.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignor_the_broker_lacks_is_a_typed_error() {
    let _turn = HEAVY.lock().await;
    let broker = start_broker().await;
    let topic = broker.create_topic("kip848-assignor", 1).await;
    let mut config = member_config(&broker.bootstrap, &topic);
    config.group_remote_assignor = Some("bogus".into());
    let consumer = Consumer::new(config).await.unwrap();
    consumer.subscribe([&topic]).await.unwrap();
    let error = first_error(&consumer).await;
    assert_eq!(
        error.code(),
        Some(ErrorCode::UNSUPPORTED_ASSIGNOR),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("group.remote.assignor") && text.contains("bogus"),
        "names the setting and its value: {text}"
    );
    consumer.close().await.unwrap();
}
