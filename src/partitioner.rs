//! Partitioning, compatible with the Java client: the hash, the [`Partitioner`] trait and
//! the [`PartitionerKind`] setting. The producer's per-topic state lives in
//! `producer/partition_chooser.rs`.
//!
//! A record with an explicit partition goes there; choosing is only for records without one,
//! and enforcing that is the caller's job (the producer never consults a partitioner for a record
//! whose `partition` is set).
//!
//! With the default partitioner a keyed record goes to
//! `to_positive(murmur2(key)) % partition_count`, exactly as the Java client computes it, so
//! Java and kafkit producers writing the same keys to the same topic agree on partitions. A
//! keyless record goes to the topic's current *sticky* partition (KIP-794), see
//! [`PartitionerKind::Default`].

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The 32-bit murmur2 hash, bit for bit as Java's `org.apache.kafka.common.utils.Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java mixes in the length as an `int`; the cast wraps the same way for absurd lengths.
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's switch falls through from case 3 to case 1.
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (it is not `abs`: `i32::MIN` becomes 0).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for `key`:
/// `to_positive(murmur2(key)) % partition_count`.
///
/// # Panics
///
/// If `partition_count` is not positive.
pub fn partition_for_key(key: &[u8], partition_count: i32) -> i32 {
    assert!(
        partition_count > 0,
        "partition_count must be positive, got {partition_count}"
    );
    to_positive(murmur2(key)) % partition_count
}

/// A user-supplied partitioner (`partitioner.class` in Java), plugged in with
/// [`PartitionerKind::Custom`].
///
/// It is called from whichever task sends, possibly several at once, so it must be cheap and
/// must not block.
pub trait Partitioner: Send + Sync {
    /// The partition for a record that has no explicit partition.
    ///
    /// Return `Some(p)` with `0 <= p < partition_count`; anything outside that range fails the
    /// send with [`Error::InvalidPartition`]. Return `None` to leave the choice to the built-in
    /// uniform sticky partitioner, as for a keyless record with the default partitioner.
    /// `partition_count` is always at least 1.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partition_count: i32,
    ) -> Option<i32>;
}

/// Which partitioner the producer uses (`partitioner.class`).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum PartitionerKind {
    /// Java's built-in behaviour. Keyed records: murmur2 of the key, over all partitions (unless
    /// `partitioner.ignore.keys=true`). Keyless records: uniform sticky (KIP-794): all of a
    /// topic's keyless records go to one partition until `batch.size` bytes have been appended
    /// to it, then a new partition is drawn uniformly at random among the partitions whose
    /// leader is known (all partitions if none is), so the draw may pick the same partition
    /// again, as Java's may. KIP-794's adaptive weighting by broker queue size is not
    /// implemented: every available partition is equally likely.
    #[default]
    Default,
    /// `org.apache.kafka.clients.producer.RoundRobinPartitioner`: every record, keyed or not,
    /// goes to the next partition in turn among those whose leader is known.
    RoundRobin,
    /// Your own [`Partitioner`].
    Custom(Arc<dyn Partitioner>),
}

impl fmt::Debug for PartitionerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionerKind::Default => f.write_str("Default"),
            PartitionerKind::RoundRobin => f.write_str("RoundRobin"),
            PartitionerKind::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl std::str::FromStr for PartitionerKind {
    type Err = Error;

    /// Parses `partitioner.class`. Custom partitioners cannot be named in properties: set
    /// [`PartitionerKind::Custom`] on the config instead.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            // Java's default is no class at all; DefaultPartitioner was its pre-4.0 name.
            "" | "default" | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" => {
                Ok(PartitionerKind::Default)
            }
            "round_robin" | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                Ok(PartitionerKind::RoundRobin)
            }
            other => Err(Error::config(format!(
                "partitioner.class: {other:?} is not a partitioner kafkit knows; use \"default\" or \
                 \"org.apache.kafka.clients.producer.RoundRobinPartitioner\" (or \"round_robin\"), \
                 or set PartitionerKind::Custom in code"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
