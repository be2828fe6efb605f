//! One consumer group member, for tests that need members in other processes (to SIGKILL or
//! SIGSTOP them): `tests/groupfaults/` builds it with `cargo build --example group_member`.
//!
//! ```sh
//! cargo run --example group_member -- --bootstrap-server localhost:9092 --topic t \
//!     --group g [--instance-id i] [--commit-after-processing] [--out FILE] \
//!     [--session-timeout-ms MS] [--process-ms MS] [--assignor range|cooperative-sticky]
//! ```
//!
//! Appends to FILE (stdout without `--out`), flushing after every line:
//! - `PARTITION OFFSET VALUE` for every record `poll` returns;
//! - `# assigned 0,1` / `# revoked ...` / `# lost ...` from the rebalance hooks;
//! - `# commit-error ...` / `# poll-error ...` when those fail (the member carries on).
//!
//! With `--commit-after-processing` (auto-commit off), each batch is written, then
//! "processed" (a `--process-ms` sleep), then committed; the member also commits after an
//! empty poll, so one frozen mid-batch commits as soon as it runs again. A kill between
//! writing and committing loses nothing and duplicates at most that batch. Runs until
//! killed.

use kafkit::{
    AssignorKind, AutoOffsetReset, Consumer, ConsumerConfig, RebalanceListener, TopicPartition,
};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const USAGE: &str = "usage: group_member --bootstrap-server HOST:PORT --topic TOPIC --group GROUP \
[--instance-id ID] [--commit-after-processing] [--out FILE] [--session-timeout-ms MS] \
[--process-ms MS] [--assignor range|roundrobin|cooperative-sticky]";

type Out = Arc<Mutex<Box<dyn Write + Send>>>;

fn emit(out: &Out, line: &str) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Hooks(Out);

impl Hooks {
    fn log(&self, what: &str, partitions: &[TopicPartition]) {
        let list: Vec<String> = partitions
            .iter()
            .map(|tp| tp.partition.to_string())
            .collect();
        emit(&self.0, &format!("# {what} {}", list.join(",")));
    }
}

impl RebalanceListener for Hooks {
    fn on_partitions_revoked<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("revoked", partitions);
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("assigned", partitions);
        Box::pin(async {})
    }

    fn on_partitions_lost<'a>(
        &'a self,
        _consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> kafkit::HookFuture<'a> {
        self.log("lost", partitions);
        Box::pin(async {})
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("group_member: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut bootstrap, mut topic, mut group, mut instance, mut out_path) =
        (None, None, None, None, None);
    let mut commit_after_processing = false;
    let mut session_timeout = Duration::from_secs(10);
    let mut process = Duration::ZERO;
    let mut assignor = AssignorKind::Range;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bootstrap-server" => bootstrap = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--group" => group = Some(value()?),
            "--instance-id" => instance = Some(value()?),
            "--out" => out_path = Some(value()?),
            "--commit-after-processing" => commit_after_processing = true,
            "--session-timeout-ms" => session_timeout = Duration::from_millis(value()?.parse()?),
            "--process-ms" => process = Duration::from_millis(value()?.parse()?),
            "--assignor" => assignor = value()?.parse()?,
            _ => return Err(format!("unknown argument {arg}\n{USAGE}").into()),
        }
    }
    let (Some(bootstrap), Some(topic), Some(group)) = (bootstrap, topic, group) else {
        return Err(USAGE.into());
    };
    let out: Out = Arc::new(Mutex::new(match out_path {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => Box::new(std::io::stdout()),
    }));

    let mut config = ConsumerConfig::new(bootstrap);
    config.group_id = Some(group);
    config.group_instance_id = instance;
    config.auto_offset_reset = AutoOffsetReset::Earliest;
    config.enable_auto_commit = !commit_after_processing;
    config.session_timeout = session_timeout;
    config.heartbeat_interval = (session_timeout / 10).max(Duration::from_millis(100));
    config.partition_assignment_strategy = vec![assignor];
    config.max_poll_records = 50;
    let consumer = Consumer::new(config).await?;
    consumer.set_rebalance_listener(Hooks(out.clone()));
    consumer.subscribe([topic]).await?;
    emit(&out, &format!("# started pid {}", std::process::id()));
    loop {
        let records = match consumer.poll(Duration::from_millis(200)).await {
            Ok(records) => records,
            Err(e) => {
                emit(&out, &format!("# poll-error {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if !records.is_empty() {
            write_records(&out, &records)?;
            tokio::time::sleep(process).await;
        }
        // Every poll, so a member frozen mid-batch commits as soon as it runs again.
        if commit_after_processing {
            if let Err(e) = consumer.commit().await {
                emit(&out, &format!("# commit-error {e}"));
            }
        }
    }
}

fn write_records(out: &Out, records: &[kafkit::ConsumerRecord]) -> std::io::Result<()> {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    for r in records {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
        writeln!(out, "{} {} {value}", r.partition, r.offset)?;
    }
    out.flush()
}
