//! Consumer settings.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::client::split_list;
use super::properties::{
    apply, at_most_int_ms, bad_value, ensure, ms, parse_bool, parse_ms, parse_optional, parse_uint,
    positive_int, positive_ms,
};
use super::sources::Properties;
use super::ClientConfig;
use crate::error::{Error, Result};

/// Where to start reading a partition that has no committed offset, or whose position is out
/// of range (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AutoOffsetReset {
    /// `earliest`: the oldest record still in the log.
    Earliest,
    /// `latest`: only records produced from now on.
    #[default]
    Latest,
    /// `none`: fail with [`Error::OffsetOutOfRange`] and let the caller decide.
    Error,
}

impl FromStr for AutoOffsetReset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Ok(AutoOffsetReset::Earliest),
            "latest" => Ok(AutoOffsetReset::Latest),
            "none" => Ok(AutoOffsetReset::Error),
            _ => Err(bad_value(
                "auto.offset.reset",
                s,
                "one of earliest, latest, none",
            )),
        }
    }
}

/// Which records of transactions a consumer sees (`isolation.level`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `read_uncommitted`: everything, including records of open and aborted transactions.
    #[default]
    ReadUncommitted,
    /// `read_committed`: only committed transactional records (and all non-transactional
    /// ones), and nothing past the first open transaction.
    ReadCommitted,
}

impl FromStr for IsolationLevel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(bad_value(
                "isolation.level",
                s,
                "read_uncommitted or read_committed",
            )),
        }
    }
}

/// A partition assignment strategy (`partition.assignment.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssignorKind {
    /// `org.apache.kafka.clients.consumer.RangeAssignor` (`range`): per topic, consecutive
    /// ranges of partitions to members in order. Eager: every rebalance revokes everything.
    Range,
    /// `org.apache.kafka.clients.consumer.RoundRobinAssignor` (`roundrobin`): all partitions
    /// dealt out in turn. Eager.
    RoundRobin,
    /// `org.apache.kafka.clients.consumer.CooperativeStickyAssignor` (`cooperative-sticky`):
    /// balanced and keeps assignments across rebalances, revoking only partitions that move.
    CooperativeSticky,
}

impl AssignorKind {
    /// The protocol name members advertise in JoinGroup, as the Java assignors do.
    pub fn protocol_name(self) -> &'static str {
        match self {
            AssignorKind::Range => "range",
            AssignorKind::RoundRobin => "roundrobin",
            AssignorKind::CooperativeSticky => "cooperative-sticky",
        }
    }
}

impl FromStr for AssignorKind {
    type Err = Error;

    /// A Java assignor class name or its protocol name.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "range" | "org.apache.kafka.clients.consumer.RangeAssignor" => Ok(AssignorKind::Range),
            "roundrobin" | "org.apache.kafka.clients.consumer.RoundRobinAssignor" => {
                Ok(AssignorKind::RoundRobin)
            }
            "cooperative-sticky"
            | "org.apache.kafka.clients.consumer.CooperativeStickyAssignor" => {
                Ok(AssignorKind::CooperativeSticky)
            }
            _ => Err(bad_value(
                "partition.assignment.strategy",
                s,
                "range, roundrobin or cooperative-sticky, or the Java class name of one \
                 (org.apache.kafka.clients.consumer.RangeAssignor, RoundRobinAssignor, \
                 CooperativeStickyAssignor)",
            )),
        }
    }
}

/// How a consumer group assigns partitions (`group.protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupProtocol {
    /// `classic`: JoinGroup/SyncGroup rounds, the group leader (a client) assigns with
    /// `partition.assignment.strategy`, heartbeats every `heartbeat.interval.ms`.
    #[default]
    Classic,
    /// `consumer`: KIP-848 (Kafka 4.0+). The broker assigns (`group.remote.assignor`) and
    /// sets the heartbeat interval and session timeout; members reconcile incrementally,
    /// with no group-wide rebalance barrier.
    Consumer,
}

impl FromStr for GroupProtocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(GroupProtocol::Classic),
            "consumer" => Ok(GroupProtocol::Consumer),
            _ => Err(bad_value("group.protocol", s, "classic or consumer")),
        }
    }
}

/// Settings the consumer protocol leaves to the broker: Java refuses them with
/// `group.protocol=consumer`, and so does kafkit.
const CLASSIC_ONLY: [(&str, &str); 3] = [
    (
        "partition.assignment.strategy",
        "the broker assigns; choose its assignor with group.remote.assignor",
    ),
    (
        "session.timeout.ms",
        "the broker's group.consumer.session.timeout.ms applies",
    ),
    (
        "heartbeat.interval.ms",
        "the broker's group.consumer.heartbeat.interval.ms applies",
    ),
];

/// Consumer settings, with the Java consumer's defaults.
///
/// Group settings (offsets commits, session and heartbeat timing, assignors) only matter with
/// a `group_id`; without one they are accepted and unused, and the consumer reads the
/// partitions it is assigned by hand.
///
/// ```
/// let mut config = kafkit::ConsumerConfig::new("localhost:9092");
/// config.group_id = Some("billing".into());
/// config.auto_offset_reset = kafkit::AutoOffsetReset::Earliest;
/// config.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// `group.id`: the consumer group to join for partition assignment and committed offsets.
    /// Default unset.
    pub group_id: Option<String>,
    /// `group.instance.id`: a stable member id for static membership, so a restart within
    /// `session.timeout.ms` does not rebalance the group. Default unset.
    pub group_instance_id: Option<String>,
    /// `auto.offset.reset`: see [`AutoOffsetReset`]. Default `latest`.
    pub auto_offset_reset: AutoOffsetReset,
    /// `enable.auto.commit`: commit consumed positions in the background every
    /// `auto.commit.interval.ms`. Without a `group_id` there is nowhere to commit, so nothing is
    /// committed (Java instead refuses an explicit `true` there). Default true.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`: how often auto-commit commits. Default 5 s.
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms`: the group drops a member it has not heard a heartbeat from in this
    /// long. The broker bounds it (`group.min.session.timeout.ms`, 6 s, to
    /// `group.max.session.timeout.ms`, 30 min, by default). Default 45 s.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`: how often to heartbeat; must be below `session.timeout.ms`,
    /// usually a third of it or less. Default 3 s.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`: a member that does not poll for this long leaves the group; it
    /// is also the time the group waits for members to rejoin during a rebalance. Default
    /// 300 s.
    pub max_poll_interval: Duration,
    /// `max.poll.records`: the most records one poll returns. Default 500. A poll also
    /// stops decoding batches once it has decoded `max.partition.fetch.bytes` of them, so
    /// it returns fewer when records are large.
    pub max_poll_records: usize,
    /// `default.api.timeout.ms`: how long the consumer's blocking calls without a timeout of
    /// their own (`commit`, `committed`, offset lookups, `close`) keep retrying. Default 60 s.
    pub default_api_timeout: Duration,
    /// `partition.assignment.strategy`: the assignors offered to the group, preferred first;
    /// the group uses the first one every member supports. Default `[Range, CooperativeSticky]`
    /// as in Java 3.0+, which lets a group move from range to cooperative-sticky in two
    /// rolling restarts.
    pub partition_assignment_strategy: Vec<AssignorKind>,
    /// `fetch.min.bytes`: the broker holds a fetch until it has this many bytes or
    /// `fetch.max.wait.ms` passes. Default 1.
    pub fetch_min_bytes: usize,
    /// `fetch.max.bytes`: the most bytes one fetch response may carry (a first batch larger than
    /// this is still returned, so progress is possible). Default 52428800 (50 MiB).
    pub fetch_max_bytes: usize,
    /// `fetch.max.wait.ms`: how long the broker may hold a fetch for `fetch.min.bytes`. Must be
    /// below `request.timeout.ms`. Default 500 ms.
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes`: the most bytes per partition in one fetch response (same
    /// exception for a first large batch). Default 1048576.
    pub max_partition_fetch_bytes: usize,
    /// `isolation.level`: see [`IsolationLevel`]. Default `read_uncommitted`.
    pub isolation_level: IsolationLevel,
    /// `check.crcs`: verify each batch's CRC32C, catching corruption on disk or the wire at
    /// some CPU cost. Default true.
    pub check_crcs: bool,
    /// `client.rack`: this consumer's rack, so a broker can serve fetches from a replica in the
    /// same rack (KIP-392) when the cluster configures a replica selector. Default unset.
    pub client_rack: Option<String>,
    /// `group.protocol`: see [`GroupProtocol`]. Default `classic`, as in Java 4.x. With
    /// `consumer`, `partition.assignment.strategy`, `session.timeout.ms` and
    /// `heartbeat.interval.ms` must stay unset (the broker decides them).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`: the broker-side assignor this member asks for with
    /// `group.protocol=consumer`: one the broker's `group.consumer.assignors` enables
    /// (`uniform` and `range` by default, or a custom one); unset, the broker's default
    /// (the first of them). A name the broker lacks makes `poll` return
    /// `UNSUPPORTED_ASSIGNOR`. Refused with `classic`. Default unset.
    pub group_remote_assignor: Option<String>,
}

impl Default for ConsumerConfig {
    /// Java's defaults, with an empty (so invalid) bootstrap list.
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            auto_offset_reset: AutoOffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            max_poll_records: 500,
            default_api_timeout: Duration::from_secs(60),
            partition_assignment_strategy: vec![
                AssignorKind::Range,
                AssignorKind::CooperativeSticky,
            ],
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1024 * 1024,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            client_rack: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
        }
    }
}

impl ConsumerConfig {
    /// Defaults, with `bootstrap` as `bootstrap.servers` (comma-separated).
    pub fn new(bootstrap: impl AsRef<str>) -> Self {
        Self {
            client: ClientConfig::new(bootstrap),
            ..Self::default()
        }
    }

    /// A config from Java consumer properties, client-level keys included, validated.
    /// Unknown keys and malformed values are errors naming the key. librdkafka's names are
    /// taken too (`fetch.wait.max.ms`, `auto.offset.reset=smallest`, ...), or refused with the
    /// reason when kafkit cannot honour them (`queued.max.messages.kbytes`,
    /// `enable.auto.offset.store`); of a Java key and its alias the later given wins. The
    /// table is in `docs/migrating-from-rdkafka.md`.
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        let mut classic_only = Vec::new();
        apply(properties, "consumer", |key, value| {
            if CLASSIC_ONLY.iter().any(|(k, _)| *k == key) {
                classic_only.push(key.to_string());
            }
            Ok(config.set(key, value)? || config.client.set(key, value)?)
        })?;
        // Java refuses these keys with the consumer protocol even at their default values.
        if config.group_protocol == GroupProtocol::Consumer {
            if let Some(key) = classic_only.first() {
                return Err(classic_only_error(key));
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// A config from a Java `.properties` file of consumer settings ([`Properties::from_file`]),
    /// as [`from_properties`](Self::from_properties) takes them. To layer sources (file <
    /// environment < code), see [`Properties`].
    ///
    /// ```no_run
    /// let config = kafkit::ConsumerConfig::from_properties_file("consumer.properties")?;
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_properties(&Properties::from_file(path)?)
    }

    /// A config from `KAFKA_`-prefixed environment variables ([`Properties::from_env`]:
    /// `KAFKA_BOOTSTRAP_SERVERS` is `bootstrap.servers`), as
    /// [`from_properties`](Self::from_properties) takes them. Every such variable must be a
    /// consumer setting; give each client its own prefix with
    /// [`Properties::from_env_with_prefix`] when several share a process.
    pub fn from_env() -> Result<Self> {
        Self::from_properties(&Properties::from_env()?)
    }

    /// Applies one consumer-level property; `Ok(false)` when `key` is not one.
    fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "group.id" => self.group_id = parse_optional(value),
            "group.instance.id" => self.group_instance_id = parse_optional(value),
            "auto.offset.reset" => self.auto_offset_reset = value.parse()?,
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(key, value)?,
            "session.timeout.ms" => self.session_timeout = parse_ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(key, value)?,
            "max.poll.interval.ms" => self.max_poll_interval = parse_ms(key, value)?,
            "default.api.timeout.ms" => self.default_api_timeout = parse_ms(key, value)?,
            "max.poll.records" => self.max_poll_records = parse_uint(key, value)?,
            "partition.assignment.strategy" => {
                self.partition_assignment_strategy = split_list(value)
                    .iter()
                    .map(|name| name.parse())
                    .collect::<Result<_>>()?
            }
            "fetch.min.bytes" => self.fetch_min_bytes = parse_uint(key, value)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_uint(key, value)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_ms(key, value)?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = parse_uint(key, value)?,
            "isolation.level" => self.isolation_level = value.parse()?,
            "check.crcs" => self.check_crcs = parse_bool(key, value)?,
            "client.rack" => self.client_rack = parse_optional(value),
            "group.protocol" => self.group_protocol = value.parse()?,
            "group.remote.assignor" => self.group_remote_assignor = parse_optional(value),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks every setting, and that they fit together.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        if let Some(group) = &self.group_id {
            ensure(!group.is_empty(), || {
                "group.id is empty; set a group name or leave it unset".to_string()
            })?;
        }
        if let Some(id) = &self.group_instance_id {
            // Brokers hold instance ids to the topic-name rules.
            crate::topic::check_name(id)
                .map_err(|why| Error::config(format!("group.instance.id {id:?} {why}")))?;
        }
        positive_ms("auto.commit.interval.ms", self.auto_commit_interval)?;
        positive_ms("session.timeout.ms", self.session_timeout)?;
        positive_ms("heartbeat.interval.ms", self.heartbeat_interval)?;
        ensure(self.heartbeat_interval < self.session_timeout, || {
            format!(
                "heartbeat.interval.ms ({}) must be less than session.timeout.ms ({}), or the \
                 group drops the member between heartbeats; lower heartbeat.interval.ms (a third \
                 of the session timeout is usual)",
                ms(self.heartbeat_interval),
                ms(self.session_timeout)
            )
        })?;
        positive_ms("max.poll.interval.ms", self.max_poll_interval)?;
        positive_ms("default.api.timeout.ms", self.default_api_timeout)?;
        positive_int("max.poll.records", self.max_poll_records)?;
        ensure(!self.partition_assignment_strategy.is_empty(), || {
            "partition.assignment.strategy is empty; list at least one assignor, e.g. \
             cooperative-sticky"
                .to_string()
        })?;
        ensure(self.fetch_min_bytes <= i32::MAX as usize, || {
            format!(
                "fetch.min.bytes is {}, more than {}",
                self.fetch_min_bytes,
                i32::MAX
            )
        })?;
        positive_int("fetch.max.bytes", self.fetch_max_bytes)?;
        positive_int("max.partition.fetch.bytes", self.max_partition_fetch_bytes)?;
        ensure(self.fetch_min_bytes <= self.fetch_max_bytes, || {
            format!(
                "fetch.min.bytes ({}) is larger than fetch.max.bytes ({}), so every fetch would \
                 wait the full fetch.max.wait.ms; lower fetch.min.bytes",
                self.fetch_min_bytes, self.fetch_max_bytes
            )
        })?;
        ensure(self.fetch_max_bytes < self.client.max_response_size, || {
            format!(
                "fetch.max.bytes ({}) must be below kafkit.max.response.bytes ({}), or full \
                 fetch responses would be refused; raise kafkit.max.response.bytes or lower \
                 fetch.max.bytes",
                self.fetch_max_bytes, self.client.max_response_size
            )
        })?;
        at_most_int_ms("fetch.max.wait.ms", self.fetch_max_wait)?;
        ensure(self.fetch_max_wait < self.client.request_timeout, || {
            format!(
                "fetch.max.wait.ms ({}) must be less than request.timeout.ms ({}), or fetches \
                 that wait for data would time out; lower fetch.max.wait.ms or raise \
                 request.timeout.ms",
                ms(self.fetch_max_wait),
                ms(self.client.request_timeout)
            )
        })?;
        if let Some(rack) = &self.client_rack {
            ensure(rack.len() <= i16::MAX as usize, || {
                format!("client.rack is {} bytes long; shorten it", rack.len())
            })?;
        }
        self.validate_group_protocol()
    }

    /// `group.protocol=consumer` leaves assignment, session and heartbeat timing to the
    /// broker: the settings for them must keep their defaults (`from_properties` also
    /// refuses the keys themselves, as Java does). `group.remote.assignor` needs it.
    fn validate_group_protocol(&self) -> Result<()> {
        let defaults = Self::default();
        match self.group_protocol {
            GroupProtocol::Classic => ensure(self.group_remote_assignor.is_none(), || {
                "group.remote.assignor is only used with group.protocol=consumer; set \
                 group.protocol=consumer or unset group.remote.assignor"
                    .to_string()
            }),
            GroupProtocol::Consumer => {
                let changed = [
                    self.partition_assignment_strategy != defaults.partition_assignment_strategy,
                    self.session_timeout != defaults.session_timeout,
                    self.heartbeat_interval != defaults.heartbeat_interval,
                ];
                if let Some(i) = changed.iter().position(|&c| c) {
                    return Err(classic_only_error(CLASSIC_ONLY[i].0));
                }
                // Any other name is the broker's to judge (its group.consumer.assignors may
                // include custom ones): one it lacks is UNSUPPORTED_ASSIGNOR from poll.
                if let Some(assignor) = &self.group_remote_assignor {
                    ensure(!assignor.trim().is_empty(), || {
                        "group.remote.assignor is empty; name an assignor the broker enables \
                         (uniform or range by default), or leave it unset for the broker's \
                         default"
                            .to_string()
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// `key` set together with `group.protocol=consumer`.
fn classic_only_error(key: &str) -> Error {
    let why = CLASSIC_ONLY
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, why)| why);
    Error::config(format!(
        "{key} is not supported with group.protocol=consumer ({why}); remove it, or use \
         group.protocol=classic"
    ))
}

#[cfg(test)]
mod tests;
