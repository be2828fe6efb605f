//! A classic group's whole life through the admin client: listed with its state and type,
//! described with its member's assignment, refused deletion while it has members, its lag,
//! its offsets altered, listed and deleted once empty, then the group itself deleted.

use crate::support::*;
use crate::{consume_and_commit, member_config};
use kafkit::{
    Admin, AdminConfig, ClientConfig, Consumer, Error, ErrorCode, GroupState, GroupType,
    ListConsumerGroupsOptions, OffsetAndMetadata, TopicPartition,
};
use std::time::Duration;

fn ids(listings: &[kafkit::ConsumerGroupListing]) -> Vec<&str> {
    listings.iter().map(|l| l.group_id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_group_listed_described_altered_and_deleted() {
    let (bootstrap, topic) = fresh_topic("admin-groups", 3).await;
    let group = topic.clone();
    produce_values(&bootstrap, &topic, "v", 0..60).await;
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    let tp = |p| TopicPartition::new(&topic, p);

    let member = Consumer::new(member_config(&bootstrap, &group))
        .await
        .unwrap();
    member.subscribe([topic.clone()]).await.unwrap();
    consume_and_commit(&member, 60).await;

    // Listed as a stable classic group; the filters leave it out when they should.
    let all = admin
        .list_consumer_groups(ListConsumerGroupsOptions::default())
        .await
        .unwrap();
    let listing = all.iter().find(|l| l.group_id == group).expect("listed");
    assert_eq!(listing.state, Some(GroupState::Stable));
    assert_eq!(listing.group_type, Some(GroupType::Classic));
    assert!(!listing.is_simple_consumer_group);
    let stable_classic = ListConsumerGroupsOptions::default()
        .in_states([GroupState::Stable])
        .of_types([GroupType::Classic]);
    assert!(
        ids(&admin.list_consumer_groups(stable_classic).await.unwrap()).contains(&group.as_str())
    );
    let empty = ListConsumerGroupsOptions::default().in_states([GroupState::Empty]);
    assert!(!ids(&admin.list_consumer_groups(empty).await.unwrap()).contains(&group.as_str()));
    let kip848 = ListConsumerGroupsOptions::default().of_types([GroupType::Consumer]);
    assert!(!ids(&admin.list_consumer_groups(kip848).await.unwrap()).contains(&group.as_str()));

    // Described: one member owning every partition, the range assignor, the coordinator.
    let unknown = crate::support::topic("no-such-group");
    let described = admin
        .describe_consumer_groups([group.as_str(), unknown.as_str()])
        .await
        .unwrap();
    let d = described[&group].as_ref().expect("described");
    assert_eq!(
        (d.state, d.group_type),
        (GroupState::Stable, GroupType::Classic)
    );
    assert_eq!(d.partition_assignor, "range");
    assert!(!d.coordinator.is_empty());
    assert_eq!(d.members.len(), 1);
    let m = &d.members[0];
    assert_eq!(m.client_id, "admin-groups-member");
    assert!(!m.member_id.is_empty() && !m.host.is_empty());
    assert_eq!(m.group_instance_id, None);
    let mut owned = m.assignment.clone();
    owned.sort();
    assert_eq!(owned, [tp(0), tp(1), tp(2)]);
    // An unknown group: GROUP_ID_NOT_FOUND (DescribeGroups v6), or Dead from older brokers.
    match &described[&unknown] {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}"),
        Ok(d) => assert_eq!(d.state, GroupState::Dead),
    }

    // Lag: everything consumed and committed, so none; each row names the member.
    let lag = admin.consumer_group_lag(&group).await.unwrap();
    assert_eq!(lag.len(), 3);
    assert_eq!(lag.iter().map(|r| r.log_end_offset).sum::<i64>(), 60);
    for row in &lag {
        assert_eq!(row.current_offset, Some(row.log_end_offset), "{row:?}");
        assert_eq!(row.lag, Some(0));
        assert_eq!(row.consumer_id.as_deref(), Some(m.member_id.as_str()));
        assert_eq!(row.client_id.as_deref(), Some("admin-groups-member"));
    }

    // While it has members: the group cannot be deleted, nor its subscribed topic's offsets,
    // and an admin commit is refused for every partition. Each failure names the group.
    let deleted = admin
        .delete_consumer_groups([group.as_str(), unknown.as_str()])
        .await
        .unwrap();
    let busy = deleted[&group].as_ref().unwrap_err();
    assert_eq!(busy.code(), Some(ErrorCode::NON_EMPTY_GROUP), "{busy}");
    assert!(busy.to_string().contains(&group), "{busy}");
    let gone = deleted[&unknown].as_ref().unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{gone}");
    let subscribed = admin
        .delete_consumer_group_offsets(&group, [tp(0)])
        .await
        .unwrap();
    let refused = subscribed[&tp(0)].as_ref().unwrap_err();
    assert_eq!(
        refused.code(),
        Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC),
        "{refused}"
    );
    let altered = admin
        .alter_consumer_group_offsets(&group, [(tp(0), OffsetAndMetadata::new(0))])
        .await
        .unwrap();
    assert!(
        altered[&tp(0)].is_err(),
        "an admin commit into an active group"
    );

    // Empty: offsets altered (with metadata), listed back, one deleted; then the group.
    member.close().await.unwrap();
    let d = admin.describe_consumer_groups([&group]).await.unwrap();
    let d = d[&group].as_ref().unwrap();
    assert_eq!((d.state, d.members.len()), (GroupState::Empty, 0));
    let altered = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (tp(0), OffsetAndMetadata::new(1).with_metadata("admin")),
                (tp(1), OffsetAndMetadata::new(2)),
            ],
        )
        .await
        .unwrap();
    assert!(altered.values().all(Result::is_ok), "{altered:?}");
    let offsets = admin
        .list_consumer_group_offsets(&group, None)
        .await
        .unwrap();
    assert_eq!(offsets[&tp(0)].offset, 1);
    assert_eq!(offsets[&tp(0)].metadata.as_deref(), Some("admin"));
    assert_eq!(offsets[&tp(1)].offset, 2);
    assert_eq!(offsets.len(), 3, "partition 2 keeps its commit");
    let some = admin
        .list_consumer_group_offsets(&group, Some(&[tp(1)]))
        .await
        .unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), [&tp(1)]);
    let lag = admin.consumer_group_lag(&group).await.unwrap();
    assert!(lag.iter().all(|r| r.consumer_id.is_none()));
    let lag_of = |p| lag.iter().find(|r| r.partition == tp(p)).unwrap();
    assert_eq!(lag_of(0).lag, Some(lag_of(0).log_end_offset - 1));

    let removed = admin
        .delete_consumer_group_offsets(&group, [tp(0)])
        .await
        .unwrap();
    assert!(removed[&tp(0)].is_ok(), "{removed:?}");
    let offsets = admin
        .list_consumer_group_offsets(&group, None)
        .await
        .unwrap();
    assert!(!offsets.contains_key(&tp(0)) && offsets.contains_key(&tp(1)));

    let deleted = admin.delete_consumer_groups([&group]).await.unwrap();
    assert!(deleted[&group].is_ok(), "{deleted:?}");
    let again = admin.delete_consumer_groups([&group]).await.unwrap();
    assert_eq!(
        again[&group].as_ref().unwrap_err().code(),
        Some(ErrorCode::GROUP_ID_NOT_FOUND)
    );
    let offsets = admin
        .list_consumer_group_offsets(&group, None)
        .await
        .unwrap();
    assert!(offsets.is_empty(), "{offsets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_before_any_request() {
    let bootstrap = bootstrap().await;
    // A short deadline: a call that went to the broker would not fail this way at all.
    let mut config = AdminConfig::new(&bootstrap);
    config.client.request_timeout = Duration::from_secs(5);
    config.default_api_timeout = Some(Duration::from_secs(5));
    let admin = Admin::new(config).await.unwrap();
    assert!(matches!(
        admin.describe_consumer_groups([""]).await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        admin.delete_consumer_groups(["ok", ""]).await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        admin.list_consumer_group_offsets("", None).await,
        Err(Error::Config(_))
    ));
    let tp = TopicPartition::new("t", 0);
    assert!(matches!(
        admin
            .alter_consumer_group_offsets("g", [(tp.clone(), OffsetAndMetadata::new(-5))])
            .await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        admin
            .delete_consumer_group_offsets("g", [TopicPartition::new("bad topic", 0)])
            .await,
        Err(Error::InvalidTopic { .. })
    ));
    assert!(matches!(
        admin
            .list_consumer_group_offsets("g", Some(&[TopicPartition::new("t", -1)]))
            .await,
        Err(Error::Config(_))
    ));
    let mut zero = AdminConfig::new(&bootstrap);
    zero.default_api_timeout = Some(Duration::ZERO);
    assert!(matches!(Admin::new(zero).await, Err(Error::Config(_))));
    // Nothing to do is done without a request.
    assert!(admin
        .alter_consumer_group_offsets("g", [])
        .await
        .unwrap()
        .is_empty());
}

/// Twenty groups (simple ones, made by committing an offset for each) and one that does not
/// exist, described in one call and then deleted in one call: each group answers for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_groups_described_and_deleted_in_one_call() {
    let (bootstrap, topic) = fresh_topic("admin-twenty", 1).await;
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    let groups: Vec<String> = (0..20).map(|i| format!("{topic}-g{i:02}")).collect();
    for (i, group) in groups.iter().enumerate() {
        let committed = admin
            .alter_consumer_group_offsets(group, [(tp.clone(), OffsetAndMetadata::new(i as i64))])
            .await
            .unwrap();
        committed[&tp].as_ref().unwrap();
    }
    let unknown = format!("{topic}-nobody");
    let mut asked = groups.clone();
    asked.push(unknown.clone());
    let described = admin.describe_consumer_groups(&asked).await.unwrap();
    assert_eq!(described.len(), 21);
    for group in &groups {
        let d = described[group].as_ref().unwrap();
        assert_eq!(d.group_id, *group);
        assert!(d.is_simple_consumer_group, "{d:?}");
        assert_eq!(d.state, GroupState::Empty, "{d:?}");
        assert!(d.members.is_empty(), "{d:?}");
    }
    assert_eq!(
        described[&unknown].as_ref().unwrap_err().code(),
        Some(ErrorCode::GROUP_ID_NOT_FOUND)
    );
    // Each group kept its own committed offset.
    for (i, group) in groups.iter().enumerate().step_by(7) {
        let offsets = admin
            .list_consumer_group_offsets(group, None)
            .await
            .unwrap();
        assert_eq!(offsets[&tp].offset, i as i64, "{group}");
    }

    let deleted = admin.delete_consumer_groups(&asked).await.unwrap();
    for group in &groups {
        deleted[group].as_ref().unwrap();
    }
    assert_eq!(
        deleted[&unknown].as_ref().unwrap_err().code(),
        Some(ErrorCode::GROUP_ID_NOT_FOUND)
    );
    let after = admin.describe_consumer_groups(&groups).await.unwrap();
    for group in &groups {
        assert_eq!(
            after[group].as_ref().unwrap_err().code(),
            Some(ErrorCode::GROUP_ID_NOT_FOUND),
            "{group}"
        );
    }
}

/// Several groups' offsets in one call against a real broker: a classic group with a
/// member (its commits), two simple groups (the admin's commits, one listed through a
/// partition filter) and a group that does not exist; each answer is what the one-group
/// call gives for that group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_groups_offsets_listed_in_one_call() {
    let (bootstrap, topic) = fresh_topic("admin-offsets", 3).await;
    produce_values(&bootstrap, &topic, "v", 0..30).await;
    let admin = Admin::new(ClientConfig::new(&bootstrap)).await.unwrap();
    let tp = |p| TopicPartition::new(&topic, p);
    let [member_group, simple, filtered, unknown] =
        ["member", "simple", "filtered", "nobody"].map(|g| format!("{topic}-{g}"));

    let member = Consumer::new(member_config(&bootstrap, &member_group))
        .await
        .unwrap();
    member.subscribe([topic.clone()]).await.unwrap();
    consume_and_commit(&member, 30).await;
    let altered = admin
        .alter_consumer_group_offsets(
            &simple,
            [
                (tp(0), OffsetAndMetadata::new(3).with_metadata("simple")),
                (tp(1), OffsetAndMetadata::new(4)),
            ],
        )
        .await
        .unwrap();
    assert!(altered.values().all(Result::is_ok), "{altered:?}");
    let altered = admin
        .alter_consumer_group_offsets(
            &filtered,
            [
                (tp(0), OffsetAndMetadata::new(7)),
                (tp(2), OffsetAndMetadata::new(8)),
            ],
        )
        .await
        .unwrap();
    assert!(altered.values().all(Result::is_ok), "{altered:?}");

    let listed = admin
        .list_consumer_groups_offsets([
            (member_group.as_str(), None),
            (simple.as_str(), None),
            (filtered.as_str(), Some(vec![tp(2), tp(1)])),
            (unknown.as_str(), None),
        ])
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    let of = |group: &str| listed[group].as_ref().unwrap().clone();

    // The member committed what it consumed: the log end of every partition.
    let consumed = of(&member_group);
    assert_eq!(consumed.len(), 3, "{consumed:?}");
    assert_eq!(consumed.values().map(|om| om.offset).sum::<i64>(), 30);
    let simple_offsets = of(&simple);
    assert_eq!(simple_offsets.len(), 2);
    assert_eq!(simple_offsets[&tp(0)].offset, 3);
    assert_eq!(simple_offsets[&tp(0)].metadata.as_deref(), Some("simple"));
    assert_eq!(simple_offsets[&tp(1)].offset, 4);
    // Partition 1 has no commit, partition 0 was not asked for.
    let filtered_offsets = of(&filtered);
    assert_eq!(filtered_offsets.keys().collect::<Vec<_>>(), [&tp(2)]);
    assert_eq!(filtered_offsets[&tp(2)].offset, 8);
    assert!(of(&unknown).is_empty());

    // Each group as the one-group call lists it.
    for (group, partitions) in [
        (&member_group, None),
        (&simple, None),
        (&filtered, Some(vec![tp(2), tp(1)])),
        (&unknown, None),
    ] {
        let alone = admin
            .list_consumer_group_offsets(group, partitions.as_deref())
            .await
            .unwrap();
        assert_eq!(alone, of(group), "{group}");
    }
    member.close().await.unwrap();
}
