//! The idempotent producer's identity and per-partition sequence numbers.
//!
//! The broker keeps, per producer id and epoch, the last sequence it wrote for each
//! partition, and drops a batch whose sequence it has already seen. So a retry of a batch
//! whose outcome is unknown must carry the same epoch and sequence; and when the broker has
//! lost the producer's state (`UNKNOWN_PRODUCER_ID`), or sequences no longer line up
//! (`OUT_OF_ORDER_SEQUENCE_NUMBER`, `INVALID_PRODUCER_EPOCH`), the producer bumps its epoch
//! (KIP-360) and restarts every partition at sequence 0, rather than going fatal.

use super::batch::ProducerFields;
use crate::cluster::Cluster;
use crate::error::{Error, ErrorCode, Result};
use crate::record::TopicPartition;
use crate::sync::lock;
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
struct State {
    producer_id: i64,
    epoch: i16,
    next_sequence: HashMap<TopicPartition, i32>,
    bump_requested: bool,
}

/// Producer id, epoch and next sequence per partition.
#[derive(Debug)]
pub(crate) struct Idempotence {
    state: Mutex<State>,
    /// Batches are marked transactional (`transactional.id`).
    transactional: bool,
}

impl Idempotence {
    /// An idempotent producer's identity; `transactional` for a transactional producer,
    /// whose id and epoch come later, from `init_transactions` (-1 until then).
    pub(crate) fn new(producer_id: i64, epoch: i16, transactional: bool) -> Self {
        Self {
            transactional,
            state: Mutex::new(State {
                producer_id,
                epoch,
                next_sequence: HashMap::new(),
                bump_requested: false,
            }),
        }
    }

    /// The current producer id and epoch.
    pub(crate) fn identity(&self) -> (i64, i16) {
        let s = lock(&self.state);
        (s.producer_id, s.epoch)
    }

    /// Sequences `count` records for `tp`: the fields for its batch. Sequences wrap at
    /// `i32::MAX` to 0, as the broker expects.
    pub(crate) fn assign(&self, tp: &TopicPartition, count: usize) -> ProducerFields {
        let mut s = lock(&self.state);
        let (producer_id, epoch) = (s.producer_id, s.epoch);
        let next = s.next_sequence.entry(tp.clone()).or_insert(0);
        let base_sequence = *next;
        *next = wrap_add(base_sequence, count);
        ProducerFields {
            producer_id,
            epoch,
            base_sequence,
            transactional: self.transactional,
        }
    }

    /// A sequenced batch failed and the broker did not write it: its sequences are free
    /// again. Only the newest sequenced batch of a partition can fail this way (one batch per
    /// partition is in flight), so rewinding to its base is exact.
    pub(crate) fn release(&self, tp: &TopicPartition, fields: ProducerFields) {
        let mut s = lock(&self.state);
        if fields.producer_id == s.producer_id && fields.epoch == s.epoch {
            s.next_sequence.insert(tp.clone(), fields.base_sequence);
        }
    }

    /// Asks for an epoch bump before new batches are sequenced.
    pub(crate) fn request_bump(&self) {
        lock(&self.state).bump_requested = true;
    }

    pub(crate) fn bump_requested(&self) -> bool {
        lock(&self.state).bump_requested
    }

    /// Takes the new identity from InitProducerId; every partition restarts at 0.
    pub(crate) fn bumped(&self, producer_id: i64, epoch: i16) {
        let mut s = lock(&self.state);
        tracing::info!(
            old_id = s.producer_id,
            old_epoch = s.epoch,
            producer_id,
            epoch,
            "producer epoch bumped"
        );
        s.producer_id = producer_id;
        s.epoch = epoch;
        s.next_sequence.clear();
        s.bump_requested = false;
    }
}

fn wrap_add(base: i32, count: usize) -> i32 {
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    if base > i32::MAX - count {
        count - (i32::MAX - base) - 1
    } else {
        base + count
    }
}

/// Asks the cluster for a producer id, or (with `current`) for the next epoch of this one.
/// Retries what is retriable until `timeout`.
pub(crate) async fn init_producer_id(
    cluster: &Cluster,
    current: Option<(i64, i16)>,
    timeout: Duration,
) -> Result<(i64, i16)> {
    let (producer_id, epoch) = current.unwrap_or((-1, -1));
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch);
    let attempt = || async {
        let response = cluster.any_connection().await?.send(&request).await?;
        match ErrorCode(response.error_code) {
            ErrorCode::NONE => Ok((response.producer_id.0, response.producer_epoch)),
            code => Err(Error::broker(code, "InitProducerId")),
        }
    };
    cluster.retry(timeout, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_advance_per_partition_and_wrap() {
        let id = Idempotence::new(7, 0, false);
        let a = TopicPartition::new("t", 0);
        let b = TopicPartition::new("t", 1);
        assert_eq!(id.assign(&a, 10).base_sequence, 0);
        assert_eq!(id.assign(&a, 5).base_sequence, 10);
        assert_eq!(id.assign(&b, 3).base_sequence, 0);
        assert_eq!(wrap_add(i32::MAX - 2, 2), i32::MAX);
        assert_eq!(wrap_add(i32::MAX - 2, 3), 0);
        assert_eq!(wrap_add(i32::MAX, 5), 4);
    }

    #[test]
    fn a_released_batch_gives_its_sequences_back() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        id.assign(&tp, 10);
        let failed = id.assign(&tp, 4);
        id.release(&tp, failed);
        assert_eq!(id.assign(&tp, 1).base_sequence, 10);
    }

    #[test]
    fn a_bump_restarts_every_partition_and_ignores_stale_releases() {
        let id = Idempotence::new(7, 0, false);
        let tp = TopicPartition::new("t", 0);
        let old = id.assign(&tp, 10);
        id.request_bump();
        assert!(id.bump_requested());
        id.bumped(7, 1);
        assert!(!id.bump_requested());
        id.release(&tp, old);
        let fresh = id.assign(&tp, 2);
        assert_eq!((fresh.epoch, fresh.base_sequence), (1, 0));
        assert_eq!(id.identity(), (7, 1));
    }
}
