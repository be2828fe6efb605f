//! Producer throughput and latency, like Apache Kafka's `kafka-producer-perf-test.sh`: same
//! flags, same periodic and final lines, so the numbers line up with the Java tool's.
//!
//! ```sh
//! cargo run --release --example producer_perf -- --topic perf --num-records 1000000 \
//!     --record-size 100 --throughput -1 --partitions 6 --print-metrics \
//!     --producer-props bootstrap.servers=localhost:9092 acks=all linger.ms=5 batch.size=65536
//! ```

#[allow(dead_code)] // each example uses part of it
mod support;

use bytes::Bytes;
use clap::{ArgGroup, Parser};
use kafkit::{Admin, NewTopic, Producer, ProducerConfig, ProducerRecord};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::key_value;

/// Producer throughput and latency, like Apache Kafka's `kafka-producer-perf-test.sh`.
#[derive(Parser)]
#[command(group(ArgGroup::new("payload").required(true).args(["record_size", "payload_file"])))]
struct Args {
    #[arg(long)]
    topic: String,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    num_records: u64,
    /// Every record carries the same BYTES bytes: the letters A..Z repeated. The pattern is
    /// fixed and very compressible (Java's tool sends random letters), so with
    /// compression.type set, batches shrink far more than real data would.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    record_size: Option<u64>,
    /// One record per non-empty line of FILE, each picked at random (as in Java).
    #[arg(long, value_name = "FILE")]
    payload_file: Option<String>,
    /// Cap in records/s, paced like Java's ThroughputThrottler; -1: no cap.
    #[arg(long, value_name = "RECORDS_PER_SEC", allow_negative_numbers = true)]
    throughput: f64,
    /// Java producer keys; bootstrap.servers is required.
    #[arg(long, value_name = "KEY=VALUE", required = true, num_args = 1.., value_parser = key_value)]
    producer_props: Vec<(String, String)>,
    /// After the summary: wall time, client CPU time (user+sys) and CPU per record.
    #[arg(long)]
    print_metrics: bool,
    /// kafkit extension: create TOPIC with N partitions first if it is missing.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    partitions: Option<i32>,
}

/// Java's reporting interval for the periodic line.
const WINDOW: Duration = Duration::from_secs(5);
/// Java's `ThroughputThrottler` sleeps once it owes at least this much.
const MIN_SLEEP: Duration = Duration::from_millis(2);

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("producer_perf", run(support::parse_or_help()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.throughput == 0.0 {
        return Err("--throughput: records/s, or -1 for no cap; not 0".into());
    }
    let payloads = payloads(&args)?;
    let config = ProducerConfig::from_properties(args.producer_props.clone())?;
    if let Some(partitions) = args.partitions {
        ensure_topic(&config, &args.topic, partitions).await?;
    }
    let producer = Producer::new(config).await?;
    // Like Java's tool, a callback per record updates the stats; send() itself waits while
    // buffer.memory is spent, which paces the loop.
    let stats = Arc::new(Mutex::new(Stats::new(args.num_records)));
    let topic: Arc<str> = args.topic.as_str().into();
    let mut rng = SmallRng::seed_from_u64(0);
    let (start, mut debt) = (Instant::now(), Duration::ZERO);
    for i in 0..args.num_records {
        let payload = payloads[rng.random_range(0..payloads.len())].clone();
        let bytes = payload.len();
        let sent = Instant::now();
        let stats = stats.clone();
        producer
            .send_with_callback(
                ProducerRecord::new(topic.clone(), payload),
                move |outcome| {
                    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok(_) => stats.record(sent.elapsed(), bytes),
                        Err(e) => {
                            stats.failed += 1;
                            stats.first_error.get_or_insert(e.to_string());
                        }
                    }
                },
            )
            .await?;
        // Java's ThroughputThrottler: while the average rate since the start is above the
        // target, owe 1/target s per record and sleep the debt off in small steps. Pacing
        // against the average corrects any timer overshoot by itself.
        let elapsed = start.elapsed().as_secs_f64();
        if args.throughput > 0.0 && elapsed > 0.0 && i as f64 / elapsed > args.throughput {
            debt += Duration::from_secs_f64(1.0 / args.throughput);
            if debt >= MIN_SLEEP {
                tokio::time::sleep(std::mem::take(&mut debt)).await;
            }
        }
    }
    // Every callback has run once flush returns.
    producer.flush().await;
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    stats.print_total();
    if args.print_metrics {
        print_metrics(&stats);
    }
    match &stats.first_error {
        Some(e) => Err(format!("{} records failed; the first: {e}", stats.failed).into()),
        None => Ok(()),
    }
}

/// Since when, records, payload bytes, latency total and maximum (µs): of the whole run, or
/// of one 5 s window.
struct Window(Instant, u64, u64, u64, u64);

impl Window {
    fn new() -> Self {
        Window(Instant::now(), 0, 0, 0, 0)
    }

    fn add(&mut self, us: u64, bytes: u64) {
        (self.1, self.2, self.3, self.4) =
            (self.1 + 1, self.2 + bytes, self.3 + us, self.4.max(us));
    }

    /// Records/s, MB/s (Java's MB: 2^20 bytes), average and maximum latency in ms.
    fn rates(&self) -> (f64, f64, f64, f64) {
        let (secs, count) = (self.0.elapsed().as_secs_f64(), self.1 as f64);
        let avg = self.3 as f64 / count.max(1.0) / 1000.0;
        (
            count / secs,
            self.2 as f64 / secs / 1048576.0,
            avg,
            self.4 as f64 / 1000.0,
        )
    }
}

/// Java's `ProducerPerformance.Stats`, timed in microseconds where Java has milliseconds.
struct Stats {
    total: Window,
    window: Window,
    /// Every `sampling`-th latency in µs: at most ~500k of them, as Java keeps.
    samples: Vec<u32>,
    sampling: u64,
    failed: u64,
    first_error: Option<String>,
}

impl Stats {
    fn new(num_records: u64) -> Self {
        let sampling = num_records / num_records.min(500_000);
        Stats {
            total: Window::new(),
            window: Window::new(),
            samples: Vec::with_capacity((num_records / sampling + 1) as usize),
            sampling,
            failed: 0,
            first_error: None,
        }
    }

    fn record(&mut self, latency: Duration, bytes: usize) {
        let us = latency.as_micros() as u64;
        if self.total.1.is_multiple_of(self.sampling) {
            self.samples.push(us.min(u32::MAX.into()) as u32);
        }
        self.total.add(us, bytes as u64);
        self.window.add(us, bytes as u64);
        if self.window.0.elapsed() >= WINDOW {
            let (rps, mbps, avg, max) = self.window.rates();
            println!(
                "{} records sent, {rps:.1} records/sec ({mbps:.2} MB/sec), {avg:.1} ms avg latency, {max:.1} ms max latency.",
                self.window.1
            );
            self.window = Window::new();
        }
    }

    fn print_total(&mut self) {
        let (rps, mbps, avg, max) = self.total.rates();
        self.samples.sort_unstable();
        // Java's percentile: the sample at index floor(q * n), in whole milliseconds.
        let n = self.samples.len() as f64;
        let p = |q: f64| self.samples.get((q * n) as usize).map_or(0, |us| us / 1000);
        println!(
            "{} records sent, {rps:.6} records/sec ({mbps:.2} MB/sec), {avg:.2} ms avg latency, {max:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.total.1, p(0.5), p(0.95), p(0.99), p(0.999)
        );
    }
}

/// kafkit has no metrics registry yet, so these are the process's own figures: the CPU time
/// of every thread of this process; the broker's CPU is not in it.
fn print_metrics(stats: &Stats) {
    let secs = stats.total.0.elapsed().as_secs_f64();
    println!("metric: wall time {secs:.3} s");
    let Some((user, sys)) = support::cpu_seconds() else {
        return println!("metric: cpu time unavailable (needs Linux /proc)");
    };
    let busy = (user + sys) / secs * 100.0;
    let per_record = (user + sys) * 1e6 / stats.total.1.max(1) as f64;
    println!("metric: cpu user {user:.2} s, sys {sys:.2} s ({busy:.0}% of one core)");
    println!("metric: cpu {per_record:.2} us/record");
}

async fn ensure_topic(config: &ProducerConfig, topic: &str, partitions: i32) -> kafkit::Result<()> {
    let admin = Admin::new(config.client.clone()).await?;
    let topics = admin.list_topics().await?;
    match topics.iter().find(|t| t.name == topic) {
        Some(t) if t.partitions.len() != partitions as usize => {
            let existing = t.partitions.len();
            eprintln!("note: topic {topic} already exists, with {existing} partitions");
        }
        Some(_) => {}
        // -1: the broker's default.replication.factor, so this works on any cluster size.
        None => {
            let topic = NewTopic::new(topic, partitions, -1);
            admin.create_topics([topic]).await?;
        }
    }
    Ok(())
}

/// The record values: one fixed pattern, or the lines of the payload file.
fn payloads(args: &Args) -> Result<Vec<Bytes>, String> {
    let (Some(path), None) = (&args.payload_file, args.record_size) else {
        let size = args.record_size.unwrap_or(0) as usize;
        return Ok(vec![(b'A'..=b'Z').cycle().take(size).collect()]);
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    println!("Reading payloads from: {path}");
    let lines = text.lines().filter(|l| !l.is_empty());
    let lines: Vec<Bytes> = lines
        .map(|l| Bytes::copy_from_slice(l.as_bytes()))
        .collect();
    println!("Number of messages read: {}", lines.len());
    match lines.is_empty() {
        true => Err(format!("{path} holds no lines")),
        false => Ok(lines),
    }
}
