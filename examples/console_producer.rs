//! Lines from stdin to records, like Apache Kafka's `kafka-console-producer.sh`.
//!
//! ```sh
//! echo "k1:hello" | cargo run --example console_producer -- --bootstrap-server localhost:9092 \
//!     --topic my_topic --property parse.key=true --property key.separator=: \
//!     --producer-property linger.ms=10
//! ```

use kafkit::{Producer, ProducerConfig, ProducerRecord};
use std::io::BufRead;
use std::process::ExitCode;

const USAGE: &str = "usage: console_producer --bootstrap-server HOST:PORT --topic TOPIC \
[--property parse.key=true] [--property key.separator=SEP] [--producer-property KEY=VALUE]...";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("console_producer: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut bootstrap = None;
    let mut topic = None;
    let mut parse_key = false;
    let mut separator = "\t".to_string();
    let mut props: Vec<(String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bootstrap-server" => bootstrap = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--property" => match split_kv(&value()?)? {
                (k, v) if k == "parse.key" => parse_key = v == "true",
                (k, v) if k == "key.separator" => separator = v,
                (k, _) => return Err(format!("unknown --property {k}").into()),
            },
            "--producer-property" => props.push(split_kv(&value()?)?),
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    let bootstrap = bootstrap.ok_or(format!("--bootstrap-server is required\n{USAGE}"))?;
    // An Arc<str>, so each record shares the name instead of copying it.
    let topic: std::sync::Arc<str> = topic.ok_or(format!("--topic is required\n{USAGE}"))?.into();
    props.insert(0, ("bootstrap.servers".into(), bootstrap));
    let producer = Producer::new(ProducerConfig::from_properties(props)?).await?;

    let mut deliveries = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let record = match line.split_once(separator.as_str()) {
            Some((key, value)) if parse_key => {
                ProducerRecord::new(topic.clone(), value.to_string()).key(key.to_string())
            }
            None if parse_key => {
                return Err(format!("no key separator {separator:?} in line {line:?}").into())
            }
            _ => ProducerRecord::new(topic.clone(), line),
        };
        deliveries.push(producer.send(record).await?);
    }
    producer.flush().await;
    for delivery in deliveries {
        delivery.await?;
    }
    Ok(())
}

fn split_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}
