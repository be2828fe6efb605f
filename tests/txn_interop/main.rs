//! Transactions against independent clients and crashes (issue 13's proof with peers):
//!
//! - `copier_kill`: kafkit's `transactional_copier` example, with random aborts, SIGKILLed
//!   and restarted every few seconds while it copies 3 input partitions; the output read
//!   with `read_committed` holds every input record exactly once, in key order (testkit's
//!   `CopyChecker`). The same run with `--no-transactions` (the negative control) shows
//!   duplicates.
//! - `peers`: the Java client and librdkafka read kafkit's transactions with
//!   `read_committed` exactly, and kafkit reads theirs.
//! - `order_processor`: the example writes each order once to both its output topics and
//!   commits its offsets with them.
//! - `group_mode`: kafkit's copier and Java's, in group mode, share one group's partitions
//!   and copy them exactly once between them.
//! - `takeover`: kafkit's copier and Java's `TransactionalMessageCopier` take turns on the
//!   same `transactional.id` and consumer group, killed mid-transaction, and the copy is
//!   still exact.
//!
//! The peers come from the testkit: the kafka-tools jars (Maven) and `KafkitTxnPeer`
//! (javac), and a venv with confluent-kafka (pip), made once per build folder. The broker is
//! the shared one of `kafkit_testkit::bootstrap_servers`.
//!
//! `TXN_COPY_RECORDS` sets the kill test's record count (default: issue 13's 100,000, about
//! a minute on 2 cores; the negative control, as many).

mod common;
mod copier_kill;
mod group_mode;
mod order_processor;
mod peers;
mod takeover;

// Each suite uses part of the shared support; the rest would count as dead code here.
#[allow(dead_code)]
#[path = "../support/mod.rs"]
mod support;
