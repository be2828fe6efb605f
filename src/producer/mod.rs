//! The producer: partition, reserve memory, append to a batch, let the sender deliver.
//!
//! ```text
//! send(record) ──▶ validate ──▶ metadata ──▶ partition ──▶ reserve buffer.memory (new batch)
//!                                                              │
//!                                accumulator (per-partition batches) ◀┘
//!                                     │ full / linger.ms / flush
//!                                     ▼
//!                    sender task ──▶ ProduceRequest per leader ──▶ Delivery resolves
//! ```
//! See `DESIGN.md` for retries, sequence numbers and epoch bumps.

mod accumulator;
mod batch;
mod delivery;
mod flush;
#[cfg(feature = "fuzzing")]
pub mod hooks;
mod idempotence;
mod metrics;
mod outcome;
mod partition_chooser;
mod sender;
mod settle;
mod telemetry;
mod transaction;
mod txn_state;
mod typed;

use crate::cluster::{Cluster, TopicInfo};
use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::protocol::record_batch::{record_fixed_len, BatchBuilder, BATCH_HEADER_LEN};
use crate::record::{ProducerRecord, RecordMetadata};
use crate::retry::deadline_after;
use crate::sync::lock;
use crate::topic::validate_topic_name;
use accumulator::{Accumulator, Appended};
use batch::{Append, BatchSettings, Reply};
pub use delivery::Delivery;
use idempotence::Idempotence;
pub use metrics::ProducerMetrics;
use outcome::FailWith;
use partition_chooser::PartitionChooser;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
pub use typed::{TypedProducer, TypedProducerRecord};

/// Sends records to Kafka. Cheap to clone; clones share batches and connections.
///
/// [`close`](Self::close) delivers what is queued. Dropping the last clone without it gives
/// up instead: records not yet delivered fail with [`Error::Dropped`] (or
/// [`Error::OutcomeUnknown`] around it, if they may have been written).
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::{Producer, ProducerConfig, ProducerRecord};
/// let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
/// let delivery = producer.send(ProducerRecord::new("my_topic", "Hello Kafka")).await?;
/// let metadata = delivery.await?;
/// println!("written at offset {}", metadata.offset);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Shared>,
    /// Held by the clones only (the producer's own tasks hold `shared`): dropping the last
    /// clone gives up on what is left.
    _last_clone: Arc<LastClone>,
}

/// Dropped with the producer's last clone.
struct LastClone(Arc<Shared>);

impl Drop for LastClone {
    fn drop(&mut self) {
        self.0.dropped();
        self.0.abort_dropped_transaction();
    }
}

pub(crate) struct Shared {
    config: ProducerConfig,
    cluster: Cluster,
    accumulator: Accumulator,
    partitioner: PartitionChooser,
    idempotence: Option<Idempotence>,
    /// `buffer.memory`, in bytes; each batch holds a reservation for its capacity.
    memory: Arc<Semaphore>,
    memory_limit: usize,
    metrics: metrics::Counters,
    /// Produce requests in flight per broker id.
    in_flight: Mutex<HashMap<i32, usize>>,
    wake: Arc<Notify>,
    /// Records sent and not yet settled.
    outstanding: AtomicUsize,
    /// Unsettled batches by flush generation, and flushes under way.
    tracker: Arc<flush::Tracker>,
    closed: AtomicBool,
    /// With `transactional.id`: the transaction's state and coordinator.
    txn: Option<transaction::Transactions>,
    /// Set once; read for every record, so a lock-free cell.
    fatal: OnceLock<Error>,
    /// Set once the producer gives up on every batch it holds (`close` past its timeout, the
    /// last clone dropped, fatal): the error they fail with instead of being sent or retried.
    abandoned: OnceLock<Error>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.shared;
        f.debug_struct("Producer")
            .field("bootstrap_servers", &s.config.client.bootstrap_servers)
            .field("client_id", &s.config.client.client_id)
            .field("outstanding", &s.outstanding.load(Ordering::Relaxed))
            .field("closed", &s.closed.load(Ordering::Relaxed))
            .field("fatal", &s.fatal.get())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn flushing(&self) -> bool {
        self.tracker.flushing() || self.closed.load(Ordering::Acquire)
    }

    fn closed_and_empty(&self) -> bool {
        // SeqCst with `Outstanding::count` and `check_open`: see there.
        self.closed.load(Ordering::SeqCst) && self.outstanding.load(Ordering::SeqCst) == 0
    }

    fn records_settled(&self, count: usize) {
        self.outstanding.fetch_sub(count, Ordering::AcqRel);
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<i32, usize>> {
        lock(&self.in_flight)
    }

    fn in_flight_snapshot(&self) -> HashMap<i32, usize> {
        self.lock_in_flight().clone()
    }

    fn requests_in_flight(&self) -> usize {
        self.lock_in_flight().values().sum()
    }

    fn request_started(&self, broker: i32) {
        *self.lock_in_flight().entry(broker).or_default() += 1;
    }

    fn request_finished(&self, broker: i32) {
        if let Some(n) = self.lock_in_flight().get_mut(&broker) {
            *n = n.saturating_sub(1);
        }
    }

    fn fatal_error(&self) -> Option<Error> {
        self.fatal.get().cloned()
    }

    /// The producer cannot go on: every waiting record and every later call fails. The first
    /// error is the one every later call reports.
    fn go_fatal(&self, error: Error) {
        tracing::error!(%error, "producer is fatal");
        let _ = self.fatal.set(error);
        if let Some(first) = self.fatal.get() {
            self.abandon(first.clone());
        }
    }

    /// Gives up on every batch: those waiting fail now with `why` (saying so if they may have
    /// been written), those in flight when their answer comes unless it is final. Returns how
    /// many records failed now.
    fn abandon(&self, why: Error) -> usize {
        let _ = self.abandoned.set(why);
        self.wake.notify_one();
        self.give_up_waiting()
    }

    /// Once abandoned, fails whatever waits in the queues (batches back from a request since).
    fn give_up_waiting(&self) -> usize {
        if self.abandoned.get().is_none() {
            return 0;
        }
        let batches = self.accumulator.take_all();
        let count = batches.iter().map(|b| b.record_count()).sum();
        self.give_up(batches, FailWith::Abandoned);
        count
    }

    /// The last clone was dropped without `close`: nothing will flush or close it, so nothing
    /// waits for the records; each fails with `Dropped` (or is resolved by its answer, if in
    /// flight), and the sender ends once the in-flight requests are settled.
    fn dropped(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.abandon(Error::Dropped);
    }
}

impl Shared {
    /// The producer's state, before its sender task starts.
    fn new(
        config: ProducerConfig,
        cluster: Cluster,
        idempotence: Option<Idempotence>,
    ) -> Arc<Self> {
        let txn = config.transactional_id.clone().map(|id| {
            transaction::Transactions::new(cluster.clone(), id, config.transaction_timeout)
        });
        // The semaphore counts bytes in a u32 per acquisition; larger budgets are capped.
        let memory_limit = config.buffer_memory.min(u32::MAX as usize);
        let tracker = Arc::new(flush::Tracker::default());
        let batch_settings = BatchSettings {
            batch_size: config.batch_size,
            linger: config.linger,
            compression: config.compression,
            compression_level: config.compression_level,
        };
        Arc::new(Shared {
            // With idempotence the broker's sequence check keeps a partition's batches in
            // order however many are in flight; without, a retry could land after a later
            // batch, so one batch per partition goes at a time.
            accumulator: Accumulator::new(
                batch_settings,
                if idempotence.is_some() {
                    config.max_in_flight_requests_per_connection
                } else {
                    1
                },
                tracker.clone(),
            ),
            partitioner: PartitionChooser::new(
                config.partitioner.clone(),
                config.partitioner_ignore_keys,
                config.batch_size,
            ),
            idempotence,
            memory: Arc::new(Semaphore::new(memory_limit)),
            memory_limit,
            metrics: metrics::Counters::new(&config.client.client_id, memory_limit),
            in_flight: Mutex::new(HashMap::new()),
            config,
            cluster,
            wake: Arc::new(Notify::new()),
            outstanding: AtomicUsize::new(0),
            tracker,
            closed: AtomicBool::new(false),
            txn,
            fatal: OnceLock::new(),
            abandoned: OnceLock::new(),
        })
    }

    /// Fails a send at once, before anything is queued, when the producer cannot take it.
    fn check_open(&self) -> Result<()> {
        if let Some(e) = self.fatal_error() {
            return Err(e);
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The record's fixed encoded length and its size in a batch of its own, checked against
    /// `max.request.size` and `buffer.memory`.
    fn measure(&self, record: &ProducerRecord) -> Result<(usize, usize)> {
        // The encoder's lengths are i32s: a record near 2 GiB cannot be measured, and is over
        // max.request.size (at most i32::MAX) anyway.
        let bound = encoded_len_bound(record);
        let (fixed_len, size) = if bound <= i32::MAX as usize {
            let fixed_len = record_fixed_len(
                record.key.as_deref(),
                record.value.as_deref(),
                &record.headers,
            );
            let size = BatchBuilder::encoded_record_size(fixed_len, 0, 0) + BATCH_HEADER_LEN;
            (fixed_len, size)
        } else {
            (bound, bound)
        };
        for (max, setting) in [
            (self.config.max_request_size, "max.request.size"),
            (self.memory_limit, "buffer.memory"),
        ] {
            if size > max {
                return Err(Error::RecordTooLarge { size, max, setting });
            }
        }
        Ok((fixed_len, size))
    }

    /// Metadata for a topic not in the cache: the name is checked, then metadata awaited
    /// until the `max.block.ms` deadline, which this sets.
    async fn await_metadata(
        &self,
        topic: &str,
        deadline: &mut Option<Instant>,
    ) -> Result<Arc<TopicInfo>> {
        validate_topic_name(topic)?;
        *deadline = Some(deadline_after(self.config.max_block));
        self.cluster.topic(topic, self.config.max_block).await
    }

    /// The record's own partition if it names a valid one, else the partitioner's choice.
    fn partition_for(
        &self,
        record: &ProducerRecord,
        topic: &TopicInfo,
        size: usize,
    ) -> Result<i32> {
        let count = topic.partitions.len();
        match record.partition {
            Some(p) if p >= 0 && (p as usize) < count => Ok(p),
            Some(p) => Err(Error::InvalidPartition {
                topic: record.topic.to_string(),
                partition: p,
                count,
            }),
            None => self.partitioner.choose(
                &record.topic,
                record.key.as_deref(),
                record.value.as_deref(),
                count as i32,
                &topic.available,
                size,
            ),
        }
    }

    /// A new batch's share of `buffer.memory`: waited for until `deadline` (or
    /// `max.block.ms` from now), or taken only if free now.
    async fn reserve(
        &self,
        record_size: usize,
        wait: bool,
        deadline: Option<Instant>,
    ) -> Result<OwnedSemaphorePermit> {
        let capacity = self.accumulator.batch_capacity(record_size);
        let needed = u32::try_from(capacity).unwrap_or(u32::MAX);
        let reservation = if wait {
            let deadline = deadline.unwrap_or_else(|| deadline_after(self.config.max_block));
            let acquire = self.memory.clone().acquire_many_owned(needed);
            tokio::time::timeout_at(deadline, acquire)
                .await
                .ok()
                .and_then(|r| r.ok())
        } else {
            self.memory.clone().try_acquire_many_owned(needed).ok()
        };
        reservation.ok_or(Error::BufferFull {
            needed: capacity,
            limit: self.memory_limit,
        })
    }
}

impl Producer {
    /// Validates the configuration, connects, and (with `enable.idempotence`) obtains a
    /// producer id. With `transactional.id` the producer id comes from
    /// [`init_transactions`](Self::init_transactions) instead.
    pub async fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::connect(crate::cluster::cluster_settings(&config.client)?).await?;
        let idempotence = if config.transactional_id.is_some() {
            Some(Idempotence::new(-1, -1, true))
        } else if config.enable_idempotence {
            let (producer_id, epoch) =
                idempotence::init_producer_id(&cluster, None, config.max_block).await?;
            Some(Idempotence::new(producer_id, epoch, false))
        } else {
            None
        };
        let shared = Shared::new(config, cluster, idempotence);
        tokio::spawn(sender::run(Arc::downgrade(&shared)));
        Ok(Producer {
            _last_clone: Arc::new(LastClone(shared.clone())),
            shared,
        })
    }

    /// Queues a record. Resolves once the record is in a batch; the returned [`Delivery`]
    /// resolves when the broker has acknowledged it (per `acks`) or it has failed.
    ///
    /// When `buffer.memory` is spent this waits for room, up to `max.block.ms` in all
    /// (metadata included), then fails with [`Error::BufferFull`]. Other errors here mean the
    /// record was not queued: an invalid topic or partition, a record larger than
    /// `max.request.size` or `buffer.memory`, missing metadata, a closed or fatal producer.
    pub async fn send(&self, record: ProducerRecord) -> Result<Delivery> {
        // A `Reply::Future` always comes back with its Delivery.
        self.enqueue(record, true, Reply::Future)
            .await?
            .ok_or(Error::Closed)
    }

    /// Like [`send`](Self::send), but fails at once with [`Error::BufferFull`] instead of
    /// waiting when `buffer.memory` is spent (it may still wait for a topic's metadata).
    pub async fn try_send(&self, record: ProducerRecord) -> Result<Delivery> {
        self.enqueue(record, false, Reply::Future)
            .await?
            .ok_or(Error::Closed)
    }

    /// Like [`send`](Self::send), but the outcome goes to `callback` instead of a
    /// [`Delivery`] future, as with the Java client's `send(record, callback)`. The fastest
    /// way to produce many records: no future to poll and no task to wake per record.
    ///
    /// If this returns `Ok`, `callback` is called exactly once, on a task of the producer
    /// (or, for records the producer gives up on, in `close` past its timeout or where its
    /// last clone is dropped), and callbacks for records of one partition are called in the
    /// order the records were sent. If it returns an error, the record was not queued and
    /// `callback` is not called.
    /// Callbacks run where the producer settles batches, so they should be quick: hand long
    /// work to a channel or a task. A panicking callback is logged and does not stop the
    /// producer.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafkit::Producer) -> kafkit::Result<()> {
    /// use kafkit::ProducerRecord;
    /// producer
    ///     .send_with_callback(ProducerRecord::new("my_topic", "Hello Kafka"), |outcome| {
    ///         if let Err(e) = outcome {
    ///             eprintln!("not written: {e}");
    ///         }
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_with_callback<F>(&self, record: ProducerRecord, callback: F) -> Result<()>
    where
        F: FnOnce(Result<RecordMetadata>) + Send + 'static,
    {
        self.enqueue(record, true, Reply::Callback(Box::new(callback)))
            .await
            .map(drop)
    }

    /// `send`'s steps: check, measure, find the topic and the partition, append.
    async fn enqueue(
        &self,
        record: ProducerRecord,
        wait_for_memory: bool,
        reply: Reply,
    ) -> Result<Option<Delivery>> {
        let s = &self.shared;
        // Counted before the closed check: either the sender, once closed, sees this record
        // outstanding and stays to deliver it, or this send sees the producer closed.
        let counted = Outstanding::count(&s.outstanding);
        s.check_open()?;
        s.txn_check_send()?;
        let (fixed_len, size) = s.measure(&record)?;
        // max.block.ms bounds the metadata wait and the memory wait together; the clock is
        // only read when one of them has to wait.
        let mut deadline = None;
        let topic = match s.cluster.cached_topic(&record.topic) {
            // Known to the broker, so a valid name.
            Some(topic) => topic,
            None => s.await_metadata(&record.topic, &mut deadline).await?,
        };
        let partition = s.partition_for(&record, &topic, size)?;
        let append = Append {
            timestamp: record.timestamp.unwrap_or_else(now_ms),
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
            size,
            fixed_len,
        };
        let topic = &record.topic;
        let appended = {
            // In a transaction, the record joins it with its partition under the state's
            // lock, so an abort either sees it queued or refuses it.
            let _joined = s.join_transaction(topic, partition)?;
            s.accumulator.try_append(topic, partition, &append, reply)
        };
        let (wake, delivery) = match appended {
            Appended::Yes { full, delivery } => (full, delivery),
            Appended::NeedsBatch(reply) => {
                let reservation = s.reserve(size, wait_for_memory, deadline).await?;
                let _joined = s.join_transaction(topic, partition)?;
                // A new batch wakes the sender too, so it schedules that batch's linger
                // deadline instead of finding it at its next periodic tick.
                let accumulator = &s.accumulator;
                let delivery =
                    accumulator.append_new(topic, partition, &append, reply, reservation);
                (true, delivery)
            }
        };
        counted.queued();
        if wake || s.config.linger.is_zero() {
            s.wake.notify_one();
        }
        Ok(delivery)
    }

    /// Waits until every record sent before this call has been acknowledged or has failed
    /// (its [`Delivery`] resolved, or its callback called). Waiting batches are sent at once,
    /// ignoring `linger.ms`, while a flush is under way.
    ///
    /// As with Java's `flush`, records sent by other tasks while this waits are sent at once
    /// too, but not waited for, unless they joined a batch of the earlier records: a steady
    /// stream of sends cannot keep a flush from returning. Dropping the future ends the flush.
    pub async fn flush(&self) {
        let s = &self.shared;
        let flush = s.tracker.begin_flush();
        s.wake.notify_one();
        flush.settled().await;
    }

    /// Stops accepting records and delivers what is queued, waiting at most `timeout`.
    /// A send already under way (waiting for metadata or memory) still queues its record,
    /// which is delivered like the others.
    ///
    /// Past `timeout`, the producer gives up: records still waiting fail with
    /// [`Error::Closed`], or with [`Error::OutcomeUnknown`] wrapping it if an earlier send of
    /// theirs may have been written; returns how many did. A batch in flight then still
    /// resolves with the broker's answer if it is final, and fails the same way if it would be
    /// retried.
    ///
    /// A transactional producer in a transaction aborts it first (as Java's `close` does),
    /// within the same `timeout`.
    pub async fn close(&self, timeout: Duration) -> usize {
        let s = &self.shared;
        let started = Instant::now();
        self.abort_on_close(timeout).await;
        let timeout = timeout.saturating_sub(started.elapsed());
        s.closed.store(true, Ordering::SeqCst);
        s.wake.notify_one();
        if tokio::time::timeout(timeout, s.tracker.all_settled())
            .await
            .is_ok()
        {
            return 0;
        }
        s.abandon(Error::Closed)
    }

    /// The producer's counters and buffer use now.
    pub fn metrics(&self) -> ProducerMetrics {
        let s = &self.shared;
        let in_use = s.memory_limit - s.memory.available_permits().min(s.memory_limit);
        s.metrics.snapshot(in_use, s.memory_limit)
    }
}

/// A record counted as outstanding from the start of its send, so the sender does not stop
/// while the record waits for metadata or memory. Uncounted again if the send fails, or if
/// its future is dropped, before the record is queued.
struct Outstanding<'a>(&'a AtomicUsize);

impl<'a> Outstanding<'a> {
    fn count(outstanding: &'a AtomicUsize) -> Self {
        outstanding.fetch_add(1, Ordering::SeqCst);
        Outstanding(outstanding)
    }

    /// The record is in a batch, which uncounts it when it is settled.
    fn queued(self) {
        std::mem::forget(self);
    }
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// At least the record's size in a batch of its own, computed without the encoder (whose
/// lengths are i32s): the bytes plus the most their varints and the fixed fields can take.
fn encoded_len_bound(record: &ProducerRecord) -> usize {
    const RECORD_FIELDS: usize = 1 + 10 + 5 + 5 + 5 + 5 + 5;
    const PER_HEADER: usize = 5 + 5;
    let len = |bytes: Option<&[u8]>| bytes.map_or(0, <[u8]>::len);
    record
        .headers
        .iter()
        .fold(
            len(record.key.as_deref()).saturating_add(len(record.value.as_deref())),
            |sum, h| {
                sum.saturating_add(h.key.len())
                    .saturating_add(len(h.value.as_deref()))
                    .saturating_add(PER_HEADER)
            },
        )
        .saturating_add(RECORD_FIELDS + BATCH_HEADER_LEN)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
