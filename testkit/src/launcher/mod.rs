//! Starts real Apache Kafka brokers (KRaft, combined broker+controller mode)
//! as child JVM processes, from jars that Maven resolves once per build folder.
//!
//! ```text
//! KafkaClusterBuilder::start            (start.rs)
//!   check java, resolve jars (jars.rs), JVM options (jvm.rs)
//!   pick ports, write each node's config (node.rs)
//!   format every node, spawn every node, wait until each serves (node.rs, probe.rs)
//! KafkaCluster: kill / pause / resume / stop / restart nodes (cluster.rs);
//!   partition leaders, ISRs, the active controller, a transactional id's
//!   coordinator (roles.rs)
//! ```
//! Every child process is tied to this one (process.rs).

use std::time::Duration;

mod cluster;
mod config;
mod error;
mod jars;
mod jvm;
mod node;
mod once;
mod probe;
mod process;
mod roles;
mod start;

pub use cluster::KafkaCluster;
pub use error::LaunchError;
pub use jars::{cache_dir, kafka_version, resolve_jars};
pub(crate) use jars::{target_dir, FileLock};
pub use jvm::BROKER_HEAP_ENV;
pub(crate) use once::make_once;
#[cfg(test)]
pub(crate) use probe::probe_metadata;
pub(crate) use process::{run_tied, run_tied_stdout, spawn_tied};
pub use roles::PartitionRoles;
pub use start::{free_port, KafkaClusterBuilder};

/// The Apache Kafka release clusters run unless [`KAFKA_VERSION_ENV`] names
/// another; the jar cache is keyed on the version.
pub const KAFKA_VERSION: &str = "4.4.0";

/// The environment variable that picks another Apache Kafka release for the
/// launcher (e.g. `3.9.2`); see [`kafka_version`].
pub const KAFKA_VERSION_ENV: &str = "KAFKIT_TEST_KAFKA_VERSION";

/// How long [`KafkaClusterBuilder::start`] and [`KafkaCluster::restart`] wait
/// for a node to serve before giving up, unless the builder says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(90);
