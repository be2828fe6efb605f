//! Topic and broker configs: describe them (with their synonyms and documentation when
//! asked), change them key by key.

use super::{check, Admin, Answer};
use crate::cluster::TrafficClass;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::topic::validate_topic_name;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};

/// What kind of resource a config belongs to (Java's `ConfigResource.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic; the resource name is the topic name.
    Topic,
    /// A broker; the resource name is its id, or empty for the cluster-wide default.
    Broker,
}

impl ConfigResourceType {
    fn wire(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
        }
    }
}

/// A resource whose configs are described or altered (Java's `ConfigResource`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ConfigResource {
    /// The kind.
    pub resource_type: ConfigResourceType,
    /// The topic name, or the broker id (empty: every broker's default).
    pub name: String,
}

impl ConfigResource {
    /// A topic's configs.
    pub fn topic(name: impl Into<String>) -> Self {
        Self {
            resource_type: ConfigResourceType::Topic,
            name: name.into(),
        }
    }

    /// Broker `id`'s configs.
    pub fn broker(id: i32) -> Self {
        Self {
            resource_type: ConfigResourceType::Broker,
            name: id.to_string(),
        }
    }

    /// The cluster-wide default of every broker's dynamic configs.
    pub fn broker_default() -> Self {
        Self {
            resource_type: ConfigResourceType::Broker,
            name: String::new(),
        }
    }

    /// Which broker must answer: a broker's own configs live with it (Java's client asks
    /// that broker), anything else any broker can answer. Checks the name on the way.
    fn target(&self) -> Result<Option<i32>> {
        match self.resource_type {
            ConfigResourceType::Topic => validate_topic_name(&self.name).map(|()| None),
            ConfigResourceType::Broker if self.name.is_empty() => Ok(None),
            ConfigResourceType::Broker => match self.name.parse::<i32>() {
                Ok(id) if id >= 0 => Ok(Some(id)),
                _ => Err(Error::InvalidArgument(format!(
                    "broker config resource {:?}: the name must be a broker id or empty",
                    self.name
                ))),
            },
        }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.resource_type {
            ConfigResourceType::Topic => write!(f, "topic {}", self.name),
            ConfigResourceType::Broker if self.name.is_empty() => write!(f, "broker default"),
            ConfigResourceType::Broker => write!(f, "broker {}", self.name),
        }
    }
}

/// Where a config's value comes from (Java's `ConfigEntry.ConfigSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic (`DYNAMIC_TOPIC_CONFIG`).
    DynamicTopic,
    /// Set dynamically on this broker (`DYNAMIC_BROKER_CONFIG`).
    DynamicBroker,
    /// Set dynamically as every broker's default (`DYNAMIC_DEFAULT_BROKER_CONFIG`).
    DynamicDefaultBroker,
    /// From the broker's properties file (`STATIC_BROKER_CONFIG`).
    StaticBroker,
    /// Kafka's built-in default (`DEFAULT_CONFIG`).
    Default,
    /// A broker logger's level (`DYNAMIC_BROKER_LOGGER_CONFIG`).
    DynamicBrokerLogger,
    /// Any other source, by its wire number (`UNKNOWN` is 0).
    Unknown(i8),
}

impl ConfigSource {
    fn from_wire(source: i8) -> Self {
        match source {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            other => ConfigSource::Unknown(other),
        }
    }
}

/// One config and its value (Java's `ConfigEntry`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The key, as `retention.ms`.
    pub name: String,
    /// The value; `None` for a sensitive one (the broker never sends those) or one unset.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it is a password or key the broker does not reveal.
    pub is_sensitive: bool,
    /// Whether it cannot be changed while the broker runs.
    pub is_read_only: bool,
    /// Every value that could apply, the one in force first, each with its source (Java's
    /// `ConfigEntry.synonyms`): a topic's `retention.ms` override, then the brokers'
    /// `log.retention.ms` or `log.retention.hours`, then Kafka's default. Empty unless
    /// asked for with [`DescribeConfigsOptions::include_synonyms`].
    pub synonyms: Vec<ConfigSynonym>,
    /// What the config does, as the broker documents it; `None` unless asked for with
    /// [`DescribeConfigsOptions::include_documentation`] (or when the broker has none).
    pub documentation: Option<String>,
}

/// One value a config could take, and where it comes from (Java's `ConfigEntry.ConfigSynonym`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The key that sets it: the config's own name, or a broker key that stands for it
    /// (`log.retention.ms` for a topic's `retention.ms`).
    pub name: String,
    /// The value; `None` for a sensitive one.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
}

/// What `describe_configs_with` reports besides each config's value (Java's
/// `DescribeConfigsOptions`). The default asks for neither, as Java's does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DescribeConfigsOptions {
    /// Each config's synonyms ([`ConfigEntry::synonyms`]), the values it would fall back to
    /// (Java's `includeSynonyms`).
    pub include_synonyms: bool,
    /// Each config's documentation ([`ConfigEntry::documentation`]; DescribeConfigs v3+,
    /// Kafka 2.6+), Java's `includeDocumentation`.
    pub include_documentation: bool,
}

impl DescribeConfigsOptions {
    /// Asks for (or not) each config's synonyms.
    pub fn include_synonyms(mut self, include: bool) -> Self {
        self.include_synonyms = include;
        self
    }

    /// Asks for (or not) each config's documentation.
    pub fn include_documentation(mut self, include: bool) -> Self {
        self.include_documentation = include;
        self
    }
}

/// A resource's configs as `describe_configs` found them (Java's `Config`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ResourceConfig {
    /// Every config, in the broker's order.
    pub entries: Vec<ConfigEntry>,
}

impl ResourceConfig {
    /// The entry named `name`, if the broker reported it.
    pub fn get(&self, name: &str) -> Option<&ConfigEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// One change of `incremental_alter_configs` (Java's `AlterConfigOp`). The operation is
/// a variant, so an unknown one cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlterConfigOp {
    /// Sets the key to the value (`SET`).
    Set {
        /// The key.
        name: String,
        /// The value.
        value: String,
    },
    /// Removes the key's override, back to the default (`DELETE`).
    Delete {
        /// The key.
        name: String,
    },
    /// Adds the comma-separated items to a list config (`APPEND`).
    Append {
        /// The key.
        name: String,
        /// The items to add.
        value: String,
    },
    /// Removes the comma-separated items from a list config (`SUBTRACT`).
    Subtract {
        /// The key.
        name: String,
        /// The items to remove.
        value: String,
    },
}

impl AlterConfigOp {
    /// `SET name=value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `DELETE name`.
    pub fn delete(name: impl Into<String>) -> Self {
        AlterConfigOp::Delete { name: name.into() }
    }

    /// `APPEND name+=value`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Append {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `SUBTRACT name-=value`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Subtract {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The key it changes.
    pub fn name(&self) -> &str {
        match self {
            AlterConfigOp::Set { name, .. }
            | AlterConfigOp::Delete { name }
            | AlterConfigOp::Append { name, .. }
            | AlterConfigOp::Subtract { name, .. } => name,
        }
    }

    fn wire(&self) -> AlterableConfig {
        let (op, value) = match self {
            AlterConfigOp::Set { value, .. } => (0, Some(value)),
            AlterConfigOp::Delete { .. } => (1, None),
            AlterConfigOp::Append { value, .. } => (2, Some(value)),
            AlterConfigOp::Subtract { value, .. } => (3, Some(value)),
        };
        AlterableConfig::default()
            .with_name(StrBytes::from_string(self.name().to_string()))
            .with_config_operation(op)
            .with_value(value.map(|v| StrBytes::from_string(v.clone())))
    }
}

/// Resources by the broker that must answer them (`None`: any).
fn by_target<'a>(
    resources: impl IntoIterator<Item = &'a ConfigResource>,
) -> BTreeMap<Option<i32>, Vec<ConfigResource>> {
    let mut groups: BTreeMap<Option<i32>, Vec<ConfigResource>> = BTreeMap::new();
    for resource in resources {
        // Checked by the caller before the first round.
        let target = resource.target().unwrap_or(None);
        groups.entry(target).or_default().push(resource.clone());
    }
    groups
}

impl Admin {
    /// The broker that must answer about a resource, or any.
    async fn config_connection(&self, target: Option<i32>) -> Result<Connection> {
        match target {
            Some(id) => self.cluster.broker(id, TrafficClass::Control).await,
            None => self.cluster.any_connection().await,
        }
    }

    /// Describes topic and broker configs (Java's `describeConfigs`): each value with its
    /// source and its sensitive and read-only flags. A broker's configs are asked of that
    /// broker, the rest of any. Each resource has its own result (an unknown topic is
    /// `UNKNOWN_TOPIC_OR_PARTITION` there); a bad topic name or broker id fails the call
    /// before anything is sent. Synonyms and documentation are left out; see
    /// [`describe_configs_with`](Self::describe_configs_with).
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
    ) -> Result<HashMap<ConfigResource, Result<ResourceConfig>>> {
        self.describe_configs_with(resources, DescribeConfigsOptions::default())
            .await
    }

    /// [`describe_configs`](Self::describe_configs) with Java's `DescribeConfigsOptions`:
    /// each config's synonyms and documentation when asked for. Documentation needs
    /// DescribeConfigs v3: a broker older than that fails its resources with
    /// `Error::UnsupportedVersion`.
    pub async fn describe_configs_with(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        options: DescribeConfigsOptions,
    ) -> Result<HashMap<ConfigResource, Result<ResourceConfig>>> {
        self.within("describe_configs", async move {
            let mut resources: Vec<ConfigResource> = resources.into_iter().collect();
            resources.sort();
            resources.dedup();
            for resource in &resources {
                resource.target()?;
            }
            self.per_item(resources, |pending| async move {
                let mut answers = Vec::new();
                for (target, group) in by_target(&pending) {
                    answers.extend(self.describe_configs_on(target, group, options).await);
                }
                Ok(answers)
            })
            .await
        })
        .await
    }

    async fn describe_configs_on(
        &self,
        target: Option<i32>,
        resources: Vec<ConfigResource>,
        options: DescribeConfigsOptions,
    ) -> Vec<(ConfigResource, Answer<ResourceConfig>)> {
        let request = DescribeConfigsRequest::default()
            .with_include_synonyms(options.include_synonyms)
            .with_include_documentation(options.include_documentation)
            .with_resources(
                resources
                    .iter()
                    .map(|r| {
                        DescribeConfigsResource::default()
                            .with_resource_type(r.resource_type.wire())
                            .with_resource_name(StrBytes::from_string(r.name.clone()))
                            .with_configuration_keys(None)
                    })
                    .collect(),
            );
        let sent = async {
            let conn = self.config_connection(target).await?;
            if options.include_documentation {
                let version = conn.version(ApiKey::DescribeConfigs)?;
                if version < 3 {
                    return Err(Error::UnsupportedVersion {
                        api: "DescribeConfigs",
                        broker: conn.addr().to_string(),
                        ours: "3..=4 (for documentation)".to_string(),
                        theirs: format!("up to {version}"),
                    });
                }
            }
            let response = conn.send(&request).await?;
            Ok::<_, Error>((conn.addr().to_string(), response))
        }
        .await;
        let (addr, response) = match sent {
            Ok(sent) => sent,
            Err(e) => return Answer::for_all(resources, e),
        };
        resources
            .into_iter()
            .map(|r| {
                let answer = response.results.iter().find(|a| {
                    a.resource_type == r.resource_type.wire() && a.resource_name.as_str() == r.name
                });
                let result = match answer {
                    None => Err(Error::Protocol {
                        broker: addr.clone(),
                        reason: format!("DescribeConfigs response is missing {r}"),
                    }),
                    Some(a) => check(
                        a.error_code,
                        format!("describing {r}"),
                        a.error_message.as_ref(),
                    )
                    .map(|()| ResourceConfig {
                        entries: a
                            .configs
                            .iter()
                            .map(|c| ConfigEntry {
                                name: c.name.to_string(),
                                value: c.value.as_ref().map(ToString::to_string),
                                source: ConfigSource::from_wire(c.config_source),
                                is_sensitive: c.is_sensitive,
                                is_read_only: c.read_only,
                                synonyms: c
                                    .synonyms
                                    .iter()
                                    .map(|syn| ConfigSynonym {
                                        name: syn.name.to_string(),
                                        value: syn.value.as_ref().map(ToString::to_string),
                                        source: ConfigSource::from_wire(syn.source),
                                    })
                                    .collect(),
                                documentation: c.documentation.as_ref().map(ToString::to_string),
                            })
                            .collect(),
                    }),
                };
                (r, Answer::of(result))
            })
            .collect()
    }

    /// Changes configs key by key (Java's `incrementalAlterConfigs`): set, delete, append to
    /// or subtract from a list. A broker's configs are changed through that broker, the rest
    /// through any. Each resource has its own result, and a resource's changes are applied
    /// all or none. Bad names or broker ids, an empty key, and the same key twice in one
    /// resource fail the call before anything is sent.
    ///
    /// On a KRaft cluster the controller commits the change and each broker applies it a
    /// moment later: a `describe_configs` right after may still see the old value, as with
    /// Java's client.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
    ) -> Result<HashMap<ConfigResource, Result<()>>> {
        self.within("incremental_alter_configs", async move {
            let changes: HashMap<ConfigResource, Vec<AlterConfigOp>> =
                changes.into_iter().collect();
            for (resource, ops) in &changes {
                resource.target()?;
                let mut names: Vec<&str> = ops.iter().map(AlterConfigOp::name).collect();
                if names.iter().any(|n| n.is_empty()) {
                    return Err(Error::InvalidArgument(format!(
                        "{resource}: a config change without a key"
                    )));
                }
                names.sort_unstable();
                if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                    return Err(Error::InvalidArgument(format!(
                        "{resource}: more than one change of {}",
                        w[0]
                    )));
                }
            }
            let changes = &changes;
            self.per_item(changes.keys().cloned().collect(), |pending| async move {
                let mut answers = Vec::new();
                for (target, group) in by_target(&pending) {
                    answers.extend(self.alter_configs_on(target, group, changes).await);
                }
                Ok(answers)
            })
            .await
        })
        .await
    }

    async fn alter_configs_on(
        &self,
        target: Option<i32>,
        resources: Vec<ConfigResource>,
        changes: &HashMap<ConfigResource, Vec<AlterConfigOp>>,
    ) -> Vec<(ConfigResource, Answer<()>)> {
        let request = IncrementalAlterConfigsRequest::default().with_resources(
            resources
                .iter()
                .map(|r| {
                    AlterConfigsResource::default()
                        .with_resource_type(r.resource_type.wire())
                        .with_resource_name(StrBytes::from_string(r.name.clone()))
                        .with_configs(changes[r].iter().map(AlterConfigOp::wire).collect())
                })
                .collect(),
        );
        let sent = async {
            let conn = self.config_connection(target).await?;
            let response = conn.send(&request).await?;
            Ok::<_, Error>((conn.addr().to_string(), response))
        }
        .await;
        let (addr, response) = match sent {
            Ok(sent) => sent,
            Err(e) => return Answer::for_all(resources, e),
        };
        resources
            .into_iter()
            .map(|r| {
                let answer = response.responses.iter().find(|a| {
                    a.resource_type == r.resource_type.wire() && a.resource_name.as_str() == r.name
                });
                let result = match answer {
                    None => Err(Error::Protocol {
                        broker: addr.clone(),
                        reason: format!("IncrementalAlterConfigs response is missing {r}"),
                    }),
                    Some(a) => check(
                        a.error_code,
                        format!("altering {r}"),
                        a.error_message.as_ref(),
                    ),
                };
                (r, Answer::of(result))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_resource_goes_to_its_broker_and_anything_else_anywhere() {
        assert_eq!(ConfigResource::broker(3).target().unwrap(), Some(3));
        assert_eq!(ConfigResource::broker_default().target().unwrap(), None);
        assert_eq!(ConfigResource::topic("t").target().unwrap(), None);
        for bad in ["x", "-1", "1.5", " 2"] {
            let resource = ConfigResource {
                resource_type: ConfigResourceType::Broker,
                name: bad.into(),
            };
            assert!(
                matches!(resource.target(), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            ConfigResource::topic("a b").target(),
            Err(Error::InvalidTopic { .. })
        ));
    }

    /// Java's `AlterConfigOp.OpType` ids and `ConfigResource.Type` ids.
    #[test]
    fn operations_and_types_have_javas_wire_ids() {
        let rows = [
            (AlterConfigOp::set("k", "v"), 0, Some("v")),
            (AlterConfigOp::delete("k"), 1, None),
            (AlterConfigOp::append("k", "a"), 2, Some("a")),
            (AlterConfigOp::subtract("k", "s"), 3, Some("s")),
        ];
        for (op, id, value) in rows {
            let wire = op.wire();
            assert_eq!(wire.name.as_str(), "k");
            assert_eq!(wire.config_operation, id, "{op:?}");
            assert_eq!(wire.value.as_deref(), value, "{op:?}");
        }
        assert_eq!(ConfigResourceType::Topic.wire(), 2);
        assert_eq!(ConfigResourceType::Broker.wire(), 4);
    }

    #[test]
    fn config_sources_follow_javas_numbering() {
        let sources = [
            (1, ConfigSource::DynamicTopic),
            (2, ConfigSource::DynamicBroker),
            (3, ConfigSource::DynamicDefaultBroker),
            (4, ConfigSource::StaticBroker),
            (5, ConfigSource::Default),
            (6, ConfigSource::DynamicBrokerLogger),
            (0, ConfigSource::Unknown(0)),
            (42, ConfigSource::Unknown(42)),
        ];
        for (id, source) in sources {
            assert_eq!(ConfigSource::from_wire(id), source);
        }
    }
}
