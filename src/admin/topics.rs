//! Topics: create, delete, list and describe.

use super::{check, Admin};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{millis, topic_name};
use crate::topic::validate_topic_name;
use base64::Engine;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// The name; checked against Kafka's rules before anything is sent.
    pub name: String,
    /// The number of partitions; `-1` uses the broker's `num.partitions`.
    pub partitions: i32,
    /// The replication factor; `-1` uses the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Topic configs such as `("retention.ms", "60000")`.
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with this many partitions and replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
        }
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// A topic as `list_topics` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// The topic name.
    pub name: String,
    /// The partition ids, ascending.
    pub partitions: Vec<i32>,
    /// Whether the topic is internal (`__consumer_offsets`, `__transaction_state`).
    pub internal: bool,
}

/// A topic as `describe_topics` reports it (Java's `TopicDescription`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// The topic name.
    pub name: String,
    /// Whether the topic is internal (`__consumer_offsets`, `__transaction_state`).
    pub internal: bool,
    /// The topic id as Java prints it (URL-safe base64 without padding), when the broker
    /// has one (Metadata v10+).
    pub topic_id: Option<String>,
    /// The partitions, by ascending id.
    pub partitions: Vec<TopicPartitionInfo>,
}

/// One partition of a [`TopicDescription`] (Java's `TopicPartitionInfo`, with broker ids
/// where Java has nodes).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicPartitionInfo {
    /// The partition id.
    pub partition: i32,
    /// The leader's broker id; `None` while the partition has no leader.
    pub leader: Option<i32>,
    /// Every replica's broker id, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas whose log directory is offline.
    pub offline_replicas: Vec<i32>,
}

impl TopicDescription {
    fn from_metadata(name: String, topic: &MetadataResponseTopic) -> TopicDescription {
        let mut partitions: Vec<TopicPartitionInfo> = topic
            .partitions
            .iter()
            .map(|p| TopicPartitionInfo {
                partition: p.partition_index,
                leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        TopicDescription {
            name,
            internal: topic.is_internal,
            // Java's `Uuid.toString`; the all-zero id means "none".
            topic_id: (!topic.topic_id.is_nil()).then(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(topic.topic_id.as_bytes())
            }),
            partitions,
        }
    }
}

impl Admin {
    /// Creates topics and waits until each has a leader for every partition. Fails on the
    /// first topic the broker refuses (for instance `TOPIC_ALREADY_EXISTS`).
    pub async fn create_topics(&self, topics: impl IntoIterator<Item = NewTopic>) -> Result<()> {
        self.within("create_topics", async move {
            let topics: Vec<NewTopic> = topics.into_iter().collect();
            for topic in &topics {
                validate_topic_name(&topic.name)?;
            }
            let request = CreateTopicsRequest::default()
                .with_timeout_ms(millis(self.timeout))
                .with_topics(
                    topics
                        .iter()
                        .map(|t| {
                            CreatableTopic::default()
                                .with_name(topic_name(&t.name))
                                .with_num_partitions(t.partitions)
                                .with_replication_factor(t.replication_factor)
                                .with_configs(
                                    t.configs
                                        .iter()
                                        .map(|(k, v)| {
                                            CreatableTopicConfig::default()
                                                .with_name(StrBytes::from_string(k.clone()))
                                                .with_value(Some(StrBytes::from_string(v.clone())))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            let response = self.cluster.controller().await?.send(&request).await?;
            for result in &response.topics {
                if result.error_code != 0 {
                    return Err(Error::Broker {
                        code: ErrorCode(result.error_code),
                        context: format!("creating topic {}", result.name.0),
                        message: result.error_message.as_ref().map(|m| m.to_string()),
                    });
                }
            }
            for topic in &topics {
                self.cluster.topic(&topic.name, self.api_timeout).await?;
            }
            Ok(())
        })
        .await
    }

    /// Deletes topics by name.
    pub async fn delete_topics(
        &self,
        names: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<()> {
        self.within("delete_topics", async move {
            let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
            for name in &names {
                validate_topic_name(name)?;
            }
            let request = DeleteTopicsRequest::default()
                .with_timeout_ms(millis(self.timeout))
                .with_topic_names(names.iter().map(|n| topic_name(n)).collect());
            let response = self.cluster.controller().await?.send(&request).await?;
            for result in &response.responses {
                let name = result
                    .name
                    .as_ref()
                    .map(|n| n.0.to_string())
                    .unwrap_or_default();
                if result.error_code != 0 {
                    return Err(Error::Broker {
                        code: ErrorCode(result.error_code),
                        context: format!("deleting topic {name}"),
                        message: result.error_message.as_ref().map(|m| m.to_string()),
                    });
                }
                self.cluster.forget_topic(&name);
            }
            Ok(())
        })
        .await
    }

    /// Every topic in the cluster with its partitions, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        self.within("list_topics", async move {
            let request = MetadataRequest::default().with_topics(None);
            let response = self
                .cluster
                .retry(self.api_timeout, || async {
                    self.cluster.any_connection().await?.send(&request).await
                })
                .await?;
            let mut listings: Vec<TopicListing> = response
                .topics
                .iter()
                .filter(|t| t.error_code == 0)
                .filter_map(|t| {
                    let mut partitions: Vec<i32> =
                        t.partitions.iter().map(|p| p.partition_index).collect();
                    partitions.sort_unstable();
                    Some(TopicListing {
                        name: t.name.as_ref()?.0.to_string(),
                        partitions,
                        internal: t.is_internal,
                    })
                })
                .collect();
            listings.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(listings)
        })
        .await
    }

    /// Describes topics: partitions, leaders, replicas, in-sync and offline replicas, topic
    /// id, internal flag (Java's `describeTopics`). Each topic has its own result: one the
    /// cluster does not know is `UNKNOWN_TOPIC_OR_PARTITION` there, at once. Bad names fail
    /// the call before anything is sent.
    pub async fn describe_topics(
        &self,
        names: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<HashMap<String, Result<TopicDescription>>> {
        self.within("describe_topics", async move {
            let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
            for name in &names {
                validate_topic_name(name)?;
            }
            if names.is_empty() {
                return Ok(HashMap::new());
            }
            let request = MetadataRequest::default()
                .with_topics(Some(
                    names
                        .iter()
                        .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n))))
                        .collect(),
                ))
                .with_allow_auto_topic_creation(false);
            let response = self
                .cluster
                .retry(self.api_timeout, || async {
                    self.cluster.any_connection().await?.send(&request).await
                })
                .await?;
            Ok(names
                .into_iter()
                .map(|name| {
                    let answer = response
                        .topics
                        .iter()
                        .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == name));
                    let result = match answer {
                        None => Err(Error::broker(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, &name)),
                        Some(t) => check(t.error_code, &name, None::<&String>)
                            .map(|()| TopicDescription::from_metadata(name.clone(), t)),
                    };
                    (name, result)
                })
                .collect())
        })
        .await
    }
}
