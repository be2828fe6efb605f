//! A consumer group's lag per partition, as `kafka-consumer-groups.sh --describe` prints it:
//! the committed offset against the log end offset, with the member that owns the
//! partition.
//!
//! ```text
//! describe_consumer_groups ──▶ members and their partitions
//! list_consumer_group_offsets ──▶ committed offsets
//! list_offsets(Latest) of every partition either names ──▶ one row per partition
//! ```

use super::Admin;
use crate::cluster::OffsetSpec;
use crate::error::Result;
use crate::record::TopicPartition;
use std::collections::BTreeMap;

/// One partition of a group: `kafka-consumer-groups --describe`'s row (Java's
/// `PartitionAssignmentState`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The group.
    pub group: String,
    /// The partition.
    pub partition: TopicPartition,
    /// The committed offset (`CURRENT-OFFSET`), if the group committed one.
    pub current_offset: Option<i64>,
    /// The log end offset (`LOG-END-OFFSET`): the high watermark.
    pub log_end_offset: i64,
    /// `LOG-END-OFFSET - CURRENT-OFFSET`, when there is a committed offset.
    pub lag: Option<i64>,
    /// The member that owns the partition (`CONSUMER-ID`), if one does.
    pub consumer_id: Option<String>,
    /// That member's host (`HOST`).
    pub host: Option<String>,
    /// That member's `client.id` (`CLIENT-ID`).
    pub client_id: Option<String>,
}

/// The member that owns a partition: its id, host and client id.
type Owner = (String, String, String);

/// The rows: every partition a member owns or the group committed, sorted by partition.
fn rows(
    group: &str,
    owners: BTreeMap<TopicPartition, Owner>,
    committed: BTreeMap<TopicPartition, i64>,
    log_ends: &BTreeMap<TopicPartition, i64>,
) -> Vec<PartitionLag> {
    let mut partitions: Vec<&TopicPartition> = owners.keys().chain(committed.keys()).collect();
    partitions.sort();
    partitions.dedup();
    partitions
        .into_iter()
        .filter_map(|tp| {
            let log_end_offset = *log_ends.get(tp)?;
            let current_offset = committed.get(tp).copied();
            let owner = owners.get(tp);
            Some(PartitionLag {
                group: group.to_string(),
                partition: tp.clone(),
                current_offset,
                log_end_offset,
                lag: current_offset.map(|c| log_end_offset - c),
                consumer_id: owner.map(|o| o.0.clone()),
                host: owner.map(|o| o.1.clone()),
                client_id: owner.map(|o| o.2.clone()),
            })
        })
        .collect()
}

impl Admin {
    /// The group's lag per partition, as `kafka-consumer-groups.sh --describe` shows it:
    /// every partition a member owns or the group committed an offset for, with the
    /// committed offset, the log end offset (read uncommitted), their difference, and the
    /// owning member. Sorted by topic and partition. A group that does not exist fails with
    /// `GROUP_ID_NOT_FOUND` (or, from older coordinators, has no rows).
    pub async fn consumer_group_lag(&self, group: &str) -> Result<Vec<PartitionLag>> {
        self.within("consumer_group_lag", async move {
            let description = self
                .describe_consumer_groups([group])
                .await?
                .into_values()
                .next()
                .unwrap_or_else(|| Err(crate::error::Error::config("a group id is needed")))?;
            let mut owners = BTreeMap::new();
            for m in &description.members {
                for tp in &m.assignment {
                    owners.insert(
                        tp.clone(),
                        (m.member_id.clone(), m.host.clone(), m.client_id.clone()),
                    );
                }
            }
            let committed: BTreeMap<TopicPartition, i64> = self
                .list_consumer_group_offsets(group, None)
                .await?
                .into_iter()
                .map(|(tp, om)| (tp, om.offset))
                .collect();
            let wanted: Vec<(TopicPartition, OffsetSpec)> = owners
                .keys()
                .chain(committed.keys())
                .map(|tp| (tp.clone(), OffsetSpec::Latest))
                .collect();
            let log_ends: BTreeMap<TopicPartition, i64> = if wanted.is_empty() {
                BTreeMap::new()
            } else {
                self.list_offsets(wanted)
                    .await?
                    .into_iter()
                    .map(|(tp, listed)| (tp, listed.offset))
                    .collect()
            };
            Ok(rows(group, owners, committed, &log_ends))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_join_owners_commits_and_log_ends() {
        let tp = |p| TopicPartition::new("t", p);
        let owners = BTreeMap::from([(tp(0), ("m1".into(), "/h".into(), "c".into()))]);
        let committed = BTreeMap::from([(tp(0), 4), (tp(1), 9)]);
        let log_ends = BTreeMap::from([(tp(0), 10), (tp(1), 9), (tp(2), 5)]);
        let rows = rows("g", owners, committed, &log_ends);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].partition, tp(0));
        assert_eq!(
            (rows[0].current_offset, rows[0].log_end_offset, rows[0].lag),
            (Some(4), 10, Some(6))
        );
        assert_eq!(rows[0].consumer_id.as_deref(), Some("m1"));
        assert_eq!(
            (rows[1].lag, rows[1].consumer_id.as_deref()),
            (Some(0), None)
        );
    }

    #[test]
    fn an_owned_partition_without_a_commit_has_no_lag() {
        let tp = TopicPartition::new("t", 0);
        let owners = BTreeMap::from([(tp.clone(), ("m".into(), "/h".into(), "c".into()))]);
        let rows = rows("g", owners, BTreeMap::new(), &BTreeMap::from([(tp, 3)]));
        assert_eq!((rows[0].current_offset, rows[0].lag), (None, None));
    }
}
