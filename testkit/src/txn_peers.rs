//! Independent transactional clients for interop tests: the Java client
//! (`KafkitTxnPeer`, see [`crate::java_tools`]) and librdkafka
//! (`testkit/scripts/txn_peer.py` on [`python_with_confluent_kafka`]) write
//! transactions, some committed and some aborted, and read a topic back with
//! `isolation.level=read_committed`. Both print the same JSON lines, parsed
//! into [`PeerRecord`]s, so a test can run the same check with either.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::java_tools::{java_tool, KAFKIT_TXN_PEER};
use crate::launcher::{run_tied_stdout, LaunchError};
use crate::python::python_with_confluent_kafka;

/// One record as a peer wrote (committed) or read it. Ordered by position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerRecord {
    /// Partition number.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The value; `None` for a null value.
    pub value: Option<Vec<u8>>,
}

impl PeerRecord {
    /// Parses a peer's output: one JSON object per line,
    /// `{"partition":0,"offset":12,"key":"6b30","value":null}` with key and
    /// value in hex. Blank lines are skipped.
    ///
    /// # Errors
    ///
    /// The first line that is not such an object, with the reason.
    pub fn parse_lines(stdout: &str) -> Result<Vec<PeerRecord>, String> {
        stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| Self::parse(line).ok_or_else(|| format!("not a peer record: {line:?}")))
            .collect()
    }

    fn parse(line: &str) -> Option<PeerRecord> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(PeerRecord {
            partition: i32::try_from(v.get("partition")?.as_i64()?).ok()?,
            offset: v.get("offset")?.as_i64()?,
            key: hex(v.get("key")?)?,
            value: hex(v.get("value")?)?,
        })
    }
}

/// A hex string as bytes, JSON null as `Some(None)`; `None` if neither.
fn hex(v: &serde_json::Value) -> Option<Option<Vec<u8>>> {
    if v.is_null() {
        return Some(None);
    }
    let s = v.as_str()?;
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Some)
}

/// Which independent client plays the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnPeer {
    /// The Java client, `kafka-clients` [`crate::KAFKA_TOOLS_VERSION`].
    Java,
    /// librdkafka, through Python's `confluent-kafka`
    /// [`crate::CONFLUENT_KAFKA_VERSION`].
    Librdkafka,
}

/// What [`TxnPeer::produce_transactions`] writes: `transactions`
/// transactions of `records_per_transaction` records each, the ones with
/// `t % abort_every == abort_every - 1` aborted (none when `abort_every` is
/// 0). Record `j` of the run has key `"<prefix>-k<j % 5>"` and value
/// `"<prefix>-<t>-<j>"`, partitioned by key by the peer's own partitioner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnProduce {
    /// The topic written to (it must exist).
    pub topic: String,
    /// The producer's `transactional.id`; `None`: a plain idempotent
    /// producer, no transactions and no markers in the log (a copier's
    /// input: Java's copier counts offsets to the end, markers included), and
    /// `abort_every` must be 0.
    pub transactional_id: Option<String>,
    /// How many transactions.
    pub transactions: u32,
    /// Records in each.
    pub records_per_transaction: u32,
    /// Abort every n-th transaction (0: commit them all).
    pub abort_every: u32,
    /// Starts every key and value, so runs stay apart.
    pub prefix: String,
}

impl TxnProduce {
    /// The arguments of the peers' `produce` mode.
    fn args(&self, bootstrap: &str) -> Vec<String> {
        vec![
            "produce".into(),
            bootstrap.into(),
            self.topic.clone(),
            self.transactional_id.clone().unwrap_or_else(|| "-".into()),
            self.transactions.to_string(),
            self.records_per_transaction.to_string(),
            self.abort_every.to_string(),
            self.prefix.clone(),
        ]
    }

    /// How many records the committed transactions hold.
    pub fn committed_records(&self) -> u64 {
        let aborted = self.transactions.checked_div(self.abort_every).unwrap_or(0);
        u64::from(self.transactions - aborted) * u64::from(self.records_per_transaction)
    }
}

impl TxnPeer {
    fn command(self, args: Vec<String>) -> Result<Command, LaunchError> {
        let mut cmd = match self {
            TxnPeer::Java => java_tool(KAFKIT_TXN_PEER)?,
            TxnPeer::Librdkafka => {
                let mut python = Command::new(python_with_confluent_kafka()?);
                python.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/txn_peer.py"));
                python
            }
        };
        cmd.args(args);
        Ok(cmd)
    }

    fn run(self, args: Vec<String>) -> Result<Vec<PeerRecord>, LaunchError> {
        let what = format!("{self:?} transaction peer {}", args.join(" "));
        let stdout = run_tied_stdout(self.command(args)?, &what)?;
        PeerRecord::parse_lines(&stdout).map_err(|e| LaunchError::new(format!("{what}: {e}")))
    }

    /// Writes the transactions `spec` describes and returns the records of
    /// the committed ones, with the offsets the broker gave them, in the
    /// order sent. Blocks until the peer exits (a JVM start, or the venv's
    /// first install, takes seconds): async tests call it through
    /// `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// If the peer cannot be had (Maven, javac, pip) or fails: the message
    /// holds its output.
    pub fn produce_transactions(
        self,
        bootstrap: &str,
        spec: &TxnProduce,
    ) -> Result<Vec<PeerRecord>, LaunchError> {
        self.run(spec.args(bootstrap))
    }

    /// Reads every partition of `topic` from the beginning with
    /// `isolation.level=read_committed` up to its last stable offset, and
    /// returns the records in the order the client returned them. Blocks, as
    /// [`TxnPeer::produce_transactions`].
    ///
    /// # Errors
    ///
    /// As [`TxnPeer::produce_transactions`], and when the end is not reached
    /// within `timeout`.
    pub fn read_committed(
        self,
        bootstrap: &str,
        topic: &str,
        timeout: Duration,
    ) -> Result<Vec<PeerRecord>, LaunchError> {
        self.run(vec![
            "read".into(),
            bootstrap.into(),
            topic.into(),
            timeout.as_millis().to_string(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_peers_lines() {
        // Java's compact form and Python's json.dumps spacing, a null key, a
        // blank line (Python prints one when nothing was committed).
        let out = "{\"partition\":1,\"offset\":7,\"key\":\"6b30\",\"value\":\"00ff\"}\n\n\
                   {\"partition\": 0, \"offset\": 0, \"key\": null, \"value\": \"\"}\n";
        assert_eq!(
            PeerRecord::parse_lines(out).unwrap(),
            [
                PeerRecord {
                    partition: 1,
                    offset: 7,
                    key: Some(b"k0".to_vec()),
                    value: Some(vec![0, 255]),
                },
                PeerRecord {
                    partition: 0,
                    offset: 0,
                    key: None,
                    value: Some(Vec::new()),
                },
            ]
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            r#"{"partition":0,"offset":0,"key":"6","value":null}"#,
            r#"{"partition":0,"offset":0,"key":"zz","value":null}"#,
            r#"{"partition":0,"offset":0,"key":"éé","value":null}"#,
            r#"{"partition":0,"offset":0,"value":null}"#,
            r#"{"partition":4294967296,"offset":0,"key":null,"value":null}"#,
            "Exception in thread main",
        ] {
            assert!(PeerRecord::parse_lines(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_committed_records() {
        let mut spec = TxnProduce {
            topic: "t".into(),
            transactional_id: Some("x".into()),
            transactions: 10,
            records_per_transaction: 7,
            abort_every: 3,
            prefix: "p".into(),
        };
        // Transactions 2, 5 and 8 abort.
        assert_eq!(spec.committed_records(), 7 * 7);
        spec.abort_every = 0;
        assert_eq!(spec.committed_records(), 70);
        spec.abort_every = 1;
        assert_eq!(spec.committed_records(), 0);
        assert_eq!(
            spec.args("b:1"),
            ["produce", "b:1", "t", "x", "10", "7", "1", "p"]
        );
        spec.transactional_id = None;
        assert_eq!(spec.args("b:1")[3], "-");
    }
}
