//! Producer throughput and latency, like Apache Kafka's `kafka-producer-perf-test.sh`: same
//! flags, same periodic and final lines, so the numbers line up with the Java tool's.
//!
//! ```sh
//! cargo run --release --example producer_perf -- --topic perf --num-records 1000000 \
//!     --record-size 100 --throughput -1 --partitions 6 --print-metrics \
//!     --producer-props bootstrap.servers=localhost:9092 acks=all linger.ms=5 batch.size=65536
//! ```

mod args;
mod stats;
#[allow(dead_code)] // each example uses part of it
#[path = "../support/mod.rs"]
mod support;

use args::Args;
use bytes::Bytes;
use kafkit::{Admin, NewTopic, Producer, ProducerConfig, ProducerRecord};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use stats::{print_metrics, Stats};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let mut props = match &args.producer_config {
        Some(path) => support::properties_file(path)?,
        None => Vec::new(),
    };
    props.extend(args.producer_props.iter().cloned());
    let config = ProducerConfig::from_properties(props)?;
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
