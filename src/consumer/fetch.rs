//! One Fetch round trip to one leader, and turning its answer into records.

use super::fetch_session::FetchPlan;
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorCode};
use crate::protocol::record_batch::decode::{batches, DecodedBatch};
use crate::protocol::wire::topic_name;
use crate::record::{ConsumerRecord, TopicPartition};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::AbortedTransaction;
use kafka_protocol::messages::{BrokerId, FetchRequest};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What one partition's fetch produced.
pub(crate) enum PartitionFetch {
    /// Records at or after the requested offset, and the offset to fetch next.
    Records {
        records: Vec<ConsumerRecord>,
        next_offset: i64,
    },
    /// The broker answered with an error code for this partition.
    Error(ErrorCode),
    /// The data is corrupt.
    Corrupt(Error),
}

#[derive(Clone, Debug)]
pub(crate) struct FetchParams {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_partition_bytes: i32,
    pub isolation: IsolationLevel,
    pub check_crcs: bool,
    pub rack: String,
}

/// The Fetch for one session plan: the partitions it names, the ones it forgets.
pub(crate) fn request(params: &FetchParams, plan: &FetchPlan) -> FetchRequest {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, p) in &plan.partitions {
        topics.entry(&tp.topic).or_default().push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_current_leader_epoch(p.leader_epoch)
                .with_fetch_offset(p.offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(p.max_bytes),
        );
    }
    let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in &plan.forgotten {
        forgotten.entry(&tp.topic).or_default().push(tp.partition);
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(params.max_wait_ms)
        .with_min_bytes(params.min_bytes)
        .with_max_bytes(params.max_bytes)
        .with_isolation_level(crate::protocol::wire::isolation_level(params.isolation))
        .with_session_id(plan.session_id)
        .with_session_epoch(plan.epoch)
        .with_rack_id(kafka_protocol::protocol::StrBytes::from_string(
            params.rack.clone(),
        ))
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    FetchTopic::default()
                        .with_topic(topic_name(name))
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .into_iter()
                .map(|(name, partitions)| {
                    ForgottenTopic::default()
                        .with_topic(topic_name(name))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// Turns a partition's fetched bytes into the records at or after `offset`.
pub(crate) fn records(
    tp: &TopicPartition,
    offset: i64,
    data: Bytes,
    aborted: Option<&[AbortedTransaction]>,
    params: &FetchParams,
) -> PartitionFetch {
    // Decompressed batches are bounded by what a fetch may return, with headroom for
    // compression ratios; a larger one is a decompression bomb, not data.
    let max_decompressed =
        (params.max_bytes.max(params.max_partition_bytes) as usize).saturating_mul(64);
    let mut aborted_txns: Vec<(i64, i64)> = aborted
        .unwrap_or_default()
        .iter()
        .map(|a| (a.first_offset, a.producer_id.0))
        .collect();
    aborted_txns.sort_unstable();
    let mut aborted_txns = aborted_txns.into_iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut records = Vec::new();
    // One name for all of them, made when the first record is kept.
    let mut topic: Option<Arc<str>> = None;
    let mut next_offset = offset;
    // Batch by batch, each one's records converted while they are fresh in the cache; a
    // corrupt batch anywhere fails the whole partition's fetch, as if none had decoded.
    for batch in batches(data, params.check_crcs, max_decompressed) {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => return PartitionFetch::Corrupt(e.into_error(&tp.topic, tp.partition)),
        };
        let last_offset = batch.next_offset() - 1;
        next_offset = next_offset.max(batch.next_offset());
        if params.isolation == IsolationLevel::ReadCommitted {
            while let Some(&(first, producer)) = aborted_txns.peek() {
                if first > last_offset {
                    break;
                }
                aborting.insert(producer);
                aborted_txns.next();
            }
            if batch.is_control {
                if is_abort_marker(&batch) {
                    aborting.remove(&batch.producer_id);
                }
                continue;
            }
            if batch.is_transactional && aborting.contains(&batch.producer_id) {
                continue;
            }
        } else if batch.is_control {
            continue;
        }
        let timestamp_type = batch.timestamp_type;
        records.reserve(batch.records.len());
        for record in batch.records {
            if record.offset < offset {
                continue;
            }
            let topic = topic.get_or_insert_with(|| Arc::from(tp.topic.as_str()));
            records.push(ConsumerRecord {
                topic: topic.clone(),
                partition: tp.partition,
                offset: record.offset,
                timestamp: match timestamp_type {
                    crate::record::TimestampType::LogAppendTime => batch.max_timestamp,
                    crate::record::TimestampType::CreateTime => record.timestamp,
                },
                timestamp_type,
                key: record.key,
                value: record.value,
                headers: record.headers,
            });
        }
    }
    PartitionFetch::Records {
        records,
        next_offset,
    }
}

/// A control record's key is `version: i16, type: i16`; type 0 aborts, 1 commits.
fn is_abort_marker(batch: &DecodedBatch) -> bool {
    batch
        .records
        .first()
        .and_then(|r| r.key.as_ref())
        .and_then(|k| k.get(2..4))
        .is_some_and(|t| t == [0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;
    use crate::protocol::record_batch::{BatchBuilder, BatchParams};
    use bytes::{BufMut, BytesMut};

    fn params(check_crcs: bool) -> FetchParams {
        FetchParams {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            max_partition_bytes: 1 << 20,
            isolation: IsolationLevel::ReadUncommitted,
            check_crcs,
            rack: String::new(),
        }
    }

    /// A batch of `n` records whose first offset is `base`.
    fn batch(base: i64, n: usize) -> BytesMut {
        let mut builder = BatchBuilder::new(Compression::Uncompressed, 1024);
        for i in 0..n {
            builder.append(
                1_700_000_000_000,
                None,
                Some(format!("v{i}").as_bytes()),
                &[],
            );
        }
        let mut bytes = BytesMut::from(&builder.finish(BatchParams::default())[..]);
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        bytes
    }

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 3)
    }

    #[test]
    fn records_from_the_requested_offset_and_the_next_offset() {
        let mut data = batch(10, 3);
        data.put(batch(13, 2));
        match records(&tp(), 11, data.freeze(), None, &params(true)) {
            PartitionFetch::Records {
                records,
                next_offset,
            } => {
                let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
                assert_eq!(offsets, vec![11, 12, 13, 14]);
                // One topic name for the whole fetch, not one allocation per record.
                assert_eq!(&*records[0].topic, "t");
                assert!(records
                    .windows(2)
                    .all(|w| Arc::ptr_eq(&w[0].topic, &w[1].topic)));
                assert_eq!(next_offset, 15);
            }
            _ => panic!("expected records"),
        }
    }

    #[test]
    fn a_corrupt_batch_is_a_typed_error_naming_partition_and_offset() {
        let mut data = batch(10, 3);
        let mut second = batch(13, 2);
        let at = second.len() - 2;
        second[at] ^= 0x01; // flips a value byte: the CRC no longer matches
        data.put(second);
        match records(&tp(), 10, data.freeze(), None, &params(true)) {
            PartitionFetch::Corrupt(Error::CorruptBatch {
                topic,
                partition,
                offset,
                ..
            }) => assert_eq!((topic.as_str(), partition, offset), ("t", 3, 13)),
            _ => panic!("expected a corrupt batch error"),
        }
    }

    #[test]
    fn without_check_crcs_a_bad_crc_is_not_looked_at() {
        let mut data = batch(10, 2);
        let at = data.len() - 2;
        data[at] ^= 0x01; // "v1" becomes "v0"
        match records(&tp(), 10, data.freeze(), None, &params(false)) {
            PartitionFetch::Records { records, .. } => assert_eq!(records.len(), 2),
            _ => panic!("expected records"),
        }
    }

    #[test]
    fn a_malformed_batch_is_corrupt_even_without_check_crcs() {
        let mut data = batch(10, 2);
        // Claims more records than the batch holds.
        let records_count = 57; // after baseOffset..producer fields: the record count i32
        data[records_count..records_count + 4].copy_from_slice(&1000i32.to_be_bytes());
        match records(&tp(), 10, data.freeze(), None, &params(false)) {
            PartitionFetch::Corrupt(Error::CorruptBatch {
                partition, offset, ..
            }) => {
                assert_eq!((partition, offset), (3, 10))
            }
            _ => panic!("expected a corrupt batch error"),
        }
    }
}
