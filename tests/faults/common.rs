//! What every fault test shares besides `support`: the producer settings under test, a
//! tracker that turns deliveries into checker acknowledgements in send order, and the final
//! drain of the topic into the checker.

use crate::support::{consumer_config, log};
use kafkit::{
    Acks, Admin, ClientConfig, Consumer, Delivery, OffsetSpec, Producer, ProducerConfig,
    ProducerRecord, TopicPartition,
};
use kafkit_testkit::DeliveryChecker;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Partitions of every topic under test.
pub const PARTITIONS: i32 = 3;

/// The settings the tests put under fault: acks=all, 5 ms linger, a delivery timeout long
/// enough that no fault window fails a record, a request timeout short enough that a lost
/// response is noticed quickly.
pub fn producer_config(bootstrap: &str, idempotent: bool) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.acks = Acks::All;
    config.enable_idempotence = idempotent;
    config.max_in_flight_requests_per_connection = 5;
    config.linger = Duration::from_millis(5);
    config.delivery_timeout = Duration::from_secs(120);
    config.client.request_timeout = Duration::from_secs(5);
    config
}

/// A unique value of exactly `len` bytes (or longer, if the prefix is): `{run}-{i}-xxxx…`.
/// The `-` after `i` keeps `run-1-…` and `run-11-…` apart.
pub fn value(run: &str, i: usize, len: usize) -> String {
    let mut v = format!("{run}-{i}-");
    while v.len() < len {
        v.push('x');
    }
    v
}

/// What became of the tracked sends.
pub struct Outcome {
    /// Every acknowledged send, in send order.
    pub checker: DeliveryChecker,
    /// Sends that failed (at `send` or on delivery): value and error.
    pub failed: Vec<(String, String)>,
    /// Sends acknowledged without an offset (`-1`: the broker answered
    /// DUPLICATE_SEQUENCE_NUMBER, i.e. an earlier attempt landed where the producer no longer
    /// knows). The checker cannot place them, so [`Drained::assert_contains`] checks them.
    pub acked_without_offset: Vec<String>,
    /// Every acknowledgement in send order, `(value, partition, offset)`, for [`dump`].
    pub acks: Vec<(String, i32, i64)>,
}

impl Outcome {
    /// How the deliveries ended, for a test's timeline.
    pub fn summary(&self) -> String {
        format!(
            "{} acknowledged ({} without offset), {} failed",
            self.checker.acked(),
            self.acked_without_offset.len(),
            self.failed.len()
        )
    }

    /// Panics unless at most one in a thousand of `sent` deliveries failed. Each test's
    /// delivery timeout outlasts its fault, so none should; a handful would be tolerable
    /// (absent is allowed), many means the producer gave up on records.
    pub fn assert_few_failed(&self, sent: usize, during: &str) {
        assert!(
            self.failed.len() <= sent / 1000,
            "{} of {sent} deliveries failed {during}:{}",
            self.failed.len(),
            self.failures_sample()
        );
    }

    /// The first few failures, for messages.
    pub fn failures_sample(&self) -> String {
        self.failed
            .iter()
            .take(5)
            .map(|(v, e)| format!("\n  {:.40}…: {e}", v))
            .collect()
    }
}

enum Tracked {
    Pending(String, Delivery),
    Refused(String, String),
}

/// Collects deliveries in send order and acknowledges the successful ones to a
/// [`DeliveryChecker`], which wants its acknowledgements in send order. Deliveries are awaited
/// one after the other on a task of their own, so counts are live while the test sends.
pub struct Tracker {
    tx: mpsc::UnboundedSender<Tracked>,
    task: JoinHandle<Outcome>,
    acked: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl Tracker {
    pub fn new() -> Tracker {
        let (tx, mut rx) = mpsc::unbounded_channel::<Tracked>();
        let acked = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let (a, f) = (acked.clone(), failed.clone());
        let task = tokio::spawn(async move {
            let mut outcome = Outcome {
                checker: DeliveryChecker::new(),
                failed: Vec::new(),
                acked_without_offset: Vec::new(),
                acks: Vec::new(),
            };
            while let Some(tracked) = rx.recv().await {
                match tracked {
                    Tracked::Pending(value, delivery) => match delivery.await {
                        Ok(m) if m.offset < 0 => {
                            outcome.acks.push((value.clone(), m.partition, m.offset));
                            outcome.acked_without_offset.push(value);
                            a.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(m) => {
                            outcome.acks.push((value.clone(), m.partition, m.offset));
                            outcome.checker.ack(m.partition, m.offset, value);
                            a.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            outcome.failed.push((value, e.to_string()));
                            f.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    Tracked::Refused(value, e) => {
                        outcome.failed.push((value, e));
                        f.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            outcome
        });
        Tracker {
            tx,
            task,
            acked,
            failed,
        }
    }

    /// Tracks the result of one `send`.
    pub fn track(&self, value: String, sent: kafkit::Result<Delivery>) {
        let tracked = match sent {
            Ok(delivery) => Tracked::Pending(value, delivery),
            Err(e) => Tracked::Refused(value, format!("send refused it: {e}")),
        };
        self.tx.send(tracked).expect("the tracker task ended early");
    }

    /// A handle on the live count of acknowledged sends.
    pub fn acked_counter(&self) -> Arc<AtomicUsize> {
        self.acked.clone()
    }

    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits (at most `limit`) for every tracked delivery to resolve. A delivery that never
    /// resolves is a producer bug (a record neither acknowledged nor failed), so this panics.
    pub async fn finish(self, limit: Duration) -> Outcome {
        let Tracker {
            tx,
            task,
            acked,
            failed,
        } = self;
        drop(tx);
        match tokio::time::timeout(limit, task).await {
            Ok(outcome) => outcome.expect("the tracker task panicked"),
            Err(_) => panic!(
                "deliveries still unresolved {limit:?} after the last send \
                 ({} acknowledged, {} failed so far): the producer lost track of records",
                acked.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed)
            ),
        }
    }
}

/// A stream of records for one test: `len`-byte unique values to `topic` (keyless: the sticky
/// partitioner spreads them over the partitions), at most `rate` per second if given, else as
/// fast as `send` accepts them.
pub struct Load<'a> {
    pub producer: &'a Producer,
    pub topic: &'a str,
    pub run: &'a str,
    pub len: usize,
    pub rate: Option<f64>,
}

impl Load<'_> {
    /// Sends the records numbered `range`, tracking each; `sent` counts the sends that have
    /// returned.
    pub async fn send(&self, range: std::ops::Range<usize>, tracker: &Tracker, sent: &AtomicUsize) {
        let start = Instant::now();
        let first = range.start;
        for i in range {
            if let Some(rate) = self.rate {
                // Pace in steps of 50 records: sleeping per record costs more than it is worth.
                let done = i - first;
                if done.is_multiple_of(50) {
                    let due = start + Duration::from_secs_f64(done as f64 / rate);
                    tokio::time::sleep_until(due).await;
                }
            }
            let v = value(self.run, i, self.len);
            let result = self
                .producer
                .send(ProducerRecord::new(self.topic, v.clone().into_bytes()))
                .await;
            tracker.track(v, result);
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Everything read back from a topic: `(partition, offset, value)` per record.
pub struct Drained {
    pub records: Vec<(i32, i64, Vec<u8>)>,
}

impl Drained {
    /// Panics unless every one of `values` was read back exactly once (the checker counts
    /// duplicates of any value; this adds the loss check for values it does not know).
    pub fn assert_contains(&self, what: &str, values: &[String]) {
        let mut count: HashMap<&[u8], usize> = HashMap::new();
        for (_, _, v) in &self.records {
            *count.entry(v.as_slice()).or_default() += 1;
        }
        let wrong: Vec<String> = values
            .iter()
            .filter(|v| count.get(v.as_bytes()).copied().unwrap_or(0) != 1)
            .map(|v| {
                let n = count.get(v.as_bytes()).copied().unwrap_or(0);
                format!("{v:.40}… read {n} times")
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{what}: {} of {} values are not in the log exactly once:\n  {}",
            wrong.len(),
            values.len(),
            wrong[..wrong.len().min(10)].join("\n  ")
        );
    }
}

/// Reads every partition of `topic` from the start up to its high watermark at the time of
/// the call, feeding each record to `checker`. Panics if the end is not reached within 60 s.
pub async fn drain(bootstrap: &str, topic: &str, checker: &mut DeliveryChecker) -> Drained {
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let admin = Admin::new(ClientConfig::new(bootstrap))
        .await
        .expect("admin client for the drain");
    let ends: HashMap<TopicPartition, i64> = admin
        .list_offsets(partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)))
        .await
        .expect("list the end offsets")
        .into_iter()
        .map(|(tp, listed)| (tp, listed.offset))
        .collect();

    let mut config = consumer_config(bootstrap);
    config.max_poll_records = 10_000;
    let consumer = Consumer::new(config).await.expect("consumer for the drain");
    consumer
        .assign(partitions.clone())
        .await
        .expect("assign every partition");

    // The next offset to expect per partition, from the records returned so far.
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll during the drain");
        let empty = batch.is_empty();
        for r in batch {
            let value = r.value.map(|v| v.to_vec()).unwrap_or_default();
            checker.observe(r.partition, r.offset, value.clone());
            next.insert(r.partition, r.offset + 1);
            records.push((r.partition, r.offset, value));
        }
        let mut done = true;
        for tp in &partitions {
            let end = ends[tp];
            let returned = next.get(&tp.partition).copied().unwrap_or(0) >= end;
            // An empty poll means nothing is buffered, so the fetch position is what was
            // returned (it may skip offsets that hold no readable record).
            let fetched = empty && consumer.position(tp).await.unwrap_or(0) >= end;
            done &= returned || fetched;
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drain did not reach the end offsets {ends:?} within 60 s; read up to {next:?}"
        );
    }
    Drained { records }
}

/// The end of every test that expects exactly-once delivery: drains `topic` into a copy of
/// the outcome's checker, dumps the run as `name` (see [`dump`]), and panics unless every
/// acknowledged record is in the log exactly once and in send order (`what` names the
/// scenario). Returns what was drained.
pub async fn assert_delivered_once(
    t0: Instant,
    name: &str,
    what: &str,
    bootstrap: &str,
    topic: &str,
    outcome: &Outcome,
) -> Drained {
    let mut checker = outcome.checker.clone();
    let drained = drain(bootstrap, topic, &mut checker).await;
    let report = checker.report();
    dump(name, outcome, &drained);
    log(
        t0,
        format!("drained {} records; {report}", drained.records.len()),
    );
    drained.assert_contains(
        "acknowledged without an offset",
        &outcome.acked_without_offset,
    );
    assert!(
        report.is_clean(),
        "{what}: the delivery checker found faults:\n{report}"
    );
    drained
}

/// With `FAULTS_DUMP=<dir>` set, writes `<dir>/<name>.acks` (send order: value, partition,
/// offset or `failed: error`) and `<dir>/<name>.log` (the drained records in read order), for
/// a post-mortem of a failed run.
fn dump(name: &str, outcome: &Outcome, drained: &Drained) {
    let Some(dir) = std::env::var_os("FAULTS_DUMP") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create FAULTS_DUMP");
    let mut acks = String::new();
    for (v, p, o) in &outcome.acks {
        acks.push_str(&format!("{v:.40} {p} {o}\n"));
    }
    for (v, e) in &outcome.failed {
        acks.push_str(&format!("{v:.40} failed: {e}\n"));
    }
    std::fs::write(dir.join(format!("{name}.acks")), acks).expect("write the acks dump");
    let mut log = String::new();
    for (p, o, v) in &drained.records {
        log.push_str(&format!("{p} {o} {:.40}\n", String::from_utf8_lossy(v)));
    }
    std::fs::write(dir.join(format!("{name}.log")), log).expect("write the log dump");
}
