//! The producer load: numbered unique values sent at a steady rate by an idempotent
//! producer (acks=all). Each record's callback feeds its acknowledgement to the checks as it
//! comes (per partition in offset order, which is all the checkers need), and counts it per
//! second and partition for the scenarios that ask when records flowed: a record stuck on
//! one partition does not hold back the count of the others.

use crate::checks::{value, SharedChecks};
use bytes::Bytes;
use kafkit::{Acks, Producer, ProducerConfig, ProducerMetrics, ProducerRecord, RecordMetadata};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What to send.
#[derive(Clone, Debug)]
pub struct ProduceSpec {
    pub records: u64,
    /// Records per second.
    pub rate: f64,
    pub value_len: usize,
    pub idempotent: bool,
    /// How long a record may take (`delivery.timeout.ms`): longer than any fault.
    pub delivery_timeout: Duration,
    /// `buffer.memory` (and `max.request.size` at most that); unset, the defaults. A `send` waits for room as long as a record
    /// may take (`max.block.ms` = `delivery_timeout`), so a full buffer slows the load
    /// down rather than failing records.
    pub buffer_memory: Option<usize>,
}

impl ProduceSpec {
    /// `records` idempotent 100-byte records over `over`.
    pub fn new(records: u64, over: Duration) -> ProduceSpec {
        ProduceSpec {
            records,
            rate: records as f64 / over.as_secs_f64(),
            value_len: 100,
            idempotent: true,
            delivery_timeout: Duration::from_secs(180),
            buffer_memory: None,
        }
    }
}

/// The producer's settings: acks=all, retries on (the default), 5 in flight, a short linger,
/// a request timeout short enough that a silent broker is noticed within seconds.
pub fn producer_config(bootstrap: &str, spec: &ProduceSpec) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.acks = Acks::All;
    config.enable_idempotence = spec.idempotent;
    config.max_in_flight_requests_per_connection = 5;
    config.linger = Duration::from_millis(5);
    config.delivery_timeout = spec.delivery_timeout;
    config.client.request_timeout = Duration::from_secs(5);
    if let Some(bytes) = spec.buffer_memory {
        config.buffer_memory = bytes;
        config.max_request_size = config.max_request_size.min(bytes);
        config.max_block = spec.delivery_timeout;
    }
    config
}

/// Seconds of acknowledgements the timeline holds beyond the planned length before it
/// grows: a load's end waits this long at most for the last ones.
const DRAIN_SECONDS: usize = 600;

/// Acknowledgements per second and partition, in a table allocated up front for the
/// planned length, so that a long run (the soak) does not grow the test's own memory as
/// the seconds pass.
struct Timeline {
    partitions: usize,
    /// `second * partitions + partition`.
    counts: Vec<u64>,
}

impl Timeline {
    fn new(partitions: i32, seconds: usize) -> Timeline {
        let partitions = partitions.max(1) as usize;
        Timeline {
            partitions,
            counts: vec![0; partitions * seconds],
        }
    }

    fn add(&mut self, second: u64, partition: i32) {
        let at = second as usize * self.partitions + partition as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += 1;
    }

    /// Acknowledgements in seconds `from..to` on the partitions `which` accepts.
    fn between(&self, from: u64, to: u64, which: impl Fn(i32) -> bool) -> u64 {
        let (from, to) = (from as usize, to as usize);
        self.counts
            .iter()
            .enumerate()
            .skip(from * self.partitions)
            .take(to.saturating_sub(from) * self.partitions)
            .filter(|(at, _)| which((at % self.partitions) as i32))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Live counts of a load, and when acknowledgements came.
pub struct Progress {
    t0: Instant,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failed: AtomicU64,
    /// Acknowledgements per second since `t0` and partition.
    timeline: Mutex<Timeline>,
    /// The first few failures.
    failures: Mutex<Vec<String>>,
}

impl Progress {
    /// Acknowledgements between `from` and `to` (times since the run began) on the
    /// partitions `which` accepts.
    pub fn acked_between(&self, from: Duration, to: Duration, which: impl Fn(i32) -> bool) -> u64 {
        self.timeline
            .lock()
            .unwrap()
            .between(from.as_secs(), to.as_secs(), which)
    }

    /// The time since the run began.
    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }
}

/// How the load ended.
pub struct ProduceOutcome {
    pub acked: u64,
    /// Failed sends: count, and the first few errors.
    pub failed: u64,
    pub failures: Vec<String>,
    pub metrics: ProducerMetrics,
}

impl ProduceOutcome {
    pub fn summary(&self) -> String {
        format!(
            "{} acknowledged, {} failed, {} retries, {} requests{}",
            self.acked,
            self.failed,
            self.metrics.retries,
            self.metrics.requests,
            self.failures
                .iter()
                .take(3)
                .map(|e| format!("\n    failure: {e}"))
                .collect::<String>()
        )
    }
}

/// A running producer load.
pub struct ProduceLoad {
    pub progress: Arc<Progress>,
    task: JoinHandle<ProduceOutcome>,
}

impl ProduceLoad {
    /// Starts sending `spec.records` values to `topic` (`partitions` partitions), numbered
    /// from 0; `run` makes the values unique.
    pub async fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        run: &str,
        spec: ProduceSpec,
        checks: SharedChecks,
        t0: Instant,
    ) -> ProduceLoad {
        let producer = Producer::new(producer_config(bootstrap, &spec))
            .await
            .expect("producer");
        let progress = Arc::new(Progress {
            t0,
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            timeline: Mutex::new(Timeline::new(
                partitions,
                (spec.records as f64 / spec.rate) as usize + DRAIN_SECONDS,
            )),
            failures: Mutex::new(Vec::new()),
        });
        let topic: Arc<str> = Arc::from(topic);
        let run = run.to_string();
        let p = progress.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            for seq in 0..spec.records {
                // Paced in steps of 50: a sleep per record costs more than it is worth.
                if seq % 50 == 0 {
                    let due = start + Duration::from_secs_f64(seq as f64 / spec.rate);
                    tokio::time::sleep_until(due).await;
                }
                let v = Bytes::from(value(seq, &run, spec.value_len));
                let record = ProducerRecord::new(topic.clone(), v.clone());
                let (pc, cc) = (p.clone(), checks.clone());
                let sent = producer
                    .send_with_callback(record, move |outcome| {
                        settle(&pc, &cc, seq, &v, outcome.map_err(|e| e.to_string()))
                    })
                    .await;
                p.sent.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = sent {
                    settle(&p, &checks, seq, &[], Err(format!("send refused it: {e}")));
                }
            }
            producer.flush().await;
            // Flushed: every callback has run or is about to.
            while p.acked.load(Ordering::Relaxed) + p.failed.load(Ordering::Relaxed)
                < p.sent.load(Ordering::Relaxed)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ProduceOutcome {
                acked: p.acked.load(Ordering::Relaxed),
                failed: p.failed.load(Ordering::Relaxed),
                failures: p.failures.lock().unwrap().clone(),
                metrics: producer.metrics(),
            }
        });
        ProduceLoad { progress, task }
    }

    /// Waits (at most `limit`) until every send is made and every record's callback has
    /// run. A record whose callback never runs is a producer bug (neither acknowledged nor
    /// failed), so this panics.
    pub async fn finish(self, limit: Duration) -> ProduceOutcome {
        let p = self.progress.clone();
        match tokio::time::timeout(limit, self.task).await {
            Ok(outcome) => outcome.expect("the producer load panicked"),
            Err(_) => panic!(
                "the producer load did not end within {limit:?}: {} sent, {} acknowledged, \
                 {} failed",
                p.sent.load(Ordering::Relaxed),
                p.acked.load(Ordering::Relaxed),
                p.failed.load(Ordering::Relaxed)
            ),
        }
    }
}

/// Records how send `seq` ended.
fn settle(
    progress: &Progress,
    checks: &SharedChecks,
    seq: u64,
    v: &[u8],
    outcome: Result<RecordMetadata, String>,
) {
    match outcome {
        Ok(m) => {
            checks.acked(seq, v, m.partition, m.offset);
            progress.acked.fetch_add(1, Ordering::Relaxed);
            let second = progress.t0.elapsed().as_secs();
            progress.timeline.lock().unwrap().add(second, m.partition);
        }
        Err(e) => {
            progress.failed.fetch_add(1, Ordering::Relaxed);
            let mut failures = progress.failures.lock().unwrap();
            if failures.len() < 20 {
                failures.push(format!("send {seq}: {e}"));
            }
        }
    }
}
