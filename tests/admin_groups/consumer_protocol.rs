//! A KIP-848 group (`group.protocol=consumer`) of Java's console consumer: listed with type
//! `Consumer`, described through ConsumerGroupDescribe (member epochs, the server-side
//! assignor, the member's assignment and target), its lag.

use crate::support::*;
use kafkit::{
    Admin, ClientConfig, GroupState, GroupType, ListConsumerGroupsOptions, TopicPartition,
};
use kafkit_testkit::java_tool;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Java's console consumer in a KIP-848 group; killed when dropped.
struct JavaConsumer(Child);

impl Drop for JavaConsumer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_group_is_described_with_consumer_group_describe() {
    let (bootstrap, topic) = fresh_topic("admin-groups-848", 2).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..20).await;
    let mut java = tokio::task::spawn_blocking(|| {
        java_tool("org.apache.kafka.tools.consumer.ConsoleConsumer")
    })
    .await
    .unwrap()
    .expect("the Java tools");
    java.args([
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        &topic,
        "--group",
        &group,
    ])
    .args([
        "--from-beginning",
        "--consumer-property",
        "group.protocol=consumer",
    ])
    .args(["--consumer-property", "client.id=java-848"])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _java = JavaConsumer(java.spawn().expect("start Java's console consumer"));

    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    let tp = |p| TopicPartition::new(&topic, p);
    // The JVM starts, joins, gets both partitions and commits what it read (auto-commit).
    let deadline = Instant::now() + Duration::from_secs(45);
    let description = loop {
        let described = admin.describe_consumer_groups([&group]).await.unwrap();
        if let Ok(d) = &described[&group] {
            let owned: usize = d.members.iter().map(|m| m.assignment.len()).sum();
            if d.state == GroupState::Stable && owned == 2 {
                break d.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no stable KIP-848 group: {described:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(description.group_type, GroupType::Consumer);
    assert!(!description.partition_assignor.is_empty());
    assert!(description.group_epoch.unwrap() >= 1);
    assert!(description.target_assignment_epoch.is_some());
    assert_eq!(description.members.len(), 1);
    let m = &description.members[0];
    assert_eq!(m.client_id, "java-848");
    assert!(m.member_epoch.unwrap() >= 1);
    let mut owned = m.assignment.clone();
    owned.sort();
    assert_eq!(owned, [tp(0), tp(1)]);
    assert_eq!(m.target_assignment.as_deref(), Some(&owned[..]));

    let consumers = ListConsumerGroupsOptions::default().of_types([GroupType::Consumer]);
    let listed = admin.list_consumer_groups(consumers).await.unwrap();
    let listing = listed.iter().find(|l| l.group_id == group).expect("listed");
    assert_eq!(listing.group_type, Some(GroupType::Consumer));
    assert_eq!(listing.state, Some(GroupState::Stable));
    let classic = ListConsumerGroupsOptions::default().of_types([GroupType::Classic]);
    let listed = admin.list_consumer_groups(classic).await.unwrap();
    assert!(listed.iter().all(|l| l.group_id != group));

    // Auto-commit (every 5 s) catches up with the 20 records; the lag names the member.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lag = admin.consumer_group_lag(&group).await.unwrap();
        if lag.len() == 2 && lag.iter().all(|r| r.lag == Some(0)) {
            assert!(lag
                .iter()
                .all(|r| r.consumer_id.as_deref() == Some(&m.member_id)));
            break;
        }
        assert!(Instant::now() < deadline, "lag never reached 0: {lag:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
