//! Topic administration and offset lookups.

use crate::cluster::{Cluster, TrafficClass};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::protocol::wire::{millis, topic_name};
use crate::record::TopicPartition;
use crate::retry::Retry;
use crate::topic::validate_topic_name;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DeleteTopicsRequest, ListOffsetsRequest, MetadataRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

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

/// Which offset `list_offsets` looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark: the offset the next record will get.
    Latest,
    /// The first offset whose timestamp is at or after this time (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// An offset `list_offsets` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; `-1` when no record matches a timestamp.
    pub offset: i64,
    /// The matching record's timestamp, or `-1`.
    pub timestamp: i64,
}

/// Administers topics and looks up offsets. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    cluster: Cluster,
    timeout: Duration,
}

impl Admin {
    /// Connects to the cluster.
    pub async fn new(config: ClientConfig) -> Result<Admin> {
        config.validate()?;
        let timeout = config.request_timeout;
        let cluster = Cluster::connect(crate::client::cluster_settings(&config)?).await?;
        Ok(Admin::with_cluster(cluster, timeout))
    }

    /// An admin sharing another client's cluster handle (metadata and connections).
    pub(crate) fn with_cluster(cluster: Cluster, timeout: Duration) -> Admin {
        Admin { cluster, timeout }
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
        let mut wanted: Vec<(TopicPartition, OffsetSpec)> = partitions.into_iter().collect();
        let mut found = HashMap::new();
        let mut backoff = Retry::new(self.timeout, self.cluster.backoff());
        while !wanted.is_empty() {
            let mut retry = Vec::new();
            let mut last_error = None;
            for (leader, group) in self.group_by_leader(&wanted).await? {
                match self.list_offsets_on(leader, &group).await {
                    Ok(results) => {
                        for (tp, spec, result) in results {
                            match result {
                                Ok(listed) => {
                                    found.insert(tp, listed);
                                }
                                Err(e) if e.is_retriable() => {
                                    last_error = Some(e);
                                    retry.push((tp, spec));
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        last_error = Some(e);
                        retry.extend(group);
                    }
                    Err(e) => return Err(e),
                }
            }
            wanted = retry;
            if let Some(e) = last_error {
                // A leader moved or is being elected; only fresh metadata can route the rest.
                self.cluster.request_refresh();
                backoff.wait(e).await?;
                self.cluster.refresh().await?;
            }
        }
        Ok(found)
    }

    async fn group_by_leader(
        &self,
        wanted: &[(TopicPartition, OffsetSpec)],
    ) -> Result<BTreeMap<i32, Vec<(TopicPartition, OffsetSpec)>>> {
        let mut by_leader: BTreeMap<i32, Vec<_>> = BTreeMap::new();
        for (tp, spec) in wanted {
            let topic = self.cluster.topic(&tp.topic, self.timeout).await?;
            let partition =
                topic
                    .partition(tp.partition)
                    .ok_or_else(|| Error::InvalidPartition {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        count: topic.partitions.len(),
                    })?;
            // A partition without a leader is asked of broker -1, which fails retriably.
            let leader = partition.leader.unwrap_or(-1);
            by_leader
                .entry(leader)
                .or_default()
                .push((tp.clone(), *spec));
        }
        Ok(by_leader)
    }

    #[allow(clippy::type_complexity)]
    async fn list_offsets_on(
        &self,
        leader: i32,
        group: &[(TopicPartition, OffsetSpec)],
    ) -> Result<Vec<(TopicPartition, OffsetSpec, Result<ListedOffset>)>> {
        if leader < 0 {
            return Err(Error::broker(
                ErrorCode::LEADER_NOT_AVAILABLE,
                "list offsets",
            ));
        }
        let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for (tp, spec) in group {
            topics.entry(&tp.topic).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(spec.wire()),
            );
        }
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_timeout_ms(millis(self.timeout))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        ListOffsetsTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let conn = self.cluster.broker(leader, TrafficClass::Control).await?;
        let response = conn.send(&request).await?;
        let mut results = Vec::new();
        for (tp, spec) in group {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.name.0.as_str() == tp.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == tp.partition);
            let result = match answer {
                None => Err(Error::Protocol {
                    broker: conn.addr().to_string(),
                    reason: format!("ListOffsets response is missing {tp}"),
                }),
                Some(p) if p.error_code != 0 => {
                    let code = ErrorCode(p.error_code);
                    if code.retry_action() == RetryAction::RefreshMetadataAndRetry {
                        self.cluster.request_refresh();
                    }
                    Err(Error::broker(code, tp.to_string()))
                }
                Some(p) => Ok(ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                }),
            };
            results.push((tp.clone(), *spec, result));
        }
        Ok(results)
    }
}
