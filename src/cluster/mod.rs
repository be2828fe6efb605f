//! The cluster handle: bootstrap, the metadata cache and its refresh, and connections to
//! brokers by id.
//!
//! ```text
//! caller ──topic("t")──▶ cached? ──no──▶ refresh (one in flight) ──Metadata──▶ any broker
//!                          │                                                     │
//!                          └──────────────▶ Arc<TopicInfo> ◀──── apply response ─┘
//! ```
//! A background task refreshes every `metadata.max.age.ms`, and at once when a response says
//! the cache is stale (`request_refresh`). It holds only a weak reference and ends with the
//! last handle.

pub(crate) mod coordinator;
mod interest;
pub(crate) mod metadata;
mod offsets;
pub(crate) mod pool;
mod settings;

use crate::connection::{Connection, ConnectionParams};
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::retry::{Backoff, Retry};
use crate::sync::{lock, read, write};
pub(crate) use coordinator::{Coordinator, CoordinatorKind};
use interest::Interest;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
pub(crate) use metadata::{BrokerInfo, Snapshot, TopicInfo};
pub use offsets::{ListedOffset, OffsetSpec};
pub(crate) use pool::{Pool, TrafficClass};
pub(crate) use settings::cluster_settings;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What the cluster layer needs from the client configuration.
#[derive(Clone, Debug)]
pub(crate) struct ClusterSettings {
    pub bootstrap: Vec<String>,
    pub params: ConnectionParams,
    pub backoff: Backoff,
    pub metadata_max_age: Duration,
    /// On-demand topics unused this long are no longer followed.
    pub metadata_max_idle: Duration,
    pub allow_auto_create_topics: bool,
}

/// A cheap-clone handle to the cluster.
#[derive(Clone)]
pub(crate) struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClusterSettings,
    pool: Pool,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Topics kept fresh by the refreshes.
    interest: Mutex<Interest>,
    /// Serialises refreshes: callers that queued behind one reuse its result.
    refreshing: tokio::sync::Mutex<()>,
    wake_refresher: Arc<Notify>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.settings.bootstrap)
            .field("brokers", &snapshot.brokers.len())
            .field("topics", &snapshot.topics.len())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to the first bootstrap server that answers and loads metadata.
    pub(crate) async fn connect(settings: ClusterSettings) -> Result<Cluster> {
        let cluster = Cluster::unconnected(settings);
        cluster.first_refresh().await?;
        tokio::spawn(background_refresh(
            Arc::downgrade(&cluster.inner),
            cluster.inner.wake_refresher.clone(),
            cluster.inner.settings.metadata_max_age,
        ));
        Ok(cluster)
    }

    /// The first metadata. A broker that accepted the connection and then dropped it or
    /// went silent (a reset, a restart under way) is asked again, with backoff, for up to
    /// `request.timeout.ms`, as the Java client's constructor never fails on the network;
    /// no broker reachable, refused credentials and everything else fail at once.
    async fn first_refresh(&self) -> Result<()> {
        let settings = &self.inner.settings;
        let mut retry = Retry::new(settings.params.request_timeout, settings.backoff);
        loop {
            let error = match self.refresh().await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let verdict = match error {
                Error::Connection { .. } | Error::RequestTimeout { .. } => RetryAction::Retry,
                _ => RetryAction::NoRetry,
            };
            retry.wait_for(error, verdict).await?;
        }
    }

    /// A cluster that knows no broker yet and has connected to none (the fuzz hooks drive
    /// the layers above with it, offline); `connect` loads metadata into it.
    pub(crate) fn unconnected(settings: ClusterSettings) -> Cluster {
        let pool = Pool::new(settings.params.clone(), settings.backoff);
        Cluster {
            inner: Arc::new(Inner {
                settings,
                pool,
                snapshot: RwLock::new(Arc::new(Snapshot::default())),
                interest: Mutex::new(Interest::default()),
                refreshing: tokio::sync::Mutex::new(()),
                wake_refresher: Arc::new(Notify::new()),
            }),
        }
    }

    pub(crate) fn backoff(&self) -> Backoff {
        self.inner.settings.backoff
    }

    /// `metadata.max.age.ms`: how long what metadata (or a broker's hint) said stays true.
    pub(crate) fn metadata_max_age(&self) -> Duration {
        self.inner.settings.metadata_max_age
    }

    /// Runs `attempt` until it succeeds, fails for good, or `timeout` has passed, backing off
    /// between attempts and refreshing metadata when an error says it is stale.
    pub(crate) async fn retry<T, F, Fut>(&self, timeout: Duration, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut retry = Retry::new(timeout, self.backoff());
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(e) => {
                    if e.retry_action() == RetryAction::RefreshMetadataAndRetry {
                        self.request_refresh();
                    }
                    retry.wait(e).await?;
                }
            }
        }
    }

    /// The current view of the cluster.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        read(&self.inner.snapshot).clone()
    }

    /// Asks the background task to refresh now (a response said the cache is stale).
    pub(crate) fn request_refresh(&self) {
        self.inner.wake_refresher.notify_one();
    }

    /// Refreshes metadata for every topic in use, unless another refresh finished after
    /// this call began, in which case that one's view is returned.
    pub(crate) async fn refresh(&self) -> Result<Arc<Snapshot>> {
        let seen = self.snapshot().generation;
        let _guard = self.inner.refreshing.lock().await;
        let current = self.snapshot();
        if current.generation > seen {
            return Ok(current);
        }
        let topics = {
            let mut interest = lock(&self.inner.interest);
            let max_idle = self.inner.settings.metadata_max_idle;
            interest.sweep(&current, Instant::now(), max_idle);
            interest.names()
        };
        let request = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(self.inner.settings.allow_auto_create_topics);
        let response = self.any_connection().await?.send(&request).await?;
        let mut next = current.apply(&response);
        // Topics no longer followed leave the cache too.
        let interest = lock(&self.inner.interest);
        next.topics.retain(|name, _| interest.contains(name));
        drop(interest);
        let next = Arc::new(next);
        *write(&self.inner.snapshot) = next.clone();
        let known = next
            .brokers
            .values()
            .map(BrokerInfo::addr)
            .chain(self.inner.settings.bootstrap.iter().cloned())
            .collect();
        self.inner.pool.prune(&known);
        Ok(next)
    }

    /// A connection to some broker for control traffic: an open one if any, else the known
    /// brokers, else the bootstrap list. The error names every address tried.
    pub(crate) async fn any_connection(&self) -> Result<Connection> {
        self.any_connection_but(None).await
    }

    /// As [`any_connection`](Self::any_connection), but not to `skip` while another broker
    /// is known: for a second opinion on what `skip` said.
    pub(crate) async fn any_connection_but(&self, skip: Option<&str>) -> Result<Connection> {
        let snapshot = self.snapshot();
        let mut addrs: Vec<String> = snapshot.brokers.values().map(BrokerInfo::addr).collect();
        addrs.extend(self.inner.settings.bootstrap.iter().cloned());
        if let Some(skip) = skip {
            if addrs.iter().any(|a| a != skip) {
                addrs.retain(|a| a != skip);
            }
        }
        for addr in &addrs {
            if let Some(conn) = self.inner.pool.existing(addr, TrafficClass::Control) {
                return Ok(conn);
            }
        }
        let mut attempts = Vec::new();
        // A broker that refused the credentials or the TLS handshake answered: that, not
        // "unreachable" (which is retried), is what the caller must hear.
        let mut refused = None;
        for addr in addrs {
            if attempts.iter().any(|(a, _): &(String, String)| *a == addr) {
                continue;
            }
            match self.inner.pool.get(&addr, TrafficClass::Control).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    if e.is_authentication_failure() && refused.is_none() {
                        refused = Some(e.clone());
                    }
                    attempts.push((addr, connect_failure(e)))
                }
            }
        }
        Err(refused.unwrap_or(Error::NoBrokerReachable { attempts }))
    }

    /// A connection to broker `id` for `class`.
    pub(crate) async fn broker(&self, id: i32, class: TrafficClass) -> Result<Connection> {
        let mut snapshot = self.snapshot();
        if !snapshot.brokers.contains_key(&id) {
            snapshot = self.refresh().await?;
        }
        let addr = snapshot
            .brokers
            .get(&id)
            .map(BrokerInfo::addr)
            .ok_or_else(|| {
                Error::broker(ErrorCode::BROKER_NOT_AVAILABLE, format!("broker {id}"))
            })?;
        self.inner.pool.get(&addr, class).await
    }

    /// A connection to an address a response named (a group coordinator).
    pub(crate) async fn connection_to(
        &self,
        addr: &str,
        class: TrafficClass,
    ) -> Result<Connection> {
        self.inner.pool.get(addr, class).await
    }

    /// The controller's connection (admin requests that must reach it), or any broker's.
    ///
    /// A controller that cannot be reached gives way to any broker that can: in KRaft every
    /// broker forwards controller requests (the id Metadata names is just a live broker as
    /// of that answer, and a killed one stays in the cache until the next refresh); a broker
    /// that is not the controller of a ZooKeeper cluster answers `NOT_CONTROLLER`, the
    /// caller's to retry after the refresh this asks for.
    pub(crate) async fn controller(&self) -> Result<Connection> {
        if let Some(id) = self.snapshot().controller {
            match self.broker(id, TrafficClass::Control).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    tracing::debug!(controller = id, error = %e, "controller unreachable");
                    self.request_refresh();
                }
            }
        }
        self.any_connection().await
    }

    /// A cached, healthy topic: the per-record path, one read lock and no allocation. The
    /// lookup counts as a use of the topic (see `interest.rs`).
    pub(crate) fn cached_topic(&self, name: &str) -> Option<Arc<TopicInfo>> {
        let snapshot = read(&self.inner.snapshot);
        let topic = snapshot
            .topics
            .get(name)
            .filter(|t| t.error.is_ok() && !t.partitions.is_empty())?;
        topic.mark_used();
        Some(topic.clone())
    }

    /// The id → name of every topic the cached metadata knows with an id: KIP-848
    /// assignments name topics by id.
    pub(crate) fn topic_names_by_id(&self) -> HashMap<uuid::Uuid, String> {
        read(&self.inner.snapshot)
            .topics
            .iter()
            .filter(|(_, t)| !t.id.is_nil())
            .map(|(name, t)| (t.id, name.clone()))
            .collect()
    }

    /// The id of each of `names` (consecutive repeats looked up once) as the cached
    /// metadata knows it, or `None` if one has none (a broker before Metadata v10, a topic
    /// the metadata no longer has).
    pub(crate) fn topic_ids<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Option<HashMap<String, uuid::Uuid>> {
        let snapshot = read(&self.inner.snapshot);
        let mut ids = HashMap::new();
        let mut last = None;
        for name in names {
            if last == Some(name) {
                continue;
            }
            last = Some(name);
            let id = snapshot.topics.get(name)?.id;
            if id.is_nil() {
                return None;
            }
            ids.insert(name.to_string(), id);
        }
        Some(ids)
    }

    /// The topic's metadata, waiting up to `timeout` for it to exist and have leaders.
    pub(crate) async fn topic(&self, name: &str, timeout: Duration) -> Result<Arc<TopicInfo>> {
        if let Some(topic) = self.cached_topic(name) {
            return Ok(topic);
        }
        let newly_tracked = lock(&self.inner.interest).want(name, Instant::now());
        let mut retry = Retry::new(timeout, self.backoff());
        let mut snapshot = self.snapshot();
        if newly_tracked && !snapshot.topics.contains_key(name) {
            snapshot = self.refresh().await?;
        }
        loop {
            let code = match snapshot.topics.get(name) {
                Some(topic) if topic.error.is_ok() && !topic.partitions.is_empty() => {
                    return Ok(topic.clone())
                }
                Some(topic) => topic.error,
                None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            };
            // A topic that exists without partitions yet is still being created.
            let code = if code.is_ok() {
                ErrorCode::LEADER_NOT_AVAILABLE
            } else {
                code
            };
            if let Err(e) = retry
                .wait(Error::broker(code, format!("topic {name}")))
                .await
            {
                return Err(match e {
                    Error::Broker { code, context, .. }
                        if code.retry_action() != RetryAction::NoRetry =>
                    {
                        Error::Broker {
                            code,
                            context,
                            message: Some(format!("no usable metadata within {timeout:?}")),
                        }
                    }
                    other => other,
                });
            }
            snapshot = self.refresh().await?;
        }
    }

    /// The healthy ones of these topics as the cache knows them, after one refresh if some
    /// were not asked about yet: no waiting for a topic that does not exist or has no
    /// leaders (a group leader assigns what exists now, as Java's does). They are followed
    /// on demand.
    pub(crate) async fn topics_now(
        &self,
        names: &BTreeSet<String>,
    ) -> HashMap<String, Arc<TopicInfo>> {
        {
            let mut interest = lock(&self.inner.interest);
            for name in names {
                interest.want(name, Instant::now());
            }
        }
        let mut snapshot = self.snapshot();
        // Twice at most: a refresh under way when they were added may not have asked for them.
        for _ in 0..2 {
            if names.iter().all(|n| snapshot.topics.contains_key(n)) {
                break;
            }
            match self.refresh().await {
                Ok(next) => snapshot = next,
                Err(e) => {
                    tracing::debug!(error = %e, "metadata refresh failed");
                    break;
                }
            }
        }
        names
            .iter()
            .filter_map(|name| {
                let topic = snapshot.topics.get(name)?;
                (topic.error.is_ok() && !topic.partitions.is_empty())
                    .then(|| (name.clone(), topic.clone()))
            })
            .collect()
    }

    /// Keeps a topic's metadata in the cache from the next refresh on, until
    /// [`forget_topic`](Self::forget_topic).
    pub(crate) fn track(&self, name: &str) {
        lock(&self.inner.interest).pin(name);
    }

    /// Stops following a topic (after deleting it).
    pub(crate) fn forget_topic(&self, name: &str) {
        lock(&self.inner.interest).forget(name);
        let mut guard = write(&self.inner.snapshot);
        let mut next = (**guard).clone();
        next.topics.remove(name);
        *guard = Arc::new(next);
    }
}

fn connect_failure(e: Error) -> String {
    match e {
        Error::Connection { reason, .. } => reason,
        other => other.to_string(),
    }
}

async fn background_refresh(inner: Weak<Inner>, wake: Arc<Notify>, max_age: Duration) {
    loop {
        // The task holds no strong reference while it waits: the last handle's drop wakes it
        // (see `Drop for Inner`) and the upgrade below fails.
        let _ = tokio::time::timeout(max_age, wake.notified()).await;
        let Some(inner) = inner.upgrade() else { return };
        let cluster = Cluster { inner };
        if let Err(e) = cluster.refresh().await {
            tracing::debug!(error = %e, "background metadata refresh failed");
            let pause = cluster.backoff().initial;
            drop(cluster);
            tokio::time::sleep(pause).await;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wake_refresher.notify_one();
    }
}

#[cfg(test)]
mod tests;
