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

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::{Parser, ValueEnum};
use kafkit::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, TopicPartition,
};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{key_value, Target};

/// Records to stdout.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Share the topic's partitions with this group's members; commit what was printed.
    #[arg(long)]
    group: Option<String>,
    /// Start from the earliest offset when there is no committed one.
    #[arg(long)]
    from_beginning: bool,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<usize>,
    /// Stop after this long (with --max-messages, a failure if fewer were printed).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Read only this partition (no group).
    #[arg(long, value_name = "P")]
    partition: Option<i32>,
    /// With --partition: the offset to start at, `earliest` or `latest`.
    #[arg(long, value_name = "O|earliest|latest", requires = "partition")]
    offset: Option<String>,
    /// A Java consumer property, e.g. `fetch.min.bytes=1`.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    consumer_property: Vec<(String, String)>,
    /// `print.key`, `print.timestamp`, `print.partition`, `print.offset`, `print.headers`
    /// (`=true`), or `key.separator=SEP` (a tab by default).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    property: Vec<(String, String)>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Default)]
struct Print {
    key: bool,
    timestamp: bool,
    partition: bool,
    offset: bool,
    headers: bool,
    separator: String,
    json: bool,
}

impl Print {
    fn new(properties: &[(String, String)], format: Format) -> Result<Print, String> {
        let mut print = Print {
            separator: "\t".into(),
            json: format == Format::Json,
            ..Print::default()
        };
        for (k, v) in properties {
            let on = v == "true";
            match k.as_str() {
                "print.key" => print.key = on,
                "print.timestamp" => print.timestamp = on,
                "print.partition" => print.partition = on,
                "print.offset" => print.offset = on,
                "print.headers" => print.headers = on,
                "key.separator" => print.separator = v.clone(),
                other => return Err(format!("unknown --property {other}")),
            }
        }
        Ok(print)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("console_consumer", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let print = Print::new(&args.property, args.format)?;
    // Offsets are committed explicitly, after printing; a --consumer-property may turn
    // auto-commit back on.
    let mut props = vec![
        (
            "bootstrap.servers".to_string(),
            args.target.bootstrap_server,
        ),
        ("enable.auto.commit".into(), "false".into()),
    ];
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

fn format_record(r: &ConsumerRecord, p: &Print) -> String {
    let text =
        |b: &Option<bytes::Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    if p.json {
        let headers: Vec<serde_json::Value> = r
            .headers
            .iter()
            .map(|h| serde_json::json!({"key": String::from_utf8_lossy(&h.key), "value": text(&h.value)}))
            .collect();
        return serde_json::json!({
            "topic": &*r.topic, "partition": r.partition, "offset": r.offset,
            "timestamp": r.timestamp, "key": text(&r.key), "value": text(&r.value),
            "headers": headers,
        })
        .to_string();
    }
    let mut fields = Vec::new();
    if p.timestamp {
        fields.push(format!("CreateTime:{}", r.timestamp));
    }
    if p.partition {
        fields.push(format!("Partition:{}", r.partition));
    }
    if p.offset {
        fields.push(format!("Offset:{}", r.offset));
    }
    if p.headers {
        let headers: Vec<String> = r
            .headers
            .iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    String::from_utf8_lossy(&h.key),
                    text(&h.value).unwrap_or_else(|| "NULL".into())
                )
            })
            .collect();
        fields.push(if headers.is_empty() {
            "NO_HEADERS".into()
        } else {
            headers.join(",")
        });
    }
    if p.key {
        fields.push(text(&r.key).unwrap_or_else(|| "null".into()));
    }
    fields.push(text(&r.value).unwrap_or_else(|| "null".into()));
    fields.join(&p.separator)
}
