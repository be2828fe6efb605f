//! Log directories: what each broker stores where.

use super::{check, Admin, Answer};
use crate::cluster::TrafficClass;
use crate::error::{Error, ErrorCode, Result};
use crate::record::TopicPartition;
use kafka_protocol::messages::DescribeLogDirsRequest;
use std::collections::HashMap;

/// One replica in a log directory (Java's `ReplicaInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaInfo {
    /// The bytes its log segments take.
    pub size: i64,
    /// How far it is behind the leader's high watermark (or, for a future replica, the
    /// current one's log end), in offsets.
    pub offset_lag: i64,
    /// Whether it is a future replica: a copy being moved into this directory.
    pub is_future: bool,
}

/// One log directory of a broker (Java's `LogDirDescription`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogDirDescription {
    /// Why the directory could not be described (`KAFKA_STORAGE_ERROR` for an offline
    /// one), or `None`.
    pub error: Option<Error>,
    /// The replicas it holds.
    pub replicas: HashMap<TopicPartition, ReplicaInfo>,
    /// The volume's size in bytes, when the broker says (DescribeLogDirs v4+).
    pub total_bytes: Option<i64>,
    /// The bytes left on the volume, when the broker says (DescribeLogDirs v4+).
    pub usable_bytes: Option<i64>,
}

impl Admin {
    /// Describes the log directories of each broker: the replicas in each with their sizes
    /// and lags, and the volume's space (Java's `describeLogDirs`). Each broker is asked
    /// itself and has its own result, keyed by directory path; a broker id the cluster does
    /// not know is `BROKER_NOT_AVAILABLE` there, at once. A negative id fails the call
    /// before anything is sent.
    pub async fn describe_log_dirs(
        &self,
        brokers: impl IntoIterator<Item = i32>,
    ) -> Result<HashMap<i32, Result<HashMap<String, LogDirDescription>>>> {
        self.within("describe_log_dirs", async move {
            let mut brokers: Vec<i32> = brokers.into_iter().collect();
            brokers.sort_unstable();
            brokers.dedup();
            if let Some(id) = brokers.iter().find(|&&id| id < 0) {
                return Err(Error::InvalidArgument(format!(
                    "describe log dirs of broker {id}: broker ids are 0 or more"
                )));
            }
            self.per_item(brokers, |pending| async move {
                let mut answers = Vec::new();
                for id in pending {
                    answers.push((id, self.describe_log_dirs_of(id).await));
                }
                Ok(answers)
            })
            .await
        })
        .await
    }

    async fn describe_log_dirs_of(&self, id: i32) -> Answer<HashMap<String, LogDirDescription>> {
        if !self.cluster.snapshot().brokers.contains_key(&id) {
            let known = match self.cluster.refresh().await {
                Ok(snapshot) => snapshot.brokers.contains_key(&id),
                Err(e) => return Answer::of(Err(e)),
            };
            if !known {
                return Answer::Done(Err(Error::broker(
                    ErrorCode::BROKER_NOT_AVAILABLE,
                    format!("broker {id} is not in the cluster's metadata"),
                )));
            }
        }
        // No topic list: every replica the broker holds.
        let request = DescribeLogDirsRequest::default().with_topics(None);
        let answer = async {
            let conn = self.cluster.broker(id, TrafficClass::Control).await?;
            let response = conn.send(&request).await?;
            check(
                response.error_code,
                format!("describing broker {id}'s log dirs"),
                None::<&String>,
            )?;
            Ok(response
                .results
                .iter()
                .map(|dir| {
                    let replicas = dir
                        .topics
                        .iter()
                        .flat_map(|t| {
                            t.partitions.iter().map(|p| {
                                (
                                    TopicPartition::new(t.name.0.as_str(), p.partition_index),
                                    ReplicaInfo {
                                        size: p.partition_size,
                                        offset_lag: p.offset_lag,
                                        is_future: p.is_future_key,
                                    },
                                )
                            })
                        })
                        .collect();
                    let description = LogDirDescription {
                        error: check(
                            dir.error_code,
                            format!("broker {id}'s log dir {}", dir.log_dir.as_str()),
                            None::<&String>,
                        )
                        .err(),
                        replicas,
                        total_bytes: (dir.total_bytes >= 0).then_some(dir.total_bytes),
                        usable_bytes: (dir.usable_bytes >= 0).then_some(dir.usable_bytes),
                    };
                    (dir.log_dir.to_string(), description)
                })
                .collect())
        }
        .await;
        Answer::of(answer)
    }
}
