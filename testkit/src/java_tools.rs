//! The Java client as a peer: Apache Kafka's tools jar set
//! (`org.apache.kafka:kafka-tools`, with `kafka-clients` inside) resolved by
//! Maven once per build folder, Java's `TransactionalMessageCopier`, and
//! `KafkitTxnPeer` (`testkit/java/`), a small program compiled here with
//! `javac` against those jars that writes transactions and reads them back
//! with `isolation.level=read_committed`.
//!
//! The jars land in `<target>/kafka-tools-<version>/libs`, the folder
//! `bench/peers.sh` uses too (through the `java-tools` binary), so tests and
//! benchmarks share one download.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::launcher::{make_once, run_tied, target_dir, LaunchError};

/// The `org.apache.kafka:kafka-tools` release resolved: the newest the
/// benchmarks were run with. Its `kafka-clients` speaks to every broker the
/// launcher runs (the protocol is negotiated).
pub const KAFKA_TOOLS_VERSION: &str = "4.3.1";

/// The main class of Java's copier, as Kafka's system tests run it.
pub const TRANSACTIONAL_MESSAGE_COPIER: &str = "org.apache.kafka.tools.TransactionalMessageCopier";

/// The main class of `testkit/java/KafkitTxnPeer.java`.
pub const KAFKIT_TXN_PEER: &str = "KafkitTxnPeer";

/// The source of `KafkitTxnPeer`, compiled on first use.
const TXN_PEER_SOURCE: &str = include_str!("../java/KafkitTxnPeer.java");

fn tools_dir() -> PathBuf {
    target_dir().join(format!("kafka-tools-{KAFKA_TOOLS_VERSION}"))
}

fn pom() -> String {
    // slf4j 2 and a log4j2 binding, as the distribution adds them: without a
    // binding the tools print slf4j's "no providers" warning on every start.
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkit.testkit</groupId>
  <artifactId>kafka-tools-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{KAFKA_TOOLS_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
"#
    )
}

/// Resolves the kafka-tools jars with Maven on first use (per build folder)
/// and returns the folder holding them. Safe to call from concurrent
/// processes: one resolves, the others wait for it. Blocks (about 20 s with
/// an empty `~/.m2`), so async tests call it through `spawn_blocking`.
///
/// # Errors
///
/// If `mvn` is missing or fails (the message holds its output), or the
/// result holds no `kafka-tools` jar.
pub fn kafka_tools_jars() -> Result<PathBuf, LaunchError> {
    static RESOLVED: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    RESOLVED.get_or_init(resolve_uncached).clone()
}

fn resolve_uncached() -> Result<PathBuf, LaunchError> {
    let dir = tools_dir();
    let libs = dir.join("libs");
    make_once(
        "the kafka-tools jars",
        &dir.join("resolve.lock"),
        &libs.join(".complete"),
        || {
            let pom_path = dir.join("pom.xml");
            fs::write(&pom_path, pom())
                .map_err(|e| LaunchError::io(format!("cannot write {}", pom_path.display()), e))?;
            // A half-copied folder from an interrupted run must not be mixed in.
            let _ = fs::remove_dir_all(&libs);
            let mut mvn = Command::new("mvn");
            mvn.args(["-q", "-B", "-f"])
                .arg(&pom_path)
                .arg("dependency:copy-dependencies")
                .arg(format!("-DoutputDirectory={}", libs.display()));
            run_tied(
                mvn,
                &format!("resolving kafka-tools {KAFKA_TOOLS_VERSION} jars with Maven (mvn)"),
            )?;
            let tools_jar = libs.join(format!("kafka-tools-{KAFKA_TOOLS_VERSION}.jar"));
            if !tools_jar.exists() {
                return Err(LaunchError::new(format!(
                    "mvn succeeded but {} is missing",
                    tools_jar.display()
                )));
            }
            Ok(())
        },
    )?;
    Ok(libs)
}

/// A short stable digest of the peer's source (FNV-1a), naming the folder
/// its classes are compiled into: a changed source compiles anew.
fn source_digest(source: &str) -> u64 {
    source.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Compiles `KafkitTxnPeer` with `javac` on first use and returns the folder
/// of its class file.
fn txn_peer_classes() -> Result<PathBuf, LaunchError> {
    static COMPILED: OnceLock<Result<PathBuf, LaunchError>> = OnceLock::new();
    COMPILED.get_or_init(compile_uncached).clone()
}

fn compile_uncached() -> Result<PathBuf, LaunchError> {
    let libs = kafka_tools_jars()?;
    let dir = target_dir().join(format!(
        "kafkit-txn-peer-{:016x}",
        source_digest(TXN_PEER_SOURCE)
    ));
    let classes = dir.join("classes");
    make_once(
        "KafkitTxnPeer",
        &dir.join("compile.lock"),
        &classes.join(".complete"),
        || {
            let source = dir.join("KafkitTxnPeer.java");
            fs::write(&source, TXN_PEER_SOURCE)
                .map_err(|e| LaunchError::io(format!("cannot write {}", source.display()), e))?;
            let _ = fs::remove_dir_all(&classes);
            let mut javac = Command::new("javac");
            javac
                .arg("-d")
                .arg(&classes)
                .arg("-cp")
                .arg(jars_glob(&libs))
                .arg(&source);
            run_tied(javac, "compiling KafkitTxnPeer.java (javac)")?;
            Ok(())
        },
    )?;
    Ok(classes)
}

fn jars_glob(libs: &Path) -> String {
    format!("{}/*", libs.display())
}

/// The class path holding the kafka-tools jars and `KafkitTxnPeer`,
/// resolving and compiling them on first use.
///
/// # Errors
///
/// As [`kafka_tools_jars`], or when `javac` fails.
pub fn java_tools_classpath() -> Result<String, LaunchError> {
    let libs = kafka_tools_jars()?;
    let classes = txn_peer_classes()?;
    Ok(format!("{}:{}", jars_glob(&libs), classes.display()))
}

/// A `java` command that runs `main_class` from [`java_tools_classpath`],
/// with a 512 MiB heap as `kafka-run-class.sh` gives the tools. The caller
/// adds the program's arguments and runs it.
///
/// # Errors
///
/// As [`java_tools_classpath`].
pub fn java_tool(main_class: &str) -> Result<Command, LaunchError> {
    let mut java = Command::new("java");
    java.arg("-Xmx512M")
        .arg("-Djava.awt.headless=true")
        .arg("-cp")
        .arg(java_tools_classpath()?)
        .arg(main_class);
    Ok(java)
}

/// The arguments of a transactional message copier, Java's
/// `TransactionalMessageCopier` or kafkit's `examples/transactional_copier.rs`
/// (which takes the same flags): copy an input partition (or, in group mode,
/// the partitions the group gives it) to the same partition of an output
/// topic, committing the input offsets in each transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopierArgs {
    /// `--broker-list`: the bootstrap servers.
    pub bootstrap: String,
    /// `--input-topic`.
    pub input_topic: String,
    /// `--input-partition` (Java requires it even in group mode, and ignores
    /// it there).
    pub input_partition: i32,
    /// `--output-topic`.
    pub output_topic: String,
    /// `--transactional-id`.
    pub transactional_id: String,
    /// `--consumer-group`: the group whose offsets the transactions commit.
    pub consumer_group: String,
    /// `--transaction-size`: records per transaction (Java's default: 200).
    pub transaction_size: u32,
    /// `--transaction-timeout`, ms (Java's default: 60000).
    pub transaction_timeout_ms: u32,
    /// `--max-messages`: -1 copies up to the input's end offset at start.
    pub max_messages: i64,
    /// `--enable-random-aborts`: abort about one transaction in three.
    pub random_aborts: bool,
    /// `--group-mode`: subscribe instead of assigning `input_partition`.
    pub group_mode: bool,
    /// `--use-group-metadata`: send the consumer's group metadata with the
    /// offsets (KIP-447) instead of the group id alone.
    pub use_group_metadata: bool,
}

impl CopierArgs {
    /// Java's defaults for the rest: one partition, 200 records per
    /// transaction, a 60 s timeout, copy to the end, no random aborts,
    /// assign mode, the group id alone.
    pub fn new(
        bootstrap: impl Into<String>,
        input_topic: impl Into<String>,
        input_partition: i32,
        output_topic: impl Into<String>,
        transactional_id: impl Into<String>,
        consumer_group: impl Into<String>,
    ) -> Self {
        CopierArgs {
            bootstrap: bootstrap.into(),
            input_topic: input_topic.into(),
            input_partition,
            output_topic: output_topic.into(),
            transactional_id: transactional_id.into(),
            consumer_group: consumer_group.into(),
            transaction_size: 200,
            transaction_timeout_ms: 60_000,
            max_messages: -1,
            random_aborts: false,
            group_mode: false,
            use_group_metadata: false,
        }
    }

    /// The command-line arguments, under Java's flag names.
    pub fn to_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            ("--broker-list", self.bootstrap.clone()),
            ("--input-topic", self.input_topic.clone()),
            ("--input-partition", self.input_partition.to_string()),
            ("--output-topic", self.output_topic.clone()),
            ("--transactional-id", self.transactional_id.clone()),
            ("--consumer-group", self.consumer_group.clone()),
            ("--transaction-size", self.transaction_size.to_string()),
            (
                "--transaction-timeout",
                self.transaction_timeout_ms.to_string(),
            ),
            ("--max-messages", self.max_messages.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .collect();
        for (on, flag) in [
            (self.random_aborts, "--enable-random-aborts"),
            (self.group_mode, "--group-mode"),
            (self.use_group_metadata, "--use-group-metadata"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        args
    }

    /// Java's `TransactionalMessageCopier` with these arguments, ready to
    /// spawn (its JSON lines on stdout, see [`CopierStatus::parse`]).
    ///
    /// # Errors
    ///
    /// As [`java_tool`].
    pub fn java_command(&self) -> Result<Command, LaunchError> {
        let mut java = java_tool(TRANSACTIONAL_MESSAGE_COPIER)?;
        java.args(self.to_args());
        Ok(java)
    }
}

/// One JSON status line of a copier.
///
/// Java prints `{"progress":"<id>","stage":"ProcessLoop","totalProcessed":…,
/// "consumed":…,"remaining":…,"time":…}` before each poll (stage
/// `RebalanceComplete` after an assignment in group mode) and
/// `{"shutdown_complete":"<id>",…}` when it is stopped by a signal; kafkit's
/// copier prints the same keys, plus `transactionalId` and, on shutdown,
/// `"stage":"ShutdownComplete"`. Either form parses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopierStatus {
    /// `ProcessLoop`, `RebalanceComplete` or `ShutdownComplete`.
    pub stage: String,
    /// The copier's transactional id.
    pub transactional_id: String,
    /// Records copied and committed by this process.
    pub total_processed: u64,
    /// Records copied since the last rebalance.
    pub consumed: u64,
    /// Records left to copy.
    pub remaining: i64,
}

impl CopierStatus {
    /// The status in one line of a copier's output; `None` for any other
    /// line (a log line, a half-written line of a killed process).
    pub fn parse(line: &str) -> Option<CopierStatus> {
        let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let (stage, transactional_id) = match (text("shutdown_complete"), text("progress")) {
            (Some(id), _) => ("ShutdownComplete".to_string(), id),
            (None, Some(id)) => (text("stage")?, id),
            (None, None) => (text("stage")?, text("transactionalId")?),
        };
        Some(CopierStatus {
            stage,
            transactional_id,
            total_processed: v.get("totalProcessed")?.as_u64()?,
            consumed: v.get("consumed")?.as_u64()?,
            remaining: v.get("remaining")?.as_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copier_args_use_javas_flags_and_defaults() {
        let args = CopierArgs::new("b:9092", "in", 2, "out", "tx-1", "g");
        assert_eq!(
            args.to_args(),
            [
                "--broker-list",
                "b:9092",
                "--input-topic",
                "in",
                "--input-partition",
                "2",
                "--output-topic",
                "out",
                "--transactional-id",
                "tx-1",
                "--consumer-group",
                "g",
                "--transaction-size",
                "200",
                "--transaction-timeout",
                "60000",
                "--max-messages",
                "-1",
            ]
        );
        let mut all = args.clone();
        all.random_aborts = true;
        all.group_mode = true;
        all.use_group_metadata = true;
        let flags = all.to_args();
        assert_eq!(
            flags[flags.len() - 3..],
            [
                "--enable-random-aborts",
                "--group-mode",
                "--use-group-metadata"
            ]
        );
    }

    #[test]
    fn parses_javas_status_lines() {
        let line = r#"{"stage":"ProcessLoop","progress":"tx-1","totalProcessed":400,"consumed":400,"remaining":600,"time":"2026/12/05 07:00:00:000"}"#;
        assert_eq!(
            CopierStatus::parse(line),
            Some(CopierStatus {
                stage: "ProcessLoop".into(),
                transactional_id: "tx-1".into(),
                total_processed: 400,
                consumed: 400,
                remaining: 600,
            })
        );
        let shutdown = r#"{"shutdown_complete":"tx-1","totalProcessed":1000,"consumed":1000,"remaining":0,"time":"x"}"#;
        let status = CopierStatus::parse(shutdown).unwrap();
        assert_eq!(status.stage, "ShutdownComplete");
        assert_eq!(status.remaining, 0);
    }

    #[test]
    fn parses_kafkits_status_lines_and_rejects_others() {
        let line = r#"{"stage":"ShutdownComplete","transactionalId":"t","totalProcessed":5,"consumed":5,"remaining":0}"#;
        assert_eq!(CopierStatus::parse(line).unwrap().transactional_id, "t");
        // Java's remaining starts at Long.MAX_VALUE in group mode.
        let big = r#"{"stage":"ProcessLoop","progress":"t","totalProcessed":0,"consumed":0,"remaining":9223372036854775807}"#;
        assert_eq!(CopierStatus::parse(big).unwrap().remaining, i64::MAX);
        for other in [
            "",
            "[main] INFO something",
            r#"{"stage":"ProcessLoop","progress":"t","totalPro"#,
            r#"{"stage":"ProcessLoop","totalProcessed":0,"consumed":0,"remaining":0}"#,
        ] {
            assert_eq!(CopierStatus::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn source_digest_tells_sources_apart() {
        assert_eq!(source_digest("a"), source_digest("a"));
        assert_ne!(source_digest("a"), source_digest("b"));
        assert_ne!(source_digest(TXN_PEER_SOURCE), source_digest(""));
    }
}
