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
mod idempotence;
mod metrics;
mod outcome;
mod partition_chooser;
mod sender;
mod settle;

use crate::cluster::Cluster;
use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::protocol::record_batch::{record_fixed_len, BatchBuilder, BATCH_HEADER_LEN};
use crate::record::{ProducerRecord, RecordMetadata};
use crate::sync::lock;
use crate::topic::validate_topic_name;
use accumulator::{Accumulator, Appended};
use batch::{Append, BatchSettings, Reply};
pub use delivery::Delivery;
use idempotence::Idempotence;
pub use metrics::ProducerMetrics;
use partition_chooser::PartitionChooser;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// Sends records to Kafka. Cheap to clone; clones share batches and connections.
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
    outstanding: AtomicUsize,
    flushers: AtomicUsize,
    settled: Notify,
    closed: AtomicBool,
    /// Set once; read for every record, so a lock-free cell.
    fatal: OnceLock<String>,
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
        self.flushers.load(Ordering::Acquire) > 0 || self.closed.load(Ordering::Acquire)
    }

    fn closed_and_empty(&self) -> bool {
        self.closed.load(Ordering::Acquire) && self.outstanding.load(Ordering::Acquire) == 0
    }

    fn records_settled(&self, count: usize) {
        self.outstanding.fetch_sub(count, Ordering::AcqRel);
        self.settled.notify_waiters();
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
        self.fatal.get().cloned().map(Error::Fatal)
    }

    /// The producer cannot go on: every waiting record and every later call fails. The first
    /// reason is the one every later call reports.
    fn go_fatal(&self, reason: String) {
        tracing::error!(%reason, "producer is fatal");
        let _ = self.fatal.set(reason.clone());
        for batch in self.accumulator.take_all() {
            let reason = reason.clone();
            self.fail(batch, &move || Error::Fatal(reason.clone()));
        }
    }
}

impl Producer {
    /// Validates the configuration, connects, and (with `enable.idempotence`) obtains a
    /// producer id.
    pub async fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::connect(crate::cluster::cluster_settings(&config.client)?).await?;
        let idempotence = if config.enable_idempotence {
            let (producer_id, epoch) =
                idempotence::init_producer_id(&cluster, None, config.max_block).await?;
            Some(Idempotence::new(producer_id, epoch))
        } else {
            None
        };
        // The semaphore counts bytes in a u32 per acquisition; larger budgets are capped.
        let memory_limit = config.buffer_memory.min(u32::MAX as usize);
        let shared = Arc::new(Shared {
            accumulator: Accumulator::new(BatchSettings {
                batch_size: config.batch_size,
                linger: config.linger,
                compression: config.compression,
                compression_level: config.compression_level,
            }),
            partitioner: PartitionChooser::new(
                config.partitioner.clone(),
                config.partitioner_ignore_keys,
                config.batch_size,
            ),
            idempotence,
            memory: Arc::new(Semaphore::new(memory_limit)),
            memory_limit,
            metrics: metrics::Counters::default(),
            in_flight: Mutex::new(HashMap::new()),
            config,
            cluster,
            wake: Arc::new(Notify::new()),
            outstanding: AtomicUsize::new(0),
            flushers: AtomicUsize::new(0),
            settled: Notify::new(),
            closed: AtomicBool::new(false),
            fatal: OnceLock::new(),
        });
        tokio::spawn(sender::run(Arc::downgrade(&shared)));
        Ok(Producer { shared })
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
    /// If this returns `Ok`, `callback` is called exactly once, on a task of the producer,
    /// and callbacks for records of one partition are called in the order the records were
    /// sent. If it returns an error, the record was not queued and `callback` is not called.
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

    async fn enqueue(
        &self,
        record: ProducerRecord,
        wait_for_memory: bool,
        reply: Reply,
    ) -> Result<Option<Delivery>> {
        let s = &self.shared;
        if let Some(e) = s.fatal_error() {
            return Err(e);
        }
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let fixed_len = record_fixed_len(
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        );
        let size = BatchBuilder::encoded_record_size(fixed_len, 0, 0) + BATCH_HEADER_LEN;
        for (max, setting) in [
            (s.config.max_request_size, "max.request.size"),
            (s.memory_limit, "buffer.memory"),
        ] {
            if size > max {
                return Err(Error::RecordTooLarge { size, max, setting });
            }
        }
        // max.block.ms bounds the metadata wait and the memory wait together; the clock is
        // only read when one of them has to wait.
        let mut deadline = None;
        let topic = match s.cluster.cached_topic(&record.topic) {
            // Known to the broker, so a valid name.
            Some(topic) => topic,
            None => {
                validate_topic_name(&record.topic)?;
                deadline = Some(Instant::now() + s.config.max_block);
                s.cluster.topic(&record.topic, s.config.max_block).await?
            }
        };
        let count = topic.partitions.len();
        let partition = match record.partition {
            Some(p) if p >= 0 && (p as usize) < count => p,
            Some(p) => {
                return Err(Error::InvalidPartition {
                    topic: record.topic.to_string(),
                    partition: p,
                    count,
                })
            }
            None => s.partitioner.choose(
                &record.topic,
                record.key.as_deref(),
                record.value.as_deref(),
                count as i32,
                &topic.available,
                size,
            )?,
        };
        let append = Append {
            timestamp: record.timestamp.unwrap_or_else(now_ms),
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
            size,
            fixed_len,
        };
        let mut reply = Some(reply);
        s.outstanding.fetch_add(1, Ordering::AcqRel);
        let appended = s
            .accumulator
            .try_append(&record.topic, partition, &append, &mut reply);
        // A new batch wakes the sender too, so it schedules that batch's linger deadline
        // instead of finding it at its next periodic tick.
        let (wake, delivery) = match appended {
            Appended::Yes { full, delivery } => (full, delivery),
            Appended::NeedsBatch => {
                let capacity = s.accumulator.batch_capacity(size);
                let needed = u32::try_from(capacity).unwrap_or(u32::MAX);
                let reservation = if wait_for_memory {
                    let deadline = deadline.unwrap_or_else(|| Instant::now() + s.config.max_block);
                    let acquire = s.memory.clone().acquire_many_owned(needed);
                    tokio::time::timeout_at(deadline, acquire)
                        .await
                        .ok()
                        .and_then(|r| r.ok())
                } else {
                    s.memory.clone().try_acquire_many_owned(needed).ok()
                };
                let (Some(reservation), Some(reply)) = (reservation, reply.take()) else {
                    s.outstanding.fetch_sub(1, Ordering::AcqRel);
                    return Err(Error::BufferFull {
                        needed: capacity,
                        limit: s.memory_limit,
                    });
                };
                let accumulator = &s.accumulator;
                let delivery =
                    accumulator.append_new(&record.topic, partition, &append, reply, reservation);
                (true, delivery)
            }
        };
        if wake || s.config.linger.is_zero() {
            s.wake.notify_one();
        }
        Ok(delivery)
    }

    /// Waits until every record sent before this call has been acknowledged or has failed.
    /// Batches are sent at once, ignoring `linger.ms`.
    pub async fn flush(&self) {
        let s = &self.shared;
        s.flushers.fetch_add(1, Ordering::AcqRel);
        s.wake.notify_one();
        loop {
            let settled = s.settled.notified();
            if s.outstanding.load(Ordering::Acquire) == 0 {
                break;
            }
            // notify_waiters only wakes registered waiters; poll as a backstop.
            let _ = tokio::time::timeout(Duration::from_millis(50), settled).await;
        }
        s.flushers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Stops accepting records and delivers what is queued, waiting at most `timeout`.
    /// Records still waiting then fail with [`Error::Closed`]; returns how many did. Batches
    /// already in flight still resolve with the broker's answer.
    pub async fn close(&self, timeout: Duration) -> usize {
        let s = &self.shared;
        s.closed.store(true, Ordering::Release);
        s.wake.notify_one();
        if tokio::time::timeout(timeout, self.flush()).await.is_ok() {
            return 0;
        }
        let abandoned = s.accumulator.take_all();
        let count = abandoned.iter().map(|b| b.record_count()).sum();
        for batch in abandoned {
            s.fail(batch, &|| Error::Closed);
        }
        count
    }

    /// The producer's counters and buffer use now.
    pub fn metrics(&self) -> ProducerMetrics {
        let s = &self.shared;
        let in_use = s.memory_limit - s.memory.available_permits().min(s.memory_limit);
        s.metrics.snapshot(in_use, s.memory_limit)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
