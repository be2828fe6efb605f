//! Deleting records: moving a partition's log start offset forward.

use super::{check, Admin, Answer};
use crate::cluster::TrafficClass;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{millis, topic_name};
use crate::record::TopicPartition;
use crate::topic::validate_topic_name;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::DeleteRecordsRequest;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What `delete_records` did to a partition (Java's `DeletedRecords`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedRecords {
    /// The partition's log start offset now: the first offset a consumer can read.
    pub low_watermark: i64,
}

impl Admin {
    /// Deletes every record before an offset in each partition (Java's `deleteRecords` with
    /// `RecordsToDelete.beforeOffset`); `-1` means the high watermark, so everything written
    /// so far. Each partition's leader is asked, and asked again when leadership moves.
    /// Each partition has its own result: an offset past the high watermark is
    /// `OFFSET_OUT_OF_RANGE` there, a topic the cluster does not know is
    /// `UNKNOWN_TOPIC_OR_PARTITION`. A bad topic name or an offset below `-1` fails the call
    /// before anything is sent.
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<HashMap<TopicPartition, Result<DeletedRecords>>> {
        self.within("delete_records", async move {
            let before: HashMap<TopicPartition, i64> = before.into_iter().collect();
            for (tp, &offset) in &before {
                validate_topic_name(&tp.topic)?;
                if offset < -1 {
                    return Err(Error::InvalidArgument(format!(
                        "{tp}: delete records before offset {offset} (it must be -1 or more)"
                    )));
                }
            }
            let before = &before;
            self.per_item(before.keys().cloned().collect(), |pending| async move {
                let mut answers = Vec::new();
                let (by_leader, unroutable) = self.group_by_leader(pending).await;
                answers.extend(unroutable);
                for (leader, partitions) in by_leader {
                    answers.extend(self.delete_records_on(leader, partitions, before).await);
                }
                Ok(answers)
            })
            .await
        })
        .await
    }

    /// The partitions by their leader's id, and an answer for those that have none now.
    #[allow(clippy::type_complexity)]
    async fn group_by_leader(
        &self,
        partitions: Vec<TopicPartition>,
    ) -> (
        BTreeMap<i32, Vec<TopicPartition>>,
        Vec<(TopicPartition, Answer<DeletedRecords>)>,
    ) {
        let names: BTreeSet<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
        let topics = self.cluster.topics_now(&names).await;
        let snapshot = self.cluster.snapshot();
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let mut unroutable = Vec::new();
        for tp in partitions {
            let leader = match topics.get(&tp.topic) {
                // Not healthy now: unknown (final) or without leaders yet (asked again).
                None => {
                    let code = snapshot
                        .topics
                        .get(&tp.topic)
                        .map(|t| t.error)
                        .filter(|code| !code.is_ok())
                        .unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE);
                    Err(Error::broker(code, tp.to_string()))
                }
                Some(topic) => match topic.partition(tp.partition) {
                    None => Err(Error::InvalidPartition {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        count: topic.partitions.len(),
                    }),
                    Some(p) => p.leader.ok_or_else(|| {
                        Error::broker(ErrorCode::LEADER_NOT_AVAILABLE, tp.to_string())
                    }),
                },
            };
            match leader {
                Ok(leader) => by_leader.entry(leader).or_default().push(tp),
                Err(e) => unroutable.push((tp, Answer::of(Err(e)))),
            }
        }
        (by_leader, unroutable)
    }

    async fn delete_records_on(
        &self,
        leader: i32,
        partitions: Vec<TopicPartition>,
        before: &HashMap<TopicPartition, i64>,
    ) -> Vec<(TopicPartition, Answer<DeletedRecords>)> {
        let mut topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
        for tp in &partitions {
            topics.entry(&tp.topic).or_default().push(
                DeleteRecordsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_offset(before[tp]),
            );
        }
        let request = DeleteRecordsRequest::default()
            .with_timeout_ms(millis(self.timeout))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        DeleteRecordsTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let sent = async {
            let conn = self.cluster.broker(leader, TrafficClass::Control).await?;
            let response = conn.send(&request).await?;
            Ok::<_, Error>((conn.addr().to_string(), response))
        }
        .await;
        let (addr, response) = match sent {
            Ok(sent) => sent,
            Err(e) => return Answer::for_all(partitions, e),
        };
        partitions
            .into_iter()
            .map(|tp| {
                let answer = response
                    .topics
                    .iter()
                    .filter(|t| t.name.0.as_str() == tp.topic)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition_index == tp.partition);
                let result = match answer {
                    None => Err(Error::Protocol {
                        broker: addr.clone(),
                        reason: format!("DeleteRecords response is missing {tp}"),
                    }),
                    Some(p) => check(p.error_code, tp.to_string(), None::<&String>).map(|()| {
                        DeletedRecords {
                            low_watermark: p.low_watermark,
                        }
                    }),
                };
                (tp, Answer::of(result))
            })
            .collect()
    }
}
