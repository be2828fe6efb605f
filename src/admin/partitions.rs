//! Adding partitions to topics.

use super::{check, Admin, Answer};
use crate::error::{Error, Result};
use crate::protocol::wire::{millis, topic_name};
use crate::topic::validate_topic_name;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::{BrokerId, CreatePartitionsRequest};
use std::collections::HashMap;

/// How many partitions a topic should have (Java's `NewPartitions`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPartitions {
    /// The new total number of partitions (not the number added).
    pub total_count: i32,
    /// For each new partition, in order, the broker ids of its replicas, the preferred
    /// leader first; `None` lets the controller place them.
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grow the topic to `total_count` partitions, placed by the controller
    /// (`NewPartitions.increaseTo(totalCount)`).
    pub fn increase_to(total_count: i32) -> Self {
        Self {
            total_count,
            assignments: None,
        }
    }

    /// Grow the topic to `total_count` partitions, the new ones on these brokers
    /// (`NewPartitions.increaseTo(totalCount, newAssignments)`).
    pub fn increase_to_with(total_count: i32, assignments: Vec<Vec<i32>>) -> Self {
        Self {
            total_count,
            assignments: Some(assignments),
        }
    }

    fn validate(&self, topic: &str) -> Result<()> {
        if self.total_count < 1 {
            return Err(Error::InvalidArgument(format!(
                "topic {topic}: a partition count of {} (it must be at least 1)",
                self.total_count
            )));
        }
        if let Some(assignments) = &self.assignments {
            if assignments.iter().any(Vec::is_empty) {
                return Err(Error::InvalidArgument(format!(
                    "topic {topic}: a new partition assigned to no broker"
                )));
            }
        }
        Ok(())
    }
}

impl Admin {
    /// Grows topics to new partition counts (Java's `createPartitions`), asking the
    /// controller. Each topic has its own result: the controller's refusal (for instance
    /// `INVALID_PARTITIONS` for a count not above the current one) fails only that topic.
    /// Bad names, counts below one and empty assignments fail the call before anything is
    /// sent.
    pub async fn create_partitions(
        &self,
        new_partitions: impl IntoIterator<Item = (impl Into<String>, NewPartitions)>,
    ) -> Result<HashMap<String, Result<()>>> {
        self.within("create_partitions", async move {
            let wanted: HashMap<String, NewPartitions> = new_partitions
                .into_iter()
                .map(|(t, p)| (t.into(), p))
                .collect();
            for (topic, partitions) in &wanted {
                validate_topic_name(topic)?;
                partitions.validate(topic)?;
            }
            let results = self
                .per_item(wanted.keys().cloned().collect(), |topics| {
                    self.create_partitions_once(&wanted, topics)
                })
                .await?;
            // Producers and consumers of this client learn the new partitions from metadata.
            self.cluster.request_refresh();
            Ok(results)
        })
        .await
    }

    async fn create_partitions_once(
        &self,
        wanted: &HashMap<String, NewPartitions>,
        topics: Vec<String>,
    ) -> Result<Vec<(String, Answer<()>)>> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(millis(self.timeout))
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        let new = &wanted[t];
                        CreatePartitionsTopic::default()
                            .with_name(topic_name(t))
                            .with_count(new.total_count)
                            .with_assignments(new.assignments.as_ref().map(|a| {
                                a.iter()
                                    .map(|ids| {
                                        CreatePartitionsAssignment::default().with_broker_ids(
                                            ids.iter().map(|&id| BrokerId(id)).collect(),
                                        )
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            );
        let sent = async { self.cluster.controller().await?.send(&request).await }.await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Ok(Answer::for_all(topics, e)),
        };
        Ok(topics
            .into_iter()
            .map(|t| {
                let result = match response.results.iter().find(|r| r.name.0.as_str() == t) {
                    None => Err(Error::Protocol {
                        broker: "the controller".to_string(),
                        reason: format!("CreatePartitions response is missing topic {t}"),
                    }),
                    Some(r) => check(
                        r.error_code,
                        format!("adding partitions to {t}"),
                        r.error_message.as_ref(),
                    ),
                };
                (t, Answer::of(result))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_one_and_empty_assignments_are_refused() {
        NewPartitions::increase_to(1).validate("t").unwrap();
        NewPartitions::increase_to_with(3, vec![vec![1], vec![2, 0]])
            .validate("t")
            .unwrap();
        for bad in [
            NewPartitions::increase_to(0),
            NewPartitions::increase_to(-4),
            NewPartitions::increase_to_with(3, vec![vec![1], vec![]]),
        ] {
            assert!(
                matches!(bad.validate("t"), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
