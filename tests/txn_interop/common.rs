//! What the transaction interop tests share: copier processes (kafkit's example or Java's
//! tool) watched through their JSON status lines, the input they copy, and reading a topic
//! to its last stable offset.

use crate::support::{consumer_config, example_binary, produce, read_all};
use kafkit::{Consumer, ConsumerRecord, IsolationLevel, ProducerRecord, TopicPartition};
use kafkit_testkit::{CopierArgs, CopierStatus, CopyChecker, CopyReport};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Which copier runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `examples/transactional_copier.rs`.
    Kafkit,
    /// Java's `TransactionalMessageCopier` (kafka-tools).
    Java,
}

/// A running copier: its latest status line and its stderr, kept as they come.
pub struct Copier {
    pub tool: Tool,
    child: Child,
    status: Arc<Mutex<Option<CopierStatus>>>,
    stderr: Arc<Mutex<String>>,
}

impl Copier {
    /// Starts `tool` with `args` (Java's flags, which kafkit's copier takes too) and
    /// `extra` flags (kafkit's only).
    pub async fn start(tool: Tool, args: &CopierArgs, extra: &[&str]) -> Copier {
        let mut cmd = match tool {
            Tool::Kafkit => {
                let bin = tokio::task::spawn_blocking(|| example_binary("transactional_copier"))
                    .await
                    .unwrap();
                let mut cmd = std::process::Command::new(bin);
                cmd.args(args.to_args());
                cmd
            }
            Tool::Java => {
                let args = args.clone();
                tokio::task::spawn_blocking(move || args.java_command())
                    .await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("Java's copier: {e}"))
            }
        };
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Command::from(cmd)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the {tool:?} copier: {e}"));
        let status = Arc::new(Mutex::new(None));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let last = status.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(s) = CopierStatus::parse(&line) {
                    *last.lock().unwrap() = Some(s);
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let text = stderr.clone();
        tokio::spawn(async move {
            let mut buf = vec![0; 8192];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Copier {
            tool,
            child,
            status,
            stderr,
        }
    }

    /// The latest status line, if one came.
    pub fn status(&self) -> Option<CopierStatus> {
        self.status.lock().unwrap().clone()
    }

    /// What it printed on stderr so far (the last 4 KiB).
    pub fn stderr(&self) -> String {
        let text = self.stderr.lock().unwrap();
        let from = text.len().saturating_sub(4096);
        let from = (from..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[from..].to_string()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Waits until it exits, up to `limit` (then kills it and fails the test).
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => {
                self.kill().await;
                panic!(
                    "the {:?} copier did not finish within {limit:?}; last status {:?}; stderr:\n{}",
                    self.tool,
                    self.status(),
                    self.stderr()
                );
            }
        }
    }

    /// Waits until its status shows at least `n` records committed, up to `limit`.
    pub async fn wait_processed(&mut self, n: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.status().is_some_and(|s| s.total_processed >= n) {
                return;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "the {:?} copier exited ({status}) before committing {n} records; last \
                     status {:?}; stderr:\n{}",
                    self.tool,
                    self.status(),
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the {:?} copier committed fewer than {n} records in {limit:?}; last status \
                 {:?}; stderr:\n{}",
                self.tool,
                self.status(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Writes `n` records to `topic` without transactions (a copier counts offsets to the end,
/// so its input holds no transaction markers): values `v<i>`, keys `k<i % 64>` so each
/// partition holds several keys. Returns the topic as read back, per partition in offset
/// order.
pub async fn fill_input(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    n: usize,
) -> Vec<ConsumerRecord> {
    let records =
        (0..n).map(|i| ProducerRecord::new(topic, format!("v{i}")).key(format!("k{}", i % 64)));
    produce(bootstrap, records).await;
    let input = read_all(bootstrap, topic, partitions).await;
    assert_eq!(input.len(), n);
    input
}

/// Every record of `topic` a `read_committed` consumer returns, up to each partition's
/// last stable offset as it is when called.
pub async fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<ConsumerRecord> {
    read_isolated(bootstrap, topic, partitions, IsolationLevel::ReadCommitted).await
}

/// As [`read_committed`] with `isolation`.
pub async fn read_isolated(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
) -> Vec<ConsumerRecord> {
    let mut config = consumer_config(bootstrap);
    config.isolation_level = isolation;
    let consumer = Consumer::new(config).await.unwrap();
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(tps.clone()).await.unwrap();
    consumer.seek_to_beginning(&tps).await.unwrap();
    let ends = consumer.end_offsets(&tps).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut records = Vec::new();
    loop {
        let mut done = true;
        for tp in &tps {
            done &= consumer.position(tp).await.unwrap_or(0) >= ends[tp];
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reading {topic} ({isolation:?}) did not reach {ends:?} in 60 s"
        );
        records.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    consumer.close().await.unwrap();
    records
}

/// The copy check of `output` against `input`.
pub fn check_copy(input: &[ConsumerRecord], output: &[ConsumerRecord]) -> CopyReport {
    let mut checker = CopyChecker::new();
    for r in input {
        checker.input(
            r.partition,
            r.key.as_deref(),
            r.value.clone().unwrap_or_default(),
        );
    }
    for r in output {
        checker.output(r.partition, r.offset, r.value.clone().unwrap_or_default());
    }
    checker.report()
}
