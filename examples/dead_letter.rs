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

use futures::future::try_join_all;
use kafkit::{AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, Header};
use kafkit::{OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord, TopicPartition};
use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: dead_letter --bootstrap-server HOST:PORT --topic TOPIC --group GROUP \
--dlq-topic TOPIC [--max-messages N] [--timeout-ms IDLE_MS (default 10000)]";

const FLAGS: &str = "--bootstrap-server --topic --group --dlq-topic --max-messages --timeout-ms";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dead_letter: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let (args, mut opts) = (std::env::args().skip(1).collect::<Vec<_>>(), HashMap::new());
    for pair in args.chunks(2) {
        match pair {
            [flag, value] if FLAGS.split(' ').any(|f| f == flag) => {
                opts.insert(flag.as_str(), value.clone())
            }
            _ => return Err(format!("bad argument {}\n{USAGE}", pair.join(" ")).into()),
        };
    }
    let mut required = |k: &str| opts.remove(k).ok_or(format!("{k} is required\n{USAGE}"));
    let (bootstrap, topic) = (required("--bootstrap-server")?, required("--topic")?);
    let (group, dlq) = (required("--group")?, required("--dlq-topic")?);
    let number = |k: &str, default: u64| opts.get(k).map_or(Ok(default), |v| v.parse::<u64>());
    let (max, idle) = (
        number("--max-messages", u64::MAX)?,
        number("--timeout-ms", 10_000)?,
    );

    let mut config = ConsumerConfig::new(&bootstrap);
    (config.group_id, config.enable_auto_commit) = (Some(group), false);
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    let consumer = Consumer::new(config).await?;
    let producer = Producer::new(ProducerConfig::new(&bootstrap)).await?; // acks=all
    consumer.subscribe([topic]).await?;
    let (max, idle) = (max as usize, Duration::from_millis(idle));
    let outcome = consume(&consumer, &producer, &dlq, max, idle).await;
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
