//! Records to stdout, like Apache Kafka's `kafka-console-consumer.sh`.
//!
//! ```sh
//! cargo run --example console_consumer -- --bootstrap-server localhost:9092 --topic my_topic \
//!     --from-beginning --max-messages 10 --property print.key=true --format json
//! ```
//!
//! With `--group G` (or `--consumer-property group.id=G`) the topic's partitions are shared
//! with the group's other members, and the offsets of the records printed are committed after
//! each batch is printed (auto-commit is off unless set), so a consumer started later in the
//! same group carries on where this one stopped. On exit, and on Ctrl-C, it leaves the group.

mod args;
mod print;
#[allow(dead_code)] // each example uses part of it
#[path = "../support/mod.rs"]
mod support;

use args::Args;
use clap::Parser;
use kafkit::{AutoOffsetReset, Consumer, ConsumerConfig, OffsetAndMetadata, TopicPartition};
use print::{format_record, Print};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("console_consumer", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let print = Print::new(&args.property, args.format)?;
    // Offsets are committed explicitly, after printing; a --consumer-property may turn
    // auto-commit back on.
    let mut props = vec![("enable.auto.commit".to_string(), "false".to_string())];
    if let Some(path) = &args.consumer_config {
        props.extend(support::properties_file(path)?);
    }
    props.push((
        "bootstrap.servers".to_string(),
        args.target.bootstrap_server,
    ));
    props.extend(args.group.map(|g| ("group.id".to_string(), g)));
    props.extend(args.consumer_property);
    let mut config = ConsumerConfig::from_properties(props)?;
    if args.from_beginning || args.offset.as_deref() == Some("earliest") {
        config.auto_offset_reset = AutoOffsetReset::Earliest;
    }
    let group = config.group_id.is_some();
    if group && args.partition.is_some() {
        return Err("--group (group.id) and --partition cannot be used together".into());
    }
    let consumer = Consumer::new(config).await?;
    match args.partition {
        Some(p) => {
            let tp = TopicPartition::new(&args.target.topic, p);
            consumer.assign([tp.clone()]).await?;
            if let Some(o) = args.offset.as_deref().and_then(|o| o.parse::<i64>().ok()) {
                consumer.seek(&tp, o).await?;
            }
        }
        None => consumer.subscribe([args.target.topic]).await?,
    }
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let outcome = tokio::select! {
        outcome = consume(&consumer, group, args.max_messages, timeout, &print) => outcome,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    // Leave the group even after a failure, so its partitions move on at once.
    let closed = consumer.close().await;
    outcome?;
    Ok(closed?)
}

async fn consume(
    consumer: &Consumer,
    group: bool,
    max_messages: Option<usize>,
    timeout: Option<Duration>,
    print: &Print,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut printed = 0;
    loop {
        if max_messages.is_some_and(|m| printed >= m) {
            return Ok(());
        }
        if let Some(t) = timeout {
            if started.elapsed() >= t {
                return if max_messages.is_some() {
                    Err(format!("timed out after {printed} messages").into())
                } else {
                    Ok(())
                };
            }
        }
        // The next offset to read, per partition, after the records printed.
        let mut done = BTreeMap::new();
        for record in consumer.poll(Duration::from_millis(200)).await? {
            if max_messages.is_some_and(|m| printed >= m) {
                break;
            }
            println!("{}", format_record(&record, print));
            printed += 1;
            let tp = TopicPartition::new(&*record.topic, record.partition);
            done.insert(tp, OffsetAndMetadata::new(record.offset + 1));
        }
        if group && !done.is_empty() {
            consumer.commit_offsets(done).await?;
        }
    }
}
