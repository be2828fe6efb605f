//! The fake broker's storage: topics, and per partition the record batches it was sent, with
//! the offsets it gave them.

use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Kafka's error codes the storage answers with.
pub(super) const NONE: i16 = 0;
pub(super) const OFFSET_OUT_OF_RANGE: i16 = 1;
pub(super) const CORRUPT_MESSAGE: i16 = 2;
pub(super) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub(super) const TOPIC_ALREADY_EXISTS: i16 = 36;

/// The fixed part of a v2 record batch, up to and including the record count.
const BATCH_HEADER: usize = 61;

/// Every topic, by name.
#[derive(Default)]
pub(super) struct Logs {
    topics: BTreeMap<String, Topic>,
}

pub(super) struct Topic {
    pub(super) id: Uuid,
    pub(super) partitions: Vec<Partition>,
}

/// One partition's batches, in offset order; `end` is the next offset to give.
#[derive(Default)]
pub(super) struct Partition {
    batches: Vec<(i64, Bytes)>,
    end: i64,
}

impl Logs {
    /// Adds `name` with `partitions` empty partitions; `false` if it exists.
    pub(super) fn create(&mut self, name: &str, partitions: usize) -> bool {
        if self.topics.contains_key(name) {
            return false;
        }
        let topic = Topic {
            id: Uuid::new_v4(),
            partitions: (0..partitions).map(|_| Partition::default()).collect(),
        };
        self.topics.insert(name.to_string(), topic);
        true
    }

    pub(super) fn topics(&self) -> impl Iterator<Item = (&String, &Topic)> {
        self.topics.iter()
    }

    pub(super) fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.get(name)
    }

    /// The name of the topic with id `id`.
    pub(super) fn name_of(&self, id: Uuid) -> Option<&str> {
        self.topics
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(name, _)| name.as_str())
    }

    pub(super) fn partition(&self, topic: &str, partition: i32) -> Option<&Partition> {
        let index = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.partitions.get(index)
    }

    pub(super) fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Partition> {
        let index = usize::try_from(partition).ok()?;
        self.topics.get_mut(topic)?.partitions.get_mut(index)
    }
}

impl Partition {
    /// The next offset to give: the high watermark (every write is committed at once).
    pub(super) fn end(&self) -> i64 {
        self.end
    }

    /// The batches as stored, their base offsets set.
    pub(super) fn batches(&self) -> impl Iterator<Item = &Bytes> {
        self.batches.iter().map(|(_, batch)| batch)
    }

    /// Appends the v2 record batches in `records` and returns the first one's offset, or
    /// CORRUPT_MESSAGE (nothing appended) if they are not whole v2 batches.
    pub(super) fn append(&mut self, records: &[u8]) -> Result<i64, i16> {
        let batches = split_batches(records).ok_or(CORRUPT_MESSAGE)?;
        let base = self.end;
        for batch in batches {
            let mut batch = BytesMut::from(batch);
            // The base offset is outside the CRC, so the batch stays valid.
            batch[..8].copy_from_slice(&self.end.to_be_bytes());
            let last_delta = i32::from_be_bytes(batch[23..27].try_into().unwrap());
            self.batches.push((self.end, batch.freeze()));
            self.end += i64::from(last_delta) + 1;
        }
        Ok(base)
    }

    /// The batches from the one holding `offset` on, at least one and then as many as fit
    /// in `max_bytes`, or OFFSET_OUT_OF_RANGE past the end.
    pub(super) fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, i16> {
        if !(0..=self.end).contains(&offset) {
            return Err(OFFSET_OUT_OF_RANGE);
        }
        let first = self
            .batches
            .partition_point(|(base, batch)| base + last_delta(batch) < offset);
        let mut out = BytesMut::new();
        for (_, batch) in &self.batches[first..] {
            if !out.is_empty() && out.len() + batch.len() > max_bytes {
                break;
            }
            out.extend_from_slice(batch);
        }
        Ok(out.freeze())
    }
}

fn last_delta(batch: &[u8]) -> i64 {
    i64::from(i32::from_be_bytes(batch[23..27].try_into().unwrap()))
}

/// `records` cut into whole v2 batches, or `None` if it is empty or anything is off.
fn split_batches(mut records: &[u8]) -> Option<Vec<&[u8]>> {
    let mut batches = Vec::new();
    while !records.is_empty() {
        let len = i32::from_be_bytes(records.get(8..12)?.try_into().unwrap());
        let total = usize::try_from(len).ok()?.checked_add(12)?;
        if total < BATCH_HEADER || total > records.len() || records[16] != 2 {
            return None;
        }
        let (batch, rest) = records.split_at(total);
        batches.push(batch);
        records = rest;
    }
    (!batches.is_empty()).then_some(batches)
}
