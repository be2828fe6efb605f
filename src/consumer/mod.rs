//! The consumer: positions per partition, fetches from each leader, records in order.
//!
//! ```text
//! poll ──▶ group work (rebalance.rs): lost partitions, joins, auto-commit
//!   │
//!   ▼      (each step under the positions lock, released before any wait)
//!   buffered records? ──yes──▶ up to max.poll.records
//!            │ no
//!            ▼
//!   reset positions without one (auto.offset.reset → ListOffsets, lock released)
//!            ▼
//!   sync the fetchers with the positions ──▶ take completed fetches (prefetched by one
//!   task per leader, see `fetcher.rs`) ──▶ buffer; none yet: wait for one (lock released)
//! ```
//! With `group.id` and `subscribe`, partitions come from the group (see `group.rs` for the
//! flow) and offsets are committed to it; otherwise the application assigns partitions, or
//! takes every partition of the subscribed topics.

pub(crate) mod assignor;
mod buffer;
mod commit;
mod fetch;
#[cfg(feature = "fuzzing")]
pub(crate) use assignor::hooks as assignor_hooks;
#[cfg(feature = "fuzzing")]
pub(crate) use fetch::hooks as fetch_hooks;
mod fetch_session;
mod fetcher;
mod group;
mod metrics;
mod offsets_api;
mod parallel;
mod poll;
mod positions;
mod rebalance;
mod stream;
mod subscription;
mod telemetry;
mod typed;

use crate::cluster::{Cluster, OffsetSpec};
use crate::config::ConsumerConfig;
use crate::error::{Error, Result};
use crate::record::{ConsumerGroupMetadata, TopicPartition};
use crate::sync::lock;
pub use commit::CommitFuture;
use fetch::FetchParams;
use fetcher::Fetcher;
pub use group::OffsetAndMetadata;
pub use metrics::ConsumerMetrics;
use positions::Positions;
pub use rebalance::{HookFuture, RebalanceListener};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
pub use stream::RecordStream;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;
pub use typed::{TypedConsumer, TypedConsumerRecord};

/// Reads records from Kafka. Cheap to clone; clones share positions and buffered records.
///
/// Close it with [`close`](Self::close) (or [`close_with_timeout`](Self::close_with_timeout))
/// to commit and hand partitions back through the hooks. A group member whose last clone is
/// dropped unclosed still leaves the group: LeaveGroup is sent from a background task
/// (bounded by `request.timeout.ms`), so the others take its partitions at once instead of
/// after `session.timeout.ms`. Nothing is committed and no hook runs then. A static member
/// (`group.instance.id`) does not leave: it keeps its place for a restart within
/// `session.timeout.ms`. The task needs a tokio runtime; a consumer dropped outside one
/// leaves by timing out.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::{Consumer, ConsumerConfig, TopicPartition};
/// use std::time::Duration;
/// let mut config = ConsumerConfig::new("localhost:9092");
/// config.auto_offset_reset = kafkit::AutoOffsetReset::Earliest;
/// let consumer = Consumer::new(config).await?;
/// consumer.assign([TopicPartition::new("my_topic", 0)]).await?;
/// for record in consumer.poll(Duration::from_secs(1)).await? {
///     println!("{:?}", record.value);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("Consumer")
            .field("bootstrap_servers", &config.client.bootstrap_servers)
            .field("client_id", &config.client.client_id)
            .field("group_id", &config.group_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: ConsumerConfig,
    cluster: Cluster,
    /// Taken for one step at a time, never across an await: a poll waiting for records
    /// leaves `position`, `pause`, `commit`... free.
    positions: Mutex<Positions>,
    /// Present with `group.id`.
    group: Option<Arc<group::Group>>,
    listener: Mutex<Option<Arc<dyn RebalanceListener>>>,
    /// The background fetch tasks, one per leader; they end when this is dropped.
    fetcher: Fetcher,
    /// A rebalance under way, carried from one poll to the next.
    rebalance: tokio::sync::Mutex<rebalance::Rebalance>,
    /// Aborts the join task under way, without waiting for the poll that waits for it.
    join_abort: Mutex<Option<AbortHandle>>,
    /// When auto-commit commits next (set once partitions are assigned).
    next_auto_commit: Mutex<Option<Instant>>,
    /// Ends when the last automatic commit started has ended: the next one waits for it.
    auto_commit_chain: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    /// The task following a pattern subscription's matches.
    pattern: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    metrics: Arc<metrics::Counters>,
}

impl Inner {
    /// Stops the background work of the consumer's own: the join under way, the pattern
    /// subscription's task.
    fn stop_background(&self) {
        if let Some(join) = lock(&self.join_abort).take() {
            join.abort();
        }
        if let Some(pattern) = lock(&self.pattern).take() {
            pattern.abort();
        }
    }
}

impl Drop for Inner {
    /// The last clone went without `close`: stop the background work and leave the group
    /// (see [`Consumer`]).
    fn drop(&mut self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        self.stop_background();
        if let Some(group) = &self.group {
            // Detached: it ends within its own bound.
            drop(group.leave("the consumer was dropped without close"));
        }
    }
}

impl Consumer {
    /// Validates the configuration and connects to the cluster.
    pub async fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let cluster = Cluster::connect(crate::cluster::cluster_settings(&config.client)?).await?;
        let group = config
            .group_id
            .clone()
            .map(|id| group::Group::new(cluster.clone(), config.clone(), id));
        let params = FetchParams {
            max_wait_ms: crate::protocol::wire::millis(config.fetch_max_wait),
            min_bytes: config.fetch_min_bytes as i32,
            max_bytes: config.fetch_max_bytes as i32,
            max_partition_bytes: config.max_partition_fetch_bytes as i32,
            isolation: config.isolation_level,
            check_crcs: config.check_crcs,
            rack: config.client_rack.clone().unwrap_or_default(),
        };
        let metrics = Arc::new(metrics::Counters::new(&config.client.client_id));
        let fetcher = Fetcher::new(
            cluster.clone(),
            params,
            config.client.request_timeout,
            metrics.clone(),
        );
        Ok(Consumer {
            inner: Arc::new(Inner {
                config,
                cluster,
                positions: Mutex::new(Positions::default()),
                group,
                listener: Mutex::new(None),
                fetcher,
                rebalance: tokio::sync::Mutex::new(rebalance::Rebalance::default()),
                join_abort: Mutex::new(None),
                next_auto_commit: Mutex::new(None),
                auto_commit_chain: Mutex::new(None),
                pattern: Mutex::new(None),
                closed: AtomicBool::new(false),
                metrics,
            }),
        })
    }

    /// `Err(Error::Closed)` once [`close`](Self::close) has begun.
    fn check_open(&self) -> Result<()> {
        match self.inner.closed.load(Ordering::SeqCst) {
            true => Err(Error::Closed),
            false => Ok(()),
        }
    }

    /// Reads exactly these partitions, replacing any earlier assignment or subscription.
    /// With a `group.id`, each starts at the group's committed offset (as in Java; commits
    /// from this consumer go to that group too), and one without a committed offset per
    /// `auto.offset.reset`. No group membership is involved.
    pub async fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        for tp in &partitions {
            crate::topic::validate_topic_name(&tp.topic)?;
        }
        for tp in &partitions {
            self.inner.cluster.track(&tp.topic);
        }
        self.inner.cluster.request_refresh();
        self.stop_pattern();
        lock(&self.inner.positions).assign(partitions);
        Ok(())
    }

    /// Subscribes to topics. With `group.id`, the group shares their partitions among its
    /// members from the next `poll` on; without it, every partition these topics have now is
    /// read (partitions added later are not picked up until the next `subscribe`).
    pub async fn subscribe(
        &self,
        topics: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<()> {
        let mut topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        for topic in &topics {
            crate::topic::validate_topic_name(topic)?;
        }
        self.stop_pattern();
        if let Some(group) = &self.inner.group {
            topics.sort();
            topics.dedup();
            for topic in &topics {
                self.inner.cluster.track(topic);
            }
            group.subscribe(topics);
            return Ok(());
        }
        let mut partitions = Vec::new();
        for topic in &topics {
            let info = self
                .inner
                .cluster
                .topic(topic, self.inner.config.client.request_timeout)
                .await?;
            for p in &info.partitions {
                partitions.push(TopicPartition::new(topic.clone(), p.id));
            }
        }
        lock(&self.inner.positions).assign(partitions);
        Ok(())
    }

    /// The partitions being read.
    pub async fn assignment(&self) -> Vec<TopicPartition> {
        lock(&self.inner.positions).assignment()
    }

    /// Makes the next record read from `tp` the one at `offset`.
    pub async fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        lock(&self.inner.positions).seek(tp, offset)
    }

    /// Seeks each partition to its log start offset.
    pub async fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, OffsetSpec::Earliest).await
    }

    /// Seeks each partition to its end (the next offset to be written).
    pub async fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, OffsetSpec::Latest).await
    }

    async fn seek_to(&self, partitions: &[TopicPartition], spec: OffsetSpec) -> Result<()> {
        for (tp, offset) in self.offsets_of(partitions, spec).await? {
            self.seek(&tp, offset).await?;
        }
        Ok(())
    }

    /// Stops returning records from these partitions until `resume`; the group membership
    /// and the other partitions carry on.
    pub async fn pause(&self, partitions: &[TopicPartition]) {
        lock(&self.inner.positions).pause(partitions);
    }

    /// Returns records from these partitions again.
    pub async fn resume(&self, partitions: &[TopicPartition]) {
        lock(&self.inner.positions).resume(partitions);
    }

    /// The paused partitions.
    pub async fn paused(&self) -> Vec<TopicPartition> {
        lock(&self.inner.positions).paused()
    }

    /// How many records the consumer's position in `tp` is behind the partition's high
    /// watermark, as of the last fetch from it (Java's `currentLag`); `None` until both are
    /// known. Asks no broker.
    pub async fn current_lag(&self, tp: &TopicPartition) -> Option<i64> {
        let high_watermark = self.inner.fetcher.high_watermark(tp)?;
        let position = lock(&self.inner.positions).position(tp)?;
        // Both come from the wire or the user: no arithmetic on them may overflow.
        Some(high_watermark.saturating_sub(position).max(0))
    }

    /// The consumer's counters: records and bytes consumed, fetches and their latency, lag
    /// per partition, rebalances, commits (see [`ConsumerMetrics`]).
    pub async fn metrics(&self) -> ConsumerMetrics {
        let assigned = self.assignment().await;
        let mut lag = BTreeMap::new();
        for tp in assigned {
            if let Some(l) = self.current_lag(&tp).await {
                lag.insert(tp, l);
            }
        }
        self.inner.metrics.snapshot(lag)
    }

    /// The group id, generation, member id and instance id as they are now, for a
    /// transaction's offset commit (Java's `groupMetadata()`). Needs `group.id`.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// let metadata = consumer.group_metadata()?;
    /// println!("member {} of generation {}", metadata.member_id, metadata.generation_id);
    /// # Ok(()) }
    /// ```
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        Ok(self.group()?.metadata())
    }

    /// The offset of the next record to be returned from `tp`, once known.
    pub async fn position(&self, tp: &TopicPartition) -> Option<i64> {
        lock(&self.inner.positions).position(tp)
    }

    /// Offsets as this consumer sees them: with `read_committed`, the latest offset is the
    /// last stable offset, as in Java.
    async fn list_offsets(
        &self,
        partitions: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> Result<HashMap<TopicPartition, crate::cluster::ListedOffset>> {
        let config = &self.inner.config;
        self.inner
            .cluster
            .list_offsets(
                partitions,
                config.isolation_level,
                config.default_api_timeout,
            )
            .await
    }

    /// A [`futures_core::Stream`] of records, one at a time, polling when it needs more.
    ///
    /// The stream holds no records of its own: each comes out of the consumer's buffer as
    /// it is yielded, so [`commit`](Self::commit) (and auto-commit, `position`, a `seek` or
    /// `pause`, a rebalance) sees exactly the records the stream has yielded, never ones
    /// fetched behind them. A commit after processing a record therefore covers that record
    /// and the ones before it. Auto-commit commits when the stream polls, which it does
    /// when the application asks for a record the buffer no longer has: with records
    /// processed one by one as they come, what it commits was processed (at least once).
    ///
    /// Errors are yielded once each, and the stream goes on after them. It ends after
    /// [`close`](Self::close).
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::Consumer) -> kafkit::Result<()> {
    /// use futures::StreamExt;
    /// let mut records = consumer.stream();
    /// while let Some(record) = records.next().await {
    ///     let record = record?;
    ///     println!("{}: {:?}", record.offset, record.value);
    ///     consumer.commit().await?; // covers this record, not the ones after it
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&self) -> RecordStream {
        RecordStream::new(self.clone())
    }
}
