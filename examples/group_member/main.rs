//! One consumer group member, for tests that need members in other processes (to SIGKILL or
//! SIGSTOP them): `tests/groupfaults/` builds it with `cargo build --example group_member`.
//!
//! ```sh
//! cargo run --example group_member -- --bootstrap-server localhost:9092 --topic t \
//!     --group g [--instance-id i] [--commit-after-processing] [--out FILE] \
//!     [--session-timeout-ms MS] [--process-ms MS] [--assignor range|cooperative-sticky] \
//!     [--auto-commit-interval-ms MS] [--group-protocol classic|consumer]
//! ```
//!
//! Appends to FILE (stdout without `--out`), flushing after every line:
//! - `PARTITION OFFSET VALUE` for every record `poll` returns;
//! - `# assigned 0,1` / `# revoked ...` / `# lost ...` from the rebalance hooks;
//! - `# commit-error ...` / `# poll-error ...` when those fail (the member carries on);
//! - `# processed` after each batch's processing (the `--process-ms` sleep).
//!
//! With `--commit-after-processing` (auto-commit off), each batch is written, then
//! "processed" (a `--process-ms` sleep), then committed; the member also commits after an
//! empty poll, so one frozen mid-batch commits as soon as it runs again. A kill between
//! writing and committing loses nothing and duplicates at most that batch. Without it,
//! auto-commit commits every `--auto-commit-interval-ms` (default 5 s), from `poll`. Runs
//! until killed; on SIGTERM it closes (commit, revoke hook, leave: a static member keeps its
//! place), writes `# closed` and exits.

mod out;
#[allow(dead_code)] // each example uses part of it
#[path = "../support/mod.rs"]
mod support;

use clap::Parser;
use kafkit::{AssignorKind, AutoOffsetReset, Consumer, ConsumerConfig, GroupProtocol};
use out::{emit, write_records, Hooks, Out};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Target;
use tokio::signal::unix::{signal, SignalKind};

/// One consumer group member that logs what it reads and what its hooks see.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    #[arg(long)]
    group: String,
    /// `group.instance.id`: a static member.
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Auto-commit off; commit after each batch is written and processed.
    #[arg(long)]
    commit_after_processing: bool,
    /// The file to append to (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    session_timeout_ms: u64,
    /// How long "processing" a batch takes.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    process_ms: u64,
    /// `range`, `roundrobin` or `cooperative-sticky`.
    #[arg(long, default_value = "range")]
    assignor: AssignorKind,
    /// `auto.commit.interval.ms`, without `--commit-after-processing`.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    auto_commit_interval_ms: u64,
    /// `group.protocol`: with `consumer` (KIP-848) the broker sets the session and
    /// heartbeat timing and assigns, so the session and assignor options are not used.
    #[arg(long, default_value = "classic")]
    group_protocol: GroupProtocol,
}

#[tokio::main]
async fn main() -> ExitCode {
    support::exit("group_member", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let out: Out = Arc::new(Mutex::new(match args.out {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => Box::new(std::io::stdout()),
    }));

    let session_timeout = Duration::from_millis(args.session_timeout_ms);
    let mut config = ConsumerConfig::new(args.target.bootstrap_server);
    config.group_id = Some(args.group);
    config.group_instance_id = args.instance_id;
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    config.enable_auto_commit = !args.commit_after_processing;
    config.auto_commit_interval = Duration::from_millis(args.auto_commit_interval_ms);
    config.group_protocol = args.group_protocol;
    if args.group_protocol == GroupProtocol::Classic {
        config.session_timeout = session_timeout;
        config.heartbeat_interval = (session_timeout / 10).max(Duration::from_millis(100));
        config.partition_assignment_strategy = vec![args.assignor];
    }
    config.max_poll_records = 50;
    let consumer = Consumer::new(config).await?;
    consumer.set_rebalance_listener(Hooks(out.clone()));
    consumer.subscribe([args.target.topic]).await?;
    emit(&out, &format!("# started pid {}", std::process::id()));
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        failed = serve(&consumer, &out, args.process_ms, args.commit_after_processing) => failed,
        _ = term.recv() => {
            // A poll dropped mid-rebalance finishes its hooks in `close`.
            consumer.close().await?;
            emit(&out, "# closed");
            Ok(())
        }
    }
}

/// Polls, writes, "processes" and commits until an error it cannot carry on from.
async fn serve(
    consumer: &Consumer,
    out: &Out,
    process_ms: u64,
    commit_after_processing: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let records = match consumer.poll(Duration::from_millis(200)).await {
            Ok(records) => records,
            Err(e) => {
                emit(out, &format!("# poll-error {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if !records.is_empty() {
            write_records(out, &records)?;
            tokio::time::sleep(Duration::from_millis(process_ms)).await;
            emit(out, "# processed");
        }
        // Every poll, so a member frozen mid-batch commits as soon as it runs again.
        if commit_after_processing {
            if let Err(e) = consumer.commit().await {
                emit(out, &format!("# commit-error {e}"));
            }
        }
    }
}
