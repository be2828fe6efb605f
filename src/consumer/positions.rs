//! Where the consumer stands on each assigned partition, and the records fetched ahead of
//! it: what `poll` hands out, what commits commit, what a completed fetch may move.
//!
//! ```text
//!  assign / rebalance ──▶ fetch position (None until known: reset or committed offset)
//!  fetcher ──completed fetch at the fetch position──▶ buffer; fetch position = its end
//!  poll ──take up to max.poll.records──▶ consumed position = after the last record taken
//!  seek / pause ──▶ fetch position moved, buffered records of the partition dropped
//! ```
//! Pure and synchronous: the consumer holds it under a `std` mutex for a step at a time and
//! never across a network wait or a sleep.

use super::buffer::Buffer;
use super::fetch::PartitionFetch;
use crate::config::AutoOffsetReset;
use crate::error::{Error, ErrorCode, Result};
use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Per assigned partition: its fetch position, consumed position and pause; the buffer.
#[derive(Default)]
pub(super) struct Positions {
    /// Assigned partitions and where their next fetch starts (`None` until known).
    fetch: BTreeMap<TopicPartition, Option<i64>>,
    /// The next offset to hand to the application, per partition: what commits commit.
    consumed: HashMap<TopicPartition, i64>,
    paused: BTreeSet<TopicPartition>,
    buffer: Buffer,
}

impl Positions {
    /// Reads exactly `partitions` from positions to be found; drops every buffered record.
    pub(super) fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.fetch = partitions.into_iter().map(|tp| (tp, None)).collect();
        self.buffer.clear();
    }

    pub(super) fn assignment(&self) -> Vec<TopicPartition> {
        self.fetch.keys().cloned().collect()
    }

    /// Adds a partition (a rebalance gave it), at `offset` when one is committed.
    pub(super) fn add(&mut self, tp: TopicPartition, offset: Option<i64>) {
        match offset {
            Some(o) => self.consumed.insert(tp.clone(), o),
            None => self.consumed.remove(&tp),
        };
        self.fetch.insert(tp, offset);
    }

    /// Forgets these partitions (all of them with `None`) with their buffered records.
    pub(super) fn remove(&mut self, partitions: Option<&[TopicPartition]>) {
        let gone = match partitions {
            Some(p) => p.to_vec(),
            None => self.assignment(),
        };
        for tp in &gone {
            self.fetch.remove(tp);
            self.consumed.remove(tp);
            self.paused.remove(tp);
        }
        let gone: BTreeSet<&TopicPartition> = gone.iter().collect();
        self.buffer.retain(|tp| !gone.contains(tp));
    }

    /// The offset of the next record `poll` returns from `tp`, once known.
    pub(super) fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.consumed
            .get(tp)
            .copied()
            .or_else(|| self.fetch.get(tp).copied().flatten())
    }

    /// Moves `tp` to `offset`: its buffered records are dropped.
    pub(super) fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        let Some(position) = self.fetch.get_mut(tp) else {
            return Err(Error::config(format!("seek: {tp} is not assigned")));
        };
        *position = Some(offset);
        self.consumed.insert(tp.clone(), offset);
        self.buffer.retain(|buffered| buffered != tp);
        Ok(())
    }

    /// Stops handing out records of these partitions. Records already fetched are dropped
    /// and fetched again after `resume`.
    pub(super) fn pause(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if !self.fetch.contains_key(tp) {
                continue;
            }
            self.paused.insert(tp.clone());
            if let Some(&offset) = self.consumed.get(tp) {
                self.fetch.insert(tp.clone(), Some(offset));
            }
            self.buffer.retain(|buffered| buffered != tp);
        }
    }

    pub(super) fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.paused.remove(tp);
        }
    }

    pub(super) fn paused(&self) -> Vec<TopicPartition> {
        self.paused.iter().cloned().collect()
    }

    /// Partitions whose position must be found (auto.offset.reset).
    pub(super) fn missing(&self) -> Vec<TopicPartition> {
        self.fetch
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Sets a position found by auto.offset.reset, unless `tp` got one meanwhile (a seek,
    /// a committed offset) or is no longer assigned.
    pub(super) fn reset(&mut self, tp: TopicPartition, offset: i64) {
        if let Some(position @ None) = self.fetch.get_mut(&tp) {
            *position = Some(offset);
            self.consumed.insert(tp, offset);
        }
    }

    /// The partitions the fetcher should fetch, at their fetch positions: assigned, not
    /// paused, position known.
    pub(super) fn fetchable(&self) -> BTreeMap<TopicPartition, i64> {
        self.fetch
            .iter()
            .filter(|(tp, _)| !self.paused.contains(*tp))
            .filter_map(|(tp, p)| p.map(|p| (tp.clone(), p)))
            .collect()
    }

    pub(super) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Takes in one completed fetch of `tp` made at `fetch_offset`. Records move to the
    /// buffer and the fetch position past them; out of range resets the position (or fails,
    /// with `auto.offset.reset=none`); other errors are returned. A fetch that no longer
    /// starts at the fetch position, or of a paused partition, is dropped.
    pub(super) fn accept(
        &mut self,
        tp: TopicPartition,
        fetch_offset: i64,
        outcome: PartitionFetch,
        reset: AutoOffsetReset,
    ) -> Result<()> {
        let Some(position) = self.fetch.get_mut(&tp) else {
            return Ok(());
        };
        if *position != Some(fetch_offset) || self.paused.contains(&tp) {
            return Ok(());
        }
        match outcome {
            PartitionFetch::Records {
                records,
                next_offset,
            } => {
                *position = Some(next_offset);
                self.buffer.push(tp, records);
                Ok(())
            }
            PartitionFetch::Error(code) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                if reset == AutoOffsetReset::Error {
                    return Err(Error::OffsetOutOfRange {
                        topic: tp.topic,
                        partition: tp.partition,
                        offset: fetch_offset,
                    });
                }
                *position = None;
                self.consumed.remove(&tp);
                Ok(())
            }
            PartitionFetch::Error(code) => Err(Error::broker(code, tp.to_string())),
            PartitionFetch::Corrupt(e) => Err(e),
        }
    }

    /// Hands out up to `max` buffered records; each partition's consumed position moves past
    /// the last one taken.
    pub(super) fn take(&mut self, max: usize) -> Vec<ConsumerRecord> {
        // Positions move once per fetched chunk taken from, not once per record, and the
        // partition is usually known already: nothing to allocate.
        let consumed = &mut self.consumed;
        self.buffer
            .take(max, |tp, next| match consumed.get_mut(tp) {
                Some(position) => *position = next,
                None => {
                    consumed.insert(tp.clone(), next);
                }
            })
    }

    /// The consumed positions of the assigned partitions (of `only` those, if given).
    pub(super) fn consumed(&self, only: Option<&[TopicPartition]>) -> Vec<(TopicPartition, i64)> {
        self.consumed
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .map(|(tp, offset)| (tp.clone(), *offset))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::buffer::tests::records;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
    }

    /// A fetch of partition `partition` at `offsets.start` holding those records.
    fn fetched(partition: i32, offsets: std::ops::Range<i64>) -> PartitionFetch {
        PartitionFetch::Records {
            next_offset: offsets.end,
            records: records("t", partition, offsets),
        }
    }

    fn offsets(records: &[ConsumerRecord]) -> Vec<(i32, i64)> {
        records.iter().map(|r| (r.partition, r.offset)).collect()
    }

    const EARLIEST: AutoOffsetReset = AutoOffsetReset::Earliest;

    /// Partitions 0 and 1 assigned, both at offset 0.
    fn at_zero() -> Positions {
        let mut p = Positions::default();
        p.assign([tp(0), tp(1)]);
        p.reset(tp(0), 0);
        p.reset(tp(1), 0);
        p
    }

    #[test]
    fn assigned_partitions_wait_for_a_position_then_are_fetched_from_it() {
        let mut p = Positions::default();
        p.assign([tp(0), tp(1)]);
        assert_eq!(p.missing(), vec![tp(0), tp(1)]);
        assert!(p.fetchable().is_empty());
        assert_eq!(p.position(&tp(0)), None);
        p.seek(&tp(1), 7).unwrap();
        // A reset found while the partition was sought keeps the seek.
        p.reset(tp(1), 3);
        p.reset(tp(0), 5);
        // Nor does a reset reach a partition no longer assigned.
        p.reset(tp(9), 1);
        assert!(p.missing().is_empty());
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(0), 5), (tp(1), 7)]));
        assert_eq!((p.position(&tp(0)), p.position(&tp(1))), (Some(5), Some(7)));
        assert_eq!(p.assignment(), vec![tp(0), tp(1)]);
    }

    #[test]
    fn fetched_records_move_the_fetch_position_and_polls_move_the_consumed_one() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        // The next fetch starts after what is buffered; what was returned is unchanged.
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(0), 3), (tp(1), 2)]));
        assert_eq!((p.buffered(), p.position(&tp(0))), (5, Some(0)));
        assert_eq!(offsets(&p.take(4)), vec![(0, 0), (0, 1), (0, 2), (1, 0)]);
        assert_eq!((p.position(&tp(0)), p.position(&tp(1))), (Some(3), Some(1)));
        assert_eq!(
            p.consumed(None).into_iter().collect::<BTreeMap<_, _>>(),
            BTreeMap::from([(tp(0), 3), (tp(1), 1)])
        );
        assert_eq!(p.consumed(Some(&[tp(1)])), vec![(tp(1), 1)]);
        assert_eq!(offsets(&p.take(4)), vec![(1, 1)]);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn a_fetch_that_no_longer_fits_the_position_is_dropped() {
        let mut p = at_zero();
        // Made before a seek moved the partition.
        p.seek(&tp(0), 10).unwrap();
        p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        // Of a paused partition, or one no longer assigned.
        p.pause(&[tp(1)]);
        p.accept(tp(1), 0, fetched(1, 0..3), EARLIEST).unwrap();
        p.accept(tp(7), 0, fetched(7, 0..3), EARLIEST).unwrap();
        assert_eq!(p.buffered(), 0);
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(0), 10)]));
    }

    #[test]
    fn out_of_range_resets_the_position_or_fails_per_auto_offset_reset() {
        let out_of_range = || PartitionFetch::Error(ErrorCode::OFFSET_OUT_OF_RANGE);
        let mut p = at_zero();
        p.accept(tp(0), 0, out_of_range(), EARLIEST).unwrap();
        assert_eq!(p.missing(), vec![tp(0)]);
        assert_eq!(p.position(&tp(0)), None);

        let mut p = at_zero();
        match p.accept(tp(1), 0, out_of_range(), AutoOffsetReset::Error) {
            Err(Error::OffsetOutOfRange {
                topic,
                partition,
                offset,
            }) => assert_eq!((topic.as_str(), partition, offset), ("t", 1, 0)),
            other => panic!("expected OffsetOutOfRange, got {other:?}"),
        }
    }

    #[test]
    fn other_fetch_errors_are_returned_typed() {
        let mut p = at_zero();
        let e = p
            .accept(
                tp(0),
                0,
                PartitionFetch::Error(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                EARLIEST,
            )
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        let corrupt = Error::CorruptBatch {
            topic: "t".into(),
            partition: 1,
            offset: 0,
            reason: "bad crc".into(),
        };
        let e = p
            .accept(tp(1), 0, PartitionFetch::Corrupt(corrupt), EARLIEST)
            .unwrap_err();
        assert!(matches!(e, Error::CorruptBatch { partition: 1, .. }));
    }

    #[test]
    fn pause_drops_buffered_records_and_resume_refetches_from_the_consumed_position() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..4), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        assert_eq!(p.take(1).len(), 1); // partition 0 at 1
        p.pause(&[tp(0), tp(5)]);
        assert_eq!(p.paused(), vec![tp(0)], "only assigned partitions pause");
        assert_eq!(offsets(&p.take(10)), vec![(1, 0), (1, 1)]);
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(1), 2)]));
        assert_eq!(p.position(&tp(0)), Some(1));
        p.resume(&[tp(0)]);
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(0), 1), (tp(1), 2)]));
    }

    #[test]
    fn seek_drops_the_partitions_buffered_records_only() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..4), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        p.seek(&tp(0), 2).unwrap();
        assert_eq!(p.position(&tp(0)), Some(2));
        assert_eq!(offsets(&p.take(10)), vec![(1, 0), (1, 1)]);
        assert!(matches!(p.seek(&tp(4), 0), Err(Error::Config(_))));
    }

    #[test]
    fn rebalances_add_partitions_at_their_committed_offset_and_remove_them_whole() {
        let mut p = at_zero();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        p.add(tp(2), Some(40));
        p.add(tp(3), None);
        assert_eq!((p.position(&tp(2)), p.position(&tp(3))), (Some(40), None));
        assert_eq!(p.missing(), vec![tp(3)]);
        p.pause(&[tp(1)]);
        p.remove(Some(&[tp(1), tp(2)]));
        assert_eq!(p.assignment(), vec![tp(0), tp(3)]);
        assert!(p.paused().is_empty());
        assert_eq!((p.buffered(), p.position(&tp(1))), (0, None));
        p.remove(None);
        assert!(p.assignment().is_empty() && p.consumed(None).is_empty());
    }
}
