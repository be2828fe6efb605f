//! The producer: partition, append to a batch, let the sender deliver.
//!
//! ```text
//! send(record) ──▶ validate ──▶ partition ──▶ accumulator (per-partition batches)
//!                                                  │ full / linger.ms / flush
//!                                                  ▼
//!                                  sender task ──▶ ProduceRequest per leader ──▶ Delivery resolves
//! ```
//! See `DESIGN.md` for how retries keep per-partition order.

mod accumulator;
pub mod partitioner;
mod sender;

use crate::cluster::Cluster;
use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::protocol::record_batch::BatchBuilder;
use crate::record::{ProducerRecord, RecordMetadata, TopicPartition};
use crate::topic::validate_topic_name;
use accumulator::{Accumulator, BatchSettings};
use partitioner::PartitionChooser;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};

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
    wake: Arc<Notify>,
    outstanding: AtomicUsize,
    flushers: AtomicUsize,
    settled: Notify,
    closed: AtomicBool,
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
}

/// The outcome of one `send`: where the record was written, or why it was not.
///
/// Dropping it does not cancel the send.
#[must_use = "a Delivery tells whether the record was written; await it or drop it knowingly"]
pub struct Delivery {
    rx: oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for Delivery {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

impl Producer {
    /// Validates the configuration and connects to the cluster.
    pub async fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::connect(crate::client::cluster_settings(&config.client)?).await?;
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
            config,
            cluster,
            wake: Arc::new(Notify::new()),
            outstanding: AtomicUsize::new(0),
            flushers: AtomicUsize::new(0),
            settled: Notify::new(),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(sender::run(Arc::downgrade(&shared)));
        Ok(Producer { shared })
    }

    /// Queues a record. Resolves once the record is in a batch; the returned [`Delivery`]
    /// resolves when the broker has acknowledged it (per `acks`) or it has failed.
    ///
    /// Errors here mean the record was not queued: an invalid topic or partition, a record
    /// larger than `max.request.size`, a topic whose metadata does not arrive within
    /// `max.block.ms`, or a closed producer.
    pub async fn send(&self, record: ProducerRecord) -> Result<Delivery> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        validate_topic_name(&record.topic)?;
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let size = BatchBuilder::encoded_record_size(
            0,
            0,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        ) + crate::protocol::record_batch::BATCH_HEADER_LEN;
        if size > s.config.max_request_size {
            return Err(Error::RecordTooLarge {
                size,
                max: s.config.max_request_size,
                setting: "max.request.size",
            });
        }
        let topic = s.cluster.topic(&record.topic, s.config.max_block).await?;
        let count = topic.partitions.len();
        let partition = match record.partition {
            Some(p) if p >= 0 && (p as usize) < count => p,
            Some(p) => {
                return Err(Error::InvalidPartition {
                    topic: record.topic,
                    partition: p,
                    count,
                })
            }
            None => {
                let available: Vec<i32> = topic
                    .partitions
                    .iter()
                    .filter(|p| p.leader.is_some())
                    .map(|p| p.id)
                    .collect();
                let choice = s.partitioner.choose(
                    &record.topic,
                    record.key.as_deref(),
                    record.value.as_deref(),
                    count as i32,
                    &available,
                )?;
                if choice.sticky {
                    s.partitioner
                        .record_appended(&record.topic, choice.partition, size, true);
                }
                choice.partition
            }
        };
        let tp = TopicPartition::new(record.topic, partition);
        let (reply, rx) = oneshot::channel();
        s.outstanding.fetch_add(1, Ordering::AcqRel);
        let full = s.accumulator.append(
            &tp,
            timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
            size,
            reply,
        );
        if full || s.config.linger.is_zero() {
            s.wake.notify_one();
        }
        Ok(Delivery { rx })
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
    /// Records still undelivered then fail with [`Error::Closed`]; returns how many did.
    pub async fn close(&self, timeout: Duration) -> usize {
        let s = &self.shared;
        s.closed.store(true, Ordering::Release);
        s.wake.notify_one();
        if tokio::time::timeout(timeout, self.flush()).await.is_ok() {
            return 0;
        }
        let abandoned = s.accumulator.take_all();
        let count = abandoned.iter().map(|b| b.records.len()).sum();
        for batch in abandoned {
            batch.fail(|| Error::Closed);
        }
        s.records_settled(count);
        count
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
