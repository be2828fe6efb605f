//! `elect_leaders`: what the shared broker answers when no election is needed, and on three
//! nodes of its own (racks r1..r3) leadership brought back to the preferred replica after
//! it was stopped and restarted; `describe_cluster` and `describe_log_dirs` there too.

use crate::support::*;
use crate::{admin, code};
use kafkit::{Admin, ElectionType, ErrorCode, TopicDescription, TopicPartition};
use kafkit_testkit::KafkaCluster;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn an_election_that_changes_nothing_is_answered_per_partition() {
    let (bootstrap, name) = fresh_topic("elect-noop", 2).await;
    let missing = topic("elect-missing");
    let admin = admin(&bootstrap).await;
    let tps = [
        TopicPartition::new(&name, 0),
        TopicPartition::new(&name, 1),
        TopicPartition::new(&missing, 0),
    ];
    for election in [ElectionType::Preferred, ElectionType::Unclean] {
        let results = admin
            .elect_leaders(election, Some(tps.clone()))
            .await
            .unwrap();
        assert_eq!(results.len(), 3, "{results:?}");
        assert_eq!(code(&results[&tps[0]]), ErrorCode::ELECTION_NOT_NEEDED);
        assert_eq!(code(&results[&tps[1]]), ErrorCode::ELECTION_NOT_NEEDED);
        assert_eq!(
            code(&results[&tps[2]]),
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
    }
    // Every partition: none needs an election, and the answer names none.
    let all = admin
        .elect_leaders(ElectionType::Preferred, None::<Vec<TopicPartition>>)
        .await
        .unwrap();
    assert!(all.values().all(|r| r.is_err()), "{all:?}");
}

async fn describe(admin: &Admin, name: &str) -> TopicDescription {
    let mut described = admin.describe_topics([name]).await.unwrap();
    described.remove(name).unwrap().unwrap()
}

/// Polls `name` until `done` holds for its first partition, or fails after `limit`.
async fn wait_for(
    admin: &Admin,
    name: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&kafkit::TopicPartitionInfo) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let topic = describe(admin, name).await;
        if done(&topic.partitions[0]) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {topic:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn on_three_nodes_a_preferred_election_brings_leadership_back() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker =
        Broker::start_with(KafkaCluster::builder().nodes(3).racks(&["r1", "r2", "r3"])).await;
    let admin = admin(&broker.bootstrap).await;
    let cluster = admin.describe_cluster().await.unwrap();
    let racks: Vec<(i32, Option<String>)> = cluster
        .nodes
        .iter()
        .map(|n| (n.id, n.rack.clone()))
        .collect();
    assert_eq!(
        racks,
        vec![
            (0, Some("r1".into())),
            (1, Some("r2".into())),
            (2, Some("r3".into()))
        ]
    );
    let name = broker.create_topic("elect", 1).await;
    let tp = TopicPartition::new(&name, 0);
    let topic = describe(&admin, &name).await;
    let preferred = topic.partitions[0].replicas[0];
    assert_eq!(topic.partitions[0].replicas.len(), 3, "{topic:?}");
    log(
        t0,
        format!("cluster up, {name} led by its preferred replica {preferred}"),
    );

    // Every node holds a replica.
    let dirs = admin.describe_log_dirs([0, 1, 2]).await.unwrap();
    for node in 0..3 {
        let held = dirs[&node]
            .as_ref()
            .unwrap()
            .values()
            .any(|dir| dir.replicas.contains_key(&tp));
        assert!(held, "node {node}: {dirs:?}");
    }

    broker.stop(preferred as usize).await;
    wait_for(
        &admin,
        &name,
        "a new leader",
        Duration::from_secs(20),
        |p| p.leader.is_some_and(|l| l != preferred),
    )
    .await;
    broker.restart(preferred as usize).await;
    wait_for(
        &admin,
        &name,
        "back in sync",
        Duration::from_secs(30),
        |p| p.isr.contains(&preferred),
    )
    .await;
    let led_by = describe(&admin, &name).await.partitions[0].leader;
    assert_ne!(
        led_by,
        Some(preferred),
        "auto.leader.rebalance.enable is off"
    );
    log(
        t0,
        format!("node {preferred} back in sync, {led_by:?} leads"),
    );

    let results = admin
        .elect_leaders(ElectionType::Preferred, Some([tp.clone()]))
        .await
        .unwrap();
    results[&tp].as_ref().unwrap();
    wait_for(
        &admin,
        &name,
        "the preferred leader",
        Duration::from_secs(10),
        |p| p.leader == Some(preferred),
    )
    .await;
    let again = admin
        .elect_leaders(ElectionType::Preferred, Some([tp.clone()]))
        .await
        .unwrap();
    assert_eq!(code(&again[&tp]), ErrorCode::ELECTION_NOT_NEEDED);
    log(t0, "preferred leader elected");
}
