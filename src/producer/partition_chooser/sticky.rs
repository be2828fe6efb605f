//! The uniform sticky partitioner of KIP-794, for keyless records.
//!
//! Sending every keyless record to a different partition makes many small batches; sticking to
//! one partition fills a batch before moving on. KIP-794 fixed the older sticky partitioner,
//! which switched on every new batch and so favoured slow brokers (their batches stayed open
//! longer and collected more records); switching after a fixed number of bytes spreads load
//! evenly whatever the brokers' speed.

use crate::sync::lock;
use std::sync::Mutex;

use rand::Rng;

/// One topic's sticky partition and the bytes appended to it since it was chosen.
#[derive(Debug)]
pub(crate) struct StickyPartitioner {
    batch_size: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// `None` until the first record, and after enough bytes to move on.
    current: Option<i32>,
    produced: usize,
}

impl StickyPartitioner {
    /// Switches after `batch_size` bytes (`batch.size`); 0 is treated as 1.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size: batch_size.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// The partition for the next keyless record, which is `record_bytes` long.
    ///
    /// `available` lists the partitions whose leader is known, sorted ascending. A partition is
    /// drawn when there is none yet, when `batch.size` bytes went to the current one, when the
    /// current one is no longer below `partition_count`, or when it dropped out of a non-empty
    /// `available`, so records do not pile up behind a missing leader.
    ///
    /// Choosing and counting happen under one lock, so concurrent senders never count bytes
    /// against a partition another one already moved away from.
    pub fn partition(&self, partition_count: i32, available: &[i32], record_bytes: usize) -> i32 {
        debug_assert!(available.is_sorted(), "available partitions must be sorted");
        let mut state = lock(&self.state);
        let p = match state.current {
            Some(p)
                if p < partition_count
                    && (available.is_empty() || available.binary_search(&p).is_ok()) =>
            {
                p
            }
            _ => {
                state.produced = 0;
                draw(partition_count, available)
            }
        };
        state.produced = state.produced.saturating_add(record_bytes);
        // Drawn lazily by the next record, which has fresh metadata.
        state.current = (state.produced < self.batch_size).then_some(p);
        p
    }
}

fn draw(partition_count: i32, available: &[i32]) -> i32 {
    let mut rng = rand::rng();
    if available.is_empty() {
        rng.random_range(0..partition_count.max(1))
    } else {
        available[rng.random_range(0..available.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticks_until_batch_size_bytes_then_switches() {
        let sticky = StickyPartitioner::new(1000);
        let mut switches = 0;
        let mut bytes_on_current = 0;
        let mut current = sticky.partition(1000, &[], 0);
        for _ in 0..10_000 {
            let p = sticky.partition(1000, &[], 100);
            if p != current {
                // A multiple: a redraw may land on the same partition again.
                assert!(
                    bytes_on_current >= 1000 && bytes_on_current % 1000 == 0,
                    "switched after {bytes_on_current} bytes"
                );
                switches += 1;
                bytes_on_current = 0;
                current = p;
            }
            bytes_on_current += 100;
        }
        // 10 records of 100 bytes per stick; with 1000 partitions a redraw rarely repeats.
        assert!((950..=1000).contains(&switches), "{switches} switches");
    }

    #[test]
    fn draws_are_uniform_across_partitions() {
        let sticky = StickyPartitioner::new(1);
        let mut counts = [0u32; 8];
        let draws = 80_000;
        for _ in 0..draws {
            counts[sticky.partition(8, &[], 1) as usize] += 1;
        }
        // Expected 10,000 each with a standard deviation near 94; 600 is over six of them.
        for (p, &n) in counts.iter().enumerate() {
            assert!(
                (9_400..=10_600).contains(&n),
                "partition {p}: {n} of {draws}"
            );
        }
    }

    #[test]
    fn only_partitions_with_a_leader_are_chosen() {
        let sticky = StickyPartitioner::new(1);
        let available = [1, 4, 6];
        for _ in 0..1000 {
            let p = sticky.partition(8, &available, 1);
            assert!(available.contains(&p), "{p}");
        }
    }

    #[test]
    fn leaves_a_partition_that_lost_its_leader_at_once() {
        let sticky = StickyPartitioner::new(1_000_000);
        assert_eq!(sticky.partition(2, &[0], 1), 0);
        assert_eq!(sticky.partition(2, &[1], 1), 1);
        // With no leader known anywhere, any partition will do.
        assert!((0..2).contains(&sticky.partition(2, &[], 1)));
    }

    #[test]
    fn redraws_when_the_partition_count_shrinks_in_stale_metadata() {
        // Stuck to a partition other than 0 (one fresh partitioner in 100 draws 0).
        let sticky = loop {
            let sticky = StickyPartitioner::new(1_000_000);
            if sticky.partition(100, &[], 1) != 0 {
                break sticky;
            }
        };
        assert_eq!(sticky.partition(1, &[0], 1), 0);
    }

    #[test]
    fn concurrent_senders_split_the_bytes_by_batch_size() {
        // Four threads share one partitioner: every stick still takes batch.size bytes
        // before moving on, because choosing and counting are one step.
        let sticky = std::sync::Arc::new(StickyPartitioner::new(1000));
        // All four spawned before any is joined, so they really run at once.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sticky = sticky.clone();
                std::thread::spawn(move || {
                    (0..5000)
                        .map(|_| sticky.partition(1_000_000, &[], 10))
                        .collect::<Vec<i32>>()
                })
            })
            .collect();
        let mut per_partition = std::collections::HashMap::new();
        for p in threads.into_iter().flat_map(|t| t.join().unwrap()) {
            *per_partition.entry(p).or_insert(0) += 10;
        }
        // Had a sender counted its record against a partition another had just left, that
        // partition would hold a stick and a stray 10 bytes. (A multiple of 1000 rather than
        // exactly 1000: a redraw may repeat a partition.)
        assert!(
            per_partition.values().all(|b| b % 1000 == 0),
            "{per_partition:?}"
        );
    }
}
