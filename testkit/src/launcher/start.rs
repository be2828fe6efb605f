//! Starting a cluster, step by step: check and prepare the JVM, make the
//! cluster's folder, pick ports, write each node's config, format every node,
//! spawn them, and wait until each serves.

use super::config::{server_properties, Listener, Ports};
use super::jars::cache_dir;
use super::jvm::Jvm;
use super::node::Node;
use super::process::pid_alive;
use super::{KafkaCluster, LaunchError, DEFAULT_READY_TIMEOUT};
use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Options for a [`KafkaCluster`]; obtained from [`KafkaCluster::builder`].
#[derive(Debug, Clone)]
pub struct KafkaClusterBuilder {
    nodes: usize,
    controllers: Option<usize>,
    properties: Vec<(String, String)>,
    /// Properties of one node only, applied after `properties`.
    node_properties: HashMap<usize, Vec<(String, String)>>,
    broker_ports: HashMap<usize, u16>,
    advertised_ports: HashMap<usize, u16>,
    /// Client listeners besides PLAINTEXT, by node: `(name, security protocol, port)`.
    listeners: HashMap<usize, Vec<Listener>>,
    /// Extra arguments to the storage tool's `format` (SCRAM users).
    format_args: Vec<String>,
    ready_timeout: Duration,
    /// Set only for the run that records the class-data-sharing archive.
    train_cds: Option<PathBuf>,
}

impl KafkaClusterBuilder {
    pub(super) fn new() -> Self {
        KafkaClusterBuilder {
            nodes: 1,
            controllers: None,
            properties: Vec::new(),
            node_properties: HashMap::new(),
            broker_ports: HashMap::new(),
            advertised_ports: HashMap::new(),
            listeners: HashMap::new(),
            format_args: Vec::new(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
            train_cds: None,
        }
    }

    /// Number of nodes, each a combined broker and controller (default 1).
    /// 1 and 3 are the tested sizes.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// How many nodes are also controllers, the voters of the metadata quorum
    /// (default: all). Nodes `0..controllers` are broker and controller, the
    /// rest brokers only: e.g. 3 nodes with 1 controller can lose two brokers
    /// and keep a quorum that shrinks ISRs.
    pub fn controllers(mut self, controllers: usize) -> Self {
        self.controllers = Some(controllers);
        self
    }

    /// Sets (or overrides) a broker property on every node, e.g.
    /// `property("auto.create.topics.enable", "false")`.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Sets (or overrides) a broker property on `node` only, after those set for every
    /// node.
    pub fn node_property(
        mut self,
        node: usize,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let props = self.node_properties.entry(node).or_default();
        props.push((key.into(), value.into()));
        self
    }

    /// Puts node `i` in rack `racks[i]` (`broker.rack`), and makes leaders serve consumers
    /// from a replica in their own rack when there is one (KIP-392's
    /// `RackAwareReplicaSelector`), as clusters spread over availability zones do.
    pub fn racks(mut self, racks: &[&str]) -> Self {
        for (node, rack) in racks.iter().enumerate() {
            self = self.node_property(node, "broker.rack", *rack);
        }
        self.property(
            "replica.selector.class",
            "org.apache.kafka.common.replica.RackAwareReplicaSelector",
        )
    }

    /// Fixes the client port of `node` (default: a free port). Lets a test
    /// start a proxy that forwards to the broker before the broker exists.
    pub fn broker_port(mut self, node: usize, port: u16) -> Self {
        self.broker_ports.insert(node, port);
        self
    }

    /// Makes `node` advertise `127.0.0.1:port` to clients instead of its own
    /// client port, so metadata sends clients through e.g. a
    /// [`TcpProxy`](crate::TcpProxy). Brokers talk to each other over a
    /// separate listener that is never advertised elsewhere.
    pub fn advertise_port(mut self, node: usize, port: u16) -> Self {
        self.advertised_ports.insert(node, port);
        self
    }

    /// Adds a client listener to `node`: `name` (as in `listener.name.<name>.*` properties,
    /// upper case), its security protocol (`SSL`, `SASL_SSL`, `SASL_PLAINTEXT`), and its
    /// port on 127.0.0.1, which it also advertises. Its TLS and SASL settings are ordinary
    /// [`property`](Self::property) calls; [`crate::SecureBroker`] sets them all.
    pub fn listener(mut self, node: usize, name: &str, protocol: &str, port: u16) -> Self {
        self.listeners.entry(node).or_default().push(Listener {
            name: name.to_string(),
            protocol: protocol.to_string(),
            port,
            advertised: port,
        });
        self
    }

    /// Makes listener `name` of `node` advertise `port` instead of its own, so clients
    /// reach it through e.g. a [`TcpProxy`](crate::TcpProxy).
    pub fn advertise_listener(mut self, node: usize, name: &str, port: u16) -> Self {
        for l in self.listeners.entry(node).or_default() {
            if l.name == name {
                l.advertised = port;
            }
        }
        self
    }

    /// An extra argument to `kafka-storage format`, such as `--add-scram` and its value.
    pub fn format_arg(mut self, arg: impl Into<String>) -> Self {
        self.format_args.push(arg.into());
        self
    }

    /// How long to wait for the cluster (and later for a restarted node) to
    /// serve (default [`DEFAULT_READY_TIMEOUT`]).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    pub(super) fn train_cds(mut self, out: PathBuf) -> Self {
        self.train_cds = Some(out);
        self
    }

    /// Resolves the jars if needed, formats and starts every node, and waits
    /// until each answers a Metadata request listing all nodes.
    ///
    /// Blocks for seconds; async code calls it through
    /// `tokio::task::spawn_blocking`.
    pub fn start(self) -> Result<KafkaCluster, LaunchError> {
        // Ports are picked free but only taken when the JVM binds them, so
        // another process can get there first.
        let mut attempt = 1;
        loop {
            match self.launch_once() {
                Err(e) if e.port_clash && attempt < 3 => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    fn launch_once(&self) -> Result<KafkaCluster, LaunchError> {
        if self.nodes == 0 {
            return Err(LaunchError::new("a cluster needs at least one node"));
        }
        if self.controllers.is_some_and(|c| c == 0 || c > self.nodes) {
            return Err(LaunchError::new(format!(
                "{} controllers for {} nodes: between 1 and the number of nodes",
                self.controllers.unwrap_or(0),
                self.nodes
            )));
        }
        let jvm = Jvm::prepare(self.train_cds.as_deref())?;
        let root = new_cluster_dir()?;
        let nodes = self.configure_nodes(&root)?;
        // From here on the cluster's Drop cleans up whatever was started.
        let mut cluster =
            KafkaCluster::new(nodes, root, random_cluster_id(), jvm, self.ready_timeout);
        cluster.format_args = self.format_args.clone();
        cluster.format_all()?;
        for node in &cluster.nodes {
            node.spawn(&cluster.jvm)?;
        }
        let all: Vec<i32> = (0..self.nodes as i32).collect();
        let deadline = Instant::now() + self.ready_timeout;
        for node in &cluster.nodes {
            node.wait_ready(&all, deadline, self.ready_timeout)?;
        }
        Ok(cluster)
    }

    /// Every node's folder, config and logging setup, under `root`.
    fn configure_nodes(&self, root: &Path) -> Result<Vec<Node>, LaunchError> {
        let ports = self.pick_ports();
        (0..self.nodes)
            .map(|i| {
                let dir = root.join(format!("node-{i}"));
                let broker_port = ports.broker[i];
                let advertised = self.advertised_ports.get(&i).copied();
                let mut overrides = self.properties.clone();
                overrides.extend(self.node_properties.get(&i).into_iter().flatten().cloned());
                let properties = server_properties(
                    i,
                    &ports,
                    advertised.unwrap_or(broker_port),
                    self.listeners.get(&i).map_or(&[][..], Vec::as_slice),
                    &dir.join("data"),
                    &overrides,
                );
                Node::create(i, dir, broker_port, &properties)
            })
            .collect()
    }

    /// Free ports for every listener, except the client ports fixed by
    /// [`KafkaClusterBuilder::broker_port`].
    fn pick_ports(&self) -> Ports {
        let n = self.nodes;
        let free = free_ports(3 * n);
        Ports {
            broker: (0..n)
                .map(|i| self.broker_ports.get(&i).copied().unwrap_or(free[3 * i]))
                .collect(),
            internal: (0..n).map(|i| free[3 * i + 1]).collect(),
            controller: (0..n).map(|i| free[3 * i + 2]).collect(),
            controllers: self.controllers.unwrap_or(n),
        }
    }
}

/// A fresh data folder for one cluster, `<cache>/clusters/<pid>-<seq>-<random>`
/// (the pid tells later runs whose it was), after removing the folders of
/// dead processes.
fn new_cluster_dir() -> Result<PathBuf, LaunchError> {
    let clusters = cache_dir().join("clusters");
    fs::create_dir_all(&clusters)
        .map_err(|e| LaunchError::io(format!("cannot create {}", clusters.display()), e))?;
    remove_stale_clusters(&clusters);
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let root = clusters.join(format!(
        "{}-{}-{:08x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    ));
    fs::create_dir_all(&root)
        .map_err(|e| LaunchError::io(format!("cannot create {}", root.display()), e))?;
    Ok(root)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// Useful to fix a broker's port before it starts (see
/// [`KafkaClusterBuilder::broker_port`]), e.g. to point a proxy at it.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

fn free_ports(n: usize) -> Vec<u16> {
    // All listeners stay open until every port is picked, so the ports differ.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local_addr").port())
        .collect()
}

fn random_cluster_id() -> String {
    // Like Kafka's own Uuid.randomUuid, never start with '-': the storage tool's argument
    // parser would take the id for an option.
    loop {
        let id = random_base64_uuid();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_base64_uuid() -> String {
    // Kafka wants a base64url (no padding) encoded 16-byte UUID.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: [u8; 16] = rand::random();
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | b as u32;
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

/// Removes data folders left behind by test processes that died without
/// cleaning up (their brokers died with them).
fn remove_stale_clusters(clusters: &Path) {
    let Ok(entries) = fs::read_dir(clusters) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
        if let Some(pid) = owner {
            if !pid_alive(pid) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_base64url_chars_never_led_by_a_dash() {
        for _ in 0..2000 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'), "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
