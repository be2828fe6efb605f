//! One Fetch round trip to one leader, and turning its answer into records.

use crate::admin::topic_name;
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorCode};
use crate::protocol::record_batch::decode::{decode_batches, DecodedBatch};
use crate::record::{ConsumerRecord, TopicPartition};
use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::AbortedTransaction;
use kafka_protocol::messages::{BrokerId, FetchRequest};
use std::collections::{BTreeMap, HashSet};

/// What one partition's fetch produced.
pub(crate) enum PartitionFetch {
    /// Records at or after the requested offset, and the offset to fetch next.
    Records {
        records: Vec<ConsumerRecord>,
        next_offset: i64,
        high_watermark: i64,
    },
    /// The broker answered with an error code for this partition.
    Error(ErrorCode),
    /// The data is corrupt.
    Corrupt(Error),
}

pub(crate) struct FetchParams {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_partition_bytes: i32,
    pub isolation: IsolationLevel,
    pub check_crcs: bool,
    pub rack: String,
}

pub(crate) fn request(
    params: &FetchParams,
    positions: &[(TopicPartition, i64, i32)],
) -> FetchRequest {
    let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, offset, leader_epoch) in positions {
        topics.entry(&tp.topic).or_default().push(
            FetchPartition::default()
                .with_partition(tp.partition)
                .with_current_leader_epoch(*leader_epoch)
                .with_fetch_offset(*offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(params.max_partition_bytes),
        );
    }
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(params.max_wait_ms)
        .with_min_bytes(params.min_bytes)
        .with_max_bytes(params.max_bytes)
        .with_isolation_level(params.isolation.as_i8())
        // No incremental session yet: epoch -1 asks for a sessionless full fetch.
        .with_session_id(0)
        .with_session_epoch(-1)
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
}

/// Turns a partition's fetched bytes into the records at or after `offset`.
pub(crate) fn records(
    tp: &TopicPartition,
    offset: i64,
    data: Bytes,
    high_watermark: i64,
    aborted: Option<&[AbortedTransaction]>,
    params: &FetchParams,
) -> PartitionFetch {
    // Decompressed batches are bounded by what a fetch may return, with headroom for
    // compression ratios; a larger one is a decompression bomb, not data.
    let max_decompressed =
        (params.max_bytes.max(params.max_partition_bytes) as usize).saturating_mul(64);
    let batches = match decode_batches(data, params.check_crcs, max_decompressed) {
        Ok(batches) => batches,
        Err(e) => return PartitionFetch::Corrupt(e.into_error(&tp.topic, tp.partition)),
    };
    let mut aborted_txns: Vec<(i64, i64)> = aborted
        .unwrap_or_default()
        .iter()
        .map(|a| (a.first_offset, a.producer_id.0))
        .collect();
    aborted_txns.sort_unstable();
    let mut aborted_txns = aborted_txns.into_iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut records = Vec::new();
    let mut next_offset = offset;
    for batch in batches {
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
        for record in batch.records {
            if record.offset < offset {
                continue;
            }
            records.push(ConsumerRecord {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset: record.offset,
                timestamp: match timestamp_type {
                    crate::TimestampType::LogAppendTime => batch.max_timestamp,
                    crate::TimestampType::CreateTime => record.timestamp,
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
        high_watermark,
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
