//! Where the consumer stands on each assigned partition, and the records fetched ahead of
//! it: what `poll` hands out, what commits commit, what a completed fetch may move.
//!
//! ```text
//!  assign / rebalance ──▶ fetch position (None until known: reset or committed offset)
//!  fetcher ──completed fetch at the fetch position──▶ buffer; fetch position = its end
//!  poll ──take up to max.poll.records (decoding batches as it goes)──▶ consumed position
//!        = after the last record taken, with the leader epoch of its batch (KIP-320)
//!  fetcher ──the log diverged (unclean election)──▶ truncation: reset or LogTruncation
//!  seek / pause ──▶ fetch position moved, buffered records of the partition dropped
//! ```
//! Pure and synchronous: the consumer holds it under a `std` mutex for a step at a time and
//! never across a network wait or a sleep.

use super::buffer::Buffer;
use super::fetch::{PartitionFetch, Room};
use super::group::OffsetAndMetadata;
use crate::config::AutoOffsetReset;
use crate::error::{Error, ErrorCode, Result};
use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// No leader epoch known (the wire's -1).
const NO_EPOCH: i32 = -1;

/// Per assigned partition: its fetch position, consumed position and pause; the buffer.
#[derive(Default)]
pub(super) struct Positions {
    /// Assigned partitions and where their next fetch starts (`None` until known).
    fetch: BTreeMap<TopicPartition, Option<i64>>,
    /// The next offset to hand to the application, per partition: what commits commit.
    consumed: HashMap<TopicPartition, i64>,
    /// The leader epoch of the record before the consumed position, where known: from the
    /// batches taken, or a committed offset's.
    epochs: HashMap<TopicPartition, i32>,
    paused: BTreeSet<TopicPartition>,
    buffer: Buffer,
    /// An error met while taking records, returned by the next `take` (the records before
    /// it went out first).
    failed: Option<Error>,
    /// Counts the changes to `fetchable` that the fetcher does not make in step itself:
    /// every one but a completed fetch moving its partition's position to the fetch's end.
    /// While it stays the same the fetcher skips comparing all partitions on each poll.
    changes: u64,
}

impl Positions {
    /// Reads exactly `partitions` from positions to be found; drops every buffered record.
    pub(super) fn assign(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.fetch = partitions.into_iter().map(|tp| (tp, None)).collect();
        self.buffer.clear();
        self.failed = None;
        self.changes += 1;
    }

    /// See [`Positions::changes`](#structfield.changes): the fetcher syncs again when this
    /// moves.
    pub(super) fn changes(&self) -> u64 {
        self.changes
    }

    pub(super) fn assignment(&self) -> Vec<TopicPartition> {
        self.fetch.keys().cloned().collect()
    }

    /// Adds a partition (a rebalance gave it), at its committed offset when there is one.
    /// Its committed leader epoch, when there is one, is checked against the leader's log
    /// by the first fetch (KIP-320).
    pub(super) fn add_committed(
        &mut self,
        tp: TopicPartition,
        committed: Option<&OffsetAndMetadata>,
    ) {
        match committed {
            Some(c) => self.consumed.insert(tp.clone(), c.offset),
            None => self.consumed.remove(&tp),
        };
        match committed.and_then(|c| c.leader_epoch) {
            Some(e) => self.epochs.insert(tp.clone(), e),
            None => self.epochs.remove(&tp),
        };
        self.fetch.insert(tp, committed.map(|c| c.offset));
        self.changes += 1;
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
            self.epochs.remove(tp);
            self.paused.remove(tp);
        }
        let gone: BTreeSet<&TopicPartition> = gone.iter().collect();
        self.buffer.retain(|tp| !gone.contains(tp));
        self.changes += 1;
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
        self.epochs.remove(tp);
        self.buffer.retain(|buffered| buffered != tp);
        self.changes += 1;
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
        self.changes += 1;
    }

    pub(super) fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.paused.remove(tp);
        }
        self.changes += 1;
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

    /// Starts an assigned partition that has no position yet at its committed offset (with
    /// the committed leader epoch, checked by the first fetch); one sought meanwhile keeps
    /// its position.
    pub(super) fn init_committed(&mut self, tp: &TopicPartition, committed: &OffsetAndMetadata) {
        if let Some(position @ None) = self.fetch.get_mut(tp) {
            *position = Some(committed.offset);
            self.consumed.insert(tp.clone(), committed.offset);
            match committed.leader_epoch {
                Some(e) => self.epochs.insert(tp.clone(), e),
                None => self.epochs.remove(tp),
            };
            self.changes += 1;
        }
    }

    /// Sets a position found by auto.offset.reset, unless `tp` got one meanwhile (a seek,
    /// a committed offset) or is no longer assigned.
    pub(super) fn reset(&mut self, tp: TopicPartition, offset: i64) {
        if let Some(position @ None) = self.fetch.get_mut(&tp) {
            *position = Some(offset);
            self.epochs.remove(&tp);
            self.consumed.insert(tp, offset);
            self.changes += 1;
        }
    }

    /// The partitions the fetcher should fetch, at their fetch positions: assigned, not
    /// paused, position known; with the leader epoch of the record before, when the fetch
    /// position is the consumed one and that is known (else -1).
    pub(super) fn fetchable(&self) -> BTreeMap<TopicPartition, (i64, i32)> {
        self.fetch
            .iter()
            .filter(|(tp, _)| !self.paused.contains(*tp))
            .filter_map(|(tp, p)| {
                let p = (*p)?;
                let epoch = match self.consumed.get(tp) {
                    Some(&c) if c == p => self.epochs.get(tp).copied().unwrap_or(NO_EPOCH),
                    _ => NO_EPOCH,
                };
                Some((tp.clone(), (p, epoch)))
            })
            .collect()
    }

    /// Whether records (or an error met taking them) wait to be handed out.
    pub(super) fn has_buffered(&self) -> bool {
        !self.buffer.is_empty() || self.failed.is_some()
    }

    /// The bytes the buffer holds: fetched batches, and the decoded ones being taken from.
    pub(super) fn held(&self) -> usize {
        self.buffer.held()
    }

    /// The consumed positions of the assigned partitions (of `only` those, if given), as
    /// commits carry them: with the leader epoch of the record before, when known.
    pub(super) fn committable(
        &self,
        only: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.consumed(only)
            .into_iter()
            .map(|(tp, offset)| {
                let mut committed = OffsetAndMetadata::new(offset);
                committed.leader_epoch = self.epochs.get(&tp).copied().filter(|&e| e >= 0);
                (tp, committed)
            })
            .collect()
    }

    /// Takes in one completed fetch of `tp` made at `fetch_offset`. Records move to the
    /// buffer and the fetch position past them; out of range resets the position (or fails,
    /// with `auto.offset.reset=none`); a diverged log is a truncation (see `diverged`);
    /// other errors are returned. A fetch that no longer starts at the fetch position, or
    /// of a paused partition, is dropped.
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
            // The fetcher handed it out as the partition's next: it must restart.
            self.changes += 1;
            return Ok(());
        }
        // Records move the position where the fetcher moved its own record of it; anything
        // else restarts the partition or drops it.
        if !matches!(outcome, PartitionFetch::Records(_)) {
            self.changes += 1;
        }
        match outcome {
            PartitionFetch::Records(records) => {
                *position = Some(records.next_offset());
                self.buffer.push(tp, *records);
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
                self.epochs.remove(&tp);
                Ok(())
            }
            PartitionFetch::Error(code) => Err(Error::broker(code, tp.to_string())),
            PartitionFetch::Failed(e) => Err(e),
            PartitionFetch::Diverged { epoch, end_offset } => {
                self.diverged(tp, epoch, end_offset, reset)
            }
        }
    }

    /// The leader's log for `epoch` ends at `end_offset`, and what was fetched of `tp` after
    /// that is not in it (an unclean leader election replaced it, KIP-320). Records not yet
    /// handed out are dropped and fetched again from the leader's log. If some that were
    /// handed out are gone too, the consumer moves back to `end_offset`, as the Java client
    /// does, or with `auto.offset.reset=none` returns `Error::LogTruncation`.
    fn diverged(
        &mut self,
        tp: TopicPartition,
        epoch: i32,
        end_offset: i64,
        reset: AutoOffsetReset,
    ) -> Result<()> {
        let Some(&consumed) = self.consumed.get(&tp) else {
            return Ok(());
        };
        self.buffer.retain(|buffered| *buffered != tp);
        let restart = if end_offset < consumed {
            if reset == AutoOffsetReset::Error {
                // Fetched again from here, the divergence is found again: no record of the
                // replaced log is ever handed out.
                self.fetch.insert(tp.clone(), Some(consumed));
                return Err(Error::LogTruncation {
                    topic: tp.topic,
                    partition: tp.partition,
                    offset: consumed,
                    divergent_offset: end_offset,
                });
            }
            tracing::warn!(%tp, consumed, end_offset, "log truncation detected; resetting");
            end_offset
        } else {
            consumed
        };
        self.fetch.insert(tp.clone(), Some(restart));
        self.consumed.insert(tp.clone(), restart);
        self.epochs.insert(tp, epoch);
        Ok(())
    }

    /// Keeps an error met after some records were taken, for the next `take`.
    pub(super) fn keep_failed(&mut self, e: Error) {
        self.failed.get_or_insert(e);
    }

    /// Hands out buffered records while `room` lasts; each partition's consumed position moves past
    /// the last one taken. A batch that does not decode is returned as an error once the
    /// records before it are out; its partition is fetched again from there.
    pub(super) fn take(&mut self, room: &mut Room) -> Result<Vec<ConsumerRecord>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        // Positions move once per batch taken from, not once per record, and the partition
        // is usually known already: nothing to allocate.
        let (consumed, epochs) = (&mut self.consumed, &mut self.epochs);
        let (records, failed) = self.buffer.take(room, |tp, reached| {
            match consumed.get_mut(tp) {
                Some(position) => *position = reached.offset,
                None => {
                    consumed.insert(tp.clone(), reached.offset);
                }
            }
            match epochs.get_mut(tp) {
                Some(epoch) => *epoch = reached.leader_epoch,
                None => {
                    epochs.insert(tp.clone(), reached.leader_epoch);
                }
            }
        });
        if let Some((tp, e)) = failed {
            if let (Some(&at), Some(position)) = (self.consumed.get(&tp), self.fetch.get_mut(&tp)) {
                *position = Some(at);
                self.changes += 1;
            }
            if records.is_empty() {
                return Err(e);
            }
            self.failed = Some(e);
        }
        Ok(records)
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
    use crate::consumer::fetch::tests::records;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
    }

    /// A fetch of partition `partition` at `offsets.start` holding those records.
    fn fetched(partition: i32, offsets: std::ops::Range<i64>) -> PartitionFetch {
        PartitionFetch::Records(Box::new(records("t", partition, offsets)))
    }

    fn take(p: &mut Positions, max: usize) -> Vec<ConsumerRecord> {
        p.take(&mut Room::records(max)).unwrap()
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

    /// Runs `step` on `p`: whether `fetchable` changed, and whether a change was counted.
    fn counted(p: &mut Positions, step: impl FnOnce(&mut Positions)) -> (bool, bool) {
        let (before, changes) = (p.fetchable(), p.changes());
        step(p);
        (p.fetchable() != before, p.changes() != changes)
    }

    #[test]
    fn every_move_of_the_fetchable_positions_but_fetched_records_counts_a_change() {
        let mut p = at_zero();
        // Fetched records move the position where the fetcher moved its own: not counted.
        let records = |p: &mut Positions| p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        assert_eq!(counted(&mut p, records), (true, false));
        let out_of_range = PartitionFetch::Error(ErrorCode::OFFSET_OUT_OF_RANGE);
        type Step = Box<dyn FnOnce(&mut Positions)>;
        let moves: Vec<Step> = vec![
            Box::new(|p| p.seek(&tp(0), 1).unwrap()),
            Box::new(|p| p.pause(&[tp(1)])),
            Box::new(|p| p.resume(&[tp(1)])),
            Box::new(|p| p.accept(tp(0), 1, out_of_range, EARLIEST).unwrap()),
            Box::new(|p| p.reset(tp(0), 4)),
            Box::new(|p| p.remove(Some(&[tp(1)]))),
            Box::new(|p| p.add_committed(tp(1), Some(&OffsetAndMetadata::new(9)))),
            Box::new(|p| p.assign([tp(2)])),
            Box::new(|p| p.init_committed(&tp(2), &OffsetAndMetadata::new(3))),
        ];
        for (i, step) in moves.into_iter().enumerate() {
            assert_eq!(counted(&mut p, step), (true, true), "move {i}");
        }
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
        assert_eq!(
            p.fetchable(),
            BTreeMap::from([(tp(0), (5, -1)), (tp(1), (7, -1))])
        );
        assert_eq!((p.position(&tp(0)), p.position(&tp(1))), (Some(5), Some(7)));
        assert_eq!(p.assignment(), vec![tp(0), tp(1)]);
    }

    #[test]
    fn fetched_records_move_the_fetch_position_and_polls_move_the_consumed_one() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        // The next fetch starts after what is buffered; what was returned is unchanged.
        assert_eq!(
            p.fetchable(),
            BTreeMap::from([(tp(0), (3, -1)), (tp(1), (2, -1))])
        );
        assert_eq!((p.has_buffered(), p.position(&tp(0))), (true, Some(0)));
        assert_eq!(
            offsets(&take(&mut p, 4)),
            vec![(0, 0), (0, 1), (0, 2), (1, 0)]
        );
        assert_eq!((p.position(&tp(0)), p.position(&tp(1))), (Some(3), Some(1)));
        assert_eq!(
            p.consumed(None).into_iter().collect::<BTreeMap<_, _>>(),
            BTreeMap::from([(tp(0), 3), (tp(1), 1)])
        );
        assert_eq!(p.consumed(Some(&[tp(1)])), vec![(tp(1), 1)]);
        assert_eq!(offsets(&take(&mut p, 4)), vec![(1, 1)]);
        assert!(!p.has_buffered());
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
        assert!(!p.has_buffered());
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(0), (10, -1))]));
    }

    #[test]
    fn a_committed_offset_starts_only_an_assigned_partition_without_a_position() {
        let mut p = Positions::default();
        p.assign([tp(0), tp(1)]);
        p.seek(&tp(1), 3).unwrap();
        let committed = OffsetAndMetadata::new(7).with_leader_epoch(2);
        p.init_committed(&tp(0), &committed);
        p.init_committed(&tp(1), &committed);
        p.init_committed(&tp(2), &committed);
        assert_eq!(p.position(&tp(0)), Some(7));
        assert_eq!(
            p.fetchable()[&tp(0)],
            (7, 2),
            "the committed epoch is checked"
        );
        assert_eq!(p.position(&tp(1)), Some(3), "a seek wins");
        assert_eq!(p.position(&tp(2)), None, "not assigned");
        assert!(p.missing().is_empty());
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
            .accept(tp(1), 0, PartitionFetch::Failed(corrupt), EARLIEST)
            .unwrap_err();
        assert!(matches!(e, Error::CorruptBatch { partition: 1, .. }));
    }

    #[test]
    fn pause_drops_buffered_records_and_resume_refetches_from_the_consumed_position() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..4), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        assert_eq!(take(&mut p, 1).len(), 1); // partition 0 at 1
        p.pause(&[tp(0), tp(5)]);
        assert_eq!(p.paused(), vec![tp(0)], "only assigned partitions pause");
        assert_eq!(offsets(&take(&mut p, 10)), vec![(1, 0), (1, 1)]);
        // With the leader epoch of the records before (the test batches': 5).
        assert_eq!(p.fetchable(), BTreeMap::from([(tp(1), (2, 5))]));
        assert_eq!(p.position(&tp(0)), Some(1));
        p.resume(&[tp(0)]);
        assert_eq!(
            p.fetchable(),
            BTreeMap::from([(tp(0), (1, 5)), (tp(1), (2, 5))])
        );
    }

    #[test]
    fn seek_drops_the_partitions_buffered_records_only() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..4), EARLIEST).unwrap();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        p.seek(&tp(0), 2).unwrap();
        assert_eq!(p.position(&tp(0)), Some(2));
        assert_eq!(offsets(&take(&mut p, 10)), vec![(1, 0), (1, 1)]);
        assert!(matches!(p.seek(&tp(4), 0), Err(Error::Config(_))));
    }

    #[test]
    fn rebalances_add_partitions_at_their_committed_offset_and_remove_them_whole() {
        let mut p = at_zero();
        p.accept(tp(1), 0, fetched(1, 0..2), EARLIEST).unwrap();
        p.add_committed(
            tp(2),
            Some(&OffsetAndMetadata::new(40).with_leader_epoch(6)),
        );
        p.add_committed(tp(3), None);
        // The committed epoch goes to the fetcher with the position (KIP-320).
        assert_eq!(p.fetchable()[&tp(2)], (40, 6));
        assert_eq!((p.position(&tp(2)), p.position(&tp(3))), (Some(40), None));
        assert_eq!(p.missing(), vec![tp(3)]);
        p.pause(&[tp(1)]);
        p.remove(Some(&[tp(1), tp(2)]));
        assert_eq!(p.assignment(), vec![tp(0), tp(3)]);
        assert!(p.paused().is_empty());
        assert_eq!((p.has_buffered(), p.position(&tp(1))), (false, None));
        p.remove(None);
        assert!(p.assignment().is_empty() && p.consumed(None).is_empty());
    }

    #[test]
    fn taken_records_carry_their_leader_epoch_into_commits() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        take(&mut p, 2);
        let committable = p.committable(None);
        assert_eq!(committable[&tp(0)].offset, 2);
        assert_eq!(committable[&tp(0)].leader_epoch, Some(5));
        assert_eq!(committable[&tp(1)].leader_epoch, None);
        p.seek(&tp(0), 9).unwrap();
        assert_eq!(p.committable(None)[&tp(0)].leader_epoch, None);
    }

    fn diverged(epoch: i32, end_offset: i64) -> PartitionFetch {
        PartitionFetch::Diverged { epoch, end_offset }
    }

    #[test]
    fn a_log_diverging_before_the_consumed_position_is_a_truncation() {
        // Records 0..5 fetched and handed out; the leader's log now ends its epoch at 2.
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..5), EARLIEST).unwrap();
        assert_eq!(take(&mut p, 10).len(), 5);
        match p.accept(tp(0), 5, diverged(3, 2), AutoOffsetReset::Error) {
            Err(Error::LogTruncation {
                topic,
                partition,
                offset,
                divergent_offset,
            }) => assert_eq!(
                (topic.as_str(), partition, offset, divergent_offset),
                ("t", 0, 5, 2)
            ),
            other => panic!("expected LogTruncation, got {other:?}"),
        }
        // It stays there: fetched again, the divergence is found again.
        assert_eq!(p.fetchable()[&tp(0)].0, 5);

        // With a reset policy it moves back to the divergence, as the Java client does.
        p.accept(tp(0), 5, diverged(3, 2), EARLIEST).unwrap();
        assert_eq!(p.position(&tp(0)), Some(2));
        assert_eq!(p.fetchable()[&tp(0)], (2, 3));
    }

    #[test]
    fn a_log_diverging_after_the_consumed_position_only_drops_prefetched_records() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..5), EARLIEST).unwrap();
        assert_eq!(take(&mut p, 1).len(), 1);
        p.accept(tp(0), 5, diverged(3, 4), AutoOffsetReset::Error)
            .unwrap();
        assert!(
            !p.has_buffered(),
            "records from the replaced log are dropped"
        );
        assert_eq!(p.position(&tp(0)), Some(1));
        assert_eq!(p.fetchable()[&tp(0)], (1, 3));
    }

    #[test]
    fn a_batch_that_does_not_decode_comes_after_the_records_before_it() {
        let mut p = at_zero();
        p.accept(tp(0), 0, fetched(0, 0..3), EARLIEST).unwrap();
        p.keep_failed(Error::config("later"));
        // A kept error waits for the next take.
        assert!(matches!(
            p.take(&mut Room::records(10)),
            Err(Error::Config(_))
        ));
        assert_eq!(offsets(&take(&mut p, 10)), vec![(0, 0), (0, 1), (0, 2)]);
    }
}
