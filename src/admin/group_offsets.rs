//! A consumer group's committed offsets: list, alter and delete them (Java `Admin`'s
//! `listConsumerGroupOffsets`, `alterConsumerGroupOffsets`, `deleteConsumerGroupOffsets`),
//! each at the group's coordinator and retried there as `groups.rs` describes.
//!
//! ```text
//! list_consumer_groups_offsets  the groups' coordinators with one FindCoordinator (v4),
//!                               then per coordinator one OffsetFetch v8+ with all its
//!                               groups (v1-v7: one per group); a group refused as moved or
//!                               loading goes round again alone
//! list_consumer_group_offsets   the same, for one group
//! alter/delete_…_offsets        one group: OffsetCommit / OffsetDelete at its coordinator
//! ```
//!
//! A partition's own refusal (`UNKNOWN_TOPIC_OR_PARTITION`, `GROUP_SUBSCRIBED_TO_TOPIC`) is
//! that partition's `Err`, as Java's per-partition results; the group's (`GROUP_ID_NOT_FOUND`,
//! `NON_EMPTY_GROUP`) fails the call, naming the group, or, listing several groups' offsets,
//! is that group's `Err`.

use super::groups::{check_group_id, group_error, missing};
use super::{Admin, Answer};
use crate::connection::Connection;
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
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::BTreeMap;

/// Each partition's outcome, as Java's per-partition results.
pub type PartitionResults = BTreeMap<TopicPartition, Result<()>>;

/// A group's committed offsets, by partition.
pub type GroupOffsets = BTreeMap<TopicPartition, OffsetAndMetadata>;

/// The groups whose offsets are listed, each with the partitions to list (`None`: all).
type Specs = BTreeMap<String, Option<Vec<TopicPartition>>>;

/// The groups and their partitions, checked: valid ids, each group once (Java's map keys),
/// valid partitions.
fn specs(
    groups: impl IntoIterator<Item = (impl Into<String>, Option<Vec<TopicPartition>>)>,
) -> Result<Specs> {
    let mut specs = Specs::new();
    for (group, partitions) in groups {
        let group = group.into();
        check_group_id(&group)?;
        if let Some(partitions) = &partitions {
            check_partitions(partitions)?;
        }
        if specs.insert(group.clone(), partitions).is_some() {
            return Err(Error::config(format!("group {group} is listed twice")));
        }
    }
    Ok(specs)
}

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
    /// for (logged), as Java does. The one-group case of
    /// [`list_consumer_groups_offsets`](Self::list_consumer_groups_offsets): the group's own
    /// failure (`GROUP_AUTHORIZATION_FAILED`, say) is the call's.
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<GroupOffsets> {
        self.within("list_consumer_group_offsets", async move {
            let mut listed = self
                .list_consumer_groups_offsets([(group, partitions.map(<[_]>::to_vec))])
                .await?;
            // `per_group` answers each group it is given; an error rather than a panic
            // should that ever break.
            listed
                .remove(group)
                .unwrap_or_else(|| Err(Error::config(format!("no answer for group {group}"))))
        })
        .await
    }

    /// The committed offsets of several groups in one call (Java's
    /// `listConsumerGroupOffsets(Map<String, ListConsumerGroupOffsetsSpec>)`): each group
    /// with `None` (every partition it committed) or the partitions to list. The groups'
    /// coordinators are found with one FindCoordinator (v4+) and each coordinator gets one
    /// OffsetFetch (v8+) for all its groups; a coordinator older than v8 gets one OffsetFetch
    /// per group. A group whose coordinator moved or is loading (`NOT_COORDINATOR`,
    /// `COORDINATOR_LOAD_IN_PROGRESS`) is asked again alone, within
    /// `default.api.timeout.ms`. Each group's answer stands alone: its offsets (a partition
    /// without a committed offset, or that the coordinator refused, left out, as in
    /// [`list_consumer_group_offsets`](Self::list_consumer_group_offsets)), or its error. A
    /// group that does not exist has no committed offsets. The outer `Err` is invalid input
    /// (an empty group id, a group listed twice, a bad partition), found before anything is
    /// sent.
    pub async fn list_consumer_groups_offsets(
        &self,
        groups: impl IntoIterator<Item = (impl Into<String>, Option<Vec<TopicPartition>>)>,
    ) -> Result<BTreeMap<String, Result<GroupOffsets>>> {
        self.within("list_consumer_groups_offsets", async move {
            let specs = specs(groups)?;
            let specs = &specs;
            self.per_group(specs.keys().cloned().collect(), |conn, groups| {
                offsets_at(conn, groups, specs)
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

/// One coordinator's groups' offsets: one OffsetFetch (v8+) with all of them, or, from a
/// coordinator older than v8, one per group (in turn: only old brokers take this way).
async fn offsets_at(
    conn: Connection,
    groups: Vec<String>,
    specs: &Specs,
) -> Vec<(String, Answer<GroupOffsets>)> {
    let partitions = |group: &str| specs.get(group).and_then(Option::as_deref);
    let version = match conn.version(ApiKey::OffsetFetch) {
        Ok(version) => version,
        Err(e) => return Answer::for_all(groups, e),
    };
    if version >= 8 {
        let request = OffsetFetchRequest::default().with_groups(
            groups
                .iter()
                .map(|group| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(group_id(group))
                        .with_topics(partitions(group).map(|ps| {
                            fetch_topics(ps, |name, indexes| {
                                OffsetFetchRequestTopics::default()
                                    .with_name(topic_name(name))
                                    .with_partition_indexes(indexes)
                            })
                        }))
                })
                .collect(),
        );
        return match conn.send(&request).await {
            Ok(response) => answers(groups, response.groups, |group| {
                missing(&conn, "OffsetFetch", group)
            }),
            Err(e) => Answer::for_all(groups, e),
        };
    }
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id(&group))
            .with_topics(partitions(&group).map(|ps| {
                fetch_topics(ps, |name, indexes| {
                    OffsetFetchRequestTopic::default()
                        .with_name(topic_name(name))
                        .with_partition_indexes(indexes)
                })
            }));
        let result = conn
            .send(&request)
            .await
            .and_then(|response| group_offsets(&group, as_group(response)));
        out.push((group, Answer::of(result)));
    }
    out
}

/// The partitions to fetch, by topic, in the shape `topic` builds (it differs from v8 on).
fn fetch_topics<T>(partitions: &[TopicPartition], topic: impl Fn(&str, Vec<i32>) -> T) -> Vec<T> {
    by_topic(partitions.iter().map(|tp| (tp, ())))
        .into_iter()
        .map(|(name, ps)| topic(name, ps.into_iter().map(|(p, ())| p).collect()))
        .collect()
}

/// A one-group answer (v1-v7) in the shape of a v8+ answer's group.
fn as_group(response: OffsetFetchResponse) -> OffsetFetchResponseGroup {
    OffsetFetchResponseGroup::default()
        .with_error_code(response.error_code)
        .with_topics(
            response
                .topics
                .into_iter()
                .map(|t| {
                    OffsetFetchResponseTopics::default()
                        .with_name(t.name)
                        .with_partitions(
                            t.partitions
                                .into_iter()
                                .map(|p| {
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p.partition_index)
                                        .with_committed_offset(p.committed_offset)
                                        .with_committed_leader_epoch(p.committed_leader_epoch)
                                        .with_metadata(p.metadata)
                                        .with_error_code(p.error_code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// Each group asked about with its answer from a v8+ response; a group the response leaves
/// out gets `missing`'s error.
fn answers(
    asked: Vec<String>,
    answered: Vec<OffsetFetchResponseGroup>,
    missing: impl Fn(&str) -> Error,
) -> Vec<(String, Answer<GroupOffsets>)> {
    let mut answered: BTreeMap<String, OffsetFetchResponseGroup> = answered
        .into_iter()
        .map(|g| (g.group_id.0.to_string(), g))
        .collect();
    asked
        .into_iter()
        .map(|group| {
            let result = match answered.remove(&group) {
                Some(answer) => group_offsets(&group, answer),
                None => Err(missing(&group)),
            };
            (group, Answer::of(result))
        })
        .collect()
}

/// One group's offsets from its answer: the group's code is its error (retried by the
/// caller when it says the coordinator moved or is loading); a partition's code that says
/// so retries the group too; any other partition's refusal leaves that partition out
/// (logged), as does a partition without a committed offset (-1).
fn group_offsets(group: &str, answer: OffsetFetchResponseGroup) -> Result<GroupOffsets> {
    group_error(answer.error_code, group, "offsets of", None)?;
    let mut out = BTreeMap::new();
    for topic in answer.topics {
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
                    metadata: p.metadata.map(|m| m.to_string()).filter(|m| !m.is_empty()),
                    leader_epoch: Some(p.committed_leader_epoch).filter(|&e| e >= 0),
                },
            );
        }
    }
    Ok(out)
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
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };

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

    fn partition(index: i32, offset: i64, code: ErrorCode) -> OffsetFetchResponsePartitions {
        OffsetFetchResponsePartitions::default()
            .with_partition_index(index)
            .with_committed_offset(offset)
            .with_error_code(code.0)
    }

    fn answered(
        group: &str,
        code: ErrorCode,
        partitions: Vec<OffsetFetchResponsePartitions>,
    ) -> OffsetFetchResponseGroup {
        OffsetFetchResponseGroup::default()
            .with_group_id(group_id(group))
            .with_error_code(code.0)
            .with_topics(vec![OffsetFetchResponseTopics::default()
                .with_name(topic_name("t"))
                .with_partitions(partitions)])
    }

    #[test]
    fn each_group_of_a_batched_answer_stands_alone() {
        let asked = ["ok", "unknown", "moved", "loading", "left-out"].map(String::from);
        let response = vec![
            answered(
                "ok",
                ErrorCode::NONE,
                vec![
                    partition(0, 5, ErrorCode::NONE)
                        .with_metadata(Some(StrBytes::from_static_str("m")))
                        .with_committed_leader_epoch(3),
                    partition(1, -1, ErrorCode::NONE),
                    partition(2, 0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    partition(3, 7, ErrorCode::NONE)
                        .with_metadata(Some(StrBytes::default()))
                        .with_committed_leader_epoch(-1),
                ],
            ),
            answered("unknown", ErrorCode::GROUP_ID_NOT_FOUND, vec![]),
            answered("moved", ErrorCode::NOT_COORDINATOR, vec![]),
            answered(
                "loading",
                ErrorCode::NONE,
                vec![
                    partition(0, 1, ErrorCode::NONE),
                    partition(1, -1, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
                ],
            ),
            answered("not-asked", ErrorCode::NONE, vec![]),
        ];
        let out: BTreeMap<String, Answer<GroupOffsets>> =
            answers(asked.to_vec(), response, |group| Error::Protocol {
                broker: "b:9092".into(),
                reason: format!("no {group}"),
            })
            .into_iter()
            .collect();
        assert_eq!(out.len(), 5, "only the groups asked about");
        let Answer::Done(Ok(ok)) = &out["ok"] else {
            panic!("ok")
        };
        let tp = |p| TopicPartition::new("t", p);
        assert_eq!(ok.keys().collect::<Vec<_>>(), [&tp(0), &tp(3)]);
        assert_eq!(
            ok[&tp(0)],
            OffsetAndMetadata {
                offset: 5,
                metadata: Some("m".into()),
                leader_epoch: Some(3)
            }
        );
        assert_eq!(ok[&tp(3)], OffsetAndMetadata::new(7));
        let Answer::Done(Err(unknown)) = &out["unknown"] else {
            panic!("unknown")
        };
        assert_eq!(unknown.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND));
        assert!(unknown.to_string().contains("group unknown"), "{unknown}");
        for group in ["moved", "loading"] {
            assert!(
                matches!(out[group], Answer::Again(_)),
                "{group} is asked again"
            );
        }
        let Answer::Done(Err(left_out)) = &out["left-out"] else {
            panic!("left-out")
        };
        assert!(matches!(left_out, Error::Protocol { .. }), "{left_out}");
    }

    #[test]
    fn a_one_group_answer_reads_as_a_batched_group() {
        let old = OffsetFetchResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0)
            .with_topics(vec![OffsetFetchResponseTopic::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![OffsetFetchResponsePartition::default()
                    .with_partition_index(2)
                    .with_committed_offset(9)
                    .with_committed_leader_epoch(4)
                    .with_metadata(Some(StrBytes::from_static_str("x")))
                    .with_error_code(0)])]);
        let group = as_group(old.clone());
        let refused = group_offsets("g", group).unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        let offsets = group_offsets("g", as_group(old.with_error_code(0))).unwrap();
        assert_eq!(
            offsets[&TopicPartition::new("t", 2)],
            OffsetAndMetadata {
                offset: 9,
                metadata: Some("x".into()),
                leader_epoch: Some(4)
            }
        );
    }

    #[test]
    fn groups_are_checked_and_listed_once() {
        let tp = TopicPartition::new("t", 0);
        let checked = specs([("b", None), ("a", Some(vec![tp.clone()]))]).unwrap();
        assert_eq!(checked.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(checked["a"], Some(vec![tp.clone()]));
        assert!(matches!(specs([("", None)]), Err(Error::Config(_))));
        let twice = specs([("a", None), ("a", Some(vec![tp]))]).unwrap_err();
        assert!(
            twice.to_string().contains("group a is listed twice"),
            "{twice}"
        );
        assert!(matches!(
            specs([("a", Some(vec![TopicPartition::new("t", -2)]))]),
            Err(Error::Config(_))
        ));
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
