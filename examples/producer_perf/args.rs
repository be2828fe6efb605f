//! The tool's arguments, as Java's tool takes them.

use crate::support::key_value;
use clap::{ArgGroup, Parser};

/// Producer throughput and latency, like Apache Kafka's `kafka-producer-perf-test.sh`.
#[derive(Parser)]
#[command(group(ArgGroup::new("payload").required(true).args(["record_size", "payload_file"])))]
pub struct Args {
    #[arg(long)]
    pub topic: String,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub num_records: u64,
    /// Every record carries the same BYTES bytes: the letters A..Z repeated. The pattern is
    /// fixed and very compressible (Java's tool sends random letters), so with
    /// compression.type set, batches shrink far more than real data would.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub record_size: Option<u64>,
    /// One record per non-empty line of FILE, each picked at random (as in Java).
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<String>,
    /// Cap in records/s, paced like Java's ThroughputThrottler; -1: no cap.
    #[arg(long, value_name = "RECORDS_PER_SEC", allow_negative_numbers = true)]
    pub throughput: f64,
    /// Java producer keys, over those of --producer.config; bootstrap.servers is required
    /// in one or the other.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = key_value)]
    pub producer_props: Vec<(String, String)>,
    /// A Java properties file of producer keys (security settings, for instance).
    #[arg(long = "producer.config", value_name = "FILE")]
    pub producer_config: Option<String>,
    /// After the summary: wall time, client CPU time (user+sys) and CPU per record.
    #[arg(long)]
    pub print_metrics: bool,
    /// kafkit extension: create TOPIC with N partitions first if it is missing.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: Option<i32>,
}
