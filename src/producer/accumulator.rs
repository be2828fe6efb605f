//! Per-partition queues of record batches, encoded as records arrive.
//!
//! `send` appends to the open batch of its partition; the sender takes the oldest batch of a
//! partition once it is full, its `linger.ms` has passed, or a flush asks for it. Only one
//! batch per partition is in flight at a time, which keeps per-partition order through
//! retries without relying on the broker.

use crate::error::{Error, Result};
use crate::protocol::compression::Compression;
use crate::protocol::record_batch::BatchBuilder;
use crate::record::{Header, RecordMetadata, TopicPartition};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Where a record's outcome is delivered.
pub(crate) type DeliverySender = oneshot::Sender<Result<RecordMetadata>>;

/// A batch for one partition, open for appends until the sender takes it.
pub(crate) struct Batch {
    pub tp: TopicPartition,
    builder: Option<BatchBuilder>,
    /// The encoded batch, once closed; retries resend these exact bytes.
    pub encoded: Option<Bytes>,
    /// One entry per record, in offset-delta order: its delivery channel and timestamp.
    pub records: Vec<(DeliverySender, i64)>,
    pub created: Instant,
    /// Not sent again before this instant (retry backoff).
    pub retry_at: Option<Instant>,
    pub attempts: u32,
}

impl Batch {
    /// Closes the batch for appends and encodes it, once.
    pub(crate) fn close(&mut self) -> Bytes {
        if let Some(builder) = self.builder.take() {
            self.encoded = Some(builder.finish(Default::default()));
        }
        self.encoded.clone().unwrap_or_default()
    }

    /// Resolves every record of the batch with `outcome(offset_delta, timestamp)`.
    pub(crate) fn complete(self, outcome: impl Fn(usize, i64) -> Result<RecordMetadata>) {
        for (i, (reply, timestamp)) in self.records.into_iter().enumerate() {
            let _ = reply.send(outcome(i, timestamp));
        }
    }

    pub(crate) fn fail(self, error: impl Fn() -> Error) {
        self.complete(|_, _| Err(error()));
    }
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<Batch>,
    in_flight: bool,
}

/// Settings that shape batches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchSettings {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    pub compression_level: Option<i32>,
}

pub(crate) struct Accumulator {
    settings: BatchSettings,
    queues: Mutex<HashMap<TopicPartition, Queue>>,
}

/// What the sender should do next.
pub(crate) struct Drain {
    /// Batches ready to send, at most one per partition.
    pub ready: Vec<Batch>,
    /// The earliest instant at which a lingering or backing-off batch becomes ready.
    pub next_wakeup: Option<Instant>,
}

impl Accumulator {
    pub(crate) fn new(settings: BatchSettings) -> Self {
        Self {
            settings,
            queues: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Queue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record; returns whether a batch became full (the sender should wake).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &self,
        tp: &TopicPartition,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        record_size: usize,
        reply: DeliverySender,
    ) -> bool {
        let mut queues = self.lock();
        let queue = queues.entry(tp.clone()).or_default();
        let fits = queue.batches.back().is_some_and(|b| {
            b.builder.as_ref().is_some_and(|builder| {
                builder.size_estimate() + record_size <= self.settings.batch_size
            })
        });
        if !fits {
            queue.batches.push_back(Batch {
                tp: tp.clone(),
                builder: Some(
                    BatchBuilder::new(
                        self.settings.compression,
                        self.settings.batch_size.max(record_size),
                    )
                    .with_compression_level(self.settings.compression_level),
                ),
                encoded: None,
                records: Vec::new(),
                created: Instant::now(),
                retry_at: None,
                attempts: 0,
            });
        }
        let Some(batch) = queue.batches.back_mut() else {
            return false;
        };
        if let Some(builder) = batch.builder.as_mut() {
            builder.append(timestamp, key, value, headers);
            batch.records.push((reply, timestamp));
            builder.size_estimate() >= self.settings.batch_size || queue.batches.len() > 1
        } else {
            false
        }
    }

    /// Takes the batches that are ready now. `flushing` ignores `linger.ms`.
    pub(crate) fn drain(
        &self,
        now: Instant,
        flushing: bool,
        leader_known: impl Fn(&TopicPartition) -> bool,
    ) -> Drain {
        let mut ready = Vec::new();
        let mut next_wakeup: Option<Instant> = None;
        let mut wake_at = |t: Instant| {
            next_wakeup = Some(next_wakeup.map_or(t, |w| w.min(t)));
        };
        for (tp, queue) in self.lock().iter_mut() {
            if queue.in_flight {
                continue;
            }
            let Some(front) = queue.batches.front() else {
                continue;
            };
            if let Some(retry_at) = front.retry_at.filter(|t| *t > now) {
                wake_at(retry_at);
                continue;
            }
            let full = queue.batches.len() > 1
                || front.encoded.is_some()
                || front
                    .builder
                    .as_ref()
                    .is_some_and(|b| b.size_estimate() >= self.settings.batch_size);
            let linger_done = front.created + self.settings.linger <= now;
            if !(full || linger_done || flushing) {
                wake_at(front.created + self.settings.linger);
                continue;
            }
            if !leader_known(tp) {
                continue;
            }
            if let Some(batch) = queue.batches.pop_front() {
                queue.in_flight = true;
                ready.push(batch);
            }
        }
        Drain { ready, next_wakeup }
    }

    /// Puts a batch back at the front of its queue for a retry after `backoff`.
    pub(crate) fn requeue(&self, mut batch: Batch, backoff: Duration) {
        batch.retry_at = Some(Instant::now() + backoff);
        batch.attempts += 1;
        let mut queues = self.lock();
        let queue = queues.entry(batch.tp.clone()).or_default();
        queue.in_flight = false;
        queue.batches.push_front(batch);
    }

    /// Marks the partition's in-flight batch done, letting its next batch go.
    pub(crate) fn done(&self, tp: &TopicPartition) {
        if let Some(queue) = self.lock().get_mut(tp) {
            queue.in_flight = false;
        }
    }

    /// Removes and returns every queued batch created before `cutoff` (delivery timeout).
    pub(crate) fn expire(&self, cutoff: Instant) -> Vec<Batch> {
        let mut expired = Vec::new();
        for queue in self.lock().values_mut() {
            while queue.batches.front().is_some_and(|b| b.created < cutoff) {
                if let Some(batch) = queue.batches.pop_front() {
                    expired.push(batch);
                }
            }
        }
        expired
    }

    /// Removes every queued batch (the producer is closing without draining).
    pub(crate) fn take_all(&self) -> Vec<Batch> {
        self.lock()
            .values_mut()
            .flat_map(|q| q.batches.drain(..))
            .collect()
    }
}
