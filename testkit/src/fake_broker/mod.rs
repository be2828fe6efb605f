//! A scripted fake Kafka broker for unit tests: one node on 127.0.0.1 that speaks the
//! protocol (with `kafka-protocol`'s messages), keeps records in memory, and lets a test
//! change its answer to any request.
//!
//! ```text
//! accept ─▶ session (one task per connection, one request at a time):
//!   read frame ─▶ record it (FakeBroker::received) ─▶ its API's hook, if any ─▶ Reply
//!     Default / Errors ─▶ answers.rs (storage: log.rs)    Response / Raw ─▶ as given
//!     After ─▶ wait, then the inner reply    Hang / Close ─▶ no answer
//! ```

mod answers;
mod log;
mod script;
mod session;
#[cfg(test)]
mod tests;

pub use script::{Received, Reply, ResponseBody};

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use log::Logs;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// The cluster id every fake broker reports.
const CLUSTER_ID: &str = "kafkit-fake-cluster";

type Hook = Arc<dyn Fn(&Received) -> Reply + Send + Sync>;

/// A fake single-node Kafka cluster on 127.0.0.1, for tests that need a broker to answer
/// in a particular way, or to see exactly what a client sent.
///
/// By default it answers:
/// - **ApiVersions**: every API `kafka-protocol` knows, with the versions it supports;
/// - **Metadata**: itself as the only broker and controller, leading every partition of
///   the topics asked for (all of them for a null list); an unknown topic gets
///   UNKNOWN_TOPIC_OR_PARTITION;
/// - **Produce**: appends the batches to the partition's in-memory log, giving offsets from
///   0 on, and returns the first one's; acks=0 gets no response, as from a broker;
/// - **Fetch**: the stored batches from the fetch offset (at least one, then as many as the
///   byte limits allow), the high watermark, and no fetch session; with nothing to return
///   it waits up to `max_wait_ms` for a Produce;
/// - **ListOffsets**: 0 for earliest, the log end for latest; other timestamps find nothing;
/// - **InitProducerId**: a new producer id at epoch 0, or the next epoch of the one named;
/// - **FindCoordinator**: itself; **CreateTopics**: creates them (TOPIC_ALREADY_EXISTS for
///   a known one).
///
/// Any other API closes the connection unless scripted. It checks no sequence numbers,
/// keeps no groups and stores no timestamps or transactions.
///
/// [`FakeBroker::script`] sets a hook per API: it sees each [`Received`] request and
/// returns a [`Reply`]: the default answer, another response, errors for some partitions,
/// a delay, no answer, a closed connection, or raw bytes. [`FakeBroker::received`] lists
/// every request in arrival order.
///
/// Dropping it stops the listener and closes every connection. It needs a tokio runtime.
pub struct FakeBroker {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// Options for a [`FakeBroker`]; from [`FakeBroker::builder`].
#[derive(Debug, Default)]
pub struct FakeBrokerBuilder {
    node_id: i32,
    topics: Vec<(String, usize)>,
}

impl FakeBrokerBuilder {
    /// Its node id (default 0).
    pub fn node_id(mut self, id: i32) -> Self {
        self.node_id = id;
        self
    }

    /// A topic it knows from the start, with `partitions` empty partitions.
    pub fn topic(mut self, name: &str, partitions: usize) -> Self {
        self.topics.push((name.to_string(), partitions));
        self
    }

    /// Listens on a free port of 127.0.0.1 and serves until dropped.
    pub async fn start(self) -> io::Result<FakeBroker> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut logs = Logs::default();
        for (name, partitions) in &self.topics {
            logs.create(name, *partitions);
        }
        let shared = Arc::new(Shared {
            node_id: self.node_id,
            addr: listener.local_addr()?,
            logs: Mutex::new(logs),
            appended: Notify::new(),
            hooks: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            next_producer_id: AtomicI64::new(1000),
        });
        let server = tokio::spawn(accept(listener, shared.clone()));
        Ok(FakeBroker { shared, server })
    }
}

impl FakeBroker {
    /// Options: node id, topics.
    pub fn builder() -> FakeBrokerBuilder {
        FakeBrokerBuilder::default()
    }

    /// Node 0 with no topics.
    pub async fn start() -> io::Result<FakeBroker> {
        FakeBroker::builder().start().await
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Its address as a bootstrap list for a client.
    pub fn bootstrap(&self) -> String {
        self.shared.addr.to_string()
    }

    /// Adds a topic with `partitions` empty partitions; `false` if it exists.
    pub fn create_topic(&self, name: &str, partitions: usize) -> bool {
        self.shared.logs().create(name, partitions)
    }

    /// The record batches stored in `topic`'s `partition`, in offset order, as a Fetch
    /// returns them (base offsets set); empty for an unknown partition.
    pub fn batches(&self, topic: &str, partition: i32) -> Vec<Bytes> {
        let logs = self.shared.logs();
        let log = logs.partition(topic, partition);
        log.map_or_else(Vec::new, |log| log.batches().cloned().collect())
    }

    /// Answers requests of `api` with `hook`'s reply from now on (replacing an earlier
    /// hook). The hook runs on the connection's task: it must not block.
    pub fn script(&self, api: ApiKey, hook: impl Fn(&Received) -> Reply + Send + Sync + 'static) {
        let mut hooks = self.shared.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.insert(api, Arc::new(hook));
    }

    /// Back to the default answer for `api`.
    pub fn unscript(&self, api: ApiKey) {
        let mut hooks = self.shared.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.remove(&api);
    }

    /// Every request received so far, in arrival order (across connections).
    pub fn received(&self) -> Vec<Received> {
        let received = self.shared.received.lock();
        received.unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        // The accept task owns the connections' tasks: aborting it drops them all.
        self.server.abort();
    }
}

/// What the listener and every connection share.
struct Shared {
    node_id: i32,
    addr: SocketAddr,
    logs: Mutex<Logs>,
    /// Woken on every Produce, for Fetches waiting for records.
    appended: Notify,
    hooks: Mutex<HashMap<ApiKey, Hook>>,
    received: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    next_producer_id: AtomicI64,
}

impl Shared {
    fn logs(&self) -> MutexGuard<'_, Logs> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hook(&self, api: ApiKey) -> Option<Hook> {
        let hooks = self.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.get(&api).cloned()
    }

    fn record(&self, req: &Received) {
        let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        received.push(req.clone());
    }

    fn new_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::Relaxed)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        sessions.spawn(session::serve(shared.clone(), stream));
        // Reap the finished ones, so a long test does not keep them all.
        while sessions.try_join_next().is_some() {}
    }
}
