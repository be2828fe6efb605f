//! Records fetched and not yet returned by `poll`.
//!
//! Kept as the fetches' chunks (one partition each, in offset order), each decoded a batch
//! at a time as records are taken: a poll moves each record out once, straight from its
//! decoded batch into the returned `Vec`, and at most one decoded batch per chunk is held.

use super::fetch::{Records, Room};
use crate::error::Error;
use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::VecDeque;

/// The records waiting for `poll`, in the order they were fetched.
#[derive(Default)]
pub(super) struct Buffer {
    chunks: VecDeque<Chunk>,
}

/// One completed fetch's records not taken yet.
struct Chunk {
    tp: TopicPartition,
    records: Records,
}

/// Where a partition stands after a take: the offset after the last record taken (or after
/// the chunk, once it is all taken), and the leader epoch of the batch that was in.
pub(super) struct Reached {
    pub offset: i64,
    pub leader_epoch: i32,
}

impl Buffer {
    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The bytes the chunks hold: undecoded batches and the decoded one of each.
    pub(super) fn held(&self) -> usize {
        self.chunks.iter().map(|c| c.records.held()).sum()
    }

    /// Appends one fetch's records of `tp`, which follow any of `tp` already here.
    pub(super) fn push(&mut self, tp: TopicPartition, records: Records) {
        self.chunks.push_back(Chunk { tp, records });
    }

    pub(super) fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Drops the records of every partition `keep` refuses.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&TopicPartition) -> bool) {
        self.chunks.retain(|c| keep(&c.tp));
    }

    /// Takes records while `room` lasts, in order, telling `reached` where each partition it took
    /// from stands after it. A batch that does not decode stops the take: the records before
    /// it are returned with the partition and the error, and that partition's chunks are
    /// dropped.
    pub(super) fn take(
        &mut self,
        room: &mut Room,
        mut reached: impl FnMut(&TopicPartition, Reached),
    ) -> (Vec<ConsumerRecord>, Option<(TopicPartition, Error)>) {
        let mut out = Vec::new();
        while !room.is_spent() {
            let Some(chunk) = self.chunks.front_mut() else {
                break;
            };
            if out.is_empty() {
                // One allocation for a typical poll, not one sized by a huge max.poll.records.
                out.reserve(room.records.min(1024));
            }
            let before = out.len();
            let done = chunk.records.take_into(&mut out, room);
            if let Some(last) = out.get(before..).and_then(|taken| taken.last()) {
                let leader_epoch = chunk.records.leader_epoch();
                let offset = last.offset + 1;
                reached(
                    &chunk.tp,
                    Reached {
                        offset,
                        leader_epoch,
                    },
                );
            }
            match done {
                Ok(false) => {}
                Ok(true) => {
                    // Past any control batches or aborted records at its end too.
                    let offset = chunk.records.next_offset();
                    let leader_epoch = chunk.records.last_epoch();
                    reached(
                        &chunk.tp,
                        Reached {
                            offset,
                            leader_epoch,
                        },
                    );
                    self.chunks.pop_front();
                }
                Err(e) => {
                    let tp = chunk.tp.clone();
                    self.chunks.retain(|c| c.tp != tp);
                    return (out, Some((tp, e)));
                }
            }
        }
        (out, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::fetch::tests::records;

    /// (partition, offset) of each record taken, and (partition, offset reached) per report.
    type Taken = (Vec<(i32, i64)>, Vec<(i32, i64)>);

    fn taken(buffer: &mut Buffer, max: usize) -> Taken {
        let mut positions = Vec::new();
        let (out, failed) = buffer.take(&mut Room::records(max), |tp, r| {
            positions.push((tp.partition, r.offset))
        });
        assert!(failed.is_none());
        let out = out.iter().map(|r| (r.partition, r.offset)).collect();
        (out, positions)
    }

    #[test]
    fn records_come_out_in_fetch_order_with_the_positions_they_reach() {
        let mut buffer = Buffer::default();
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.push(TopicPartition::new("t", 1), records("t", 1, 10..12));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 3..5));
        assert!(!buffer.is_empty() && buffer.held() > 0);

        // Across chunks: a whole one, then part of the next.
        let (out, positions) = taken(&mut buffer, 4);
        assert_eq!(out, vec![(0, 0), (0, 1), (0, 2), (1, 10)]);
        assert_eq!(positions, vec![(0, 3), (0, 3), (1, 11)]);

        // The rest of a chunk, then a partition seen again: its later position is last.
        let (out, positions) = taken(&mut buffer, 10);
        assert_eq!(out, vec![(1, 11), (0, 3), (0, 4)]);
        assert_eq!(positions, vec![(1, 12), (1, 12), (0, 5), (0, 5)]);
        assert!(buffer.is_empty());
        assert_eq!(buffer.held(), 0);
        assert_eq!(taken(&mut buffer, 10), (vec![], vec![]));
    }

    #[test]
    fn a_take_stops_at_the_batch_that_spends_its_bytes() {
        let mut buffer = Buffer::default();
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.push(TopicPartition::new("t", 1), records("t", 1, 10..12));
        let mut room = Room {
            records: 10,
            bytes: 1,
        };
        let (out, failed) = buffer.take(&mut room, |_, _| {});
        assert!(failed.is_none());
        assert_eq!(out.len(), 3, "the first batch only");
        let (out, _) = buffer.take(&mut Room::records(10), |_, _| {});
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn retain_and_clear_drop_records() {
        let mut buffer = Buffer::default();
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.push(TopicPartition::new("u", 0), records("u", 0, 0..2));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 3..4));
        buffer.retain(|tp| tp.topic != "t");
        let (out, _) = buffer.take(&mut Room::records(10), |_, _| {});
        assert!(out.len() == 2 && out.iter().all(|r| &*r.topic == "u"));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.clear();
        assert!(buffer.is_empty());
        assert!(buffer.take(&mut Room::records(10), |_, _| {}).0.is_empty());
    }
}
