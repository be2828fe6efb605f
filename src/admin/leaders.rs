//! Leader elections: back to the preferred replica, or (unclean) to any live one.

use super::{check, Admin};
use crate::error::{Error, Result};
use crate::protocol::wire::{millis, topic_name};
use crate::record::TopicPartition;
use crate::topic::validate_topic_name;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::ElectLeadersRequest;
use std::collections::{BTreeMap, HashMap};

/// Which election `elect_leaders` asks for (Java's `ElectionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElectionType {
    /// Make the preferred replica (the first of the partition's replicas) the leader, if it
    /// is in sync.
    Preferred,
    /// Elect a leader for a partition that has none, even from out-of-sync replicas:
    /// records the old leader had and they lack are lost.
    Unclean,
}

impl ElectionType {
    fn wire(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

impl Admin {
    /// Asks the controller to elect leaders (Java's `electLeaders`): for `partitions`, or
    /// with `None` for every partition that needs it. Each partition has its own result:
    /// `ELECTION_NOT_NEEDED` when the leader is already the one the election would pick,
    /// `PREFERRED_LEADER_NOT_AVAILABLE` or `ELIGIBLE_LEADERS_NOT_AVAILABLE` when no replica
    /// qualifies (not retried: the partition's state decides, as Java's client leaves it to
    /// the caller). A refusal of the whole request (authorization) fails the call; a bad
    /// topic name fails it before anything is sent.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<impl IntoIterator<Item = TopicPartition>>,
    ) -> Result<HashMap<TopicPartition, Result<()>>> {
        self.within("elect_leaders", async move {
            let partitions: Option<Vec<TopicPartition>> =
                partitions.map(|p| p.into_iter().collect());
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in partitions.iter().flatten() {
                validate_topic_name(&tp.topic)?;
                topics
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(tp.partition);
            }
            let request = ElectLeadersRequest::default()
                .with_election_type(election.wire())
                .with_timeout_ms(millis(self.timeout))
                .with_topic_partitions(partitions.is_some().then(|| {
                    topics
                        .iter()
                        .map(|(name, ids)| {
                            TopicPartitions::default()
                                .with_topic(topic_name(name))
                                .with_partitions(ids.clone())
                        })
                        .collect()
                }));
            let response = self
                .cluster
                .retry(self.api_timeout, || async {
                    let response = self.cluster.controller().await?.send(&request).await?;
                    check(response.error_code, "electing leaders", None::<&String>)?;
                    Ok(response)
                })
                .await?;
            let mut results: HashMap<TopicPartition, Result<()>> = response
                .replica_election_results
                .iter()
                .flat_map(|t| {
                    t.partition_result.iter().map(|p| {
                        let tp = TopicPartition::new(t.topic.0.as_str(), p.partition_id);
                        let result = check(p.error_code, tp.to_string(), p.error_message.as_ref());
                        (tp, result)
                    })
                })
                .collect();
            for tp in partitions.into_iter().flatten() {
                results.entry(tp).or_insert_with_key(|tp| {
                    Err(Error::Protocol {
                        broker: "the controller".to_string(),
                        reason: format!("ElectLeaders response is missing {tp}"),
                    })
                });
            }
            Ok(results)
        })
        .await
    }
}
