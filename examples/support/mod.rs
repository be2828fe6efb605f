//! What the examples share: the broker and topic arguments, how they end, `KEY=VALUE`
//! arguments, help for an empty command line, and the process's CPU time for the perf
//! tools' metrics.

use clap::Args;
use std::error::Error;
use std::process::ExitCode;

/// The broker and the topic, which every tool takes.
#[derive(Args)]
pub struct Target {
    /// The brokers to bootstrap from.
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    #[arg(long)]
    pub topic: String,
}

/// Parses a `KEY=VALUE` argument (a Java client property, for instance).
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// The properties of a Java `.properties` file, in order, as Java's tools read
/// `--producer.config`, `--consumer.config` and `--command-config` (`kafkit::Properties`).
pub fn properties_file(path: &str) -> Result<Vec<(String, String)>, String> {
    kafkit::Properties::from_file(path)
        .map(|properties| properties.into_iter().collect())
        .map_err(|e| e.to_string())
}

/// The arguments; with none at all, the help and a successful exit, as Apache Kafka's perf
/// tools do.
pub fn parse_or_help<A: clap::Parser>() -> A {
    if std::env::args_os().len() <= 1 {
        // Nothing useful can follow a failed write to stdout.
        let _ = A::command().print_long_help();
        std::process::exit(0);
    }
    A::parse()
}

/// The process's exit: success, or the error on stderr after the example's `name`.
pub fn exit(name: &str, outcome: Result<(), Box<dyn Error>>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// User and system CPU time of every thread of this process, in seconds (fields 14 and 15 of
/// `/proc/self/stat`, in the 1/100 s ticks Linux fixes for user space); `None` without
/// Linux's `/proc`.
pub fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from its closing paren.
    let (_, after_name) = stat.rsplit_once(')')?;
    let ticks: Vec<f64> = after_name
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((ticks.get(10)? / 100.0, ticks.get(11)? / 100.0))
}
