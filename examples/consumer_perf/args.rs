//! The tool's arguments, as Java's tool takes them, and the consumer properties they make.

use crate::support::{key_value, properties_file, Target};
use clap::Parser;

/// Consumer throughput, like Apache Kafka's `kafka-consumer-perf-test.sh`. Times print as UTC
/// (Java prints local time).
#[derive(Parser)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Stop after this many records (every record of the polls that reach it counts, as in
    /// Java).
    #[arg(long, value_name = "N")]
    pub messages: u64,
    /// Default perf-consumer-<random>; the topic is subscribed through it.
    #[arg(long)]
    pub group: Option<String>,
    /// Java consumer keys, over those of --consumer.config. As Java's tool does, check.crcs
    /// defaults to false here.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = key_value)]
    pub consumer_props: Vec<(String, String)>,
    /// A Java properties file of consumer keys.
    #[arg(long = "consumer.config", value_name = "FILE")]
    pub consumer_config: Option<String>,
    /// Give up after this long without a record.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    pub reporting_interval: u64,
    #[arg(long)]
    pub show_detailed_stats: bool,
    #[arg(long)]
    pub hide_header: bool,
    /// Start from the end when the group has no offsets (default: earliest).
    #[arg(long)]
    pub from_latest: bool,
    /// After the summary: wall time, time in poll, client CPU time (user+sys) and CPU per
    /// record.
    #[arg(long)]
    pub print_metrics: bool,
}

/// The consumer's properties: the tool's defaults, then --consumer.config's, then
/// --consumer-props, then the bootstrap servers, the group and where to start.
pub fn properties(args: &Args) -> Result<Vec<(String, String)>, String> {
    let defaults = [
        ("check.crcs", "false"),
        ("client.id", "perf-consumer-client"),
    ];
    let mut props: Vec<(String, String)> = defaults
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
    if let Some(path) = &args.consumer_config {
        props.extend(properties_file(path)?);
    }
    props.extend(args.consumer_props.iter().cloned());
    let group = args.group.clone().or_else(|| {
        props
            .iter()
            .rev()
            .find(|(k, _)| k == "group.id")
            .map(|(_, v)| v.clone())
    });
    let group =
        group.unwrap_or_else(|| format!("perf-consumer-{}", rand::random_range(0..100_000)));
    let reset = if args.from_latest {
        "latest"
    } else {
        "earliest"
    };
    props.push((
        "bootstrap.servers".into(),
        args.target.bootstrap_server.clone(),
    ));
    props.push(("group.id".into(), group));
    props.push(("auto.offset.reset".into(), reset.into()));
    Ok(props)
}
