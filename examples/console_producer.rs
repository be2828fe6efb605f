//! Lines from stdin to records, like Apache Kafka's `kafka-console-producer.sh`.
//!
//! ```sh
//! echo "k1:hello" | cargo run --example console_producer -- --bootstrap-server localhost:9092 \
//!     --topic my_topic --property parse.key=true --property key.separator=: \
//!     --producer-property linger.ms=10
//! ```
//!
//! A secured cluster's settings go in a Java properties file: `--producer.config client.properties`.

#[allow(dead_code)] // each example uses part of it
mod support;

use clap::Parser;
use kafkit::{Producer, ProducerConfig, ProducerRecord};
use std::io::BufRead;
use std::process::ExitCode;
use support::{key_value, Target};

/// Lines from stdin to records.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// `parse.key=true` (each line is KEY SEPARATOR VALUE) or `key.separator=SEP` (a tab by
    /// default).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    property: Vec<(String, String)>,
    /// A Java producer property, e.g. `linger.ms=10`; over those of --producer.config.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    producer_property: Vec<(String, String)>,
    /// A Java properties file of producer keys (security settings, for instance).
    #[arg(long = "producer.config", value_name = "FILE")]
    producer_config: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("console_producer", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (mut parse_key, mut separator) = (false, "\t".to_string());
    for (k, v) in args.property {
        match k.as_str() {
            "parse.key" => parse_key = v == "true",
            "key.separator" => separator = v,
            _ => return Err(format!("unknown --property {k}").into()),
        }
    }
    let mut props = match &args.producer_config {
        Some(path) => support::properties_file(path)?,
        None => Vec::new(),
    };
    props.extend(args.producer_property);
    props.push(("bootstrap.servers".into(), args.target.bootstrap_server));
    let producer = Producer::new(ProducerConfig::from_properties(props)?).await?;
    // An Arc<str>, so each record shares the name instead of copying it.
    let topic: std::sync::Arc<str> = args.target.topic.into();

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
