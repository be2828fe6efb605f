//! Connection settings shared by the producer, the consumer and the admin client.

use std::path::Path;
use std::time::Duration;

use super::properties::{
    apply, ensure, ordered, parse_bool, parse_ms, parse_uint, positive_int, positive_ms,
};
use super::security::SecurityConfig;
use super::sources::Properties;
use crate::error::{Error, Result};

/// The default cap on a response frame: the broker's default `socket.request.max.bytes`
/// (100 MiB) plus slack for the headers around a fetch of that size.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 100 * 1024 * 1024 + 1024 * 1024;

/// The default cap on a response to anything but Fetch: 16 MiB, about twenty times the
/// metadata response of a cluster with 100,000 partitions.
pub const DEFAULT_MAX_CONTROL_RESPONSE_SIZE: usize = 16 * 1024 * 1024;

/// Settings every client has; the producer's, consumer's and admin client's configs hold
/// one ([`AdminConfig`](super::AdminConfig) converts from it).
///
/// ```
/// # use std::time::Duration;
/// let mut config = kafkit::ClientConfig::new("broker1:9092,broker2:9092");
/// config.request_timeout = Duration::from_secs(10);
/// config.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` addresses to fetch the cluster's metadata from; an IPv6
    /// host goes in brackets, `[::1]:9092`. Only used to discover the cluster, so a few live
    /// brokers are enough. Required.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`: sent with every request, for broker logs and quotas. Default `kafkit`.
    pub client_id: String,
    /// `request.timeout.ms`: how long to wait for a response before giving up on the request
    /// (and on the connection, whose state is then unknown). Default 30 s.
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`: how long opening a connection may take. Default
    /// 10 s.
    pub connect_timeout: Duration,
    /// `reconnect.backoff.ms`: the wait before reconnecting to a broker after a failure; it
    /// doubles on each consecutive failure. Default 50 ms.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`: the cap on that doubling backoff. Default 1 s.
    pub reconnect_backoff_max: Duration,
    /// `metadata.max.age.ms`: refresh cluster metadata at least this often even when nothing
    /// failed, to notice new partitions and brokers. Default 5 min.
    pub metadata_max_age: Duration,
    /// `metadata.max.idle.ms` (a Java producer key): how long a topic that records were sent
    /// to, or that was looked up, stays in the metadata cache without being used again; then
    /// it is no longer refreshed or kept. Topics a consumer reads stay while it reads them.
    /// At least 5 s. Default 5 min.
    pub metadata_max_idle: Duration,
    /// `kafkit.max.response.bytes` (no Java equivalent): the largest response frame accepted
    /// from a broker. A larger length prefix means a corrupt stream or the wrong protocol on
    /// the port, and reading it would allocate that much. Default 101 MiB
    /// ([`DEFAULT_MAX_RESPONSE_SIZE`]); it must exceed the consumer's `fetch.max.bytes`.
    pub max_response_size: usize,
    /// `kafkit.max.control.response.bytes` (no Java equivalent): the largest response accepted
    /// to any request but Fetch (metadata, offsets, group and admin requests), which are small
    /// even on large clusters: a longer frame is refused before it is read, with
    /// [`Error::Protocol`]. Default 16 MiB
    /// ([`DEFAULT_MAX_CONTROL_RESPONSE_SIZE`]).
    pub max_control_response_size: usize,
    /// `allow.auto.create.topics`: let metadata requests create missing topics, when the
    /// broker's `auto.create.topics.enable` also allows it. Default true.
    pub allow_auto_create_topics: bool,
    /// `security.protocol`, `ssl.*` and `sasl.*`: TLS and authentication. Default
    /// `PLAINTEXT`.
    pub security: SecurityConfig,
}

impl Default for ClientConfig {
    /// Java's defaults, with an empty (so invalid) bootstrap list.
    fn default() -> Self {
        Self {
            bootstrap_servers: Vec::new(),
            client_id: "kafkit".to_string(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(5 * 60),
            metadata_max_idle: Duration::from_secs(5 * 60),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            max_control_response_size: DEFAULT_MAX_CONTROL_RESPONSE_SIZE,
            allow_auto_create_topics: true,
            security: SecurityConfig::default(),
        }
    }
}

impl ClientConfig {
    /// Defaults, with `bootstrap` split on commas as `bootstrap.servers` is. Entries are kept
    /// as written; [`validate`](Self::validate) reports malformed ones.
    pub fn new(bootstrap: impl AsRef<str>) -> Self {
        Self {
            bootstrap_servers: split_list(bootstrap.as_ref()),
            ..Self::default()
        }
    }

    /// A config from Java-style properties (the admin client's, or the connection part of
    /// another), validated. Unknown keys are errors. librdkafka's names are taken too
    /// (`metadata.broker.list`, `socket.timeout.ms`, ...): mapped to the Java key when kafkit
    /// can honour them exactly, refused with the reason when not; of a Java key and its alias
    /// the later given wins. The table is in `docs/migrating-from-rdkafka.md`.
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        apply(properties, "client", |key, value| config.set(key, value))?;
        config.validate()?;
        Ok(config)
    }

    /// A config from a Java `.properties` file of client settings ([`Properties::from_file`]),
    /// as [`from_properties`](Self::from_properties) takes them. To layer sources (file <
    /// environment < code), see [`Properties`].
    ///
    /// ```no_run
    /// let config = kafkit::ClientConfig::from_properties_file("client.properties")?;
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_properties(&Properties::from_file(path)?)
    }

    /// A config from `KAFKA_`-prefixed environment variables ([`Properties::from_env`]:
    /// `KAFKA_BOOTSTRAP_SERVERS` is `bootstrap.servers`), as
    /// [`from_properties`](Self::from_properties) takes them. Every such variable must be a
    /// client setting; give each client its own prefix with
    /// [`Properties::from_env_with_prefix`] when several share a process.
    pub fn from_env() -> Result<Self> {
        Self::from_properties(&Properties::from_env()?)
    }

    /// Applies one property; `Ok(false)` when `key` is not a client-level key.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "bootstrap.servers" => self.bootstrap_servers = split_list(value),
            "client.id" => self.client_id = value.trim().to_string(),
            "request.timeout.ms" => self.request_timeout = parse_ms(key, value)?,
            "socket.connection.setup.timeout.ms" => self.connect_timeout = parse_ms(key, value)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = parse_ms(key, value)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = parse_ms(key, value)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, value)?,
            "metadata.max.idle.ms" => self.metadata_max_idle = parse_ms(key, value)?,
            "kafkit.max.response.bytes" => self.max_response_size = parse_uint(key, value)?,
            "kafkit.max.control.response.bytes" => {
                self.max_control_response_size = parse_uint(key, value)?
            }
            "allow.auto.create.topics" => self.allow_auto_create_topics = parse_bool(key, value)?,
            _ => return self.security.set(key, value),
        }
        Ok(true)
    }

    /// Checks every setting, and that they fit together.
    pub fn validate(&self) -> Result<()> {
        self.parse_bootstrap()?;
        ensure(self.client_id.len() <= i16::MAX as usize, || {
            format!(
                "client.id is {} bytes long, more than the protocol's {}; shorten it",
                self.client_id.len(),
                i16::MAX
            )
        })?;
        positive_ms("request.timeout.ms", self.request_timeout)?;
        positive_ms("socket.connection.setup.timeout.ms", self.connect_timeout)?;
        ordered(
            "reconnect.backoff.ms",
            self.reconnect_backoff,
            "reconnect.backoff.max.ms",
            self.reconnect_backoff_max,
        )?;
        positive_ms("metadata.max.age.ms", self.metadata_max_age)?;
        // Java's own lower bound: a shorter idle time would forget busy topics between uses.
        ensure(self.metadata_max_idle >= Duration::from_secs(5), || {
            format!(
                "metadata.max.idle.ms is {} ms; it must be at least 5000",
                self.metadata_max_idle.as_millis()
            )
        })?;
        positive_int("kafkit.max.response.bytes", self.max_response_size)?;
        positive_int(
            "kafkit.max.control.response.bytes",
            self.max_control_response_size,
        )?;
        self.security.validate()
    }

    /// The bootstrap servers as `(host, port)`, brackets removed from IPv6 hosts, ready for
    /// `TcpStream::connect`. Fails on an empty list or on the first malformed entry.
    pub(crate) fn parse_bootstrap(&self) -> Result<Vec<(String, u16)>> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::config(
                "bootstrap.servers is empty; set it to host:port[,host:port...]",
            ));
        }
        self.bootstrap_servers
            .iter()
            .map(|entry| parse_host_port(entry))
            .collect()
    }
}

/// Java's list syntax: comma-separated, whitespace around entries ignored, empty entries
/// dropped (so a trailing comma is harmless).
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_host_port(entry: &str) -> Result<(String, u16)> {
    let bad = |why: &str| {
        Error::config(format!(
            "bootstrap.servers: {entry:?} {why}; write host:port, with IPv6 hosts in brackets \
             as [::1]:9092"
        ))
    };
    // Java tolerates a `PLAINTEXT://` prefix; accepting `SSL://` the same way would silently
    // drop the security the user asked for, so no scheme is accepted.
    if entry.contains("://") {
        return Err(bad("has a scheme prefix"));
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("has no closing ']'"))?;
        let port = after.strip_prefix(':').ok_or_else(|| bad("has no port"))?;
        (host, port)
    } else {
        let (host, port) = entry.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
        if host.contains(':') {
            return Err(bad("looks like an IPv6 address without brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("has an empty host"));
    }
    if host.contains(char::is_whitespace) || host.contains('/') {
        return Err(bad("has a host that is not a host name or address"));
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 => Ok((host.to_string(), port)),
        _ => Err(bad("has a port that is not a number in 1..=65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bootstrap(list: &str) -> Result<Vec<(String, u16)>> {
        ClientConfig::new(list).parse_bootstrap()
    }

    #[test]
    fn defaults_match_java() {
        let c = ClientConfig::new("localhost:9092");
        assert_eq!(c.client_id, "kafkit");
        assert_eq!(c.request_timeout, Duration::from_millis(30_000));
        assert_eq!(c.connect_timeout, Duration::from_millis(10_000));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(1000));
        assert_eq!(c.metadata_max_age, Duration::from_millis(300_000));
        assert!(c.allow_auto_create_topics);
        c.validate().unwrap();
    }

    #[test]
    fn bootstrap_entries_parse() {
        assert_eq!(
            bootstrap(" a:1 , b.example.com:9092,,[::1]:9093,10.0.0.1:65535,").unwrap(),
            [
                ("a".to_string(), 1),
                ("b.example.com".to_string(), 9092),
                ("::1".to_string(), 9093),
                ("10.0.0.1".to_string(), 65535),
            ]
        );
    }

    #[test]
    fn bad_bootstrap_entries_are_named() {
        for (list, why) in [
            ("", "is empty"),
            (" , ", "is empty"),
            ("localhost", "no port"),
            (":9092", "empty host"),
            ("[]:9092", "empty host"),
            ("host:", "1..=65535"),
            ("host:0", "1..=65535"),
            ("host:65536", "1..=65535"),
            ("host:port", "1..=65535"),
            ("::1:9092", "without brackets"),
            ("[::1:9092", "closing"),
            ("[::1]9092", "no port"),
            ("good:1,bad host:2", "not a host"),
            ("PLAINTEXT://host:9092", "scheme"),
            ("a/b:1", "not a host"),
        ] {
            let text = bootstrap(list).unwrap_err().to_string();
            assert!(text.contains(why), "{list:?}: {text}");
            assert!(text.contains("bootstrap.servers"), "{list:?}: {text}");
        }
    }

    #[test]
    fn properties_set_every_key() {
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", "k1:9092,k2:9092"),
            ("client.id", "app"),
            ("request.timeout.ms", "1000"),
            ("socket.connection.setup.timeout.ms", "2000"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "20"),
            ("metadata.max.age.ms", "30000"),
            ("metadata.max.idle.ms", "60000"),
            ("kafkit.max.response.bytes", "1048576"),
            ("kafkit.max.control.response.bytes", "65536"),
            ("allow.auto.create.topics", "false"),
        ])
        .unwrap();
        assert_eq!(c.bootstrap_servers, ["k1:9092", "k2:9092"]);
        assert_eq!(c.client_id, "app");
        assert_eq!(c.request_timeout, Duration::from_secs(1));
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(10));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(20));
        assert_eq!(c.metadata_max_age, Duration::from_secs(30));
        assert_eq!(c.metadata_max_idle, Duration::from_secs(60));
        assert_eq!(c.max_response_size, 1 << 20);
        assert_eq!(c.max_control_response_size, 1 << 16);
        assert!(!c.allow_auto_create_topics);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = ClientConfig::from_properties([("bootstrap.server", "a:1")]).unwrap_err();
        assert!(err.to_string().contains("\"bootstrap.server\""), "{err}");
        let err = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("request.timeout.ms", "30s"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("request.timeout.ms: \"30s\""),
            "{err}"
        );
    }

    #[test]
    fn inconsistent_values_are_rejected() {
        let mut c = ClientConfig::new("a:1");
        c.reconnect_backoff = Duration::from_secs(2);
        let text = c.validate().unwrap_err().to_string();
        assert!(text.contains("raise reconnect.backoff.max.ms"), "{text}");

        let mut c = ClientConfig::new("a:1");
        c.request_timeout = Duration::ZERO;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("request.timeout.ms is 0"));

        let mut c = ClientConfig::new("a:1");
        c.max_response_size = 0;
        assert!(c.validate().is_err());
        let mut c = ClientConfig::new("a:1");
        c.metadata_max_idle = Duration::from_secs(4);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("metadata.max.idle.ms is 4000 ms; it must be at least 5000"));

        let mut c = ClientConfig::new("a:1");
        c.max_control_response_size = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("kafkit.max.control.response.bytes is 0"));
    }
}
