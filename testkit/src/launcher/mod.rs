//! Starts real Apache Kafka brokers (KRaft, combined broker+controller mode)
//! as child JVM processes, from jars that Maven resolves once per build folder.
//!
//! ```text
//! KafkaClusterBuilder::start            (start.rs)
//!   check java, resolve jars (jars.rs), JVM options (jvm.rs)
//!   pick ports, write each node's config (node.rs)
//!   format every node, spawn every node, wait until each serves (node.rs, probe.rs)
//! KafkaCluster: kill / pause / resume / stop / restart nodes (cluster.rs)
//! ```
//! Every child process is tied to this one (process.rs).

use std::time::Duration;

mod cluster;
mod config;
mod error;
mod jars;
mod jvm;
mod node;
mod probe;
mod process;
mod start;

pub use cluster::KafkaCluster;
pub use error::LaunchError;
pub use jars::{cache_dir, resolve_jars};
pub(crate) use jars::{target_dir, FileLock};
#[cfg(test)]
pub(crate) use probe::probe_metadata;
pub(crate) use process::run_tied;
pub use start::{free_port, KafkaClusterBuilder};

/// The Apache Kafka release every cluster runs; the jar cache is keyed on it.
pub const KAFKA_VERSION: &str = "4.4.0";

/// How long [`KafkaClusterBuilder::start`] and [`KafkaCluster::restart`] wait
/// for a node to serve before giving up, unless the builder says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(90);
