//! Brokers for tests: the one every test of a process shares, and clusters of a test's own.

use kafkit::{Admin, ClientConfig, NewTopic};
use kafkit_testkit::{free_port, KafkaCluster, KafkaClusterBuilder, TcpProxy};
use std::path::PathBuf;
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
    admin
}

/// The tests that start a JVM broker of their own and push it hard take turns: on a 2-core
/// machine two at once would starve each other into timeouts that prove nothing. Each holds
/// this for its whole run. (A tokio mutex: the guard lives across awaits, and tokio's does
/// not poison, so one failed test does not fail the rest.)
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A cluster of the test's own, optionally reached only through a [`TcpProxy`]. Clones
/// share the cluster. Its nodes stop when the last clone is dropped.
#[derive(Clone)]
pub struct Broker {
    cluster: Arc<KafkaCluster>,
    proxy: Option<Arc<TcpProxy>>,
    /// What clients bootstrap from: the proxy when there is one.
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
            proxy: None,
        }
    }

    /// A single node that advertises a proxy's port, so every client connection (bootstrap
    /// and the ones metadata points to) goes through the proxy.
    pub async fn start_behind_proxy() -> Broker {
        let port = free_port();
        let proxy = TcpProxy::start(format!("127.0.0.1:{port}"))
            .await
            .expect("start the proxy");
        let proxy_port = proxy.local_addr().port();
        let mut broker = Broker::start_with(
            KafkaCluster::builder()
                .broker_port(0, port)
                .advertise_port(0, proxy_port),
        )
        .await;
        broker.bootstrap = proxy.local_addr().to_string();
        broker.proxy = Some(Arc::new(proxy));
        broker
    }

    /// The proxy in front of the broker; panics if there is none.
    pub fn proxy(&self) -> &TcpProxy {
        self.proxy.as_deref().expect("this broker has no proxy")
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

    /// Runs `f` on the cluster off the runtime's threads: it waits for JVMs.
    async fn blocking<T: Send + 'static>(
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
