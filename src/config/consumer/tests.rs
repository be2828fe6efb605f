use super::*;

fn props(extra: &[(&str, &str)]) -> Result<ConsumerConfig> {
    let mut all = vec![("bootstrap.servers", "localhost:9092")];
    all.extend_from_slice(extra);
    ConsumerConfig::from_properties(all)
}

fn err(extra: &[(&str, &str)]) -> String {
    props(extra).unwrap_err().to_string()
}

#[test]
fn defaults_match_java() {
    let c = ConsumerConfig::new("localhost:9092");
    assert_eq!(c.group_id, None);
    assert_eq!(c.group_instance_id, None);
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
    assert!(c.enable_auto_commit);
    assert_eq!(c.auto_commit_interval, Duration::from_millis(5000));
    assert_eq!(c.session_timeout, Duration::from_millis(45_000));
    assert_eq!(c.heartbeat_interval, Duration::from_millis(3000));
    assert_eq!(c.max_poll_interval, Duration::from_millis(300_000));
    assert_eq!(c.max_poll_records, 500);
    assert_eq!(
        c.partition_assignment_strategy,
        [AssignorKind::Range, AssignorKind::CooperativeSticky]
    );
    assert_eq!(c.fetch_min_bytes, 1);
    assert_eq!(c.fetch_max_bytes, 52428800);
    assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
    assert_eq!(c.max_partition_fetch_bytes, 1048576);
    assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
    assert!(c.check_crcs);
    assert_eq!(c.client_rack, None);
    c.validate().unwrap();
}

#[test]
fn properties_set_every_key() {
    let c = props(&[
        ("client.id", "billing-1"),
        ("group.id", "billing"),
        ("group.instance.id", "billing-host-1"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("auto.commit.interval.ms", "1000"),
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "2000"),
        ("max.poll.interval.ms", "60000"),
        ("max.poll.records", "100"),
        ("default.api.timeout.ms", "15000"),
        (
            "partition.assignment.strategy",
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, roundrobin",
        ),
        ("fetch.min.bytes", "1024"),
        ("fetch.max.bytes", "1048576"),
        ("fetch.max.wait.ms", "100"),
        ("max.partition.fetch.bytes", "65536"),
        ("isolation.level", "read_committed"),
        ("check.crcs", "false"),
        ("client.rack", "eu-west-1a"),
    ])
    .unwrap();
    assert_eq!(c.client.client_id, "billing-1");
    assert_eq!(c.group_id.as_deref(), Some("billing"));
    assert_eq!(c.group_instance_id.as_deref(), Some("billing-host-1"));
    assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
    assert!(!c.enable_auto_commit);
    assert_eq!(c.auto_commit_interval, Duration::from_secs(1));
    assert_eq!(c.session_timeout, Duration::from_secs(10));
    assert_eq!(c.heartbeat_interval, Duration::from_secs(2));
    assert_eq!(c.max_poll_interval, Duration::from_secs(60));
    assert_eq!(c.max_poll_records, 100);
    assert_eq!(c.default_api_timeout, Duration::from_secs(15));
    assert_eq!(
        c.partition_assignment_strategy,
        [AssignorKind::CooperativeSticky, AssignorKind::RoundRobin]
    );
    assert_eq!(c.fetch_min_bytes, 1024);
    assert_eq!(c.fetch_max_bytes, 1 << 20);
    assert_eq!(c.fetch_max_wait, Duration::from_millis(100));
    assert_eq!(c.max_partition_fetch_bytes, 65536);
    assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
    assert!(!c.check_crcs);
    assert_eq!(c.client_rack.as_deref(), Some("eu-west-1a"));
}

#[test]
fn enum_spellings() {
    assert_eq!(
        "none".parse::<AutoOffsetReset>().unwrap(),
        AutoOffsetReset::Error
    );
    assert_eq!(
        "LATEST".parse::<AutoOffsetReset>().unwrap(),
        AutoOffsetReset::Latest
    );
    assert!(err(&[("auto.offset.reset", "oldest")]).contains("auto.offset.reset: \"oldest\""));
    assert!(err(&[("isolation.level", "committed")]).contains("read_committed"));
    for (name, kind) in [
        ("range", AssignorKind::Range),
        (
            "org.apache.kafka.clients.consumer.RangeAssignor",
            AssignorKind::Range,
        ),
        ("roundrobin", AssignorKind::RoundRobin),
        (
            "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            AssignorKind::RoundRobin,
        ),
        ("cooperative-sticky", AssignorKind::CooperativeSticky),
        (
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            AssignorKind::CooperativeSticky,
        ),
    ] {
        assert_eq!(name.parse::<AssignorKind>().unwrap(), kind, "{name}");
    }
    assert_eq!(
        AssignorKind::CooperativeSticky.protocol_name(),
        "cooperative-sticky"
    );
    let text = err(&[(
        "partition.assignment.strategy",
        "org.apache.kafka.clients.consumer.StickyAssignor",
    )]);
    assert!(text.contains("StickyAssignor\""), "{text}");
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    assert!(err(&[("group.idd", "g")]).contains("\"group.idd\""));
    // A producer key is unknown to the consumer.
    assert!(err(&[("linger.ms", "5")]).contains("\"linger.ms\""));
    assert!(err(&[("max.poll.records", "-1")]).contains("max.poll.records: \"-1\""));
}

#[test]
fn heartbeat_must_be_below_session_timeout() {
    let text = err(&[("session.timeout.ms", "3000")]);
    assert!(
        text.contains(
            "heartbeat.interval.ms (3000 ms) must be less than session.timeout.ms (3000 ms)"
        ),
        "{text}"
    );
}

#[test]
fn group_settings_without_a_group_are_fine() {
    let c = props(&[
        ("enable.auto.commit", "true"),
        ("session.timeout.ms", "6000"),
    ])
    .unwrap();
    assert_eq!(c.group_id, None);
    // Empty group.id in properties means unset; set in code it is an error.
    assert_eq!(props(&[("group.id", "")]).unwrap().group_id, None);
    let mut c = ConsumerConfig::new("a:1");
    c.group_id = Some(String::new());
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("group.id is empty"));
}

#[test]
fn group_instance_id_follows_topic_name_rules() {
    let text = err(&[("group.id", "g"), ("group.instance.id", "host/1")]);
    assert!(
        text.contains("group.instance.id \"host/1\" contains a character"),
        "{text}"
    );
}

#[test]
fn fetch_settings_must_fit_together() {
    assert!(
        err(&[("fetch.min.bytes", "100"), ("fetch.max.bytes", "99")])
            .contains("lower fetch.min.bytes")
    );
    let text = err(&[("fetch.max.bytes", "200000000")]);
    assert!(text.contains("raise kafkit.max.response.bytes"), "{text}");
    let ok = props(&[
        ("fetch.max.bytes", "200000000"),
        ("kafkit.max.response.bytes", "300000000"),
    ]);
    assert!(ok.is_ok());
    let text = err(&[("fetch.max.wait.ms", "30000")]);
    assert!(
        text.contains("lower fetch.max.wait.ms or raise request.timeout.ms"),
        "{text}"
    );
    assert!(err(&[("fetch.max.bytes", "0")]).contains("fetch.max.bytes is 0"));
    assert!(err(&[("max.partition.fetch.bytes", "0")]).contains("is 0"));
    assert!(props(&[("fetch.min.bytes", "0")]).is_ok());
}

#[test]
fn zero_and_absurd_values_are_rejected() {
    assert!(err(&[("max.poll.records", "0")]).contains("max.poll.records is 0"));
    assert!(err(&[("partition.assignment.strategy", " , ")]).contains("is empty"));
    assert!(err(&[("max.poll.interval.ms", "0")]).contains("is 0"));
    assert!(err(&[("default.api.timeout.ms", "0")]).contains("is 0"));
    let text = err(&[("session.timeout.ms", "3000000000")]);
    assert!(text.contains("more than the maximum"), "{text}");
}

#[test]
fn group_protocol_consumer_refuses_what_the_broker_decides() {
    assert_eq!(props(&[]).unwrap().group_protocol, GroupProtocol::Classic);
    let c = props(&[
        ("group.protocol", "consumer"),
        ("group.remote.assignor", "uniform"),
        ("group.instance.id", "i1"),
        ("client.rack", "r1"),
    ])
    .unwrap();
    assert_eq!(c.group_protocol, GroupProtocol::Consumer);
    assert_eq!(c.group_remote_assignor.as_deref(), Some("uniform"));
    assert!(props(&[("group.protocol", "CONSUMER")]).is_ok());
    assert!(err(&[("group.protocol", "share")]).contains("classic or consumer"));
    // Java refuses the keys even at their default values.
    for (key, value) in [
        ("partition.assignment.strategy", "range"),
        ("session.timeout.ms", "45000"),
        ("heartbeat.interval.ms", "3000"),
    ] {
        let text = err(&[("group.protocol", "consumer"), (key, value)]);
        assert!(
            text.contains(&format!(
                "{key} is not supported with group.protocol=consumer"
            )),
            "{text}"
        );
        assert!(props(&[("group.protocol", "classic"), (key, value)]).is_ok());
    }
    // Set in code: anything but the default is refused.
    let mut c = ConsumerConfig::new("localhost:9092");
    c.group_protocol = GroupProtocol::Consumer;
    c.session_timeout = Duration::from_secs(10);
    let text = c.validate().unwrap_err().to_string();
    assert!(
        text.contains("session.timeout.ms is not supported"),
        "{text}"
    );
    let text = err(&[("group.remote.assignor", "uniform")]);
    assert!(
        text.contains("only used with group.protocol=consumer"),
        "{text}"
    );
    // The broker judges assignor names (custom ones included); a blank one is no name.
    assert!(props(&[
        ("group.protocol", "consumer"),
        ("group.remote.assignor", "custom")
    ])
    .is_ok());
    let mut c = ConsumerConfig::new("localhost:9092");
    c.group_protocol = GroupProtocol::Consumer;
    c.group_remote_assignor = Some(" ".into());
    let text = c.validate().unwrap_err().to_string();
    assert!(text.contains("group.remote.assignor is empty"), "{text}");
}
