//! The producer's partitioning state: a [`PartitionerKind`] plus per-topic sticky and
//! round-robin state.

mod sticky;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::RwLock;

use crate::error::{Error, Result};
use crate::partitioner::{partition_for_key, PartitionerKind};
use crate::sync::{read, write};
pub(crate) use sticky::StickyPartitioner;

/// Per-topic partitioning state.
struct TopicState {
    sticky: StickyPartitioner,
    round_robin: AtomicU32,
}

/// The producer's partitioning: a [`PartitionerKind`] plus per-topic sticky and round-robin
/// state. Cheap per record: a read lock and a foldhash lookup by `&str`, then one uncontended
/// mutex for keyless records; the map only allocates the first time a topic is seen.
pub(crate) struct PartitionChooser {
    kind: PartitionerKind,
    ignore_keys: bool,
    batch_size: usize,
    topics: RwLock<HashMap<String, TopicState, foldhash::fast::RandomState>>,
}

impl PartitionChooser {
    pub fn new(kind: PartitionerKind, ignore_keys: bool, batch_size: usize) -> Self {
        Self {
            kind,
            ignore_keys,
            batch_size,
            topics: RwLock::new(HashMap::default()),
        }
    }

    /// The partition for a record without an explicit partition.
    ///
    /// `available` lists, in ascending order, the partitions whose leader is currently known;
    /// sticky and round-robin choices avoid the others unless the list is empty. Keyed records
    /// hash over all `partition_count` partitions regardless, as in Java, so a key's partition
    /// does not move while a leader is missing.
    ///
    /// `record_bytes` is the record's size: a sticky choice counts it, so the sticky partition
    /// moves on after `batch.size` bytes (KIP-794).
    pub fn choose(
        &self,
        topic: &str,
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
            self.with_topic(topic, |state| {
                state
                    .sticky
                    .partition(partition_count, available, record_bytes)
            })
        };
        match &self.kind {
            PartitionerKind::Default => match key {
                Some(key) if !self.ignore_keys => Ok(partition_for_key(key, partition_count)),
                _ => Ok(sticky()),
            },
            PartitionerKind::RoundRobin => {
                let n = self.with_topic(topic, |state| {
                    state.round_robin.fetch_add(1, Ordering::Relaxed)
                });
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

    /// Forgets the state of each topic `keep` refuses (its sticky partition and round-robin
    /// position start afresh if it is used again).
    pub fn forget_topics(&self, keep: impl Fn(&str) -> bool) {
        write(&self.topics).retain(|topic, _| keep(topic));
    }

    /// How many topics have state.
    #[cfg(test)]
    fn topic_count(&self) -> usize {
        read(&self.topics).len()
    }

    fn with_topic<R>(&self, topic: &str, f: impl FnOnce(&TopicState) -> R) -> R {
        // A poisoned lock only means another sender panicked mid-lookup; the map is still sound.
        if let Some(state) = read(&self.topics).get(topic) {
            return f(state);
        }
        let mut topics = write(&self.topics);
        f(topics
            .entry(topic.to_string())
            .or_insert_with(|| TopicState {
                sticky: StickyPartitioner::new(self.batch_size),
                round_robin: AtomicU32::new(0),
            }))
    }
}

#[cfg(test)]
mod tests;
