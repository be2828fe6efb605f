//! One client of the side-by-side benchmark (`bench/peers.py`): produce or consume with
//! librdkafka (the `rdkafka` crate), krafka or kafkit, with the same flags, the same
//! settings, the same send loop and the same accounting for each, and one JSON line at the
//! end. The harness runs it as a child process and measures its CPU time and peak RSS.
//!
//! ```text
//! peer MODE --bootstrap HOST:PORT --topic T --num-records N [--payload-file F]
//!      [--throughput REC_PER_S|-1] [--compression none|lz4|zstd] [--partitions P]
//!      [--ssl-ca CA.pem] [--group-protocol eager|cooperative|consumer] [--heartbeat-ms MS]
//!      [--join-offset-ms MS] [--max-request-size BYTES]
//! MODE: kafkit-produce | kafkit-future-produce | rdkafka-produce | rdkafka-future-produce
//!     | krafka-produce | kafkit-txn-produce | rdkafka-txn-produce
//!     | kafkit-consume | rdkafka-consume | rdkafka-tuned-consume | rdkafka-stream-consume
//!     | krafka-consume | kafkit-e2e | rdkafka-e2e | krafka-e2e
//!     | kafkit-rebalance | rdkafka-rebalance
//! ```
//!
//! Producers send keyless records whose values are picked at random (fixed seed) from the
//! lines of the payload file, paced like Java's `ThroughputThrottler` when a throughput is
//! given, and time each record from the send call to its delivery report (µs). Consumers
//! assign every partition from the earliest offset (no group) and read until N records,
//! summing every value byte so none is left untouched. The `-e2e` modes do both in one
//! process on one topic: the producer sends N records at `--throughput` with its send time
//! (ns since an origin in the process) in the first 8 bytes of each value, and the consumer,
//! assigned from the earliest offset of the fresh topic, reports receive − send per record.
//!
//! The `-txn-` modes send the same records in transactions of `--transaction-size` records
//! (default 1,000) with a `transactional.id` of their own, committing each before the
//! next begins; one warm-up transaction of one record comes first, not counted.
//!
//! The `-rebalance` modes time a consumer group instead (see `rebalance`): member 1's
//! subscribe → its first record, and a fourth member's subscribe → the group of four
//! settled and reading, with `--group-protocol`; they print their own JSON line.
//!
//! Many partitions (`kafkit-produce`, `rdkafka-produce`, the assigning consumers): `--topic`
//! may name several topics, comma-separated; producers send record i to topic i mod n,
//! consumers assign every partition of each. `first_record_ms` in the JSON line is the time
//! from the process's start to the first record (producers: the warm-up's delivery report;
//! consumers: the first record polled). `--metadata-max-age-ms` sets how often the client
//! refreshes metadata (librdkafka: `topic.metadata.refresh.interval.ms`), to price a refresh.
//!
//! With `--ssl-ca`, kafkit and librdkafka connect over TLS (`security.protocol=SSL`),
//! trusting the CA in that PEM file (kafkit: rustls; librdkafka: OpenSSL); krafka refuses.

use bytes::Bytes;
use clap::Parser;
use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;
use std::error::Error;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type AnyResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const MIN_SLEEP: Duration = Duration::from_millis(2);
/// The same for every client: Java's defaults, set explicitly.
const BUFFER_MEMORY: usize = 32 * 1024 * 1024;
const LINGER_MS: u64 = 5;
const BATCH_SIZE: usize = 65536;
const IN_FLIGHT: usize = 5;
const FETCH_MAX_BYTES: usize = 52_428_800;
const PARTITION_FETCH_BYTES: usize = 1_048_576;
const FETCH_MAX_WAIT_MS: u64 = 500;
const MAX_POLL_RECORDS: usize = 500;
/// `queued.min.messages` of `rdkafka-tuned-consume` (librdkafka's default: 100,000).
const RDKAFKA_TUNED_QUEUED_MIN: usize = 1_000_000;

/// One client of the side-by-side benchmark.
#[derive(Clone, Parser)]
struct Args {
    /// kafkit-produce | kafkit-future-produce | rdkafka-produce | rdkafka-future-produce |
    /// krafka-produce | kafkit-txn-produce | rdkafka-txn-produce | kafkit-consume | rdkafka-consume | rdkafka-tuned-consume |
    /// rdkafka-stream-consume | krafka-consume | kafkit-e2e | rdkafka-e2e | krafka-e2e |
    /// kafkit-rebalance | rdkafka-rebalance | admin-create | admin-delete
    mode: String,
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap: String,
    /// The topic; comma-separated topics for the admin modes, `kafkit-produce`,
    /// `rdkafka-produce` and the assigning consumers.
    #[arg(long)]
    topic: String,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    num_records: u64,
    /// Record values: the file's non-empty lines, picked at random.
    #[arg(long, value_name = "FILE")]
    payload_file: Option<String>,
    /// Records per second; -1: no cap.
    #[arg(long, value_name = "REC_PER_S", default_value_t = -1.0, allow_negative_numbers = true)]
    throughput: f64,
    /// none | lz4 | zstd (krafka: none | lz4)
    #[arg(long, default_value = "none")]
    compression: String,
    /// Producers: `max.request.size` (librdkafka: `message.max.bytes`), for records of
    /// 1 MiB, which every client's default (1 MiB, librdkafka's 1,000,000) refuses.
    #[arg(long, value_name = "BYTES")]
    max_request_size: Option<usize>,
    #[arg(long, value_name = "P", default_value_t = 6)]
    partitions: i32,
    /// Connect over TLS, trusting the CA certificate(s) in this PEM file.
    #[arg(long, value_name = "CA.pem")]
    ssl_ca: Option<String>,
    /// Records per transaction (the `-txn-` modes).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    transaction_size: u64,
    /// eager | cooperative | consumer (the `-rebalance` modes).
    #[arg(long, default_value = "eager")]
    group_protocol: String,
    /// `heartbeat.interval.ms` of the classic protocols (the `-rebalance` modes); the
    /// client's default (3 s for both) if not given.
    #[arg(long, value_name = "MS")]
    heartbeat_ms: Option<u64>,
    /// Added to the second's pause before members join a settled group (the `-rebalance`
    /// modes): the harness spreads it over a heartbeat interval from run to run, so the
    /// join does not meet the members' heartbeats at the same point of their interval
    /// every time.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    join_offset_ms: u64,
    /// `metadata.max.age.ms` of producers and consumers (librdkafka:
    /// `topic.metadata.refresh.interval.ms`); each client's default if not given.
    #[arg(long, value_name = "MS")]
    metadata_max_age_ms: Option<u64>,
}

impl Args {
    /// The topics of `--topic`.
    fn topics(&self) -> Vec<&str> {
        self.topic.split(',').collect()
    }
}

/// When the process started: `first_record_ms` counts from here.
static PROCESS_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn main() {
    PROCESS_START.get_or_init(Instant::now);
    let args = Args::parse();
    if let Some(client) = args.mode.strip_suffix("-rebalance") {
        match rebalance(&args, client) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("peer {}: {e}", args.mode);
                std::process::exit(1);
            }
        }
        return;
    }
    let result = match args.mode.as_str() {
        "rdkafka-produce" => rdkafka_produce(&args),
        "rdkafka-consume" => rdkafka_consume(&args, false),
        "rdkafka-tuned-consume" => rdkafka_consume(&args, true),
        "rdkafka-e2e" => rdkafka_e2e(&args),
        "rdkafka-txn-produce" => rdkafka_txn_produce(&args),
        mode => {
            // The same runtime kafkit's producer_perf uses: #[tokio::main]'s multi-thread one.
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            rt.block_on(async {
                match mode {
                    "admin-create" => admin(&args, true).await,
                    "admin-delete" => admin(&args, false).await,
                    "kafkit-produce" => kafkit_produce(&args).await,
                    "kafkit-future-produce" => kafkit_future_produce(&args).await,
                    "kafkit-txn-produce" => kafkit_txn_produce(&args).await,
                    "kafkit-consume" => kafkit_consume(&args).await,
                    "krafka-produce" => krafka_produce(&args).await,
                    "krafka-consume" => krafka_consume(&args).await,
                    "kafkit-e2e" => kafkit_e2e(&args).await,
                    "krafka-e2e" => krafka_e2e(&args).await,
                    "rdkafka-future-produce" => rdkafka_future_produce(&args).await,
                    "rdkafka-stream-consume" => rdkafka_stream_consume(&args).await,
                    other => Err(format!("unknown mode {other}").into()),
                }
            })
        }
    };
    match result {
        Ok(summary) => {
            println!("{}", summary.json(&args));
            if summary.errors > 0 {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("peer {}: {e}", args.mode);
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------

struct Summary {
    start: Instant,
    end: Instant,
    records: u64,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
    /// Send → delivery report, µs (producers only).
    latency: Histogram<u64>,
    checksum: u64,
    /// Process start → the first record (see the module's doc).
    first_record: Option<Duration>,
}

impl Summary {
    fn new() -> Self {
        let now = Instant::now();
        Summary {
            start: now,
            end: now,
            records: 0,
            bytes: 0,
            errors: 0,
            first_error: None,
            latency: Histogram::new_with_bounds(1, 120_000_000, 3).unwrap(),
            checksum: 0,
            first_record: None,
        }
    }

    /// Notes now as the first record's time, unless one is noted.
    fn first_record_now(&mut self) {
        let start = *PROCESS_START.get_or_init(Instant::now);
        self.first_record.get_or_insert_with(|| start.elapsed());
    }

    fn delivered(&mut self, sent: Instant, bytes: usize) {
        let now = Instant::now();
        self.latency
            .saturating_record((now - sent).as_micros() as u64);
        self.records += 1;
        self.bytes += bytes as u64;
        self.end = now;
    }

    fn failed(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| e.to_string());
    }

    fn consumed(&mut self, value: Option<&[u8]>) {
        if self.records == 0 {
            self.first_record_now();
        }
        let v = value.unwrap_or(&[]);
        self.records += 1;
        self.bytes += v.len() as u64;
        self.checksum = self
            .checksum
            .wrapping_add(v.iter().map(|&b| b as u64).sum::<u64>());
    }

    fn json(&self, args: &Args) -> String {
        let secs = (self.end - self.start).as_secs_f64();
        let l = &self.latency;
        let q = |p: f64| {
            if l.is_empty() {
                0
            } else {
                l.value_at_quantile(p)
            }
        };
        serde_json::json!({
            "client": args.mode,
            "records": self.records,
            "bytes": self.bytes,
            "secs": secs,
            "records_per_sec": self.records as f64 / secs.max(1e-9),
            "mb_per_sec": self.bytes as f64 / secs.max(1e-9) / 1048576.0,
            "errors": self.errors,
            "first_error": self.first_error,
            "lat_us_p50": q(0.5),
            "lat_us_p99": q(0.99),
            "lat_us_p999": q(0.999),
            "lat_us_max": if l.is_empty() { 0 } else { l.max() },
            "checksum": self.checksum,
            "first_record_ms": self.first_record.map(|d| d.as_secs_f64() * 1000.0),
        })
        .to_string()
    }
}

/// The record values: the payload file's non-empty lines (as Java's `--payload-file`), or
/// 100 bytes of A..Z.
///
/// The corpus lives as long as the process, so it is leaked and handed out as
/// `Bytes::from_static`: a clone is then a copy of a pointer and a length, as cheap as the
/// borrowed slices the librdkafka peer passes. (`Bytes` over a `Vec` costs an atomic
/// increment per clone and a decrement per drop.)
fn payloads(args: &Args) -> AnyResult<Vec<Bytes>> {
    let Some(path) = &args.payload_file else {
        let letters: Vec<u8> = (b'A'..=b'Z').cycle().take(100).collect();
        return Ok(vec![Bytes::from_static(letters.leak())]);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let text: &'static str = text.leak();
    let lines: Vec<Bytes> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| Bytes::from_static(l.as_bytes()))
        .collect();
    if lines.is_empty() {
        return Err(format!("{path} holds no lines").into());
    }
    Ok(lines)
}

/// xorshift64*: the same payload sequence for every client, at no cost worth measuring.
struct Pick(u64);

impl Pick {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Java's `ThroughputThrottler`, as kafkit's producer_perf has it: while the average rate
/// since the start is above the target, owe 1/target s per record and sleep it off in steps
/// of at least 2 ms.
struct Throttle {
    start: Instant,
    target: f64,
    debt: Duration,
}

impl Throttle {
    fn new(target: f64) -> Self {
        Throttle {
            start: Instant::now(),
            target,
            debt: Duration::ZERO,
        }
    }

    /// How long to sleep after record `i`, if at all.
    fn after(&mut self, i: u64) -> Option<Duration> {
        let elapsed = self.start.elapsed().as_secs_f64();
        if self.target > 0.0 && elapsed > 0.0 && i as f64 / elapsed > self.target {
            self.debt += Duration::from_secs_f64(1.0 / self.target);
            if self.debt >= MIN_SLEEP {
                return Some(std::mem::take(&mut self.debt));
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------
// The async send loop, shared by kafkit, krafka and rdkafka's FutureProducer
// ---------------------------------------------------------------------------

/// `send(value)` queues one record and resolves to its delivery future (which resolves to
/// the outcome). Deliveries are awaited on another task, so the loop never waits on one
/// record: the same structure as kafkit's producer_perf.
async fn produce_async<S, SF, D, E1, E2>(args: &Args, mut send: S) -> AnyResult<Summary>
where
    S: FnMut(Bytes) -> SF,
    SF: Future<Output = Result<D, E1>>,
    D: Future<Output = Result<(), E2>> + Send + 'static,
    E1: std::fmt::Display,
    E2: std::fmt::Display + Send + 'static,
{
    let payloads = payloads(args)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, usize, D)>();
    let collector = tokio::spawn(async move {
        let mut summary = Summary::new();
        let mut pending = FuturesUnordered::new();
        loop {
            tokio::select! {
                Some((sent, bytes, delivery)) = rx.recv() => pending.push(async move {
                    // Unconstrained: see producer_perf (a FuturesUnordered backlog re-polled
                    // on coop-budget exhaustion burns a core).
                    let outcome = tokio::task::unconstrained(delivery).await;
                    (sent, bytes, outcome)
                }),
                Some((sent, bytes, outcome)) = pending.next() => match outcome {
                    Ok(()) => summary.delivered(sent, bytes),
                    Err(e) => summary.failed(e),
                },
                else => return summary,
            }
        }
    });
    // Warm-up, not counted: one record, acknowledged, so connections, metadata and the
    // producer id are in place before the clock starts (as Java's first send blocks on them).
    let warm = send(payloads[0].clone())
        .await
        .map_err(|e| format!("warm-up send: {e}"))?;
    warm.await.map_err(|e| format!("warm-up delivery: {e}"))?;
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut throttle = Throttle::new(args.throughput);
    for i in 0..args.num_records {
        let payload = payloads[pick.next(payloads.len())].clone();
        let bytes = payload.len();
        let sent = Instant::now();
        let delivery = send(payload).await.map_err(|e| format!("send: {e}"))?;
        tx.send((sent, bytes, delivery))
            .map_err(|_| "collector gone")?;
        if let Some(pause) = throttle.after(i) {
            tokio::time::sleep(pause).await;
        }
    }
    drop(tx);
    let mut summary = collector.await?;
    summary.start = start;
    Ok(summary)
}

// ---------------------------------------------------------------------------
// kafkit
// ---------------------------------------------------------------------------

/// kafkit's fastest path, as `rdkafka_produce` is librdkafka's: `send_with_callback`, whose
/// callback (run on the producer's task) updates the summary, as Java's tool does.
///
/// Unthrottled, the send loop is a task on the runtime, where kafkit is meant to be called
/// from. At a fixed rate it runs on a plain thread (sending through the runtime's handle)
/// and paces itself with `std::thread::sleep`, as `rdkafka_produce` does: a tokio sleep ends
/// on a whole-millisecond tick, so a tokio-paced loop sends in bursts, and the latency
/// figures would measure the pacing rather than the client.
async fn kafkit_produce(args: &Args) -> AnyResult<Summary> {
    use kafkit::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};
    let payloads = payloads(args)?;
    let producer = Producer::new(ProducerConfig::from_properties(producer_props(args))?).await?;
    let topics: Vec<Arc<str>> = args.topics().into_iter().map(Arc::from).collect();
    // Warm-up, not counted (see produce_async).
    let warm = producer.send(ProducerRecord::new(topics[0].clone(), payloads[0].clone()));
    warm.await
        .map_err(|e| format!("warm-up send: {e}"))?
        .await?;
    let first_record = PROCESS_START.get().map(Instant::elapsed);
    // Shared with every callback by reference, as the librdkafka peer's context is: an `Arc`
    // per record would add a reference count that the send loop increments and the
    // producer's tasks decrement, on another core.
    let summary: &'static Mutex<Summary> = Box::leak(Box::new(Mutex::new(Summary::new())));
    // The next record and its callback, which times the record from this moment.
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let mut sent_count = 0usize;
    let mut next = move || {
        let topic = &topics[sent_count % topics.len()];
        sent_count += 1;
        let payload = payloads[pick.next(payloads.len())].clone();
        let (sent, bytes) = (Instant::now(), payload.len());
        let callback = move |outcome: kafkit::Result<RecordMetadata>| {
            let mut summary = summary.lock().unwrap();
            match outcome {
                Ok(_) => summary.delivered(sent, bytes),
                Err(e) => summary.failed(e),
            }
        };
        (ProducerRecord::new(topic.clone(), payload), callback)
    };
    let mut throttle = Throttle::new(args.throughput);
    let start = if args.throughput > 0.0 {
        let runtime = tokio::runtime::Handle::current();
        let (producer, n) = (producer.clone(), args.num_records);
        tokio::task::spawn_blocking(move || -> Result<Instant, String> {
            let start = Instant::now();
            for i in 0..n {
                let (record, callback) = next();
                let send = producer.send_with_callback(record, callback);
                runtime.block_on(send).map_err(|e| format!("send: {e}"))?;
                if let Some(pause) = throttle.after(i) {
                    std::thread::sleep(pause);
                }
            }
            Ok(start)
        })
        .await??
    } else {
        let start = Instant::now();
        for _ in 0..args.num_records {
            let (record, callback) = next();
            producer
                .send_with_callback(record, callback)
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        start
    };
    producer.flush().await;
    let mut summary = std::mem::replace(&mut *summary.lock().unwrap(), Summary::new());
    summary.start = start;
    summary.first_record = first_record;
    Ok(summary)
}

/// `kafkit_produce` unthrottled, in transactions of `--transaction-size` records: each is
/// committed (`commit_transaction` flushes it) before the next begins.
async fn kafkit_txn_produce(args: &Args) -> AnyResult<Summary> {
    use kafkit::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};
    let payloads = payloads(args)?;
    let mut props = producer_props(args);
    props.push(("transactional.id".into(), transactional_id("kafkit")));
    let producer = Producer::new(ProducerConfig::from_properties(props)?).await?;
    producer.init_transactions().await?;
    let topic: Arc<str> = args.topic.as_str().into();
    // Warm-up, not counted: one transaction of one record.
    producer.begin_transaction()?;
    let warm = producer.send(ProducerRecord::new(topic.clone(), payloads[0].clone()));
    drop(warm.await.map_err(|e| format!("warm-up send: {e}"))?);
    producer.commit_transaction().await?;
    let summary: &'static Mutex<Summary> = Box::leak(Box::new(Mutex::new(Summary::new())));
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut i = 0;
    while i < args.num_records {
        producer.begin_transaction()?;
        let end = args.num_records.min(i + args.transaction_size);
        for _ in i..end {
            let payload = payloads[pick.next(payloads.len())].clone();
            let (sent, bytes) = (Instant::now(), payload.len());
            let callback = move |outcome: kafkit::Result<RecordMetadata>| {
                let mut summary = summary.lock().unwrap();
                match outcome {
                    Ok(_) => summary.delivered(sent, bytes),
                    Err(e) => summary.failed(e),
                }
            };
            producer
                .send_with_callback(ProducerRecord::new(topic.clone(), payload), callback)
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        producer.commit_transaction().await?;
        i = end;
    }
    let mut summary = std::mem::replace(&mut *summary.lock().unwrap(), Summary::new());
    // Until the last commit returned, not the last delivery.
    (summary.start, summary.end) = (start, Instant::now());
    Ok(summary)
}

/// kafkit's `send` + `Delivery` future per record, like rdkafka's FutureProducer.
async fn kafkit_future_produce(args: &Args) -> AnyResult<Summary> {
    use kafkit::{Producer, ProducerConfig, ProducerRecord};
    let config = ProducerConfig::from_properties(producer_props(args))?;
    let producer = Producer::new(config).await?;
    let (p, topic) = (&producer, Arc::<str>::from(args.topic.as_str()));
    let summary = produce_async(args, move |value| {
        let record = ProducerRecord::new(topic.clone(), value);
        async move {
            p.send(record)
                .await
                .map(|d| async move { d.await.map(|_| ()) })
        }
    })
    .await?;
    producer.flush().await;
    Ok(summary)
}

async fn kafkit_consume(args: &Args) -> AnyResult<Summary> {
    use kafkit::{Consumer, ConsumerConfig, TopicPartition};
    let mut props = common_consumer_props(args);
    props.push(("max.poll.records".into(), MAX_POLL_RECORDS.to_string()));
    let consumer = Consumer::new(ConsumerConfig::from_properties(props)?).await?;
    let mut summary = Summary::new();
    let topics = args.topics();
    consumer
        .assign(
            topics
                .iter()
                .flat_map(|t| (0..args.partitions).map(move |p| TopicPartition::new(*t, p))),
        )
        .await?;
    while summary.records < args.num_records {
        for record in consumer.poll(Duration::from_secs(1)).await? {
            summary.consumed(record.value.as_deref());
        }
        guard_stall(&summary, args)?;
    }
    summary.end = Instant::now();
    Ok(summary)
}

/// `admin-create`/`admin-delete`: create (replication factor 1, `--partitions`) or delete
/// the comma-separated topics of `--topic`, with kafkit's admin client. Not measured.
async fn admin(args: &Args, create: bool) -> AnyResult<Summary> {
    use kafkit::{Admin, AdminConfig, NewPartitions, NewTopic};
    // A broker takes a while to make (and delete) 10,000 partitions: minutes, not the
    // defaults' 30 s per request and 60 s per call.
    let admin = Admin::new(AdminConfig::from_properties([
        ("bootstrap.servers", args.bootstrap.as_str()),
        ("request.timeout.ms", "300000"),
        ("default.api.timeout.ms", "600000"),
    ])?)
    .await?;
    let names = args.topic.split(',');
    if create {
        // The controller refuses an operation of more than 10,000 records (a topic's record
        // and one per partition): larger topics are made, then grown, in steps, and many
        // topics are made a few at a time (100 topics of 100 are 10,100 records).
        const STEP: i32 = 5000;
        let first = args.partitions.min(STEP);
        let names: Vec<&str> = names.collect();
        let per_request = usize::try_from(STEP / (first + 1)).unwrap_or(1).max(1);
        for chunk in names.chunks(per_request) {
            admin
                .create_topics(chunk.iter().map(|t| NewTopic::new(*t, first, 1)))
                .await?;
        }
        let mut count = first;
        while count < args.partitions {
            let grown = args.partitions.min(count + STEP);
            let per_request = usize::try_from(STEP / (grown - count)).unwrap_or(1).max(1);
            count = grown;
            for chunk in names.chunks(per_request) {
                for (topic, outcome) in admin
                    .create_partitions(
                        chunk
                            .iter()
                            .map(|t| (*t, NewPartitions::increase_to(count))),
                    )
                    .await?
                {
                    outcome.map_err(|e| format!("growing {topic} to {count} partitions: {e}"))?;
                }
            }
        }
        // Created is not yet led: a fill started at once can wait out its flush on
        // partitions still coming online (librdkafka's, into 100 fresh topics of 100).
        let deadline = Instant::now() + Duration::from_secs(300);
        while !all_led(&admin, &names, args.partitions).await {
            if Instant::now() >= deadline {
                return Err("the new topics' partitions have no leader after 300 s".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else {
        admin.delete_topics(names).await?;
    }
    Ok(Summary::new())
}

/// Whether every topic of `names` has `partitions` partitions, each with a leader.
async fn all_led(admin: &kafkit::Admin, names: &[&str], partitions: i32) -> bool {
    let Ok(described) = admin.describe_topics(names.iter().copied()).await else {
        return false;
    };
    names.iter().all(|name| {
        described.get(*name).is_some_and(|d| {
            d.as_ref().is_ok_and(|d| {
                d.partitions.len() == partitions as usize
                    && d.partitions.iter().all(|p| p.leader.is_some())
            })
        })
    })
}

// ---------------------------------------------------------------------------
// krafka
// ---------------------------------------------------------------------------

async fn krafka_produce(args: &Args) -> AnyResult<Summary> {
    use krafka::Record;
    let producer = krafka_producer(args).await?;
    let (p, topic) = (&producer, args.topic.as_str());
    let summary = produce_async(args, move |value| async move {
        p.enqueue(Record::new(topic, value))
            .await
            .map(|d| async move { d.await.map(|_| ()) })
    })
    .await?;
    producer.close().await?;
    Ok(summary)
}

async fn krafka_producer(args: &Args) -> AnyResult<krafka::producer::Producer> {
    use krafka::producer::Acks;
    use krafka::{Compression, Kafka};
    krafka_plaintext_only(args)?;
    let kafka = Kafka::builder(args.bootstrap.clone())
        .max_in_flight_requests(IN_FLIGHT)
        .connect()
        .await?;
    let compression = match args.compression.as_str() {
        "lz4" => Compression::Lz4,
        "none" => Compression::None,
        other => return Err(format!("compression {other} not wired for krafka").into()),
    };
    let producer = kafka
        .producer()
        .acks(Acks::All)
        .idempotent(true)
        .linger(Duration::from_millis(LINGER_MS))
        .batch_size(BATCH_SIZE)
        .buffer_memory(BUFFER_MEMORY)
        .compression(compression)
        .build()
        .await?;
    Ok(producer)
}

async fn krafka_consume(args: &Args) -> AnyResult<Summary> {
    let consumer = krafka_consumer(args).await?;
    let mut summary = Summary::new();
    while summary.records < args.num_records {
        for record in consumer.poll(Duration::from_secs(1)).await? {
            summary.consumed(record.value.as_deref());
        }
        guard_stall(&summary, args)?;
    }
    summary.end = Instant::now();
    Ok(summary)
}

/// Assigned every partition of the topic, from the earliest offset.
async fn krafka_consumer(args: &Args) -> AnyResult<krafka::consumer::Consumer> {
    use krafka::consumer::AutoOffsetReset;
    use krafka::Kafka;
    krafka_plaintext_only(args)?;
    let kafka = Kafka::builder(args.bootstrap.clone()).connect().await?;
    let consumer = kafka
        .consumer_without_group()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .fetch_min_bytes(1)
        .fetch_max_bytes(FETCH_MAX_BYTES as i32)
        .max_partition_fetch_bytes(PARTITION_FETCH_BYTES as i32)
        .fetch_max_wait(Duration::from_millis(FETCH_MAX_WAIT_MS))
        .max_poll_records(MAX_POLL_RECORDS as i32)
        .build()
        .await?;
    consumer
        .assign(&args.topic, (0..args.partitions).collect())
        .await?;
    Ok(consumer)
}

/// The TLS workloads leave krafka out (its TLS is not wired here).
fn krafka_plaintext_only(args: &Args) -> AnyResult<()> {
    match args.ssl_ca {
        Some(_) => Err("--ssl-ca: TLS is not wired for krafka".into()),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// librdkafka
// ---------------------------------------------------------------------------

/// With `--ssl-ca`: TLS, trusting that CA file, under Java's names (kafkit takes them;
/// `rdkafka_config` renames them for librdkafka).
fn security_props(args: &Args) -> Vec<(String, String)> {
    let Some(ca) = &args.ssl_ca else {
        return Vec::new();
    };
    [
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", ca.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The producer settings every client gets, under Java's names (librdkafka takes them too).
fn producer_props(args: &Args) -> Vec<(String, String)> {
    [
        ("bootstrap.servers", args.bootstrap.clone()),
        ("acks", "all".into()),
        ("enable.idempotence", "true".into()),
        (
            "max.in.flight.requests.per.connection",
            IN_FLIGHT.to_string(),
        ),
        ("linger.ms", LINGER_MS.to_string()),
        ("batch.size", BATCH_SIZE.to_string()),
        ("compression.type", args.compression.clone()),
        ("buffer.memory", BUFFER_MEMORY.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(metadata_props(args))
    .chain(security_props(args))
    .chain(
        args.max_request_size
            .map(|n| ("max.request.size".to_string(), n.to_string())),
    )
    .collect()
}

/// `--metadata-max-age-ms`, under Java's name (`rdkafka_config` renames it).
fn metadata_props(args: &Args) -> Vec<(String, String)> {
    args.metadata_max_age_ms
        .map(|ms| ("metadata.max.age.ms".to_string(), ms.to_string()))
        .into_iter()
        .collect()
}

fn common_consumer_props(args: &Args) -> Vec<(String, String)> {
    [
        ("bootstrap.servers", args.bootstrap.clone()),
        ("auto.offset.reset", "earliest".into()),
        ("enable.auto.commit", "false".into()),
        ("fetch.min.bytes", "1".into()),
        ("fetch.max.bytes", FETCH_MAX_BYTES.to_string()),
        (
            "max.partition.fetch.bytes",
            PARTITION_FETCH_BYTES.to_string(),
        ),
        ("fetch.max.wait.ms", FETCH_MAX_WAIT_MS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(metadata_props(args))
    .chain(security_props(args))
    .collect()
}

fn rdkafka_config(args: &Args, produce: bool) -> rdkafka::ClientConfig {
    let mut config = rdkafka::ClientConfig::new();
    if produce {
        for (k, v) in producer_props(args) {
            match k.as_str() {
                // librdkafka takes the CA as ssl.ca.location (rdkafka_security).
                "ssl.truststore.type" | "ssl.truststore.location" => {}
                // librdkafka's budget is in messages and KiB instead.
                "buffer.memory" => {
                    config.set(
                        "queue.buffering.max.kbytes",
                        (BUFFER_MEMORY / 1024).to_string(),
                    );
                    config.set("queue.buffering.max.messages", "10000000");
                }
                "max.request.size" => {
                    config.set("message.max.bytes", v);
                }
                "metadata.max.age.ms" => {
                    config.set("topic.metadata.refresh.interval.ms", v);
                }
                _ => {
                    config.set(k, v);
                }
            }
        }
        // Keyless records stick to one partition for this long (librdkafka's sticky
        // partitioner is time-based; Java's and kafkit's switch after batch.size bytes).
        config.set("sticky.partitioning.linger.ms", (2 * LINGER_MS).to_string());
    } else {
        for (k, v) in common_consumer_props(args) {
            let k = match k.as_str() {
                // librdkafka takes the CA as ssl.ca.location (rdkafka_security).
                "ssl.truststore.type" | "ssl.truststore.location" => continue,
                "fetch.max.wait.ms" => "fetch.wait.max.ms".to_string(),
                "metadata.max.age.ms" => "topic.metadata.refresh.interval.ms".to_string(),
                _ => k,
            };
            config.set(k, v);
        }
        // librdkafka wants a group.id for a consumer even when it only assigns.
        config.set("group.id", "kafkit-bench-peers");
        config.set("enable.auto.offset.store", "false");
    }
    rdkafka_security(args, &mut config);
    config
}

/// librdkafka's name for the PEM trust store (it reads no `ssl.truststore.*`).
fn rdkafka_security(args: &Args, config: &mut rdkafka::ClientConfig) {
    if let Some(ca) = &args.ssl_ca {
        config.set("ssl.ca.location", ca);
    }
}

fn guard_stall(summary: &Summary, args: &Args) -> AnyResult<()> {
    if summary.start.elapsed() > Duration::from_secs(300) {
        return Err(format!(
            "only {} of {} records after 300 s",
            summary.records, args.num_records
        )
        .into());
    }
    Ok(())
}

struct DeliveryStats {
    start: Instant,
    summary: Mutex<Summary>,
}

impl DeliveryStats {
    /// The deliveries counted so far, starting a fresh count.
    fn take(&self) -> Summary {
        std::mem::replace(&mut *self.summary.lock().unwrap(), Summary::new())
    }
}

impl rdkafka::ClientContext for DeliveryStats {}

/// A `ThreadedProducer` whose context counts and times deliveries, and the instant its
/// delivery opaques (nanoseconds at send) count from.
fn rdkafka_threaded_producer(
    args: &Args,
) -> AnyResult<(rdkafka::producer::ThreadedProducer<DeliveryStats>, Instant)> {
    let context = DeliveryStats {
        start: Instant::now(),
        summary: Mutex::new(Summary::new()),
    };
    let origin = context.start;
    Ok((
        rdkafka_config(args, true).create_with_context(context)?,
        origin,
    ))
}

impl rdkafka::producer::ProducerContext for DeliveryStats {
    /// Nanoseconds from `start` to the send call.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, sent_ns: usize) {
        let sent = self.start + Duration::from_nanos(sent_ns as u64);
        let mut summary = self.summary.lock().unwrap();
        match result {
            Ok(m) => summary.delivered(sent, m.payload_len()),
            Err((e, _)) => summary.failed(e),
        }
    }
}

/// How long `rdkafka-produce` waits for its deliveries: it also fills the consume workloads'
/// topics, and a topic of 10,000 partitions made right after 10,000 others were deleted took
/// the broker more than two minutes to take the fill (`parts-consume-10k`).
const RDKAFKA_FLUSH: Duration = Duration::from_secs(600);

/// librdkafka's fastest path: `ThreadedProducer` (a `BaseProducer` polled by its own thread,
/// which runs the delivery callbacks), a plain send loop that polls on a full queue.
fn rdkafka_produce(args: &Args) -> AnyResult<Summary> {
    use rdkafka::producer::{BaseRecord, Producer};
    let payloads = payloads(args)?;
    let (producer, origin) = rdkafka_threaded_producer(args)?;
    let topics = args.topics();
    // Warm-up, not counted (see produce_async).
    let warm =
        BaseRecord::<(), [u8], usize>::with_opaque_to(topics[0], 0).payload(&payloads[0][..]);
    producer
        .send(warm)
        .map_err(|(e, _)| format!("warm-up send: {e}"))?;
    producer.flush(RDKAFKA_FLUSH)?;
    let first_record = PROCESS_START.get().map(Instant::elapsed);
    producer.context().take();
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut throttle = Throttle::new(args.throughput);
    for i in 0..args.num_records {
        let payload = &payloads[pick.next(payloads.len())];
        let sent_ns = origin.elapsed().as_nanos() as usize;
        let topic = topics[i as usize % topics.len()];
        let record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(topic, sent_ns).payload(&payload[..]);
        rdkafka_send(&producer, record)?;
        if let Some(pause) = throttle.after(i) {
            std::thread::sleep(pause);
        }
    }
    producer.flush(RDKAFKA_FLUSH)?;
    let mut summary = producer.context().take();
    summary.start = start;
    summary.first_record = first_record;
    Ok(summary)
}

/// `rdkafka_produce` in transactions of `--transaction-size` records: each is committed
/// (`commit_transaction` flushes it) before the next begins.
fn rdkafka_txn_produce(args: &Args) -> AnyResult<Summary> {
    use rdkafka::producer::{BaseRecord, Producer};
    let payloads = payloads(args)?;
    let context = DeliveryStats {
        start: Instant::now(),
        summary: Mutex::new(Summary::new()),
    };
    let origin = context.start;
    let mut config = rdkafka_config(args, true);
    config.set("transactional.id", transactional_id("rdkafka"));
    let producer: rdkafka::producer::ThreadedProducer<DeliveryStats> =
        config.create_with_context(context)?;
    let timeout = Duration::from_secs(60);
    producer.init_transactions(timeout)?;
    // Warm-up, not counted: one transaction of one record.
    producer.begin_transaction()?;
    let warm =
        BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, 0).payload(&payloads[0][..]);
    producer
        .send(warm)
        .map_err(|(e, _)| format!("warm-up send: {e}"))?;
    producer.commit_transaction(timeout)?;
    producer.context().take();
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut i = 0;
    while i < args.num_records {
        producer.begin_transaction()?;
        let end = args.num_records.min(i + args.transaction_size);
        for _ in i..end {
            let payload = &payloads[pick.next(payloads.len())];
            let sent_ns = origin.elapsed().as_nanos() as usize;
            let record = BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, sent_ns)
                .payload(&payload[..]);
            rdkafka_send(&producer, record)?;
        }
        producer.commit_transaction(timeout)?;
        i = end;
    }
    let mut summary = producer.context().take();
    // Until the last commit returned, not the last delivery.
    (summary.start, summary.end) = (start, Instant::now());
    Ok(summary)
}

/// A `transactional.id` no other run shares, so no run fences or waits on another's.
fn transactional_id(client: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("bench-{client}-{}-{nanos}", std::process::id())
}

/// Sends `record`, waiting 200 µs at a time while librdkafka's queue is full.
fn rdkafka_send(
    producer: &rdkafka::producer::ThreadedProducer<DeliveryStats>,
    mut record: rdkafka::producer::BaseRecord<'_, (), [u8], usize>,
) -> AnyResult<()> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(format!("send: {e}").into()),
        }
    }
}

async fn rdkafka_future_produce(args: &Args) -> AnyResult<Summary> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let producer: FutureProducer = rdkafka_config(args, true).create()?;
    let (p, topic) = (&producer, args.topic.as_str());
    let summary = produce_async(args, move |value| async move {
        loop {
            match p.send_result(FutureRecord::<(), [u8]>::to(topic).payload(&value[..])) {
                Ok(delivery) => {
                    break Ok::<_, KafkaError>(async move {
                        match delivery.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err((e, _))) => Err(e.to_string()),
                            Err(_) => Err("delivery canceled".to_string()),
                        }
                    })
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => break Err(e),
            }
        }
    })
    .await?;
    producer.flush(Duration::from_secs(120))?;
    Ok(summary)
}

fn rdkafka_assignment(args: &Args) -> AnyResult<rdkafka::TopicPartitionList> {
    let mut list = rdkafka::TopicPartitionList::new();
    for topic in args.topics() {
        for p in 0..args.partitions {
            list.add_partition_offset(topic, p, rdkafka::Offset::Beginning)?;
        }
    }
    Ok(list)
}

/// `rdkafka-consume`: `BaseConsumer` with librdkafka's defaults beyond the common settings.
/// `rdkafka-tuned-consume`: the same, told not to pause fetching once its local queue holds
/// `queued.min.messages` per partition (`fetch.queue.backoff.ms=0`, default 1000 ms, with a
/// larger `queued.min.messages`).
fn rdkafka_consume(args: &Args, tuned: bool) -> AnyResult<Summary> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let mut config = rdkafka_config(args, false);
    if tuned {
        config.set("fetch.queue.backoff.ms", "0");
        config.set("queued.min.messages", RDKAFKA_TUNED_QUEUED_MIN.to_string());
    }
    let consumer: BaseConsumer = config.create()?;
    let mut summary = Summary::new();
    consumer.assign(&rdkafka_assignment(args)?)?;
    while summary.records < args.num_records {
        match consumer.poll(Duration::from_secs(1)) {
            Some(Ok(m)) => summary.consumed(m.payload()),
            Some(Err(e)) => return Err(e.into()),
            None => guard_stall(&summary, args)?,
        }
    }
    summary.end = Instant::now();
    Ok(summary)
}

async fn rdkafka_stream_consume(args: &Args) -> AnyResult<Summary> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::Message;
    let consumer: StreamConsumer = rdkafka_config(args, false).create()?;
    let mut summary = Summary::new();
    consumer.assign(&rdkafka_assignment(args)?)?;
    while summary.records < args.num_records {
        let m = consumer.recv().await?;
        summary.consumed(m.payload());
    }
    summary.end = Instant::now();
    Ok(summary)
}

// ---------------------------------------------------------------------------
// End to end: one process produces at a fixed rate and consumes what it produced
// ---------------------------------------------------------------------------

/// The stamp of the warm-up record: the consumer leaves it out of the figures and tells the
/// producer it has arrived, so the timed sends start with both halves connected.
const WARM_UP_STAMP: u64 = u64::MAX;

/// The clock both halves of an end-to-end run share: each value starts with its send time in
/// nanoseconds since `origin` (8 bytes, little-endian), overwriting the payload's first bytes.
struct E2e {
    origin: Instant,
    /// Set by the consumer once it has read the warm-up record.
    ready: AtomicBool,
}

impl E2e {
    fn new() -> Arc<Self> {
        Arc::new(E2e {
            origin: Instant::now(),
            ready: AtomicBool::new(false),
        })
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// `payload` with its first 8 bytes replaced by `stamp`.
    fn stamped(payload: &[u8], stamp: u64) -> Bytes {
        let mut value = payload.to_vec();
        value[..8].copy_from_slice(&stamp.to_le_bytes());
        Bytes::from(value)
    }

    /// Consumer side: one record read. Latency is now minus its stamp (µs); every byte is
    /// summed as the consumers do.
    fn received(&self, summary: &mut Summary, value: Option<&[u8]>) {
        let now = self.now_ns();
        let Some(stamp) = value.and_then(|v| v.get(..8)) else {
            summary.failed("a record without a send-time stamp");
            return;
        };
        let sent = u64::from_le_bytes(stamp.try_into().unwrap());
        if sent == WARM_UP_STAMP {
            self.ready.store(true, Ordering::Release);
            return;
        }
        summary
            .latency
            .saturating_record(now.saturating_sub(sent) / 1000);
        summary.consumed(value);
        summary.end = Instant::now();
    }

    /// Producer side: waits (60 s at most) until the consumer has read the warm-up record.
    fn wait_ready(&self) -> AnyResult<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                return Err("the consumer did not read the warm-up record within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    async fn wait_ready_async(&self) -> AnyResult<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                return Err("the consumer did not read the warm-up record within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// The run's figures: the consumer's (records read from the first timed send on, send →
    /// receive latency, checksum) plus the producer's delivery errors.
    fn result(produced: Summary, mut consumed: Summary) -> Summary {
        consumed.start = produced.start;
        consumed.errors += produced.errors;
        if consumed.first_error.is_none() {
            consumed.first_error = produced.first_error;
        }
        consumed
    }
}

/// The producer half for the async clients: the warm-up record (acknowledged and read back),
/// then `--num-records` records stamped with their send time, paced by `Throttle`, every
/// delivery awaited on another task as in `produce_async`. Returns the delivery tally.
async fn e2e_send_async<S, SF, D, E1, E2>(args: &Args, e2e: &E2e, mut send: S) -> AnyResult<Summary>
where
    S: FnMut(Bytes) -> SF,
    SF: Future<Output = Result<D, E1>>,
    D: Future<Output = Result<(), E2>> + Send + 'static,
    E1: std::fmt::Display,
    E2: std::fmt::Display + Send + 'static,
{
    let payloads = payloads(args)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<D>();
    let collector = tokio::spawn(async move {
        let mut summary = Summary::new();
        let mut pending = FuturesUnordered::new();
        loop {
            tokio::select! {
                Some(delivery) = rx.recv() => pending.push(tokio::task::unconstrained(delivery)),
                Some(outcome) = pending.next() => match outcome {
                    Ok(()) => summary.records += 1,
                    Err(e) => summary.failed(e),
                },
                else => return summary,
            }
        }
    });
    let warm = send(E2e::stamped(&payloads[0], WARM_UP_STAMP))
        .await
        .map_err(|e| format!("warm-up send: {e}"))?;
    warm.await.map_err(|e| format!("warm-up delivery: {e}"))?;
    e2e.wait_ready_async().await?;
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut throttle = Throttle::new(args.throughput);
    for i in 0..args.num_records {
        let value = E2e::stamped(&payloads[pick.next(payloads.len())], e2e.now_ns());
        let delivery = send(value).await.map_err(|e| format!("send: {e}"))?;
        tx.send(delivery).map_err(|_| "collector gone")?;
        if let Some(pause) = throttle.after(i) {
            tokio::time::sleep(pause).await;
        }
    }
    drop(tx);
    let mut summary = collector.await?;
    summary.start = start;
    Ok(summary)
}

/// The consumer task of `kafkit-e2e` and `krafka-e2e`: polls until every record has come back,
/// noting each one's latency. A macro because the two clients' consumers and records are
/// different types with the same `poll` and `value` shape.
macro_rules! spawn_e2e_reader {
    ($consumer:ident, $e2e:ident, $args:ident) => {{
        let (e2e, args) = ($e2e.clone(), $args.clone());
        tokio::spawn(async move {
            let mut summary = Summary::new();
            while summary.records < args.num_records {
                for record in $consumer.poll(Duration::from_secs(1)).await? {
                    e2e.received(&mut summary, record.value.as_deref());
                }
                guard_stall(&summary, &args)?;
            }
            AnyResult::Ok(summary)
        })
    }};
}

/// kafkit's producer and consumer in one process, the consumer polling on its own task.
async fn kafkit_e2e(args: &Args) -> AnyResult<Summary> {
    use kafkit::{
        Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord, TopicPartition,
    };
    let producer = Producer::new(ProducerConfig::from_properties(producer_props(args))?).await?;
    let mut props = common_consumer_props(args);
    props.push(("max.poll.records".into(), MAX_POLL_RECORDS.to_string()));
    let consumer = Consumer::new(ConsumerConfig::from_properties(props)?).await?;
    consumer
        .assign((0..args.partitions).map(|p| TopicPartition::new(args.topic.as_str(), p)))
        .await?;
    let e2e = E2e::new();
    let reader = spawn_e2e_reader!(consumer, e2e, args);
    let (p, topic) = (&producer, args.topic.as_str());
    let produced = e2e_send_async(args, &e2e, move |value| async move {
        p.send(ProducerRecord::new(topic, value))
            .await
            .map(|d| async move { d.await.map(|_| ()) })
    })
    .await?;
    producer.flush().await;
    Ok(E2e::result(produced, reader.await??))
}

/// krafka's producer and consumer in one process, the consumer polling on its own task.
async fn krafka_e2e(args: &Args) -> AnyResult<Summary> {
    use krafka::Record;
    let producer = krafka_producer(args).await?;
    let consumer = krafka_consumer(args).await?;
    let e2e = E2e::new();
    let reader = spawn_e2e_reader!(consumer, e2e, args);
    let (p, topic) = (&producer, args.topic.as_str());
    let produced = e2e_send_async(args, &e2e, move |value| async move {
        p.enqueue(Record::new(topic, value))
            .await
            .map(|d| async move { d.await.map(|_| ()) })
    })
    .await?;
    producer.close().await?;
    Ok(E2e::result(produced, reader.await??))
}

/// librdkafka: the `ThreadedProducer` of `rdkafka-produce` sending from the main thread and
/// the `BaseConsumer` of `rdkafka-consume` (default settings) polling on another thread.
fn rdkafka_e2e(args: &Args) -> AnyResult<Summary> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{BaseRecord, Producer};
    use rdkafka::Message;
    let payloads = payloads(args)?;
    let (producer, origin) = rdkafka_threaded_producer(args)?;
    let consumer: BaseConsumer = rdkafka_config(args, false).create()?;
    consumer.assign(&rdkafka_assignment(args)?)?;
    let e2e = E2e::new();
    let reader = {
        let (e2e, args) = (e2e.clone(), args.clone());
        std::thread::spawn(move || {
            let mut summary = Summary::new();
            while summary.records < args.num_records {
                match consumer.poll(Duration::from_secs(1)) {
                    Some(Ok(m)) => e2e.received(&mut summary, m.payload()),
                    Some(Err(e)) => return Err(e.into()),
                    None => guard_stall(&summary, &args)?,
                }
            }
            AnyResult::Ok(summary)
        })
    };
    let warm = E2e::stamped(&payloads[0], WARM_UP_STAMP);
    rdkafka_send(
        &producer,
        BaseRecord::with_opaque_to(&args.topic, 0).payload(&warm[..]),
    )?;
    producer.flush(Duration::from_secs(60))?;
    e2e.wait_ready()?;
    producer.context().take();
    let mut pick = Pick(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut throttle = Throttle::new(args.throughput);
    for i in 0..args.num_records {
        let value = E2e::stamped(&payloads[pick.next(payloads.len())], e2e.now_ns());
        let sent_ns = origin.elapsed().as_nanos() as usize;
        rdkafka_send(
            &producer,
            BaseRecord::with_opaque_to(&args.topic, sent_ns).payload(&value[..]),
        )?;
        if let Some(pause) = throttle.after(i) {
            std::thread::sleep(pause);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let mut produced = producer.context().take();
    produced.start = start;
    let consumed = reader
        .join()
        .map_err(|_| "the consumer thread panicked")??;
    Ok(E2e::result(produced, consumed))
}

// ---------------------------------------------------------------------------
// Group rebalance: subscribe → first record, and a fourth member joining three
// ---------------------------------------------------------------------------

/// The members of a `-rebalance` run: three, then a fourth joining them.
const MEMBERS: usize = 4;
/// How often the run's producer sends one record to every partition.
const REBALANCE_PRODUCE_EVERY: Duration = Duration::from_millis(5);
/// How long the producer writes before the first member subscribes, and how long the group
/// stays as it is between one settled phase and the next member(s) joining.
const REBALANCE_PAUSE: Duration = Duration::from_secs(1);
/// The longest a phase may take before the run fails.
const REBALANCE_PHASE_TIMEOUT: Duration = Duration::from_secs(60);
/// A member's poll timeout (records flow, so polls return sooner).
const REBALANCE_POLL: Duration = Duration::from_millis(50);
/// A member asks its client for its assignment after a poll at most this often, and at once
/// when a record comes from a partition not in the assignment it knows.
const ASSIGNMENT_RECHECK: Duration = Duration::from_millis(1);

/// The group protocols of the `-rebalance` modes (`--group-protocol`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum GroupKind {
    /// Classic, eager, `partition.assignment.strategy=range`.
    Eager,
    /// Classic, incremental, `partition.assignment.strategy=cooperative-sticky`.
    Cooperative,
    /// KIP-848, `group.protocol=consumer`: the broker assigns (its default assignor).
    Consumer,
}

impl GroupKind {
    fn parse(name: &str) -> AnyResult<Self> {
        match name {
            "eager" => Ok(GroupKind::Eager),
            "cooperative" => Ok(GroupKind::Cooperative),
            "consumer" => Ok(GroupKind::Consumer),
            other => Err(format!(
                "--group-protocol {other}: expected eager, cooperative or consumer"
            )
            .into()),
        }
    }

    /// The settings that select it, under Java's names, which librdkafka takes too. The
    /// classic ones get `--heartbeat-ms` as `heartbeat.interval.ms` if given; the consumer
    /// protocol takes its heartbeat interval from the broker
    /// (`group.consumer.heartbeat.interval.ms`) and refuses the client setting.
    fn props(self, heartbeat_ms: Option<u64>) -> Vec<(String, String)> {
        let strategy = match self {
            GroupKind::Eager => "range",
            GroupKind::Cooperative => "cooperative-sticky",
            GroupKind::Consumer => {
                return vec![("group.protocol".into(), "consumer".into())];
            }
        };
        let mut props = vec![
            ("group.protocol".to_string(), "classic".to_string()),
            ("partition.assignment.strategy".into(), strategy.into()),
        ];
        if let Some(ms) = heartbeat_ms {
            props.push(("heartbeat.interval.ms".into(), ms.to_string()));
        }
        props
    }
}

/// What one member has been seen doing, as its own loop reports it after every poll.
#[derive(Clone)]
struct MemberView {
    subscribed: Option<Instant>,
    /// The first record any poll returned.
    first_record: Option<Instant>,
    /// The partitions the client reports as assigned, as last asked.
    assignment: std::collections::BTreeSet<i32>,
    /// The first record from `assignment` read since it last changed and since the phase
    /// began.
    flowing: Option<Instant>,
    records: u64,
}

/// The state of every member of a `-rebalance` run, shared by their loops and the run.
struct Tracker {
    partitions: usize,
    members: Mutex<Vec<MemberView>>,
    /// How many members are to have subscribed (the run raises it phase by phase).
    go: std::sync::atomic::AtomicUsize,
    stop: AtomicBool,
}

impl Tracker {
    fn new(partitions: usize) -> Arc<Self> {
        let idle = MemberView {
            subscribed: None,
            first_record: None,
            assignment: Default::default(),
            flowing: None,
            records: 0,
        };
        Arc::new(Tracker {
            partitions,
            members: Mutex::new(vec![idle; MEMBERS]),
            go: Default::default(),
            stop: AtomicBool::new(false),
        })
    }

    /// Whether member `m` is to subscribe now, `None` once the run is over.
    fn may_subscribe(&self, m: usize) -> Option<bool> {
        if self.stop.load(Ordering::Acquire) {
            return None;
        }
        Some(self.go.load(Ordering::Acquire) > m)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Called right before member `m` calls `subscribe`: its clock starts here.
    fn subscribed(&self, m: usize) {
        self.members.lock().unwrap()[m].subscribed = Some(Instant::now());
    }

    /// Starts a phase: every member must read a record again before the group counts as
    /// settled (a member whose assignment does not change has to show it still reads).
    fn begin_phase(&self, members: usize) {
        for view in self.members.lock().unwrap().iter_mut() {
            view.flowing = None;
        }
        self.go.store(members, Ordering::Release);
    }

    /// One poll of member `m`: the assignment its client reports now and the partitions of
    /// the records the poll returned.
    fn observe(&self, m: usize, assignment: &std::collections::BTreeSet<i32>, records: &[i32]) {
        let now = Instant::now();
        let mut members = self.members.lock().unwrap();
        let view = &mut members[m];
        if view.assignment != *assignment {
            view.assignment = assignment.clone();
            view.flowing = None;
        }
        if !records.is_empty() {
            view.first_record.get_or_insert(now);
            view.records += records.len() as u64;
        }
        if view.flowing.is_none() && records.iter().any(|p| assignment.contains(p)) {
            view.flowing = Some(now);
        }
    }

    /// When the first `n` members settled, if they have: each holds an equal share of the
    /// partitions (every assignor here balances them, so a share of another size means
    /// partitions are still to move), none held twice, and each has read a record from its
    /// share since it got it and since the phase began. The instant is the last member's
    /// first such record.
    fn settled(&self, n: usize) -> Option<Instant> {
        let members = self.members.lock().unwrap();
        let members = &members[..n];
        let share = self.partitions / n;
        let mut all = std::collections::BTreeSet::new();
        let mut last = None;
        for view in members {
            if view.assignment.len() != share {
                return None;
            }
            all.extend(view.assignment.iter().copied());
            last = last.max(Some(view.flowing?));
        }
        (all.len() == self.partitions).then_some(last?)
    }

    fn view(&self, m: usize) -> MemberView {
        self.members.lock().unwrap()[m].clone()
    }

    /// Waits until the first `n` members have settled; the instant they did.
    async fn wait_settled(&self, n: usize) -> AnyResult<Instant> {
        let deadline = Instant::now() + REBALANCE_PHASE_TIMEOUT;
        loop {
            if let Some(at) = self.settled(n) {
                return Ok(at);
            }
            if Instant::now() > deadline {
                let members = self.members.lock().unwrap();
                let state: Vec<String> = members[..n]
                    .iter()
                    .map(|v| format!("{:?} (reading: {})", v.assignment, v.flowing.is_some()))
                    .collect();
                return Err(format!(
                    "{n} members not settled after {REBALANCE_PHASE_TIMEOUT:?}: {}",
                    state.join(", ")
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The loop every member runs after subscribing, for either client: `poll` returns the
/// partitions of the records it read; `assignment` asks the client for its assignment.
struct MemberLoop {
    known: std::collections::BTreeSet<i32>,
    checked: Option<Instant>,
}

impl MemberLoop {
    fn new() -> Self {
        MemberLoop {
            known: Default::default(),
            checked: None,
        }
    }

    /// After one poll that read records from `partitions`: whether to ask the client for its
    /// assignment now.
    fn stale(&self, partitions: &[i32]) -> bool {
        self.checked
            .is_none_or(|at| at.elapsed() >= ASSIGNMENT_RECHECK)
            || partitions.iter().any(|p| !self.known.contains(p))
    }

    fn update(&mut self, assignment: std::collections::BTreeSet<i32>) {
        self.known = assignment;
        self.checked = Some(Instant::now());
    }
}

/// `kafkit-rebalance` and `rdkafka-rebalance`: four consumers of one client in one group
/// (`--group-protocol`), subscribed to `--topic` (its `--partitions` partitions; 12 share
/// evenly among 1, 3 and 4 members) while a producer in the same process (kafkit's, the
/// same for both clients) writes one record to every partition every 5 ms.
///
/// 1. The producer writes for a second; member 1 subscribes alone:
///    `first_record_ms` = its subscribe → the first record its poll returns.
/// 2. A second (plus `--join-offset-ms`) after the group settled, members 2 and 3
///    subscribe: `three_ms`.
/// 3. As long after that, member 4 subscribes: `rebalance_ms` = its subscribe → the
///    group settled again, i.e. every member holds its share of the partitions (12/4)
///    and has read a record from it since getting it; `new_member_first_ms` = member 4's
///    subscribe → its first record.
///
/// Each member runs its own loop (kafkit: a task; librdkafka: a thread, `BaseConsumer`),
/// polling with a 50 ms timeout and reporting its assignment and records to the tracker.
/// Consumers are made before the first subscribe, every one with a fresh `group.id`,
/// `auto.offset.reset=earliest` and no commits.
fn rebalance(args: &Args, client: &str) -> AnyResult<String> {
    let kind = GroupKind::parse(&args.group_protocol)?;
    if !matches!(client, "kafkit" | "rdkafka") {
        return Err(format!("no rebalance mode for {client}").into());
    }
    if args.partitions <= 0 || !(args.partitions as usize).is_multiple_of(12) {
        return Err("--partitions: a multiple of 12, so 1, 3 and 4 members share evenly".into());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let tracker = Tracker::new(args.partitions as usize);
    let group = format!("{}-{}", transactional_id(client), args.group_protocol);
    let mut props = common_consumer_props(args);
    props.push(("group.id".into(), group));
    props.extend(kind.props(args.heartbeat_ms));
    let members: Vec<tokio::task::JoinHandle<AnyResult<()>>> = (0..MEMBERS)
        .map(|m| {
            let (args, props, tracker) = (args.clone(), props.clone(), tracker.clone());
            match client {
                "kafkit" => rt.spawn(async move { kafkit_member(m, &args, props, &tracker).await }),
                _ => rt.spawn_blocking(move || rdkafka_member(m, &args, props, &tracker)),
            }
        })
        .collect();
    let outcome = rt.block_on(async {
        let producer = tokio::spawn(rebalance_producer(args.clone(), tracker.clone()));
        let pause = REBALANCE_PAUSE + Duration::from_millis(args.join_offset_ms);
        let phases = rebalance_phases(&tracker, pause).await;
        tracker.stop.store(true, Ordering::Release);
        let produced = producer.await?;
        let phases = phases?;
        AnyResult::Ok((phases, produced?))
    });
    tracker.stop.store(true, Ordering::Release);
    let mut first_error = None;
    for member in members {
        if let Err(e) = rt.block_on(member)? {
            first_error.get_or_insert(e);
        }
    }
    let ((first, three, settled), produced) = outcome?;
    if let Some(e) = first_error {
        return Err(e);
    }
    let views: Vec<MemberView> = (0..MEMBERS).map(|m| tracker.view(m)).collect();
    let ms = |from: Option<Instant>, to: Option<Instant>| -> AnyResult<f64> {
        match (from, to) {
            (Some(a), Some(b)) => Ok(b.saturating_duration_since(a).as_secs_f64() * 1000.0),
            _ => Err("a member never subscribed or never read".into()),
        }
    };
    Ok(serde_json::json!({
        "client": args.mode,
        "group_protocol": args.group_protocol,
        "first_record_ms": ms(views[0].subscribed, first)?,
        "three_ms": ms(views[1].subscribed, Some(three))?,
        "rebalance_ms": ms(views[3].subscribed, Some(settled))?,
        "new_member_first_ms": ms(views[3].subscribed, views[3].first_record)?,
        "records": views.iter().map(|v| v.records).sum::<u64>(),
        "produced": produced,
        "errors": 0,
    })
    .to_string())
}

/// The three phases of a `-rebalance` run: member 1's first record, the instant three
/// members settled, the instant four did. `pause`: between a settled group and the next
/// member(s) joining.
async fn rebalance_phases(
    tracker: &Tracker,
    pause: Duration,
) -> AnyResult<(Option<Instant>, Instant, Instant)> {
    tokio::time::sleep(REBALANCE_PAUSE).await;
    tracker.begin_phase(1);
    tracker.wait_settled(1).await?;
    let first = tracker.view(0).first_record;
    tokio::time::sleep(pause).await;
    tracker.begin_phase(3);
    let three = tracker.wait_settled(3).await?;
    tokio::time::sleep(pause).await;
    tracker.begin_phase(4);
    let four = tracker.wait_settled(4).await?;
    Ok((first, three, four))
}

/// The producer of a `-rebalance` run: one record to every partition every 5 ms until the
/// run stops. Returns how many it wrote.
async fn rebalance_producer(args: Args, tracker: Arc<Tracker>) -> AnyResult<u64> {
    use kafkit::{Producer, ProducerConfig, ProducerRecord};
    let producer = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", args.bootstrap.as_str()),
        ("linger.ms", "0"),
    ])?)
    .await?;
    let topic: Arc<str> = args.topic.as_str().into();
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tick = tokio::time::interval(REBALANCE_PRODUCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sent = 0;
    while !tracker.stopped() {
        tick.tick().await;
        for p in 0..args.partitions {
            let failures = failures.clone();
            let record = ProducerRecord::new(topic.clone(), Bytes::from_static(b"rebalance"));
            producer
                .send_with_callback(record.partition(p), move |outcome| {
                    if outcome.is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await?;
            sent += 1;
        }
    }
    producer.flush().await;
    match failures.load(Ordering::Relaxed) {
        0 => Ok(sent),
        n => Err(format!("the producer failed to write {n} records").into()),
    }
}

/// One kafkit member of a `-rebalance` run.
async fn kafkit_member(
    m: usize,
    args: &Args,
    props: Vec<(String, String)>,
    tracker: &Tracker,
) -> AnyResult<()> {
    use kafkit::{Consumer, ConsumerConfig};
    let consumer = Consumer::new(ConsumerConfig::from_properties(props)?).await?;
    loop {
        match tracker.may_subscribe(m) {
            None => return Ok(()),
            Some(true) => break,
            Some(false) => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
    tracker.subscribed(m);
    consumer.subscribe([args.topic.as_str()]).await?;
    let mut member = MemberLoop::new();
    while !tracker.stopped() {
        let partitions: Vec<i32> = consumer
            .poll(REBALANCE_POLL)
            .await?
            .iter()
            .map(|r| r.partition)
            .collect();
        if member.stale(&partitions) {
            let assignment = consumer.assignment().await;
            member.update(assignment.into_iter().map(|tp| tp.partition).collect());
        }
        tracker.observe(m, &member.known, &partitions);
    }
    consumer.close_with_timeout(Duration::from_secs(10)).await?;
    Ok(())
}

/// One librdkafka member of a `-rebalance` run: a `BaseConsumer` (whose `poll` also serves
/// its rebalances) on its own thread.
fn rdkafka_member(
    m: usize,
    args: &Args,
    props: Vec<(String, String)>,
    tracker: &Tracker,
) -> AnyResult<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let mut config = rdkafka::ClientConfig::new();
    for (k, v) in props {
        let k = match k.as_str() {
            "ssl.truststore.type" | "ssl.truststore.location" => continue,
            "fetch.max.wait.ms" => "fetch.wait.max.ms".to_string(),
            _ => k,
        };
        config.set(k, v);
    }
    rdkafka_security(args, &mut config);
    let consumer: BaseConsumer = config.create()?;
    loop {
        match tracker.may_subscribe(m) {
            None => return Ok(()),
            Some(true) => break,
            Some(false) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    tracker.subscribed(m);
    consumer.subscribe(&[args.topic.as_str()])?;
    let mut member = MemberLoop::new();
    while !tracker.stopped() {
        let partitions = match consumer.poll(REBALANCE_POLL) {
            Some(Ok(record)) => vec![record.partition()],
            Some(Err(e)) => return Err(format!("member {m}: {e}").into()),
            None => Vec::new(),
        };
        if member.stale(&partitions) {
            let assignment = consumer.assignment()?;
            member.update(
                assignment
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect(),
            );
        }
        tracker.observe(m, &member.known, &partitions);
    }
    // Dropping it closes it: it leaves the group.
    Ok(())
}
