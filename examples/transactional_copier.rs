//! Apache Kafka's `TransactionalMessageCopier` (the tool Kafka's system tests kill and
//! restart) in kafkit: copy records from an input partition to the same partition of an
//! output topic, each batch in one transaction with the input offsets it consumed, so a
//! crash at any point copies every record exactly once (as a `read_committed` reader sees
//! the output). It takes the Java tool's flags and prints its JSON status lines, so either
//! can stand in for the other, even on the same `transactional.id`.
//!
//! ```sh
//! cargo run --example transactional_copier -- --bootstrap-server localhost:9092 \
//!     --input-topic in --input-partition 0 --output-topic out --transactional-id copier-0 \
//!     --group-id copiers [--transaction-size 200] [--transaction-timeout 60000] \
//!     [--max-messages -1] [--enable-random-aborts] [--group-mode] [--use-group-metadata]
//! ```
//!
//! Before each poll it prints `{"stage":"ProcessLoop","progress":ID,"transactionalId":ID,
//! "totalProcessed":N,"consumed":N,"remaining":N,"time":…}` (`RebalanceComplete` after an
//! assignment in group mode), and `{"stage":"ShutdownComplete","shutdown_complete":ID,…}`
//! when it is done or stopped by SIGTERM/SIGINT. `--max-messages -1` copies up to the input's
//! end offsets as they were at start (with `--group-mode`, at each assignment), then exits 0.
//! `--enable-random-aborts` aborts about one transaction in three after writing it (the
//! records are then copied again). A fenced producer (another copier took the
//! `transactional.id`) exits 1. `--no-transactions` (not in Java's tool) copies
//! at-least-once instead: send, flush, then commit the offsets, for comparison.

#[allow(dead_code)] // each example uses part of it
mod support;

use bytes::Bytes;
use clap::Parser;
use kafkit::{Consumer, ConsumerConfig, ConsumerGroupMetadata, ConsumerRecord};
use kafkit::{OffsetAndMetadata, Producer, ProducerConfig, ProducerRecord, TopicPartition};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Copy an input partition to an output topic transactionally.
#[derive(Parser)]
struct Args {
    /// The brokers to bootstrap from.
    #[arg(long, alias = "broker-list", value_name = "HOST:PORT")]
    bootstrap_server: String,
    #[arg(long)]
    input_topic: String,
    /// The partition copied (ignored with --group-mode).
    #[arg(long, default_value_t = 0)]
    input_partition: i32,
    #[arg(long)]
    output_topic: String,
    #[arg(long)]
    transactional_id: String,
    /// The group whose offsets the transactions commit (Java: --consumer-group).
    #[arg(long, alias = "consumer-group")]
    group_id: String,
    /// Records per transaction (at most; one poll's worth).
    #[arg(long, default_value_t = 200)]
    transaction_size: u32,
    /// `transaction.timeout.ms`.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    transaction_timeout: u32,
    /// Records to copy; -1: up to the end offsets at start.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    max_messages: i64,
    /// Abort about one transaction in three.
    #[arg(long)]
    enable_random_aborts: bool,
    /// Subscribe to the input topic instead of assigning --input-partition.
    #[arg(long)]
    group_mode: bool,
    /// Send the consumer's generation and member id with the offsets (KIP-447).
    #[arg(long)]
    use_group_metadata: bool,
    /// Copy at-least-once, without transactions (a negative control).
    #[arg(long)]
    no_transactions: bool,
}

/// The counters of Java's status lines.
#[derive(Default)]
struct Progress {
    total: u64,
    consumed: u64,
    remaining: i64,
}

impl Progress {
    fn print(&self, id: &str, stage: &str) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let key = if stage == "ShutdownComplete" {
            "shutdown_complete"
        } else {
            "progress"
        };
        println!(
            "{}",
            serde_json::json!({
                "stage": stage, key: id, "transactionalId": id, "totalProcessed": self.total,
                "consumed": self.consumed, "remaining": self.remaining, "time": ms,
            })
        );
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = support::parse_or_help::<Args>();
    let consumer = match consumer(&args).await {
        Ok(c) => c,
        Err(e) => return support::exit("transactional_copier", Err(e.into())),
    };
    let mut progress = Progress::default();
    let outcome = tokio::select! {
        outcome = copy(&args, &consumer, &mut progress) => outcome,
        _ = shutdown_signal() => Ok(()),
    };
    progress.print(&args.transactional_id, "ShutdownComplete");
    let _ = consumer.close().await;
    support::exit("transactional_copier", outcome.map_err(Into::into))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
}

/// Java's copier's consumer: read_committed, manual commits, a poll's worth per transaction.
async fn consumer(args: &Args) -> kafkit::Result<Consumer> {
    let size = args.transaction_size.to_string();
    Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", args.bootstrap_server.as_str()),
        ("group.id", &args.group_id),
        ("isolation.level", "read_committed"),
        ("max.poll.records", &size),
        ("enable.auto.commit", "false"),
        ("session.timeout.ms", "10000"),
        ("max.poll.interval.ms", "180000"),
        ("heartbeat.interval.ms", "3000"),
        ("auto.offset.reset", "earliest"),
    ])?)
    .await
}

/// Java's copier's producer: small batches, so a transaction spans several requests.
async fn producer(args: &Args) -> kafkit::Result<Producer> {
    let timeout = args.transaction_timeout.to_string();
    let mut props = vec![
        ("bootstrap.servers", args.bootstrap_server.as_str()),
        ("batch.size", "512"),
        ("max.in.flight.requests.per.connection", "5"),
    ];
    if !args.no_transactions {
        props.push(("transactional.id", &args.transactional_id));
        props.push(("transaction.timeout.ms", &timeout));
    }
    let producer = Producer::new(ProducerConfig::from_properties(props)?).await?;
    if !args.no_transactions {
        producer.init_transactions().await?;
    }
    Ok(producer)
}

/// Records from the positions to the end offsets (read_committed: the last stable
/// offsets), summed over `partitions`.
async fn remaining(consumer: &Consumer, partitions: &[TopicPartition]) -> kafkit::Result<i64> {
    let ends = consumer.end_offsets(partitions).await?;
    // A position just reset to the beginning is known only after the next poll.
    let starts = consumer.beginning_offsets(partitions).await?;
    let mut left = 0;
    for tp in partitions {
        let at = match consumer.position(tp).await {
            Some(at) => at,
            None => starts.get(tp).copied().unwrap_or(0),
        };
        left += ends.get(tp).map_or(0, |end| end - at);
    }
    Ok(left)
}

/// Seeks every assigned partition to its committed offset, or the beginning without one,
/// so an aborted transaction's records are read again.
async fn rewind(consumer: &Consumer) -> kafkit::Result<()> {
    let assigned = consumer.assignment().await;
    let committed = consumer.committed(&assigned).await?;
    for tp in &assigned {
        match committed.get(tp) {
            Some(c) => consumer.seek(tp, c.offset).await?,
            None => consumer.seek_to_beginning(std::slice::from_ref(tp)).await?,
        }
    }
    Ok(())
}

async fn copy(args: &Args, consumer: &Consumer, progress: &mut Progress) -> kafkit::Result<()> {
    let producer = producer(args).await?;
    // Group mode: nothing to copy is known until the first assignment (as in Java).
    progress.remaining = if args.max_messages < 0 {
        i64::MAX
    } else {
        args.max_messages
    };
    let mut assigned = Vec::new();
    if args.group_mode {
        consumer.subscribe([args.input_topic.clone()]).await?;
    } else {
        let tp = TopicPartition::new(args.input_topic.as_str(), args.input_partition);
        consumer.assign([tp.clone()]).await?;
        rewind(consumer).await?;
        let left = remaining(consumer, std::slice::from_ref(&tp)).await?;
        progress.remaining = progress.remaining.min(left);
        assigned = vec![tp];
    }
    let outcome = copy_loop(args, consumer, &producer, progress, assigned).await;
    producer.close(Duration::from_secs(10)).await;
    outcome
}

async fn copy_loop(
    args: &Args,
    consumer: &Consumer,
    producer: &Producer,
    progress: &mut Progress,
    mut assigned: Vec<TopicPartition>,
) -> kafkit::Result<()> {
    let id = &args.transactional_id;
    while progress.remaining > 0 {
        progress.print(id, "ProcessLoop");
        let records = consumer.poll(Duration::from_millis(200)).await?;
        if args.group_mode && consumer.assignment().await != assigned {
            // Java counts from the new assignment's positions (in its rebalance listener,
            // before the poll's fetch); these are past this poll's records, still to copy.
            assigned = consumer.assignment().await;
            progress.remaining = remaining(consumer, &assigned).await? + records.len() as i64;
            progress.consumed = 0;
            progress.print(id, "RebalanceComplete");
        }
        if records.is_empty() {
            continue;
        }
        let n = records.len() as i64;
        match copy_batch(args, consumer, producer, records).await {
            Ok(true) => {
                progress.remaining -= n;
                progress.consumed += n as u64;
                progress.total += n as u64;
            }
            Ok(false) => rewind(consumer).await?,
            Err(e) if e.is_fatal() || args.no_transactions => return Err(e),
            Err(e) => {
                eprintln!("transactional_copier: aborting the transaction: {e}");
                producer.abort_transaction().await?;
                rewind(consumer).await?;
            }
        }
    }
    Ok(())
}

/// Copies one poll's records with the offsets after them, in one transaction (or, with
/// --no-transactions, acknowledged before the offsets are committed); `false` if the
/// transaction was aborted on purpose.
async fn copy_batch(
    args: &Args,
    consumer: &Consumer,
    producer: &Producer,
    records: Vec<ConsumerRecord>,
) -> kafkit::Result<bool> {
    let mut offsets: HashMap<TopicPartition, OffsetAndMetadata> = HashMap::new();
    let mut deliveries = Vec::with_capacity(records.len());
    if !args.no_transactions {
        producer.begin_transaction()?;
    }
    for r in records {
        let next = OffsetAndMetadata::new(r.offset + 1);
        offsets.insert(TopicPartition::new(&*r.topic, r.partition), next);
        // As Java's copier: the same partition, key and value; no headers or timestamp.
        let mut out = ProducerRecord::new(args.output_topic.as_str(), Bytes::new());
        (out.partition, out.key, out.value) = (Some(r.partition), r.key, r.value);
        deliveries.push(producer.send(out).await?);
    }
    if args.no_transactions {
        for delivery in deliveries {
            delivery.await?;
        }
        consumer.commit_offsets(offsets).await?;
        return Ok(true);
    }
    let group = if args.use_group_metadata {
        consumer.group_metadata()?
    } else {
        ConsumerGroupMetadata::new(args.group_id.as_str())
    };
    producer
        .send_offsets_to_transaction(offsets, &group)
        .await?;
    if args.enable_random_aborts && rand::random_ratio(1, 3) {
        producer.abort_transaction().await?;
        return Ok(false);
    }
    // The commit flushes the records first, and fails if one of them failed. One whose
    // outcome is unknown (no answer) is asked again, never aborted: it may have happened.
    loop {
        match producer.commit_transaction().await {
            Err(e) if !e.is_fatal() && !e.is_abortable() && producer.in_transaction() => {
                eprintln!("transactional_copier: commit outcome unknown, asking again: {e}");
            }
            outcome => return outcome.map(|()| true),
        }
    }
}
