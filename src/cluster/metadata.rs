//! The cluster as the last Metadata response described it: brokers, topics, partitions,
//! leaders and leader epochs.

use crate::error::ErrorCode;
use kafka_protocol::messages::MetadataResponse;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// A broker's id and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

impl BrokerInfo {
    pub(crate) fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition's leadership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartitionInfo {
    pub id: i32,
    /// `None` while the partition has no leader (election in progress, all replicas down).
    pub leader: Option<i32>,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// A topic's partitions, indexed by partition id.
#[derive(Debug)]
pub(crate) struct TopicInfo {
    pub error: ErrorCode,
    /// The topic's id (Metadata v10+; nil before): KIP-848 assignments name topics by id.
    pub id: Uuid,
    pub partitions: Vec<PartitionInfo>,
    /// Ids of the partitions that have a leader, ascending: what the sticky partitioner
    /// chooses among, computed once per refresh rather than per record.
    pub available: Vec<i32>,
    /// Set when a record is sent to the topic, read and cleared by the metadata refresh,
    /// which forgets topics unused for `metadata.max.idle.ms` (see `interest.rs`).
    used: AtomicBool,
}

impl TopicInfo {
    pub(crate) fn new(error: ErrorCode, partitions: Vec<PartitionInfo>) -> Self {
        let available = partitions
            .iter()
            .filter(|p| p.leader.is_some())
            .map(|p| p.id)
            .collect();
        Self {
            error,
            id: Uuid::nil(),
            partitions,
            available,
            used: AtomicBool::new(false),
        }
    }

    /// Notes a use. The load first keeps the per-record cost to a shared read once the
    /// flag is set.
    pub(crate) fn mark_used(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the topic was used since the last call.
    pub(crate) fn take_used(&self) -> bool {
        self.used.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn partition(&self, id: i32) -> Option<&PartitionInfo> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .filter(|p| p.id == id)
    }
}

/// An immutable view of the cluster; replaced whole on every refresh.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub brokers: HashMap<i32, BrokerInfo>,
    /// foldhash: the producer looks a topic up here for every record.
    pub topics: HashMap<String, Arc<TopicInfo>, foldhash::fast::RandomState>,
    pub controller: Option<i32>,
    /// Increases with every applied response, so waiters can tell a newer view from theirs.
    pub generation: u64,
}

impl Snapshot {
    /// The view after `response`. Topics the response does not mention are kept. A partition
    /// whose new leader epoch is older than the cached one keeps the cached entry: a lagging
    /// broker's metadata must not move a leader backwards.
    pub(crate) fn apply(&self, response: &MetadataResponse) -> Snapshot {
        let brokers: HashMap<i32, BrokerInfo> = response
            .brokers
            .iter()
            .map(|b| {
                let info = BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                };
                (info.id, info)
            })
            .collect();
        let mut topics = self.topics.clone();
        for topic in &response.topics {
            let Some(name) = topic.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            let error = ErrorCode(topic.error_code);
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .filter(|p| p.partition_index >= 0)
                .map(|p| PartitionInfo {
                    id: p.partition_index,
                    leader: (p.leader_id.0 >= 0 && brokers.contains_key(&p.leader_id.0))
                        .then_some(p.leader_id.0),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            partitions.dedup_by_key(|p| p.id);
            if partitions.iter().enumerate().any(|(i, p)| p.id != i as i32) {
                // A gap in partition ids means an incomplete answer; keep what we had.
                continue;
            }
            if let Some(old) = self.topics.get(&name) {
                for p in &mut partitions {
                    if let Some(cached) = old.partition(p.id) {
                        if cached.leader_epoch > p.leader_epoch && p.leader_epoch >= 0 {
                            *p = cached.clone();
                        }
                    }
                }
            }
            let mut info = TopicInfo::new(error, partitions);
            info.id = topic.topic_id;
            topics.insert(name.clone(), Arc::new(info));
        }
        Snapshot {
            brokers,
            topics,
            controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            generation: self.generation + 1,
        }
    }
}

/// A hook for the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::Snapshot;
    use crate::protocol::frame::decode_response;
    use bytes::Bytes;
    use kafka_protocol::messages::MetadataRequest;

    /// Two Metadata responses (v1..=12, split at the first byte's position) applied one after
    /// the other, as refreshes do; the result must be a consistent snapshot.
    pub fn fuzz_metadata_apply(data: &[u8]) {
        let Some((&split, rest)) = data.split_first() else {
            return;
        };
        let split = usize::from(split).min(rest.len());
        let mut snapshot = Snapshot::default();
        for part in [&rest[..split], &rest[split..]] {
            let version = 1 + (i16::from(part.first().copied().unwrap_or(0)) % 12);
            if let Ok(response) =
                decode_response::<MetadataRequest>(Bytes::copy_from_slice(part), version)
            {
                snapshot = snapshot.apply(&response);
            }
        }
        for topic in snapshot.topics.values() {
            for (i, p) in topic.partitions.iter().enumerate() {
                assert_eq!(p.id as usize, i, "partitions are indexed by id");
                if let Some(leader) = p.leader {
                    assert!(
                        snapshot.brokers.contains_key(&leader),
                        "leaders are known brokers"
                    );
                }
            }
            assert!(topic
                .available
                .iter()
                .all(|&id| topic.partition(id).is_some()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn response(leader: i32, epoch: i32) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("a"))
                    .with_port(9092),
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(2))
                    .with_host(StrBytes::from_static_str("::1"))
                    .with_port(9093),
            ])
            .with_controller_id(BrokerId(1))
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![
                    MetadataResponsePartition::default()
                        .with_partition_index(1)
                        .with_leader_id(BrokerId(leader))
                        .with_leader_epoch(epoch),
                    MetadataResponsePartition::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(-1))
                        .with_leader_epoch(epoch),
                ])])
    }

    #[test]
    fn applies_brokers_topics_and_leaders() {
        let snap = Snapshot::default().apply(&response(2, 5));
        assert_eq!(snap.generation, 1);
        assert_eq!(snap.brokers[&1].addr(), "a:9092");
        assert_eq!(snap.brokers[&2].addr(), "[::1]:9093");
        let t = &snap.topics["t"];
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.partition(0).unwrap().leader, None);
        assert_eq!(t.partition(1).unwrap().leader, Some(2));
        assert!(t.partition(2).is_none() && t.partition(-1).is_none());
        assert_eq!(t.available, vec![1]);
    }

    #[test]
    fn an_older_leader_epoch_does_not_move_a_leader_back() {
        let newer = Snapshot::default().apply(&response(2, 7));
        let stale = newer.apply(&response(1, 6));
        assert_eq!(stale.topics["t"].partition(1).unwrap().leader, Some(2));
        let moved = newer.apply(&response(1, 8));
        assert_eq!(moved.topics["t"].partition(1).unwrap().leader, Some(1));
        assert_eq!(moved.generation, 2);
    }

    #[test]
    fn a_leader_missing_from_the_broker_list_counts_as_no_leader() {
        let snap = Snapshot::default().apply(&response(9, 1));
        assert_eq!(snap.topics["t"].partition(1).unwrap().leader, None);
    }
}
