//! Test support for kafkit.
//!
//! - [`KafkaCluster`] starts a real Apache Kafka ([`KAFKA_VERSION`], or the
//!   release `KAFKIT_TEST_KAFKA_VERSION` names: [`kafka_version`]) cluster of
//!   KRaft nodes as child JVMs, with the jars resolved by Maven once per build
//!   folder and release; nodes can be killed, paused, stopped and restarted.
//! - [`bootstrap_servers`] hands every test in a process one shared broker
//!   (or the one named by `KAFKA_BOOTSTRAP_SERVERS`).
//! - [`TcpProxy`] sits between a client and a broker and injects faults.
//! - [`DeliveryChecker`] finds lost, duplicated and reordered records;
//!   [`StreamChecker`] does the same in bounded memory for long runs, and
//!   [`GroupChecker`] finds a group's poll skips and rewinds, records of a
//!   partition not owned, and committed offsets going back.
//! - [`RssSamples`] holds a process's resident memory over a soak run.
//! - [`python_with_confluent_kafka`] gives a Python with librdkafka's
//!   `confluent-kafka`, installed by pip into the build folder once, for
//!   interop tests.
//! - [`kafka_tools_jars`] and [`java_tool`] run Apache Kafka's tools (the
//!   Java client, e.g. [`CopierArgs::java_command`] for Java's
//!   `TransactionalMessageCopier`), resolved by Maven once per build folder;
//!   [`TxnPeer`] has the Java client or librdkafka write transactions and
//!   read a topic with `read_committed`; [`CopyChecker`] tells whether a
//!   copy of a topic holds every input record exactly once, in key order.
//! - [`FakeBroker`] is a scripted Kafka broker in memory, no JVM: it answers
//!   the basic APIs itself, and a test can change its answer to any request
//!   (another response, errors for some partitions, a delay, silence, a
//!   closed connection, raw bytes) and see every request a client sent.
//! - [`SchemaRegistry`] starts a real Schema Registry (Apicurio Registry
//!   2.4.2, Confluent's API at `/apis/ccompat/v7`), built by Maven from
//!   Maven Central's jars on first use, no Docker.
//!
//! The launcher needs `java` (17+) and `mvn` on the machine (and `python3` with `venv`
//! and PyPI access for [`python_with_confluent_kafka`]); nothing else. The first
//! start in a build folder resolves the jars into
//! `<target>/kafka-<version>/libs` (about 10 s with an empty `~/.m2`) and
//! records a JVM class-data archive there (one extra broker start); later
//! starts reuse both. Brokers log to files in their data folder, never to
//! the test's output. Brokers run with a 512 MiB heap unless
//! `KAFKIT_TESTKIT_BROKER_HEAP` ([`BROKER_HEAP_ENV`]) sets another (`2g`: a
//! broker with thousands of partitions needs more).
//!
//! # A shared broker
//!
//! ```no_run
//! // Blocks while the broker starts; in async tests call it first, or via
//! // tokio::task::spawn_blocking.
//! let bootstrap = kafkit_testkit::bootstrap_servers();
//! let topic = kafkit_testkit::unique_name("orders");
//! # let _ = (bootstrap, topic);
//! ```
//!
//! # A cluster of one's own, with faults
//!
//! ```no_run
//! use std::time::Duration;
//! use kafkit_testkit::{free_port, KafkaCluster, TcpProxy};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Clients reach node 0 only through the proxy: its metadata advertises
//! // the proxy's port. The proxy connects upstream lazily, so it can be
//! // created before the broker.
//! let port = free_port();
//! let proxy = TcpProxy::start(format!("127.0.0.1:{port}")).await?;
//! let proxy_port = proxy.local_addr().port();
//! let cluster = tokio::task::spawn_blocking(move || {
//!     KafkaCluster::builder()
//!         .nodes(3)
//!         .broker_port(0, port)
//!         .advertise_port(0, proxy_port)
//!         .property("min.insync.replicas", "2")
//!         .start()
//! })
//! .await??;
//! let bootstrap = proxy.local_addr().to_string();
//! proxy.set_chaos(Some((Duration::from_millis(100), Duration::from_secs(1))));
//! cluster.kill(1); // SIGKILL; pause/resume/stop are there too
//! let cluster = std::sync::Arc::new(cluster); // methods take &self
//! let c = cluster.clone();
//! tokio::task::spawn_blocking(move || c.restart(1)).await??;
//! # let _ = bootstrap;
//! # Ok(())
//! # }
//! ```
//!
//! # A scripted fake broker
//!
//! ```no_run
//! use kafka_protocol::messages::ApiKey;
//! use kafkit_testkit::{FakeBroker, Reply};
//! use std::time::Duration;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let broker = FakeBroker::builder().topic("orders", 3).start().await?;
//! // Partition 1 fails with NOT_LEADER_OR_FOLLOWER (6); the rest is written.
//! broker.script(ApiKey::Produce, |_| Reply::errors([("orders", 1)], 6));
//! // Every Metadata answer comes 2 s late.
//! broker.script(ApiKey::Metadata, |_| Reply::after(Duration::from_secs(2), Reply::Default));
//! // ... point a client at broker.bootstrap() ...
//! // What the client sent, in order: API and version.
//! for request in broker.received() {
//!     println!("{:?} v{}", request.api_key, request.version);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod checker;
#[cfg(test)]
mod cluster_tests;
mod copy_checker;
mod fake_broker;
mod group_checker;
mod java_tools;
mod launcher;
#[cfg(test)]
mod peer_tests;
mod proxy;
mod python;
mod rss;
mod schema_registry;
mod security;
mod stream_checker;
mod txn_peers;

pub use checker::{CheckReport, Delivery, DeliveryChecker, Duplicate, Reorder};
pub use copy_checker::{CopyChecker, CopyReport};
pub use fake_broker::{FakeBroker, FakeBrokerBuilder, Received, Reply, ResponseBody};
pub use group_checker::{CommitRegression, GroupChecker, GroupReport, Jump};
pub use java_tools::{
    java_tool, java_tools_classpath, kafka_tools_jars, CopierArgs, CopierStatus,
    KAFKA_TOOLS_VERSION, KAFKIT_TXN_PEER, TRANSACTIONAL_MESSAGE_COPIER,
};
pub use launcher::{
    cache_dir, free_port, kafka_version, resolve_jars, KafkaCluster, KafkaClusterBuilder,
    LaunchError, PartitionRoles, BROKER_HEAP_ENV, DEFAULT_READY_TIMEOUT, KAFKA_VERSION,
    KAFKA_VERSION_ENV,
};
pub use proxy::TcpProxy;
pub use python::{python_with_confluent_kafka, CONFLUENT_KAFKA_VERSION};
pub use rss::{
    resident_set, rss_bytes, single_allocator_arena, trim_allocator, ResidentSet, RssSamples,
    RssVerdict,
};
pub use schema_registry::{schema_registry_jar, SchemaRegistry, APICURIO_REGISTRY_VERSION};
pub use security::{
    CertPem, SecureBroker, SecureBrokerBuilder, SslListener, TestCa, SASL_MECHANISMS,
    SASL_OTHER_PASSWORD, SASL_OTHER_USER, SASL_PASSWORD, SASL_USER, STANDARD_AUTHORIZER,
};
pub use stream_checker::{StreamChecker, StreamReport};
pub use txn_peers::{PeerRecord, TxnPeer, TxnProduce};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable naming an existing cluster to test against
/// instead of starting one.
pub const BOOTSTRAP_ENV: &str = "KAFKA_BOOTSTRAP_SERVERS";

/// Bootstrap servers for a test: `KAFKA_BOOTSTRAP_SERVERS` if set, else a
/// single-node cluster started on first call and shared by the whole process.
///
/// The shared cluster is never dropped (statics are not); its JVM dies with
/// the process. Blocks while the broker starts, so async tests call it
/// through `tokio::task::spawn_blocking` (or before entering the runtime).
///
/// # Panics
///
/// If no broker can be had, with the reason (missing `java`, Maven failure,
/// the broker's log tail): a test that needs Kafka fails, it is not skipped.
pub fn bootstrap_servers() -> String {
    if let Ok(servers) = std::env::var(BOOTSTRAP_ENV) {
        if !servers.trim().is_empty() {
            return servers;
        }
    }
    static SHARED: OnceLock<Result<KafkaCluster, LaunchError>> = OnceLock::new();
    match SHARED.get_or_init(|| KafkaCluster::start(1)) {
        Ok(cluster) => cluster.bootstrap(),
        Err(e) => panic!("cannot start the shared Kafka broker for tests: {e}"),
    }
}

/// A name no other test (in this or a concurrent process) uses, for topics,
/// groups and transactional ids: `prefix-<pid>-<counter>-<random>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}-{:06x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>() & 0xff_ffff
    )
}
