//! Admin client settings (Java's `AdminClientConfig`).

use std::path::Path;
use std::time::Duration;

use super::properties::{apply, ensure, ms, parse_ms, positive_ms};
use super::sources::Properties;
use super::ClientConfig;
use crate::error::{Error, Result};

/// Java's default `default.api.timeout.ms`.
const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);

/// Client-level keys Java's admin client does not have: `from_properties` refuses them, as
/// the admin client would not use them.
const NOT_ADMIN: [(&str, &str); 2] = [
    (
        "allow.auto.create.topics",
        "a consumer setting; the admin client creates topics only with create_topics",
    ),
    (
        "metadata.max.idle.ms",
        "a producer setting; the admin client follows no topics",
    ),
];

/// The admin client's settings, with Java's defaults: the connection settings, and how long
/// each call may take.
///
/// A [`ClientConfig`] converts into one with the defaults, so `Admin::new(client_config)`
/// works as it is.
///
/// ```
/// # use std::time::Duration;
/// let mut config = kafkit::AdminConfig::new("localhost:9092");
/// config.default_api_timeout = Some(Duration::from_secs(120));
/// config.validate().unwrap();
/// // Below request.timeout.ms (30 s by default): refused, as Java does.
/// config.default_api_timeout = Some(Duration::from_secs(10));
/// assert!(config.validate().is_err());
///
/// let config = kafkit::AdminConfig::from_properties([
///     ("bootstrap.servers", "localhost:9092"),
///     ("request.timeout.ms", "5000"),
///     ("default.api.timeout.ms", "10000"),
/// ])
/// .unwrap();
/// assert_eq!(config.api_timeout(), Duration::from_secs(10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Connection settings; `request.timeout.ms` bounds each request of a call.
    pub client: ClientConfig,
    /// `default.api.timeout.ms`: how long each admin call may take in all, coordinator
    /// lookups, retries and the requests in flight included; a call still unfinished then
    /// fails with [`Error::ApiTimeout`]. Must be at least `request.timeout.ms` (Java
    /// refuses a smaller value that was set). Unset, Java's default of 60 s, raised to
    /// `request.timeout.ms` when that is longer (as Java does, with a warning).
    pub default_api_timeout: Option<Duration>,
}

impl From<ClientConfig> for AdminConfig {
    /// `client`, with the admin settings at their defaults.
    fn from(client: ClientConfig) -> Self {
        Self {
            client,
            default_api_timeout: None,
        }
    }
}

impl Default for AdminConfig {
    /// Java's defaults, with an empty (so invalid) bootstrap list.
    fn default() -> Self {
        ClientConfig::default().into()
    }
}

impl AdminConfig {
    /// Defaults, with `bootstrap` as `bootstrap.servers` (comma-separated).
    pub fn new(bootstrap: impl AsRef<str>) -> Self {
        ClientConfig::new(bootstrap).into()
    }

    /// A config from Java admin client properties, client-level keys included, validated.
    /// Unknown keys, keys of the producer or consumer only, and malformed values are errors
    /// naming the key. librdkafka's names for client-level keys are taken too, as by
    /// [`ClientConfig::from_properties`].
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::default();
        apply(properties, "admin", |key, value| {
            if let Some((_, why)) = NOT_ADMIN.iter().find(|(k, _)| *k == key) {
                return Err(Error::config(format!(
                    "{key} is not an admin client setting ({why}); remove it"
                )));
            }
            Ok(config.set(key, value)? || config.client.set(key, value)?)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// A config from a Java `.properties` file of admin settings ([`Properties::from_file`]),
    /// as [`from_properties`](Self::from_properties) takes them. To layer sources (file <
    /// environment < code), see [`Properties`].
    ///
    /// ```no_run
    /// let config = kafkit::AdminConfig::from_properties_file("admin.properties")?;
    /// # Ok::<(), kafkit::Error>(())
    /// ```
    pub fn from_properties_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_properties(&Properties::from_file(path)?)
    }

    /// A config from `KAFKA_`-prefixed environment variables ([`Properties::from_env`]:
    /// `KAFKA_BOOTSTRAP_SERVERS` is `bootstrap.servers`), as
    /// [`from_properties`](Self::from_properties) takes them. Every such variable must be an
    /// admin setting; give each client its own prefix with
    /// [`Properties::from_env_with_prefix`] when several share a process.
    pub fn from_env() -> Result<Self> {
        Self::from_properties(&Properties::from_env()?)
    }

    /// Applies one admin-level property; `Ok(false)` when `key` is not one.
    fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        match key {
            "default.api.timeout.ms" => self.default_api_timeout = Some(parse_ms(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The time each call may take: `default.api.timeout.ms`, or its default (60 s, or
    /// `request.timeout.ms` if longer).
    pub fn api_timeout(&self) -> Duration {
        self.default_api_timeout
            .unwrap_or_else(|| DEFAULT_API_TIMEOUT.max(self.client.request_timeout))
    }

    /// Checks every setting, and that they fit together.
    pub fn validate(&self) -> Result<()> {
        self.client.validate()?;
        if let Some(timeout) = self.default_api_timeout {
            positive_ms("default.api.timeout.ms", timeout)?;
            // Java's KafkaAdminClient refuses this too: a call could not wait for one
            // request's answer.
            ensure(timeout >= self.client.request_timeout, || {
                format!(
                    "default.api.timeout.ms ({}) must be no smaller than request.timeout.ms \
                     ({}); raise default.api.timeout.ms or lower request.timeout.ms",
                    ms(timeout),
                    ms(self.client.request_timeout)
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Result<AdminConfig> {
        let mut all = vec![("bootstrap.servers", "localhost:9092")];
        all.extend_from_slice(extra);
        AdminConfig::from_properties(all)
    }

    fn err(extra: &[(&str, &str)]) -> String {
        props(extra).unwrap_err().to_string()
    }

    #[test]
    fn defaults_match_java() {
        let c = AdminConfig::new("localhost:9092");
        assert_eq!(c.default_api_timeout, None);
        assert_eq!(c.api_timeout(), Duration::from_secs(60));
        assert_eq!(c.client, ClientConfig::new("localhost:9092"));
        c.validate().unwrap();
        assert_eq!(AdminConfig::from(ClientConfig::new("localhost:9092")), c);
    }

    #[test]
    fn properties_set_admin_and_client_keys() {
        let c = props(&[
            ("client.id", "ops"),
            ("request.timeout.ms", "5000"),
            ("default.api.timeout.ms", " 15000 "),
        ])
        .unwrap();
        assert_eq!(c.client.client_id, "ops");
        assert_eq!(c.client.request_timeout, Duration::from_secs(5));
        assert_eq!(c.default_api_timeout, Some(Duration::from_secs(15)));
        assert_eq!(c.api_timeout(), Duration::from_secs(15));
    }

    #[test]
    fn api_timeout_against_request_timeout_as_java() {
        // Unset: the default is raised to a longer request timeout.
        let c = props(&[("request.timeout.ms", "90000")]).unwrap();
        assert_eq!(c.api_timeout(), Duration::from_secs(90));
        // Set below it: refused, naming both.
        let text = err(&[
            ("request.timeout.ms", "30000"),
            ("default.api.timeout.ms", "10000"),
        ]);
        assert!(
            text.contains(
                "default.api.timeout.ms (10000 ms) must be no smaller than request.timeout.ms \
                 (30000 ms)"
            ),
            "{text}"
        );
        // Equal is fine.
        let c = props(&[
            ("request.timeout.ms", "10000"),
            ("default.api.timeout.ms", "10000"),
        ])
        .unwrap();
        assert_eq!(c.api_timeout(), Duration::from_secs(10));
        let text = err(&[("default.api.timeout.ms", "0")]);
        assert!(text.contains("default.api.timeout.ms is 0"), "{text}");
        let mut c = AdminConfig::new("a:1");
        c.default_api_timeout = Some(Duration::from_millis(u64::from(u32::MAX)));
        assert!(c.validate().unwrap_err().to_string().contains("maximum"));
    }

    #[test]
    fn unknown_and_other_clients_keys_are_refused() {
        let text = err(&[("default.api.timeout", "1000")]);
        assert!(
            text.contains("unknown admin setting \"default.api.timeout\""),
            "{text}"
        );
        assert!(err(&[("linger.ms", "5")]).contains("\"linger.ms\""));
        assert!(err(&[("group.id", "g")]).contains("\"group.id\""));
        let text = err(&[("allow.auto.create.topics", "false")]);
        assert!(
            text.contains("allow.auto.create.topics is not an admin client setting"),
            "{text}"
        );
        assert!(err(&[("metadata.max.idle.ms", "1000")]).contains("producer setting"));
        assert!(err(&[("default.api.timeout.ms", "-1")]).contains("default.api.timeout.ms: \"-1\""));
        // Client-level checks still apply.
        assert!(err(&[("request.timeout.ms", "0")]).contains("request.timeout.ms is 0"));
    }
}
