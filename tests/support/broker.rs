//! Brokers for tests: the one every test of a process shares, and clusters of a test's own.

use kafkit::{Admin, ClientConfig, NewTopic, OffsetSpec, TopicPartition};
use kafkit_testkit::{free_port, KafkaCluster, KafkaClusterBuilder, SchemaRegistry, TcpProxy};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The shared broker's bootstrap list (started on first use, or `KAFKA_BOOTSTRAP_SERVERS`).
pub async fn bootstrap() -> String {
    tokio::task::spawn_blocking(kafkit_testkit::bootstrap_servers)
        .await
        .expect("the broker launcher panicked")
}

/// A topic (or group) name no other test uses.
pub fn topic(prefix: &str) -> String {
    kafkit_testkit::unique_name(prefix)
}

/// The shared broker's bootstrap list, and a fresh topic on it named after `prefix`, with
/// `partitions` partitions.
pub async fn fresh_topic(prefix: &str, partitions: i32) -> (String, String) {
    let bootstrap = bootstrap().await;
    let topic = topic(prefix);
    create_topic(&bootstrap, &topic, partitions).await;
    (bootstrap, topic)
}

/// Creates topic `name` with `partitions` partitions, each on one broker, and returns the
/// admin client that did it.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) -> Admin {
    create_replicated_topic(bootstrap, name, partitions, 1).await
}

async fn create_replicated_topic(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication: i16,
) -> Admin {
    let admin = Admin::new(ClientConfig::new(bootstrap))
        .await
        .expect("admin client");
    admin
        .create_topics([NewTopic::new(name, partitions, replication)])
        .await
        .unwrap_or_else(|e| panic!("creating topic {name}: {e}"));
    // The metadata names a leader a moment before that broker acts as one; a test's first
    // write in that moment would be refused (and with acks=0, silently lost). ListOffsets,
    // answered only by a working leader and retried until then, waits that moment out.
    admin
        .list_offsets((0..partitions).map(|p| (TopicPartition::new(name, p), OffsetSpec::Latest)))
        .await
        .unwrap_or_else(|e| panic!("topic {name} has no working leader: {e}"));
    admin
}

/// The tests that start a JVM broker of their own and push it hard take turns: on a 2-core
/// machine two at once would starve each other into timeouts that prove nothing. Each holds
/// this for its whole run. (A tokio mutex: the guard lives across awaits, and tokio's does
/// not poison, so one failed test does not fail the rest.)
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A cluster of the test's own, optionally reached only through a [`TcpProxy`] per node.
/// Clones share the cluster. Its nodes stop when the last clone is dropped.
#[derive(Clone)]
pub struct Broker {
    cluster: Arc<KafkaCluster>,
    proxies: Vec<Arc<TcpProxy>>,
    /// What clients bootstrap from: the proxies when there are some.
    pub bootstrap: String,
}

impl Broker {
    /// A single-node cluster clients reach directly.
    pub async fn start() -> Broker {
        Broker::start_with(KafkaCluster::builder()).await
    }

    /// A cluster as `builder` describes it, reached directly.
    pub async fn start_with(builder: KafkaClusterBuilder) -> Broker {
        let cluster = tokio::task::spawn_blocking(move || builder.start())
            .await
            .expect("the broker launcher panicked")
            .expect("start a dedicated broker");
        Broker {
            bootstrap: cluster.bootstrap(),
            cluster: Arc::new(cluster),
            proxies: Vec::new(),
        }
    }

    /// A single node that advertises a proxy's port, so every client connection (bootstrap
    /// and the ones metadata points to) goes through the proxy.
    pub async fn start_behind_proxy() -> Broker {
        Broker::start_behind_proxies(KafkaCluster::builder(), 1).await
    }

    /// A cluster of `nodes` as `builder` describes it, each node advertising a proxy of its
    /// own, so every client connection to node `i` goes through [`Broker::node_proxy`]`(i)`
    /// (the brokers talk to each other directly).
    pub async fn start_behind_proxies(builder: KafkaClusterBuilder, nodes: usize) -> Broker {
        let mut builder = builder.nodes(nodes);
        let mut proxies = Vec::new();
        for node in 0..nodes {
            let port = free_port();
            let proxy = TcpProxy::start(format!("127.0.0.1:{port}"))
                .await
                .expect("start a proxy");
            builder = builder
                .broker_port(node, port)
                .advertise_port(node, proxy.local_addr().port());
            proxies.push(Arc::new(proxy));
        }
        let mut broker = Broker::start_with(builder).await;
        broker.bootstrap = proxies
            .iter()
            .map(|p| p.local_addr().to_string())
            .collect::<Vec<_>>()
            .join(",");
        broker.proxies = proxies;
        broker
    }

    /// The proxy in front of node 0; panics if there is none.
    pub fn proxy(&self) -> &TcpProxy {
        self.node_proxy(0)
    }

    /// The proxy in front of `node`; panics if there is none.
    pub fn node_proxy(&self, node: usize) -> &TcpProxy {
        self.proxies
            .get(node)
            .map(|p| &**p)
            .expect("this node has no proxy")
    }

    /// A fresh topic named after `prefix`, each partition on every node (up to three).
    pub async fn create_topic(&self, prefix: &str, partitions: i32) -> String {
        let name = topic(prefix);
        let replication = self.cluster.nodes().min(3) as i16;
        create_replicated_topic(&self.bootstrap, &name, partitions, replication).await;
        name
    }

    /// SIGKILLs `node`, as a crash would.
    pub async fn kill(&self, node: usize) {
        self.blocking(move |c| c.kill(node)).await;
    }

    /// Freezes `node` (SIGSTOP): its sockets stay open, it answers nothing.
    pub async fn pause(&self, node: usize) {
        self.blocking(move |c| c.pause(node)).await;
    }

    /// Thaws a node frozen by [`Broker::pause`].
    pub async fn resume(&self, node: usize) {
        self.blocking(move |c| c.resume(node)).await;
    }

    /// Stops `node` cleanly (SIGTERM, a controlled shutdown).
    pub async fn stop(&self, node: usize) {
        self.blocking(move |c| c.stop(node)).await;
    }

    /// Starts `node` again (stopping it first if it runs) and waits until it serves.
    pub async fn restart(&self, node: usize) {
        self.blocking(move |c| c.restart(node))
            .await
            .unwrap_or_else(|e| panic!("restart node {node}: {e}"));
    }

    /// Runs `f` on the cluster off the runtime's threads (it waits for JVMs and answers),
    /// for what the methods above do not cover.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&KafkaCluster) -> T + Send + 'static,
    ) -> T {
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || f(&cluster))
            .await
            .expect("a blocking cluster call panicked")
    }
}

/// A Python with librdkafka's `confluent-kafka`, installed into a venv on first use.
///
/// # Panics
///
/// If it cannot be had, with pip's reason: a test that needs it fails, it is not skipped.
pub async fn python() -> PathBuf {
    tokio::task::spawn_blocking(kafkit_testkit::python_with_confluent_kafka)
        .await
        .expect("the venv installer panicked")
        .unwrap_or_else(|e| panic!("no Python with confluent-kafka: {e}"))
}

/// Runs `tests/integration/<script>` with [`python`]'s interpreter; its stdout.
///
/// # Panics
///
/// If it cannot be run or fails, with its stderr.
pub async fn run_python_script(script: &str, args: Vec<String>) -> String {
    let python = python().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration")
        .join(script);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&path)
            .args(&args)
            .output()
    })
    .await
    .expect("the script runner panicked")
    .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The testkit's Schema Registry (Apicurio, with the Confluent API), started for the test.
///
/// # Panics
///
/// If it cannot be started, with the reason.
pub async fn schema_registry() -> SchemaRegistry {
    tokio::task::spawn_blocking(SchemaRegistry::start)
        .await
        .expect("the registry starter panicked")
        .unwrap_or_else(|e| panic!("no schema registry: {e}"))
}
