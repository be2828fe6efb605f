//! The consumer: positions per partition, fetches from each leader, records in order.
//!
//! ```text
//! poll ──▶ buffered records? ──yes──▶ up to max.poll.records
//!            │ no
//!            ▼
//!   reset positions without one (auto.offset.reset → ListOffsets)
//!            ▼
//!   sync the fetchers with the positions ──▶ take completed fetches (prefetched by one
//!   task per leader, see `fetcher.rs`) ──▶ buffer; none yet: wait for one
//! ```
//! With `group.id` and `subscribe`, partitions come from the group (see `group.rs` for the
//! flow) and offsets are committed to it; otherwise the application assigns partitions, or
//! takes every partition of the subscribed topics.

pub(crate) mod assignor;
mod buffer;
mod commit;
mod fetch;
mod fetch_session;
mod fetcher;
mod group;
mod parallel;
mod stream;

use crate::cluster::{Cluster, OffsetSpec};
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::error::{Error, ErrorCode, Result};
use crate::record::{ConsumerRecord, TopicPartition};
use buffer::Buffer;
pub use commit::{CommitFuture, HookFuture, RebalanceListener};
use fetch::{FetchParams, PartitionFetch};
use fetcher::{Fetcher, Taken};
pub use group::OffsetAndMetadata;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
pub use stream::RecordStream;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Reads records from Kafka. Cheap to clone; clones share positions and buffered records.
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
    state: Mutex<State>,
    /// Present with `group.id`.
    group: Option<Arc<group::Group>>,
    listener: std::sync::Mutex<Option<Arc<dyn RebalanceListener>>>,
    /// The background fetch tasks, one per leader; they end when this is dropped.
    fetcher: Fetcher,
    /// A rebalance under way, carried from one poll to the next.
    pending_join: Mutex<Option<PendingJoin>>,
}

/// A join running in the background, and the partitions kept through it.
struct PendingJoin {
    keep: BTreeSet<TopicPartition>,
    handle: tokio::task::JoinHandle<Result<group::Rebalanced>>,
}

#[derive(Default)]
struct State {
    /// Assigned partitions and their fetch positions (`None` until known).
    positions: BTreeMap<TopicPartition, Option<i64>>,
    /// The next offset to hand to the application, per partition: what commits commit.
    consumed: HashMap<TopicPartition, i64>,
    paused: BTreeSet<TopicPartition>,
    buffer: Buffer,
    high_watermarks: HashMap<TopicPartition, i64>,
    /// Topics subscribed through the group.
    group_topics: Vec<String>,
    next_auto_commit: Option<Instant>,
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
        let fetcher = Fetcher::new(cluster.clone(), params, config.client.request_timeout);
        Ok(Consumer {
            inner: Arc::new(Inner {
                config,
                cluster,
                state: Mutex::new(State::default()),
                group,
                listener: std::sync::Mutex::new(None),
                fetcher,
                pending_join: Mutex::new(None),
            }),
        })
    }

    /// Reads exactly these partitions, replacing any earlier assignment or subscription.
    pub async fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        for tp in &partitions {
            crate::topic::validate_topic_name(&tp.topic)?;
        }
        for tp in &partitions {
            self.inner.cluster.track(&tp.topic);
        }
        self.inner.cluster.request_refresh();
        let mut state = self.inner.state.lock().await;
        state.positions = partitions.into_iter().map(|tp| (tp, None)).collect();
        state.buffer.clear();
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
        if let Some(group) = &self.inner.group {
            topics.sort();
            topics.dedup();
            for topic in &topics {
                self.inner.cluster.track(topic);
            }
            self.inner.state.lock().await.group_topics = topics;
            group.request_rejoin();
            return Ok(());
        }
        let mut positions = BTreeMap::new();
        for topic in &topics {
            let info = self
                .inner
                .cluster
                .topic(topic, self.inner.config.client.request_timeout)
                .await?;
            for p in &info.partitions {
                positions.insert(TopicPartition::new(topic.clone(), p.id), None);
            }
        }
        let mut state = self.inner.state.lock().await;
        state.positions = positions;
        state.buffer.clear();
        Ok(())
    }

    /// The partitions being read.
    pub async fn assignment(&self) -> Vec<TopicPartition> {
        self.inner
            .state
            .lock()
            .await
            .positions
            .keys()
            .cloned()
            .collect()
    }

    /// Makes the next record read from `tp` the one at `offset`.
    pub async fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        let mut state = self.inner.state.lock().await;
        let Some(position) = state.positions.get_mut(tp) else {
            return Err(Error::config(format!("seek: {tp} is not assigned")));
        };
        *position = Some(offset);
        state.consumed.insert(tp.clone(), offset);
        state.buffer.retain(|buffered| buffered != tp);
        Ok(())
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
        let offsets = self
            .list_offsets(partitions.iter().map(|tp| (tp.clone(), spec)))
            .await?;
        for (tp, listed) in offsets {
            self.seek(&tp, listed.offset).await?;
        }
        Ok(())
    }

    /// Stops returning records from these partitions until `resume`; the group membership
    /// and the other partitions carry on.
    pub async fn pause(&self, partitions: &[TopicPartition]) {
        let mut state = self.inner.state.lock().await;
        for tp in partitions {
            if state.positions.contains_key(tp) {
                state.paused.insert(tp.clone());
                // Records already fetched are dropped and fetched again after `resume`.
                let consumed = state.consumed.get(tp).copied();
                if let Some(offset) = consumed {
                    state.positions.insert(tp.clone(), Some(offset));
                }
                state.buffer.retain(|buffered| buffered != tp);
            }
        }
    }

    /// Returns records from these partitions again.
    pub async fn resume(&self, partitions: &[TopicPartition]) {
        let mut state = self.inner.state.lock().await;
        for tp in partitions {
            state.paused.remove(tp);
        }
    }

    /// The paused partitions.
    pub async fn paused(&self) -> Vec<TopicPartition> {
        self.inner
            .state
            .lock()
            .await
            .paused
            .iter()
            .cloned()
            .collect()
    }

    /// How far behind the partition's high watermark this consumer's position is, as of the
    /// last fetch from it.
    pub async fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let state = self.inner.state.lock().await;
        let high_watermark = *state.high_watermarks.get(tp)?;
        let position = state.consumed.get(tp).copied().or(state
            .positions
            .get(tp)
            .copied()
            .flatten())?;
        Some((high_watermark - position).max(0))
    }

    /// The offset of the next record to be returned from `tp`, once known.
    pub async fn position(&self, tp: &TopicPartition) -> Option<i64> {
        let state = self.inner.state.lock().await;
        state
            .consumed
            .get(tp)
            .copied()
            .or_else(|| state.positions.get(tp).copied().flatten())
    }

    /// Returns the next records, at most `max.poll.records`, waiting up to `timeout` for
    /// some to arrive. An empty vector means none arrived in time.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        if self.inner.group.is_some() && !self.group_poll(deadline).await? {
            return Ok(Vec::new());
        }
        let mut state = self.inner.state.lock().await;
        loop {
            if !state.buffer.is_empty() {
                if state.buffer.len() < self.inner.config.max_poll_records {
                    // Top up from what the fetchers completed meanwhile (never waits).
                    self.fetch_once(&mut state)?;
                }
                // Positions move once per fetched chunk taken from, not once per record, and
                // the partition is usually known already: nothing to allocate.
                let state = &mut *state;
                let consumed = &mut state.consumed;
                let records =
                    state.buffer.take(
                        self.inner.config.max_poll_records,
                        |tp, next| match consumed.get_mut(tp) {
                            Some(position) => *position = next,
                            None => {
                                consumed.insert(tp.clone(), next);
                            }
                        },
                    );
                return Ok(records);
            }
            if state.positions.is_empty() {
                self.inner.fetcher.sync(&BTreeMap::new());
                tokio::time::sleep_until(deadline).await;
                return Ok(Vec::new());
            }
            self.reset_positions(&mut state).await?;
            self.fetch_once(&mut state)?;
            if !state.buffer.is_empty() {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            // Woken by a completed fetch; the tick re-syncs (a reset position may need a
            // retry, metadata may have moved a partition).
            let tick = deadline.min(now + Duration::from_millis(100));
            let _ = tokio::time::timeout_at(tick, self.inner.fetcher.ready()).await;
        }
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

    /// A [`futures_core::Stream`] of records, polling in the background of `next()`.
    pub fn stream(&self) -> RecordStream {
        RecordStream::new(self.clone())
    }

    async fn reset_positions(&self, state: &mut State) -> Result<()> {
        let missing: Vec<TopicPartition> = state
            .positions
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let spec = match self.inner.config.auto_offset_reset {
            AutoOffsetReset::Earliest => OffsetSpec::Earliest,
            AutoOffsetReset::Latest => OffsetSpec::Latest,
            AutoOffsetReset::Error => {
                let tp = &missing[0];
                return Err(Error::OffsetOutOfRange {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset: -1,
                });
            }
        };
        let offsets = self
            .list_offsets(missing.iter().map(|tp| (tp.clone(), spec)))
            .await?;
        for (tp, listed) in offsets {
            if let Some(position) = state.positions.get_mut(&tp) {
                *position = Some(listed.offset);
                state.consumed.insert(tp, listed.offset);
            }
        }
        Ok(())
    }

    /// Tells the fetchers where each fetchable partition stands, then moves completed
    /// fetches at those positions into the buffer until it holds `max.poll.records`.
    fn fetch_once(&self, state: &mut State) -> Result<()> {
        let active: BTreeMap<TopicPartition, i64> = state
            .positions
            .iter()
            .filter(|(tp, _)| !state.paused.contains(*tp))
            .filter_map(|(tp, p)| p.map(|p| (tp.clone(), p)))
            .collect();
        let fetcher = &self.inner.fetcher;
        fetcher.sync(&active);
        for (tp, high_watermark) in fetcher.high_watermarks() {
            state.high_watermarks.insert(tp, high_watermark);
        }
        while state.buffer.len() < self.inner.config.max_poll_records {
            let completed = match fetcher.take() {
                None => break,
                Some(Taken::Error(e)) => return Err(e),
                Some(Taken::Fetch(completed)) => completed,
            };
            let tp = completed.tp;
            let offset = completed.fetch_offset;
            if state.positions.get(&tp) != Some(&Some(offset)) || state.paused.contains(&tp) {
                continue; // changed since the sync above (cannot happen under the lock)
            }
            match completed.outcome {
                PartitionFetch::Records {
                    records,
                    next_offset,
                    high_watermark,
                } => {
                    state.high_watermarks.insert(tp.clone(), high_watermark);
                    // Present: checked above.
                    if let Some(position) = state.positions.get_mut(&tp) {
                        *position = Some(next_offset);
                    }
                    state.buffer.push(tp, records);
                }
                PartitionFetch::Error(code) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                    if self.inner.config.auto_offset_reset == AutoOffsetReset::Error {
                        return Err(Error::OffsetOutOfRange {
                            topic: tp.topic,
                            partition: tp.partition,
                            offset,
                        });
                    }
                    state.positions.insert(tp.clone(), None);
                    state.consumed.remove(&tp);
                }
                PartitionFetch::Error(code) => return Err(Error::broker(code, tp.to_string())),
                PartitionFetch::Corrupt(e) => return Err(e),
            }
        }
        Ok(())
    }
}
