//! Heap allocations per produced and per consumed record, counted by a global allocator,
//! against a real broker (the testkit's, or `KAFKA_BOOTSTRAP_SERVERS`).
//!
//! ```sh
//! cargo bench --bench allocations                      # 200,000 records of 100 B
//! cargo bench --bench allocations -- --records 50000 --check
//! ```
//!
//! Every allocation of the process counts (the application's, kafkit's tasks', tokio's):
//! producing, from the first timed `send` to the last `Delivery`, after a warm-up of
//! `WARM_UP` records that opens the connections and fills the caches; consuming, everything a
//! new consumer does until its poll reaches the topic's `WARM_UP` + N records (see
//! [`consume`] for why there is no warm-up there). `--check` exits non-zero when a target is
//! missed, so the bench can gate a change. The `typed` rows do the same through
//! `TypedProducer<Option<Bytes>, Bytes>` and `TypedConsumer<Option<Bytes>, Bytes>`, whose
//! `Bytes` keys and values should cost nothing more: the same targets.
//! Allocations are counted, not frees; "bytes" is the sum of the sizes asked for (a
//! `realloc` counts its new size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::{
    Admin, AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig, Delivery, NewTopic, Producer,
    ProducerConfig, ProducerRecord, TopicPartition, TypedConsumer, TypedProducer,
    TypedProducerRecord,
};

/// The system allocator, counting the calls that hand out memory.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

fn counted(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PARTITIONS: i32 = 6;
const VALUE_SIZE: usize = 100;
/// Records sent (and read) before counting starts.
const WARM_UP: usize = 5_000;
/// Deliveries awaited together; their `Vec` is allocated once, before counting.
const CHUNK: usize = 10_000;
const PRODUCE_TARGET: f64 = 1.0;
const CONSUME_TARGET: f64 = 0.05;

/// Allocations and bytes asked for since `start`.
#[derive(Clone, Copy)]
struct Snapshot {
    allocs: u64,
    bytes: u64,
}

impl Snapshot {
    fn now() -> Self {
        Snapshot {
            allocs: ALLOCS.load(Ordering::Relaxed),
            bytes: BYTES.load(Ordering::Relaxed),
        }
    }

    fn since(start: Snapshot) -> Self {
        let now = Self::now();
        Snapshot {
            allocs: now.allocs - start.allocs,
            bytes: now.bytes - start.bytes,
        }
    }
}

/// One row of the report.
struct Row {
    name: &'static str,
    records: usize,
    counted: Snapshot,
    elapsed: Duration,
    target: Option<f64>,
}

impl Row {
    fn per_record(&self) -> f64 {
        self.counted.allocs as f64 / self.records.max(1) as f64
    }

    fn missed(&self) -> bool {
        self.target.is_some_and(|t| self.per_record() > t)
    }

    fn print(&self) {
        let n = self.records.max(1) as f64;
        let (target, verdict) = match self.target {
            Some(t) if self.missed() => (format!("<= {t}"), "MISSED"),
            Some(t) => (format!("<= {t}"), "ok"),
            None => ("-".to_string(), ""),
        };
        let rate = self.records as f64 / self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<26} {:>9} {:>14.4} {:>13.1} {:>12.0} {:>8} {}",
            self.name,
            self.records,
            self.per_record(),
            self.counted.bytes as f64 / n,
            rate,
            target,
            verdict,
        );
    }
}

fn main() -> ExitCode {
    let (records, check) = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("allocations: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Blocks while the broker starts, so before the runtime exists.
    let bootstrap = kafkit_testkit::bootstrap_servers();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("cannot build the tokio runtime");
    let rows = match runtime.block_on(run(&bootstrap, records)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("allocations: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\n{:<26} {:>9} {:>14} {:>13} {:>12} {:>8}",
        "phase", "records", "allocs/record", "bytes/record", "records/s", "target"
    );
    for row in &rows {
        row.print();
    }
    if check && rows.iter().any(Row::missed) {
        eprintln!("allocations: a target was missed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn parse_args() -> Result<(usize, bool), String> {
    let (mut records, mut check) = (200_000, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--records" => {
                let n = args.next().ok_or("--records needs a value")?;
                records = n
                    .parse()
                    .map_err(|_| format!("--records: not a number: {n}"))?;
            }
            "--check" => check = true,
            // `cargo bench` passes `--bench` to harness-less benches.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if records == 0 {
        return Err("--records must be at least 1".into());
    }
    Ok((records, check))
}

type BoxError = Box<dyn std::error::Error>;

async fn run(bootstrap: &str, records: usize) -> Result<Vec<Row>, BoxError> {
    let topic = kafkit_testkit::unique_name("allocations");
    let admin = Admin::new(ClientConfig::new(bootstrap)).await?;
    admin
        .create_topics([NewTopic::new(topic.as_str(), PARTITIONS, 1)])
        .await?;
    let total = WARM_UP + records;
    let name: Arc<str> = topic.as_str().into();
    let mut rows = vec![record_construction(&name)];
    rows.push(produce(bootstrap, &name, records, Typed::No).await?);
    // Into a topic of its own, so the consumers below read exactly `total` records.
    let typed_topic = kafkit_testkit::unique_name("allocations-typed");
    admin
        .create_topics([NewTopic::new(typed_topic.as_str(), PARTITIONS, 1)])
        .await?;
    rows.push(produce(bootstrap, &typed_topic.as_str().into(), records, Typed::Yes).await?);
    // Into a topic of its own, so the consumers below read exactly `total` records.
    let callbacks_topic = kafkit_testkit::unique_name("allocations-callbacks");
    admin
        .create_topics([NewTopic::new(callbacks_topic.as_str(), PARTITIONS, 1)])
        .await?;
    rows.push(produce_with_callbacks(bootstrap, &callbacks_topic.as_str().into(), records).await?);

    let mut config = ConsumerConfig::new(bootstrap);
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    let assign: Vec<_> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    rows.push(
        consume(
            "consume (assign)",
            config.clone(),
            Read::Assign(assign.clone()),
            total,
            Typed::No,
        )
        .await?,
    );
    rows.push(
        consume(
            "consume (typed, assign)",
            config.clone(),
            Read::Assign(assign),
            total,
            Typed::Yes,
        )
        .await?,
    );
    config.group_id = Some(kafkit_testkit::unique_name("allocations"));
    rows.push(
        consume(
            "consume (group)",
            config,
            Read::Subscribe(&topic),
            total,
            Typed::No,
        )
        .await?,
    );
    Ok(rows)
}

/// The user side of a send: a record from a topic name and a value made once, both clones of
/// shared, reference-counted data (`Arc<str>`, `Bytes`), so building it allocates nothing.
fn make_record(topic: &Arc<str>, value: &Bytes) -> ProducerRecord {
    ProducerRecord::new(topic.clone(), value.clone())
}

/// What building the records costs the application by itself, outside kafkit.
fn record_construction(topic: &Arc<str>) -> Row {
    let value = Bytes::from(vec![b'x'; VALUE_SIZE]);
    // The first clone of a `Vec`-backed `Bytes` makes it shared, once.
    drop(make_record(topic, &value));
    let n = 100_000;
    let start = Snapshot::now();
    let began = Instant::now();
    for _ in 0..n {
        black_box(make_record(topic, &value));
    }
    Row {
        name: "  user: ProducerRecord::new",
        records: n,
        counted: Snapshot::since(start),
        elapsed: began.elapsed(),
        target: None,
    }
}

/// As the side-by-side benchmarks configure every client.
fn producer_config(bootstrap: &str) -> ProducerConfig {
    let mut config = ProducerConfig::new(bootstrap);
    config.linger = Duration::from_millis(5);
    config.batch_size = 64 * 1024;
    config
}

/// Whether a row goes through the typed producer or consumer.
#[derive(Clone, Copy, PartialEq)]
enum Typed {
    No,
    Yes,
}

/// The producer a produce row sends with.
enum Sender {
    Plain(Producer),
    Typed(TypedProducer<Option<Bytes>, Bytes>),
}

impl Sender {
    async fn send(&self, topic: &Arc<str>, value: &Bytes) -> kafkit::Result<Delivery> {
        match self {
            Sender::Plain(producer) => producer.send(make_record(topic, value)).await,
            Sender::Typed(producer) => {
                let record = TypedProducerRecord::new(topic.clone(), None, value.clone());
                producer.send(record).await
            }
        }
    }

    fn producer(&self) -> &Producer {
        match self {
            Sender::Plain(producer) => producer,
            Sender::Typed(producer) => producer.producer(),
        }
    }
}

async fn produce(
    bootstrap: &str,
    topic: &Arc<str>,
    records: usize,
    typed: Typed,
) -> Result<Row, BoxError> {
    let producer = Producer::new(producer_config(bootstrap)).await?;
    let producer = match typed {
        Typed::No => Sender::Plain(producer),
        Typed::Yes => Sender::Typed(TypedProducer::new(producer)),
    };
    let value = Bytes::from(vec![b'x'; VALUE_SIZE]);
    let mut pending: Vec<Delivery> = Vec::with_capacity(CHUNK);
    send_all(&producer, topic, &value, WARM_UP, &mut pending).await?;

    let start = Snapshot::now();
    let began = Instant::now();
    send_all(&producer, topic, &value, records, &mut pending).await?;
    let counted = Snapshot::since(start);
    let elapsed = began.elapsed();
    producer.producer().close(Duration::from_secs(30)).await;
    Ok(Row {
        name: match typed {
            Typed::No => "produce (send to ack)",
            Typed::Yes => "produce (typed, Bytes)",
        },
        records,
        counted,
        elapsed,
        target: Some(PRODUCE_TARGET),
    })
}

/// `send_with_callback`: the boxed callback is the application's closure (here it captures an
/// `Arc`), one allocation per record by construction, so this row has no target of its own.
async fn produce_with_callbacks(
    bootstrap: &str,
    topic: &Arc<str>,
    records: usize,
) -> Result<Row, BoxError> {
    let producer = Producer::new(producer_config(bootstrap)).await?;
    let value = Bytes::from(vec![b'x'; VALUE_SIZE]);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let send = |n| {
        let (producer, acknowledged, value) = (&producer, &acknowledged, &value);
        async move {
            for _ in 0..n {
                let acknowledged = acknowledged.clone();
                producer
                    .send_with_callback(make_record(topic, value), move |outcome| {
                        if outcome.is_ok() {
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .await?;
            }
            producer.flush().await;
            Ok::<_, BoxError>(())
        }
    };
    send(WARM_UP).await?;
    let start = Snapshot::now();
    let began = Instant::now();
    send(records).await?;
    let counted = Snapshot::since(start);
    let elapsed = began.elapsed();
    producer.close(Duration::from_secs(30)).await;
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    if acknowledged != (WARM_UP + records) as u64 {
        return Err(format!(
            "{acknowledged} of {} records acknowledged",
            WARM_UP + records
        )
        .into());
    }
    Ok(Row {
        name: "produce (callbacks)",
        records,
        counted,
        elapsed,
        target: None,
    })
}

/// Sends `n` records, awaiting their deliveries `CHUNK` at a time from `pending`, whose
/// capacity is reused so that keeping them allocates nothing.
async fn send_all(
    producer: &Sender,
    topic: &Arc<str>,
    value: &Bytes,
    n: usize,
    pending: &mut Vec<Delivery>,
) -> Result<(), BoxError> {
    for i in 0..n {
        pending.push(producer.send(topic, value).await?);
        if pending.len() == CHUNK || i + 1 == n {
            for delivery in pending.drain(..) {
                delivery.await?;
            }
        }
    }
    Ok(())
}

/// How a consumer gets its partitions.
enum Read<'a> {
    Assign(Vec<TopicPartition>),
    Subscribe(&'a str),
}

/// Reads `total` records from the start with a new consumer, counting everything from its
/// creation to the poll that reaches `total`. There is no warm-up to leave out: the fetcher
/// decodes ahead in the background, so a window opened after some polls would miss the
/// decoding of records it counts. Setting up (connections, metadata, ListOffsets, joining the
/// group) is in the count, spread over every record read.
async fn consume(
    name: &'static str,
    config: ConsumerConfig,
    read: Read<'_>,
    total: usize,
    typed: Typed,
) -> Result<Row, BoxError> {
    let start = Snapshot::now();
    let began = Instant::now();
    let consumer = Consumer::new(config).await?;
    match read {
        Read::Assign(partitions) => consumer.assign(partitions).await?,
        Read::Subscribe(topic) => consumer.subscribe([topic]).await?,
    }
    let typed_consumer: Option<TypedConsumer<Option<Bytes>, Bytes>> =
        (typed == Typed::Yes).then(|| TypedConsumer::new(consumer.clone()));
    let sum = |checksum: u64, value: &[u8]| {
        value
            .iter()
            .fold(checksum, |s, &b| s.wrapping_add(u64::from(b)))
    };
    let (mut seen, mut checksum) = (0, 0u64);
    while seen < total {
        if began.elapsed() > Duration::from_secs(120) {
            return Err(format!("{name}: only {seen} of {total} records in 120 s").into());
        }
        let timeout = Duration::from_millis(500);
        // Reads every value, as an application would.
        match &typed_consumer {
            None => {
                let polled = consumer.poll(timeout).await?;
                seen += polled.len();
                for record in &polled {
                    checksum = sum(checksum, record.value.as_deref().unwrap_or_default());
                }
            }
            Some(typed) => {
                let polled = typed.poll(timeout).await?;
                seen += polled.len();
                for record in &polled {
                    checksum = sum(checksum, &record.value);
                }
            }
        }
    }
    let counted = Snapshot::since(start);
    let elapsed = began.elapsed();
    black_box(checksum);
    consumer.close().await?;
    Ok(Row {
        name,
        records: seen,
        counted,
        elapsed,
        target: Some(CONSUME_TARGET),
    })
}
