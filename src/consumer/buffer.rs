//! Records fetched and not yet returned by `poll`.
//!
//! Kept as the chunks the fetches produced (one partition each, in offset order), not as one
//! queue of records: a fetch's records move in without being copied, a poll moves each record
//! out once (a chunk taken whole becomes the returned `Vec` itself), and the partition of the
//! records a poll returns is at hand without building a key per record.

use crate::record::{ConsumerRecord, TopicPartition};
use std::collections::VecDeque;
use std::vec;

/// The records waiting for `poll`, in the order they were fetched.
#[derive(Default)]
pub(super) struct Buffer {
    chunks: VecDeque<Chunk>,
    /// Records in all chunks.
    len: usize,
}

/// One completed fetch's records not taken yet; never empty.
struct Chunk {
    tp: TopicPartition,
    /// Taken from the front; an iterator over the fetch's `Vec` rather than a `VecDeque`
    /// because moving a run of its records into another `Vec` is a tight copy loop.
    records: vec::IntoIter<ConsumerRecord>,
}

impl Buffer {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends one fetch's records of `tp`, which follow any of `tp` already here.
    pub(super) fn push(&mut self, tp: TopicPartition, records: Vec<ConsumerRecord>) {
        if records.is_empty() {
            return;
        }
        self.len += records.len();
        self.chunks.push_back(Chunk {
            tp,
            records: records.into_iter(),
        });
    }

    pub(super) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Drops the records of every partition `keep` refuses.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&TopicPartition) -> bool) {
        self.chunks.retain(|c| keep(&c.tp));
        self.len = self.chunks.iter().map(|c| c.records.len()).sum();
    }

    /// Takes the first `max` records (or all), telling `taken` the partition and the offset
    /// after the last record taken of each chunk it took from, in order.
    pub(super) fn take(
        &mut self,
        max: usize,
        mut taken: impl FnMut(&TopicPartition, i64),
    ) -> Vec<ConsumerRecord> {
        let n = max.min(self.len);
        let mut out = Vec::new();
        while out.len() < n {
            let Some(chunk) = self.chunks.front_mut() else {
                break;
            };
            let want = n - out.len();
            if out.is_empty() && chunk.records.len() <= want {
                // The rest of the chunk: collecting a `vec::IntoIter` reuses its allocation
                // (a chunk never taken from is handed out as it is).
                out = std::mem::take(&mut chunk.records).collect();
            } else {
                out.reserve_exact(want);
                out.extend(chunk.records.by_ref().take(want));
            }
            if let Some(last) = out.last() {
                taken(&chunk.tp, last.offset + 1);
            }
            if chunk.records.as_slice().is_empty() {
                self.chunks.pop_front();
            }
        }
        self.len -= out.len();
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::record::TimestampType;
    use std::sync::Arc;

    /// Records of `topic`-`partition` at these offsets, without keys or values.
    pub(in crate::consumer) fn records(
        topic: &str,
        partition: i32,
        offsets: std::ops::Range<i64>,
    ) -> Vec<ConsumerRecord> {
        let topic: Arc<str> = Arc::from(topic);
        offsets
            .map(|offset| ConsumerRecord {
                topic: topic.clone(),
                partition,
                offset,
                timestamp: 0,
                timestamp_type: TimestampType::CreateTime,
                key: None,
                value: None,
                headers: Vec::new(),
            })
            .collect()
    }

    /// (partition, offset) of each record taken, and (partition, next offset) per chunk.
    type Taken = (Vec<(i32, i64)>, Vec<(i32, i64)>);

    fn taken(buffer: &mut Buffer, max: usize) -> Taken {
        let mut positions = Vec::new();
        let out = buffer.take(max, |tp, next| positions.push((tp.partition, next)));
        let out = out.iter().map(|r| (r.partition, r.offset)).collect();
        (out, positions)
    }

    #[test]
    fn records_come_out_in_fetch_order_with_the_positions_they_reach() {
        let mut buffer = Buffer::default();
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.push(TopicPartition::new("t", 1), Vec::new());
        buffer.push(TopicPartition::new("t", 1), records("t", 1, 10..12));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 3..5));
        assert_eq!(buffer.len(), 7);

        // Across chunks: a whole one, then part of the next.
        let (out, positions) = taken(&mut buffer, 4);
        assert_eq!(out, vec![(0, 0), (0, 1), (0, 2), (1, 10)]);
        assert_eq!(positions, vec![(0, 3), (1, 11)]);
        assert_eq!(buffer.len(), 3);

        // The rest of a chunk, then a partition seen again: its later position is last.
        let (out, positions) = taken(&mut buffer, 10);
        assert_eq!(out, vec![(1, 11), (0, 3), (0, 4)]);
        assert_eq!(positions, vec![(1, 12), (0, 5)]);
        assert_eq!(buffer.len(), 0);
        assert_eq!(taken(&mut buffer, 10), (vec![], vec![]));
    }

    #[test]
    fn retain_and_clear_drop_records_and_their_count() {
        let mut buffer = Buffer::default();
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.push(TopicPartition::new("u", 0), records("u", 0, 0..2));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 3..4));
        buffer.retain(|tp| tp.topic != "t");
        assert_eq!(buffer.len(), 2);
        let out = buffer.take(10, |_, _| {});
        assert!(out.iter().all(|r| &*r.topic == "u"));
        buffer.push(TopicPartition::new("t", 0), records("t", 0, 0..3));
        buffer.clear();
        assert_eq!(buffer.len(), 0);
        assert!(buffer.take(10, |_, _| {}).is_empty());
    }
}
