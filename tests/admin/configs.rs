//! `describe_configs` and `incremental_alter_configs` on topics and on the shared broker,
//! each operation, with Java's `TopicCommand` reading what kafkit set.

use crate::support::*;
use crate::{admin, code, java};
use kafkit::{
    AlterConfigOp, ConfigResource, ConfigSource, DescribeConfigsOptions, Error, ErrorCode,
    ResourceConfig,
};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Describes until `done` holds, for up to 10 s. The controller commits a change and each
/// broker applies it a moment later, so a describe right after an alter may still see the
/// old value (Java's client sees the same).
async fn settled<F, Fut>(mut describe: F, done: impl Fn(&ResourceConfig) -> bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ResourceConfig>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let configs = describe().await;
        if done(&configs) {
            return;
        }
        assert!(Instant::now() < deadline, "never settled: {configs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn topic_configs_set_append_subtract_delete_and_read_back() {
    let (bootstrap, name) = fresh_topic("configs", 1).await;
    let admin = admin(&bootstrap).await;
    let resource = ConfigResource::topic(&name);
    let value = |configs: &ResourceConfig, key: &str| {
        let entry = configs.get(key).unwrap_or_else(|| panic!("no {key}"));
        (entry.value.clone(), entry.source)
    };
    let describe = || async {
        let mut all = admin.describe_configs([resource.clone()]).await.unwrap();
        all.remove(&resource).unwrap().unwrap()
    };

    let before = describe().await;
    assert_eq!(
        value(&before, "retention.ms"),
        (Some("604800000".into()), ConfigSource::Default)
    );
    let entry = before.get("retention.ms").unwrap();
    assert!(!entry.is_sensitive && !entry.is_read_only, "{entry:?}");

    let set = admin
        .incremental_alter_configs([(
            resource.clone(),
            vec![
                AlterConfigOp::set("retention.ms", "123456"),
                AlterConfigOp::set("cleanup.policy", "compact"),
            ],
        )])
        .await
        .unwrap();
    set[&resource].as_ref().unwrap();
    settled(describe, |c| {
        value(c, "retention.ms") == (Some("123456".into()), ConfigSource::DynamicTopic)
            && value(c, "cleanup.policy").0.as_deref() == Some("compact")
    })
    .await;
    // Java reads what kafkit set.
    let java = java(
        "TopicCommand",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--topic",
            &name,
        ],
    )
    .await;
    assert!(java.contains("retention.ms=123456"), "{java}");
    assert!(java.contains("cleanup.policy=compact"), "{java}");

    let alter = |op: AlterConfigOp| {
        let admin = admin.clone();
        let resource = resource.clone();
        async move {
            let mut results = admin
                .incremental_alter_configs([(resource.clone(), vec![op])])
                .await
                .unwrap();
            results.remove(&resource).unwrap()
        }
    };
    alter(AlterConfigOp::append("cleanup.policy", "delete"))
        .await
        .unwrap();
    settled(describe, |c| {
        value(c, "cleanup.policy") == (Some("compact,delete".into()), ConfigSource::DynamicTopic)
    })
    .await;
    alter(AlterConfigOp::subtract("cleanup.policy", "compact"))
        .await
        .unwrap();
    settled(describe, |c| {
        value(c, "cleanup.policy").0.as_deref() == Some("delete")
    })
    .await;
    alter(AlterConfigOp::delete("retention.ms")).await.unwrap();
    settled(describe, |c| {
        value(c, "retention.ms") == (Some("604800000".into()), ConfigSource::Default)
    })
    .await;
}

#[tokio::test]
async fn each_resource_fails_on_its_own_and_bad_input_fails_the_call() {
    let (bootstrap, name) = fresh_topic("configs-partial", 1).await;
    let other = topic("configs-partial");
    create_topic(&bootstrap, &other, 1).await;
    let missing = topic("configs-missing");
    let admin = admin(&bootstrap).await;

    let described = admin
        .describe_configs([
            ConfigResource::topic(&name),
            ConfigResource::topic(&missing),
        ])
        .await
        .unwrap();
    described[&ConfigResource::topic(&name)].as_ref().unwrap();
    assert_eq!(
        code(&described[&ConfigResource::topic(&missing)]),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let altered = admin
        .incremental_alter_configs([
            (
                ConfigResource::topic(&name),
                vec![AlterConfigOp::set("retention.ms", "not a number")],
            ),
            (
                ConfigResource::topic(&other),
                vec![AlterConfigOp::set("retention.ms", "86400000")],
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        code(&altered[&ConfigResource::topic(&name)]),
        ErrorCode::INVALID_CONFIG
    );
    altered[&ConfigResource::topic(&other)].as_ref().unwrap();
    let describe_other = || async {
        let resource = ConfigResource::topic(&other);
        let mut all = admin.describe_configs([resource.clone()]).await.unwrap();
        all.remove(&resource).unwrap().unwrap()
    };
    settled(describe_other, |c| {
        c.get("retention.ms").unwrap().value.as_deref() == Some("86400000")
    })
    .await;

    // Refused before anything is sent.
    let mut not_an_id = ConfigResource::broker(0);
    not_an_id.name = "zero".into();
    let err = admin.describe_configs([not_an_id]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = admin
        .describe_configs([ConfigResource::topic("")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTopic { .. }), "{err:?}");
    let err = admin
        .incremental_alter_configs([(
            ConfigResource::topic(&other),
            vec![
                AlterConfigOp::set("retention.ms", "1"),
                AlterConfigOp::delete("retention.ms"),
            ],
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = admin
        .incremental_alter_configs([(
            ConfigResource::topic(&other),
            vec![AlterConfigOp::delete("")],
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// A broker's own configs: flags and sources as the broker reports them, and a config of
/// that broker set and deleted (a connection limit for an address no client uses); APPEND
/// to a config that is not a list is refused for that resource, as Java's is.
#[tokio::test]
async fn broker_configs_report_flags_and_change_through_the_broker() {
    let bootstrap = bootstrap().await;
    let admin = admin(&bootstrap).await;
    let node = admin.describe_cluster().await.unwrap().nodes[0].id;
    let broker = ConfigResource::broker(node);
    let describe = || async {
        let mut all = admin.describe_configs([broker.clone()]).await.unwrap();
        all.remove(&broker).unwrap().unwrap()
    };
    let configs = describe().await;
    let node_id = configs.get("node.id").expect("node.id");
    assert_eq!(node_id.value.as_deref(), Some(node.to_string().as_str()));
    assert!(node_id.is_read_only, "{node_id:?}");
    assert_eq!(node_id.source, ConfigSource::StaticBroker);
    let io_threads = configs.get("num.io.threads").expect("num.io.threads");
    assert!(!io_threads.is_read_only, "{io_threads:?}");
    // Passwords are flagged and never sent.
    let password = configs.get("ssl.key.password").expect("ssl.key.password");
    assert!(
        password.is_sensitive && password.value.is_none(),
        "{password:?}"
    );

    const KEY: &str = "max.connections.per.ip.overrides";
    let alter = |op: AlterConfigOp| {
        let admin = admin.clone();
        let broker = broker.clone();
        async move {
            let mut results = admin
                .incremental_alter_configs([(broker.clone(), vec![op])])
                .await
                .unwrap();
            results.remove(&broker).unwrap()
        }
    };
    let override_of = |configs: &ResourceConfig| {
        let entry = configs.get(KEY).expect(KEY);
        (entry.value.clone().unwrap_or_default(), entry.source)
    };
    // TEST-NET-1: an address no client connects from, and no name to resolve.
    alter(AlterConfigOp::set(KEY, "192.0.2.1:7")).await.unwrap();
    settled(describe, |c| {
        override_of(c) == ("192.0.2.1:7".into(), ConfigSource::DynamicBroker)
    })
    .await;
    let refused = alter(AlterConfigOp::append(KEY, "192.0.2.2:8")).await;
    assert_eq!(code(&refused), ErrorCode::INVALID_CONFIG);
    alter(AlterConfigOp::delete(KEY)).await.unwrap();
    settled(describe, |c| override_of(c).1 == ConfigSource::Default).await;
}

/// Synonyms and documentation (Java's `DescribeConfigsOptions`): a topic's
/// `retention.bytes` override falls back on the broker's `log.retention.bytes` default (for
/// `retention.ms`, Kafka 4 lists only the override: no `log.retention.*` key is set); a
/// broker's
/// `num.io.threads`, set dynamically on it over the value in its properties file, lists the
/// three sources the broker reports. Without the options neither is sent.
#[tokio::test]
async fn synonyms_and_documentation_show_where_values_come_from() {
    let (bootstrap, name) = fresh_topic("synonyms", 1).await;
    let admin = admin(&bootstrap).await;
    let both = DescribeConfigsOptions::default()
        .include_synonyms(true)
        .include_documentation(true);
    let describe = |resource: ConfigResource, options: DescribeConfigsOptions| {
        let admin = admin.clone();
        async move {
            let mut all = admin
                .describe_configs_with([resource.clone()], options)
                .await
                .unwrap();
            all.remove(&resource).unwrap().unwrap()
        }
    };
    let synonyms =
        |configs: &ResourceConfig, key: &str| -> Vec<(String, Option<String>, ConfigSource)> {
            configs
                .get(key)
                .unwrap_or_else(|| panic!("no {key}"))
                .synonyms
                .iter()
                .map(|s| (s.name.clone(), s.value.clone(), s.source))
                .collect()
        };

    let topic = ConfigResource::topic(&name);
    admin
        .incremental_alter_configs([(
            topic.clone(),
            vec![
                AlterConfigOp::set("retention.ms", "123456"),
                AlterConfigOp::set("retention.bytes", "654321"),
            ],
        )])
        .await
        .unwrap()[&topic]
        .as_ref()
        .unwrap();
    settled(
        || describe(topic.clone(), both),
        |c| synonyms(c, "retention.bytes").len() == 2,
    )
    .await;
    let configs = describe(topic.clone(), both).await;
    assert_eq!(
        synonyms(&configs, "retention.bytes"),
        [
            (
                "retention.bytes".to_string(),
                Some("654321".to_string()),
                ConfigSource::DynamicTopic
            ),
            (
                "log.retention.bytes".to_string(),
                Some("-1".to_string()),
                ConfigSource::Default
            ),
        ]
    );
    assert_eq!(
        synonyms(&configs, "retention.ms"),
        [(
            "retention.ms".to_string(),
            Some("123456".to_string()),
            ConfigSource::DynamicTopic
        )]
    );
    // Kafka 4 keeps min.insync.replicas as a cluster-wide dynamic default (the controller
    // writes it), over the built-in default.
    assert_eq!(
        synonyms(&configs, "min.insync.replicas")
            .iter()
            .map(|s| s.2)
            .collect::<Vec<_>>(),
        [ConfigSource::DynamicDefaultBroker, ConfigSource::Default]
    );
    let entry = configs.get("retention.ms").unwrap();
    let doc = entry.documentation.as_deref().unwrap_or_default();
    assert!(doc.contains("retain"), "{entry:?}");
    // Asked for neither: neither comes back.
    let plain = describe(topic.clone(), DescribeConfigsOptions::default()).await;
    let entry = plain.get("retention.ms").unwrap();
    assert!(
        entry.synonyms.is_empty() && entry.documentation.is_none(),
        "{entry:?}"
    );
    assert_eq!(entry.value.as_deref(), Some("123456"));

    // The testkit's broker has num.io.threads=4 in its properties; Kafka's default is 8.
    // Set to the same 4 on the broker itself, so nothing else running here notices.
    let node = admin.describe_cluster().await.unwrap().nodes[0].id;
    let broker = ConfigResource::broker(node);
    let alter = |op: AlterConfigOp| {
        let admin = admin.clone();
        let broker = broker.clone();
        async move {
            let mut results = admin
                .incremental_alter_configs([(broker.clone(), vec![op])])
                .await
                .unwrap();
            results.remove(&broker).unwrap().unwrap()
        }
    };
    alter(AlterConfigOp::set("num.io.threads", "4")).await;
    let expected = [
        (
            "num.io.threads".to_string(),
            Some("4".to_string()),
            ConfigSource::DynamicBroker,
        ),
        (
            "num.io.threads".to_string(),
            Some("4".to_string()),
            ConfigSource::StaticBroker,
        ),
        (
            "num.io.threads".to_string(),
            Some("8".to_string()),
            ConfigSource::Default,
        ),
    ];
    settled(
        || describe(broker.clone(), both),
        |c| synonyms(c, "num.io.threads") == expected,
    )
    .await;
    alter(AlterConfigOp::delete("num.io.threads")).await;
    settled(
        || describe(broker.clone(), both),
        |c| synonyms(c, "num.io.threads") == expected[1..],
    )
    .await;
}
