//! The dead-letter-queue pattern: consume in a group, process each record, send the ones that
//! fail for good to a DLQ topic, and commit only once their DLQ writes are acknowledged, so a
//! crash never loses a record (it may process some twice). "Processing" here parses the value
//! as an integer and sums it. A failed record goes to the DLQ with its key, value and headers,
//! plus an `error` header and Kafka Connect's `__connect.errors.{topic,partition,offset}`.
//!
//! ```sh
//! cargo run --example dead_letter -- --bootstrap-server localhost:9092 --topic numbers \
//!     --group summer --dlq-topic numbers.dlq --max-messages 100 --timeout-ms 10000
//! ```

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::Parser;
use futures::future::try_join_all;
use kafkit::{AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, Header};
use kafkit::{OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord, TopicPartition};
use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::Target;

/// Consume in a group, send the records that fail to a DLQ topic, commit.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    #[arg(long)]
    group: String,
    #[arg(long, value_name = "TOPIC")]
    dlq_topic: String,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<usize>,
    /// Stop after this long without a record.
    #[arg(long, value_name = "IDLE_MS", default_value_t = 10_000)]
    timeout_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("dead_letter", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let mut config = ConsumerConfig::new(&args.target.bootstrap_server);
    (config.group_id, config.enable_auto_commit) = (Some(args.group), false);
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    let consumer = Consumer::new(config).await?;
    let producer = Producer::new(ProducerConfig::new(&args.target.bootstrap_server)).await?; // acks=all
    consumer.subscribe([args.target.topic]).await?;
    let (dlq, idle) = (args.dlq_topic, Duration::from_millis(args.timeout_ms));
    let outcome = consume(
        &consumer,
        &producer,
        &dlq,
        args.max_messages.unwrap_or(usize::MAX),
        idle,
    )
    .await;
    producer.close(Duration::from_secs(5)).await;
    let closed = consumer.close().await; // leave the group even after a failure
    let (ok, sum, failed) = outcome?;
    closed?;
    let total = ok + failed;
    println!("processed {total} records: {ok} ok (sum {sum}), {failed} sent to {dlq}; committed");
    Ok(())
}

/// Returns how many records were processed, their sum, and how many went to the DLQ.
async fn consume(
    consumer: &Consumer,
    producer: &Producer,
    dlq: &str,
    max: usize,
    idle: Duration,
) -> Result<(usize, i64, usize), Box<dyn Error>> {
    let (mut ok, mut sum, mut failed, mut last) = (0, 0i64, 0, Instant::now());
    while ok + failed < max && last.elapsed() < idle {
        let records = consumer.poll(Duration::from_millis(200)).await?;
        last = if records.is_empty() {
            last
        } else {
            Instant::now()
        };
        let (mut deliveries, mut next) = (Vec::new(), BTreeMap::new());
        for r in records.into_iter().take(max - ok - failed) {
            let tp = TopicPartition::new(&*r.topic, r.partition);
            next.insert(tp, OffsetAndMetadata::new(r.offset + 1));
            match process(&r) {
                Ok(n) => (ok, sum) = (ok + 1, sum.wrapping_add(n)),
                Err(reason) => {
                    failed += 1;
                    deliveries.push(producer.send(dead_letter(r, dlq, &reason)).await?);
                }
            }
        }
        // Commit only what is done: processed, or acknowledged by the DLQ topic.
        try_join_all(deliveries).await?;
        if !next.is_empty() {
            consumer.commit_offsets(next).await?;
        }
    }
    Ok((ok, sum, failed))
}

/// The work: a value that is not an integer is a failure no retry would fix.
fn process(r: &ConsumerRecord) -> Result<i64, String> {
    let value = r.value.as_deref().ok_or("null value")?;
    let text = std::str::from_utf8(value).map_err(|_| "value is not UTF-8")?;
    text.trim()
        .parse()
        .map_err(|e| format!("not an integer: {text:?} ({e})"))
}

fn dead_letter(r: ConsumerRecord, dlq: &str, reason: &str) -> ProducerRecord {
    let origin = [
        ("error", reason.to_string()),
        ("__connect.errors.topic", r.topic.to_string()),
        ("__connect.errors.partition", r.partition.to_string()),
        ("__connect.errors.offset", r.offset.to_string()),
    ];
    let mut out = ProducerRecord::new(dlq, "");
    (out.key, out.value, out.headers) = (r.key, r.value, r.headers);
    out.headers.extend(origin.map(|(k, v)| Header::new(k, v)));
    out
}
