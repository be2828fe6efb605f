//! The admin client: topics and offset lookups here; consumer groups in `groups.rs`, their
//! offsets in `group_offsets.rs`, their lag in `lag.rs`.

mod group_offsets;
mod groups;
mod lag;

pub use group_offsets::PartitionResults;
pub use groups::{
    ConsumerGroupDescription, ConsumerGroupListing, GroupState, GroupType,
    ListConsumerGroupsOptions, MemberDescription,
};
pub use lag::PartitionLag;

use crate::cluster::{Cluster, ListedOffset, OffsetSpec};
use crate::config::{ClientConfig, IsolationLevel};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{millis, topic_name};
use crate::record::TopicPartition;
use crate::topic::validate_topic_name;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;
use std::time::Duration;

/// Java's `default.api.timeout.ms` default.
const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Administers topics and looks up offsets. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Admin {
    cluster: Cluster,
    timeout: Duration,
    /// `default.api.timeout.ms`: how long a group call may take, retries included.
    default_api_timeout: Duration,
}

impl Admin {
    /// Connects to the cluster.
    pub async fn new(config: ClientConfig) -> Result<Admin> {
        config.validate()?;
        let timeout = config.request_timeout;
        let cluster = Cluster::connect(crate::cluster::cluster_settings(&config)?).await?;
        Ok(Admin {
            cluster,
            timeout,
            default_api_timeout: DEFAULT_API_TIMEOUT,
        })
    }

    /// Sets Java's `default.api.timeout.ms` (default 60 s): how long each consumer-group
    /// call may take, coordinator lookups and retries included; `request.timeout.ms` still
    /// bounds each request. Zero is refused, as in Java.
    pub fn with_default_api_timeout(mut self, timeout: Duration) -> Result<Admin> {
        if timeout.is_zero() {
            return Err(Error::config("default.api.timeout.ms must be positive"));
        }
        self.default_api_timeout = timeout;
        Ok(self)
    }

    /// Creates topics and waits until each has a leader for every partition. Fails on the
    /// first topic the broker refuses (for instance `TOPIC_ALREADY_EXISTS`).
    pub async fn create_topics(&self, topics: impl IntoIterator<Item = NewTopic>) -> Result<()> {
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
            self.cluster.topic(&topic.name, self.timeout).await?;
        }
        Ok(())
    }

    /// Deletes topics by name.
    pub async fn delete_topics(
        &self,
        names: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<()> {
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
    }

    /// Every topic in the cluster with its partitions, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        let request = MetadataRequest::default().with_topics(None);
        let response = self.cluster.any_connection().await?.send(&request).await?;
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
    }

    /// Looks up offsets, asking each partition's leader. Retries while leaders move.
    pub async fn list_offsets(
        &self,
        partitions: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> Result<HashMap<TopicPartition, ListedOffset>> {
        self.cluster
            .list_offsets(partitions, IsolationLevel::ReadUncommitted, self.timeout)
            .await
    }
}
