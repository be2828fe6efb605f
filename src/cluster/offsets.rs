//! ListOffsets: offsets by position or time, asked of each partition's leader.
//!
//! Used by the admin client and by the consumer (offset resets, `seek_to_end`), so it lives
//! in the cluster layer under both.

use super::{Cluster, TrafficClass};
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::protocol::wire::{self, millis, topic_name};
use crate::record::TopicPartition;
use crate::retry::Retry;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Which offset `list_offsets` looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark: the offset the next record will get.
    Latest,
    /// The first offset whose timestamp is at or after this time (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// An offset `list_offsets` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `-1` when no record matches a timestamp.
    pub offset: i64,
    /// The matching record's timestamp, or `-1`.
    pub timestamp: i64,
}

impl Cluster {
    /// Looks up offsets, asking each partition's leader. Retries while leaders move. A
    /// partition named twice is asked once, with the last spec named (a broker refuses a
    /// whole ListOffsets that names a partition twice).
    pub(crate) async fn list_offsets(
        &self,
        partitions: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        isolation: IsolationLevel,
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, ListedOffset>> {
        let mut wanted: Vec<(TopicPartition, OffsetSpec)> = partitions
            .into_iter()
            .collect::<HashMap<_, _>>()
            .into_iter()
            .collect();
        let mut found = HashMap::new();
        let mut backoff = Retry::new(timeout, self.backoff());
        while !wanted.is_empty() {
            let mut retry = Vec::new();
            let mut last_error = None;
            for (leader, group) in self.group_by_leader(&wanted, timeout).await? {
                match self
                    .list_offsets_on(leader, &group, isolation, timeout)
                    .await
                {
                    Ok(results) => {
                        for (tp, spec, result) in results {
                            match result {
                                Ok(listed) => {
                                    found.insert(tp, listed);
                                }
                                Err(e) if e.is_retriable() => {
                                    last_error = Some(e);
                                    retry.push((tp, spec));
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        last_error = Some(e);
                        retry.extend(group);
                    }
                    Err(e) => return Err(e),
                }
            }
            wanted = retry;
            if let Some(e) = last_error {
                // A leader moved or is being elected; only fresh metadata can route the rest.
                self.request_refresh();
                backoff.wait(e).await?;
                self.refresh().await?;
            }
        }
        Ok(found)
    }

    async fn group_by_leader(
        &self,
        wanted: &[(TopicPartition, OffsetSpec)],
        timeout: Duration,
    ) -> Result<BTreeMap<i32, Vec<(TopicPartition, OffsetSpec)>>> {
        let mut by_leader: BTreeMap<i32, Vec<_>> = BTreeMap::new();
        for (tp, spec) in wanted {
            let topic = self.topic(&tp.topic, timeout).await?;
            let partition =
                topic
                    .partition(tp.partition)
                    .ok_or_else(|| Error::InvalidPartition {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        count: topic.partitions.len(),
                    })?;
            // A partition without a leader is asked of broker -1, which fails retriably.
            let leader = partition.leader.unwrap_or(-1);
            by_leader
                .entry(leader)
                .or_default()
                .push((tp.clone(), *spec));
        }
        Ok(by_leader)
    }

    #[allow(clippy::type_complexity)]
    async fn list_offsets_on(
        &self,
        leader: i32,
        group: &[(TopicPartition, OffsetSpec)],
        isolation: IsolationLevel,
        timeout: Duration,
    ) -> Result<Vec<(TopicPartition, OffsetSpec, Result<ListedOffset>)>> {
        if leader < 0 {
            return Err(Error::broker(
                ErrorCode::LEADER_NOT_AVAILABLE,
                "list offsets",
            ));
        }
        let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for (tp, spec) in group {
            topics.entry(&tp.topic).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(spec.wire()),
            );
        }
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(wire::isolation_level(isolation))
            .with_timeout_ms(millis(timeout))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        ListOffsetsTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let conn = self.broker(leader, TrafficClass::Control).await?;
        let response = conn.send(&request).await?;
        let mut results = Vec::new();
        for (tp, spec) in group {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.name.0.as_str() == tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            let result = match answer {
                None => Err(Error::Protocol {
                    broker: conn.addr().to_string(),
                    reason: format!("ListOffsets response is missing {tp}"),
                }),
                Some(p) if p.error_code != 0 => {
                    let code = ErrorCode(p.error_code);
                    if code.retry_action() == RetryAction::RefreshMetadataAndRetry {
                        self.request_refresh();
                    }
                    Err(Error::broker(code, tp.to_string()))
                }
                Some(p) => Ok(ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                }),
            };
            results.push((tp.clone(), *spec, result));
        }
        Ok(results)
    }
}
