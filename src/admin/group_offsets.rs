//! A consumer group's committed offsets: list, alter and delete them (Java `Admin`'s
//! `listConsumerGroupOffsets`, `alterConsumerGroupOffsets`, `deleteConsumerGroupOffsets`),
//! each at the group's coordinator and retried there as `groups.rs` describes.
//!
//! A partition's own refusal (`UNKNOWN_TOPIC_OR_PARTITION`, `GROUP_SUBSCRIBED_TO_TOPIC`) is
//! that partition's `Err`, as Java's per-partition results; the group's (`GROUP_ID_NOT_FOUND`,
//! `NON_EMPTY_GROUP`) fails the call, naming the group.

use super::groups::{check_group_id, group_error};
use super::Admin;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{group_id, topic_name};
use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::topic::validate_topic_name;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

/// Each partition's outcome, as Java's per-partition results.
pub type PartitionResults = BTreeMap<TopicPartition, Result<()>>;

/// Checks partitions before anything is sent: a valid topic name, a partition number ≥ 0.
fn check_partitions<'a>(partitions: impl IntoIterator<Item = &'a TopicPartition>) -> Result<()> {
    for tp in partitions {
        validate_topic_name(&tp.topic)?;
        if tp.partition < 0 {
            return Err(Error::config(format!(
                "partition {} of topic {} is negative",
                tp.partition, tp.topic
            )));
        }
    }
    Ok(())
}

/// Partitions grouped by topic, as requests carry them.
fn by_topic<'a, T>(
    entries: impl IntoIterator<Item = (&'a TopicPartition, T)>,
) -> BTreeMap<&'a str, Vec<(i32, T)>> {
    let mut topics: BTreeMap<&str, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, value) in entries {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push((tp.partition, value));
    }
    topics
}

/// Whether a partition's code says the coordinator cannot answer now: the whole request is
/// then tried again (at the coordinator looked up anew, for the codes that say it moved).
fn coordinator_busy(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::REQUEST_TIMED_OUT
    )
}

/// Each partition's answer: its own error naming the group and the partition, or a
/// coordinator's code as the request's error (to retry).
fn partition_outcome(
    code: i16,
    group: &str,
    tp: &TopicPartition,
    what: &str,
) -> Result<Result<()>> {
    match ErrorCode(code) {
        ErrorCode::NONE => Ok(Ok(())),
        code if coordinator_busy(code) => Err(Error::broker(code, format!("{what} group {group}"))),
        code => Ok(Err(Error::broker(
            code,
            format!("{what} {tp} of group {group}"),
        ))),
    }
}

impl Admin {
    /// The group's committed offsets (Java's `listConsumerGroupOffsets`): of every
    /// partition it committed (`partitions` `None`), or of these partitions. A partition
    /// without a committed offset is left out; so is one the coordinator could not answer
    /// for (logged), as Java does.
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        self.within("list_consumer_group_offsets", async move {
        check_group_id(group)?;
        if let Some(partitions) = partitions {
            check_partitions(partitions)?;
        }
        let topics = partitions.map(|partitions| {
            by_topic(partitions.iter().map(|tp| (tp, ())))
                .into_iter()
                .map(|(name, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(name))
                        .with_partition_indexes(ps.into_iter().map(|(p, ())| p).collect())
                })
                .collect()
        });
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(topics);
        let request = &request;
        self.at_coordinator(group, |conn| async move {
            let response = conn.send(request).await?;
            group_error(response.error_code, group, "offsets of", None)?;
            let mut out = BTreeMap::new();
            for topic in response.topics {
                for p in topic.partitions {
                    let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
                    match ErrorCode(p.error_code) {
                        ErrorCode::NONE => {}
                        code if coordinator_busy(code) || code == ErrorCode::UNSTABLE_OFFSET_COMMIT => {
                            return Err(Error::broker(code, format!("offsets of group {group}")))
                        }
                        code => {
                            tracing::warn!(%tp, group, %code, "no committed offset: the coordinator refused");
                            continue;
                        }
                    }
                    if p.committed_offset < 0 {
                        continue;
                    }
                    out.insert(
                        tp,
                        OffsetAndMetadata {
                            offset: p.committed_offset,
                            metadata: p
                                .metadata
                                .map(|m| m.to_string())
                                .filter(|m| !m.is_empty()),
                            leader_epoch: Some(p.committed_leader_epoch).filter(|&e| e >= 0),
                        },
                    );
                }
            }
            Ok(out)
        })
        .await
            })
        .await
    }

    /// Commits offsets for the group as an administrator (Java's
    /// `alterConsumerGroupOffsets`): no member, no generation. The coordinator takes them only
    /// while the group has no members (otherwise every partition fails, typically with
    /// `UNKNOWN_MEMBER_ID`); a group that does not exist is created as a simple group.
    /// Offsets must be ≥ 0 and topic names valid, checked before anything is sent.
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<PartitionResults> {
        self.within("alter_consumer_group_offsets", async move {
            check_group_id(group)?;
            let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> =
                offsets.into_iter().collect();
            check_partitions(offsets.keys())?;
            if let Some((tp, om)) = offsets.iter().find(|(_, om)| om.offset < 0) {
                return Err(Error::config(format!(
                    "offset {} for {tp} is negative",
                    om.offset
                )));
            }
            if offsets.is_empty() {
                return Ok(BTreeMap::new());
            }
            let request = OffsetCommitRequest::default()
                .with_group_id(group_id(group))
                .with_generation_id_or_member_epoch(-1)
                .with_member_id(StrBytes::default())
                .with_retention_time_ms(-1)
                .with_topics(
                    by_topic(offsets.iter())
                        .into_iter()
                        .map(|(name, partitions)| {
                            OffsetCommitRequestTopic::default()
                                .with_name(topic_name(name))
                                .with_partitions(
                                    partitions
                                        .into_iter()
                                        .map(|(p, om)| {
                                            OffsetCommitRequestPartition::default()
                                                .with_partition_index(p)
                                                .with_committed_offset(om.offset)
                                                .with_committed_leader_epoch(
                                                    om.leader_epoch.unwrap_or(-1),
                                                )
                                                .with_committed_metadata(Some(
                                                    StrBytes::from_string(
                                                        om.metadata.clone().unwrap_or_default(),
                                                    ),
                                                ))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            let request = &request;
            let offsets = &offsets;
            self.at_coordinator(group, |conn| async move {
                let response = conn.send(request).await?;
                let mut out = BTreeMap::new();
                for topic in response.topics {
                    for p in topic.partitions {
                        let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
                        let outcome = partition_outcome(p.error_code, group, &tp, "committing")?;
                        out.insert(tp, outcome);
                    }
                }
                fill_missing(&mut out, offsets.keys(), conn.addr(), "OffsetCommit");
                Ok(out)
            })
            .await
        })
        .await
    }

    /// Deletes the group's committed offsets of these partitions (Java's
    /// `deleteConsumerGroupOffsets`). A partition of a topic the group's members subscribe
    /// to fails with `GROUP_SUBSCRIBED_TO_TOPIC`; an unknown group fails the call with
    /// `GROUP_ID_NOT_FOUND`.
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<PartitionResults> {
        self.within("delete_consumer_group_offsets", async move {
            check_group_id(group)?;
            let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
            check_partitions(&partitions)?;
            if partitions.is_empty() {
                return Ok(BTreeMap::new());
            }
            let request = OffsetDeleteRequest::default()
                .with_group_id(group_id(group))
                .with_topics(
                    by_topic(partitions.iter().map(|tp| (tp, ())))
                        .into_iter()
                        .map(|(name, ps)| {
                            OffsetDeleteRequestTopic::default()
                                .with_name(topic_name(name))
                                .with_partitions(
                                    ps.into_iter()
                                        .map(|(p, ())| {
                                            OffsetDeleteRequestPartition::default()
                                                .with_partition_index(p)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            let request = &request;
            let partitions = &partitions;
            self.at_coordinator(group, |conn| async move {
                let response = conn.send(request).await?;
                group_error(response.error_code, group, "deleting offsets of", None)?;
                let mut out = BTreeMap::new();
                for topic in response.topics {
                    for p in topic.partitions {
                        let tp = TopicPartition::new(topic.name.0.to_string(), p.partition_index);
                        let outcome =
                            partition_outcome(p.error_code, group, &tp, "deleting the offset of")?;
                        out.insert(tp, outcome);
                    }
                }
                fill_missing(&mut out, partitions.iter(), conn.addr(), "OffsetDelete");
                Ok(out)
            })
            .await
        })
        .await
    }
}

/// A partition asked about that the answer leaves out fails alone, as a protocol break.
fn fill_missing<'a>(
    out: &mut PartitionResults,
    asked: impl IntoIterator<Item = &'a TopicPartition>,
    broker: &str,
    api: &str,
) {
    for tp in asked {
        out.entry(tp.clone()).or_insert_with(|| {
            Err(Error::Protocol {
                broker: broker.to_string(),
                reason: format!("{api} response without {tp}"),
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_partitions_are_refused_before_any_request() {
        check_partitions(&[TopicPartition::new("t", 0)]).unwrap();
        assert!(matches!(
            check_partitions(&[TopicPartition::new("t", -1)]),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            check_partitions(&[TopicPartition::new("bad topic", 0)]),
            Err(Error::InvalidTopic { .. })
        ));
    }

    #[test]
    fn partition_codes_are_its_own_and_coordinator_codes_retry_the_request() {
        let tp = TopicPartition::new("t", 3);
        partition_outcome(0, "g", &tp, "committing")
            .unwrap()
            .unwrap();
        let own = partition_outcome(86, "g", &tp, "deleting the offset of")
            .unwrap()
            .unwrap_err();
        assert_eq!(own.code(), Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
        assert!(own.to_string().contains("t-3 of group g"), "{own}");
        for code in [14, 15, 16] {
            let again = partition_outcome(code, "g", &tp, "committing").unwrap_err();
            assert!(again.is_retriable(), "{again}");
        }
    }

    #[test]
    fn missing_partitions_fail_alone() {
        let mut out = PartitionResults::new();
        out.insert(TopicPartition::new("t", 0), Ok(()));
        let asked = [TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
        fill_missing(&mut out, asked.iter(), "b:9092", "OffsetCommit");
        assert!(out[&asked[0]].is_ok());
        assert!(matches!(out[&asked[1]], Err(Error::Protocol { .. })));
    }

    #[test]
    fn partitions_group_by_topic() {
        let a0 = TopicPartition::new("a", 0);
        let b1 = TopicPartition::new("b", 1);
        let a2 = TopicPartition::new("a", 2);
        let grouped = by_topic([(&a0, 1), (&b1, 2), (&a2, 3)]);
        assert_eq!(grouped["a"], [(0, 1), (2, 3)]);
        assert_eq!(grouped["b"], [(1, 2)]);
    }
}
