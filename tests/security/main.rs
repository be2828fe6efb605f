//! kafkit against a real Apache Kafka broker with secured listeners (see
//! `kafkit_testkit::SecureBroker`): SASL PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER with and
//! without TLS, mTLS, the typed failures of wrong credentials and bad certificates,
//! KIP-368 re-authentication, and, on a broker of their own with KRaft's authorizer, the admin
//! client's ACLs and SCRAM users. The TLS tests need the `tls` feature (`.ci/run` tests with
//! `--all-features`); the SASL_PLAINTEXT ones run in every build.

mod acls;
mod reauth;
mod sasl;
mod scram;
#[cfg(feature = "tls")]
mod tls;

#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;

use kafkit::{
    Admin, ClientConfig, Consumer, ConsumerConfig, NewTopic, Producer, ProducerConfig,
    ProducerRecord, SaslMechanism, Secret, SecurityConfig, SecurityProtocol,
};
pub use kafkit_testkit::SASL_PASSWORD;
use kafkit_testkit::{SecureBroker, SASL_USER};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

/// The broker every test of this suite shares, started on first use.
pub async fn broker() -> &'static SecureBroker {
    static BROKER: OnceLock<SecureBroker> = OnceLock::new();
    shared(&BROKER, SecureBroker::builder).await
}

/// The broker the ACL and SCRAM tests share: with KRaft's authorizer, [`SASL_USER`] a super
/// user and `kafkit_testkit::SASL_OTHER_USER` not.
pub async fn authorizing_broker() -> &'static SecureBroker {
    static BROKER: OnceLock<SecureBroker> = OnceLock::new();
    shared(&BROKER, || SecureBroker::builder().authorizer()).await
}

/// Held while a broker of this suite picks its ports and starts: two brokers picking free
/// ports at once can be handed the same one.
pub static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The broker in `cell`, started from `builder` by the first test that asks.
async fn shared(
    cell: &'static OnceLock<SecureBroker>,
    builder: fn() -> kafkit_testkit::SecureBrokerBuilder,
) -> &'static SecureBroker {
    if let Some(broker) = cell.get() {
        return broker;
    }
    let _starting = STARTING.lock().await;
    tokio::task::spawn_blocking(move || {
        if cell.get().is_none() {
            let broker = builder().start().expect("start the secured broker");
            let _ = cell.set(broker);
        }
    })
    .await
    .expect("the broker launcher panicked");
    cell.get().expect("started")
}

/// Security settings for `mechanism` with the broker's user (OAUTHBEARER: an unsecured
/// token for the same principal).
pub fn sasl(
    protocol: SecurityProtocol,
    mechanism: SaslMechanism,
    password: &str,
) -> SecurityConfig {
    sasl_as(protocol, mechanism, SASL_USER, password)
}

/// Security settings for `mechanism` as `user` (OAUTHBEARER: an unsecured token for the
/// same principal).
pub fn sasl_as(
    protocol: SecurityProtocol,
    mechanism: SaslMechanism,
    user: &str,
    password: &str,
) -> SecurityConfig {
    let mut security = SecurityConfig::default();
    security.protocol = protocol;
    security.sasl.mechanism = Some(mechanism);
    if mechanism == SaslMechanism::OAuthBearer {
        security.sasl.jaas_config = Some(
            kafkit::JaasConfig::parse(&format!(
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"{user}\";"
            ))
            .unwrap(),
        );
    } else {
        security.sasl.username = Some(user.to_string());
        security.sasl.password = Some(Secret::new(password));
    }
    security
}

pub fn client(bootstrap: &str, security: &SecurityConfig) -> ClientConfig {
    let mut config = ClientConfig::new(bootstrap);
    config.security = security.clone();
    config
}

/// A new topic with `partitions` partitions, created with `security`.
pub async fn secure_topic(bootstrap: &str, security: &SecurityConfig, partitions: i32) -> String {
    let topic = support::topic("secure");
    Admin::new(client(bootstrap, security))
        .await
        .expect("admin")
        .create_topics([NewTopic::new(&topic, partitions, 1)])
        .await
        .expect("create topic");
    topic
}

/// An idempotent producer with `security`.
pub async fn producer(bootstrap: &str, security: &SecurityConfig) -> Producer {
    let mut config = ProducerConfig::new(bootstrap);
    config.client.security = security.clone();
    config.enable_idempotence = true;
    Producer::new(config).await.expect("producer")
}

/// A group consumer with `security`, subscribed to `topic` from its start.
pub async fn group_consumer(bootstrap: &str, security: &SecurityConfig, topic: &str) -> Consumer {
    let mut config = ConsumerConfig::new(bootstrap);
    config.client.security = security.clone();
    config.group_id = Some(support::topic("secure-group"));
    config.auto_offset_reset = kafkit::AutoOffsetReset::Earliest;
    let consumer = Consumer::new(config).await.expect("consumer");
    consumer.subscribe([topic]).await.expect("subscribe");
    consumer
}

/// One poll's values into `seen`; a value seen twice fails the test.
pub async fn poll_into(consumer: &Consumer, seen: &mut BTreeSet<String>) {
    for record in consumer
        .poll(Duration::from_millis(100))
        .await
        .expect("poll")
    {
        assert!(
            seen.insert(support::value_of(&record)),
            "duplicate {record:?}"
        );
    }
}

/// Polls until `seen` holds `n` values or 60 s have passed.
pub async fn poll_until(consumer: &Consumer, seen: &mut BTreeSet<String>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < n && Instant::now() < deadline {
        poll_into(consumer, seen).await;
    }
    assert_eq!(seen.len(), n, "every record read back once");
}

/// Creates a topic, produces `n` records with the idempotent producer and reads them back
/// with a group consumer, all with `security`; every record must come back once.
pub async fn round_trip(bootstrap: &str, security: &SecurityConfig, n: usize) {
    let topic = secure_topic(bootstrap, security, 2).await;
    let producer = producer(bootstrap, security).await;
    let records =
        (0..n).map(|i| ProducerRecord::new(topic.as_str(), format!("v{i}")).key(format!("k{i}")));
    support::send_all(&producer, records).await;
    let consumer = group_consumer(bootstrap, security, &topic).await;
    poll_until(&consumer, &mut BTreeSet::new(), n).await;
}

/// The error of connecting an admin client with `security`, and how long it took.
pub async fn refused(bootstrap: &str, security: &SecurityConfig) -> (kafkit::Error, Duration) {
    let started = Instant::now();
    let err = Admin::new(client(bootstrap, security))
        .await
        .expect_err("the connection should be refused");
    (err, started.elapsed())
}
