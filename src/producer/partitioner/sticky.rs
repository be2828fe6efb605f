//! The uniform sticky partitioner of KIP-794, for keyless records.
//!
//! Sending every keyless record to a different partition makes many small batches; sticking to
//! one partition fills a batch before moving on. KIP-794 fixed the older sticky partitioner,
//! which switched on every new batch and so favoured slow brokers (their batches stayed open
//! longer and collected more records); switching after a fixed number of bytes spreads load
//! evenly whatever the brokers' speed.

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

    /// The partition for the next keyless record.
    ///
    /// `available` lists the partitions whose leader is known, sorted ascending. A partition is
    /// drawn when there is none yet, when the threshold was reached, when the current one is no
    /// longer below `partition_count`, or when it dropped out of a non-empty `available`, so
    /// records do not pile up behind a missing leader.
    pub fn current(&self, partition_count: i32, available: &[i32]) -> i32 {
        debug_assert!(available.is_sorted(), "available partitions must be sorted");
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = state.current {
            let usable = available.is_empty() || available.binary_search(&p).is_ok();
            if p < partition_count && usable {
                return p;
            }
        }
        let p = draw(partition_count, available);
        *state = State {
            current: Some(p),
            produced: 0,
        };
        p
    }

    /// Counts `bytes` appended to `partition`, and moves on once `batch.size` bytes are in.
    ///
    /// `may_switch` is Java's `enableSwitch`: pass `false` while the partition's last batch is
    /// still open and not full, so that a switch does not strand a small remainder batch (with
    /// a long `linger.ms`, switching at exactly `batch.size` bytes would otherwise alternate
    /// full and tiny batches). Even then the partition moves on at twice `batch.size`, so keyed
    /// traffic keeping a batch open cannot pin keyless records to one partition for good.
    /// Bytes for a partition that is no longer current (another sender switched in between)
    /// are ignored, as Java ignores them.
    pub fn record_appended(&self, partition: i32, bytes: usize, may_switch: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.current != Some(partition) {
            return;
        }
        state.produced = state.produced.saturating_add(bytes);
        if (may_switch && state.produced >= self.batch_size)
            || state.produced >= self.batch_size.saturating_mul(2)
        {
            // Drawn lazily by the next `current`, which has fresh metadata.
            state.current = None;
            state.produced = 0;
        }
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
        let mut current = sticky.current(1000, &[]);
        for _ in 0..10_000 {
            let p = sticky.current(1000, &[]);
            if p != current {
                assert!(
                    bytes_on_current >= 1000,
                    "switched after {bytes_on_current} bytes"
                );
                switches += 1;
                bytes_on_current = 0;
                current = p;
            }
            sticky.record_appended(p, 100, true);
            bytes_on_current += 100;
        }
        // 10 records of 100 bytes per stick; with 1000 partitions a redraw rarely repeats.
        assert!((950..=1000).contains(&switches), "{switches} switches");
    }

    #[test]
    fn switch_can_wait_for_the_batch_but_not_past_twice_batch_size() {
        let sticky = StickyPartitioner::new(100);
        let p = sticky.current(1_000_000, &[]);
        sticky.record_appended(p, 150, false);
        assert_eq!(
            sticky.current(1_000_000, &[]),
            p,
            "held while the batch is open"
        );
        sticky.record_appended(p, 50, false);
        // 200 bytes = twice batch.size: moves on anyway (a repeat draw is one in a million).
        assert_ne!(sticky.current(1_000_000, &[]), p);
    }

    #[test]
    fn bytes_for_a_stale_partition_are_ignored() {
        let sticky = StickyPartitioner::new(100);
        let p = sticky.current(1_000_000, &[]);
        sticky.record_appended(p + 1, 10_000, true);
        assert_eq!(sticky.current(1_000_000, &[]), p);
    }

    #[test]
    fn draws_are_uniform_across_partitions() {
        let sticky = StickyPartitioner::new(1);
        let mut counts = [0u32; 8];
        let draws = 80_000;
        for _ in 0..draws {
            let p = sticky.current(8, &[]);
            counts[p as usize] += 1;
            sticky.record_appended(p, 1, true);
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
            let p = sticky.current(8, &available);
            assert!(available.contains(&p), "{p}");
            sticky.record_appended(p, 1, true);
        }
    }

    #[test]
    fn leaves_a_partition_that_lost_its_leader_at_once() {
        let sticky = StickyPartitioner::new(1_000_000);
        let p = sticky.current(2, &[0]);
        assert_eq!(p, 0);
        assert_eq!(sticky.current(2, &[1]), 1);
        // With no leader known anywhere, any partition will do.
        assert!((0..2).contains(&sticky.current(2, &[])));
    }

    #[test]
    fn redraws_when_the_partition_count_shrinks_in_stale_metadata() {
        let sticky = StickyPartitioner::new(1_000_000);
        let available: Vec<i32> = (0..100).collect();
        let mut p = sticky.current(100, &available);
        while p == 0 {
            sticky.record_appended(p, 2_000_000, true);
            p = sticky.current(100, &available);
        }
        assert_eq!(sticky.current(1, &[0]), 0);
    }
}
