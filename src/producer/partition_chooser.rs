//! The producer's partitioning: a [`PartitionerKind`] applied with a topic's sticky and
//! round-robin state ([`TopicPartitioning`], kept in the topic's entry of the accumulator).

mod sticky;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::partitioner::{partition_for_key, PartitionerKind};
pub(crate) use sticky::StickyPartitioner;

/// One topic's partitioning state.
pub(crate) struct TopicPartitioning {
    sticky: StickyPartitioner,
    round_robin: AtomicU32,
}

impl TopicPartitioning {
    /// The sticky partition moves on after `batch_size` bytes.
    pub fn new(batch_size: usize) -> Self {
        Self {
            sticky: StickyPartitioner::new(batch_size),
            round_robin: AtomicU32::new(0),
        }
    }
}

/// The producer's partitioning: a [`PartitionerKind`] and how it is configured. Cheap per
/// record: the topic's state comes with it, so keyless records cost one uncontended mutex.
pub(crate) struct PartitionChooser {
    kind: PartitionerKind,
    ignore_keys: bool,
}

impl PartitionChooser {
    pub fn new(kind: PartitionerKind, ignore_keys: bool) -> Self {
        Self { kind, ignore_keys }
    }

    /// The partition for a record of `topic`, whose state is `state`, without an explicit
    /// partition.
    ///
    /// `available` lists, in ascending order, the partitions whose leader is currently known;
    /// sticky and round-robin choices avoid the others unless the list is empty. Keyed records
    /// hash over all `partition_count` partitions regardless, as in Java, so a key's partition
    /// does not move while a leader is missing.
    ///
    /// `record_bytes` is the record's size: a sticky choice counts it, so the sticky partition
    /// moves on after `batch.size` bytes (KIP-794).
    #[allow(clippy::too_many_arguments)]
    pub fn choose(
        &self,
        topic: &str,
        state: &TopicPartitioning,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partition_count: i32,
        available: &[i32],
        record_bytes: usize,
    ) -> Result<i32> {
        if partition_count <= 0 {
            return Err(Error::InvalidPartition {
                topic: topic.to_string(),
                partition: -1,
                count: 0,
            });
        }
        let sticky = || {
            state
                .sticky
                .partition(partition_count, available, record_bytes)
        };
        match &self.kind {
            PartitionerKind::Default => match key {
                Some(key) if !self.ignore_keys => Ok(partition_for_key(key, partition_count)),
                _ => Ok(sticky()),
            },
            PartitionerKind::RoundRobin => {
                let n = state.round_robin.fetch_add(1, Ordering::Relaxed);
                Ok(if available.is_empty() {
                    (n % partition_count as u32) as i32
                } else {
                    available[n as usize % available.len()]
                })
            }
            PartitionerKind::Custom(partitioner) => {
                match partitioner.partition(topic, key, value, partition_count) {
                    Some(p) if (0..partition_count).contains(&p) => Ok(p),
                    Some(p) => Err(Error::InvalidPartition {
                        topic: topic.to_string(),
                        partition: p,
                        count: partition_count as usize,
                    }),
                    None => Ok(sticky()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
