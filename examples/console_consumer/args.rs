//! The tool's arguments, as Kafka's console consumer takes them.

use crate::print::Format;
use crate::support::{key_value, Target};
use clap::Parser;

/// Records to stdout.
#[derive(Parser)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Share the topic's partitions with this group's members; commit what was printed.
    #[arg(long)]
    pub group: Option<String>,
    /// Start from the earliest offset when there is no committed one.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<usize>,
    /// Stop after this long (with --max-messages, a failure if fewer were printed).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Read only this partition (no group).
    #[arg(long, value_name = "P")]
    pub partition: Option<i32>,
    /// With --partition: the offset to start at, `earliest` or `latest`.
    #[arg(long, value_name = "O|earliest|latest", requires = "partition")]
    pub offset: Option<String>,
    /// A Java consumer property, e.g. `fetch.min.bytes=1`; over those of --consumer.config.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    pub consumer_property: Vec<(String, String)>,
    /// A Java properties file of consumer keys (security settings, for instance).
    #[arg(long = "consumer.config", value_name = "FILE")]
    pub consumer_config: Option<String>,
    /// `print.key`, `print.timestamp`, `print.partition`, `print.offset`, `print.headers`
    /// (`=true`), or `key.separator=SEP` (a tab by default).
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    pub property: Vec<(String, String)>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}
