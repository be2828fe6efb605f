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

use kafkit::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, OffsetAndMetadata, TopicPartition,
};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: console_consumer --bootstrap-server HOST:PORT --topic TOPIC \
[--group GROUP] [--from-beginning] [--max-messages N] [--timeout-ms MS] [--partition P [--offset O|earliest|latest]] \
[--consumer-property KEY=VALUE]... [--property print.key=true|print.timestamp=true|print.partition=true|\
print.offset=true|print.headers=true|key.separator=SEP] [--format text|json]";

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

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("console_consumer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut bootstrap, mut topic, mut partition, mut offset) = (None, None, None, None);
    let (mut from_beginning, mut max_messages, mut timeout) = (false, None, None);
    let mut props: Vec<(String, String)> = Vec::new();
    let mut print = Print {
        separator: "\t".into(),
        ..Print::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bootstrap-server" => bootstrap = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--group" => props.push(("group.id".into(), value()?)),
            "--from-beginning" => from_beginning = true,
            "--max-messages" => max_messages = Some(value()?.parse::<usize>()?),
            "--timeout-ms" => timeout = Some(Duration::from_millis(value()?.parse()?)),
            "--partition" => partition = Some(value()?.parse::<i32>()?),
            "--offset" => offset = Some(value()?),
            "--consumer-property" => props.push(split_kv(&value()?)?),
            "--format" => {
                print.json = match value()?.as_str() {
                    "json" => true,
                    "text" => false,
                    other => return Err(format!("--format {other}: expected text or json").into()),
                }
            }
            "--property" => {
                let (k, v) = split_kv(&value()?)?;
                let on = v == "true";
                match k.as_str() {
                    "print.key" => print.key = on,
                    "print.timestamp" => print.timestamp = on,
                    "print.partition" => print.partition = on,
                    "print.offset" => print.offset = on,
                    "print.headers" => print.headers = on,
                    "key.separator" => print.separator = v,
                    other => return Err(format!("unknown --property {other}").into()),
                }
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    let bootstrap = bootstrap.ok_or(format!("--bootstrap-server is required\n{USAGE}"))?;
    let topic = topic.ok_or(format!("--topic is required\n{USAGE}"))?;
    if offset.is_some() && partition.is_none() {
        return Err("--offset needs --partition".into());
    }
    // Offsets are committed explicitly, after printing; a --consumer-property may turn
    // auto-commit back on.
    props.insert(0, ("enable.auto.commit".into(), "false".into()));
    props.insert(0, ("bootstrap.servers".into(), bootstrap));
    let mut config = ConsumerConfig::from_properties(props)?;
    if from_beginning || offset.as_deref() == Some("earliest") {
        config.auto_offset_reset = AutoOffsetReset::Earliest;
    }
    let group = config.group_id.is_some();
    if group && partition.is_some() {
        return Err("--group (group.id) and --partition cannot be used together".into());
    }
    let consumer = Consumer::new(config).await?;
    match partition {
        Some(p) => {
            let tp = TopicPartition::new(&topic, p);
            consumer.assign([tp.clone()]).await?;
            if let Some(o) = offset.as_deref().and_then(|o| o.parse::<i64>().ok()) {
                consumer.seek(&tp, o).await?;
            }
        }
        None => consumer.subscribe([topic]).await?,
    }
    let outcome = tokio::select! {
        outcome = consume(&consumer, group, max_messages, timeout, &print) => outcome,
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

fn split_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}
