//! `SchemaRegistryConfig`: the Schema Registry settings, with the names Confluent's
//! serializers use, validated once.

use crate::config::Secret;
use crate::error::{Error, Result};
use crate::serdes::RecordPart;
use std::time::Duration;

/// How a serializer names the subject a schema is registered under (Confluent's
/// `key.subject.name.strategy` and `value.subject.name.strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectNameStrategy {
    /// `<topic>-key` or `<topic>-value`: one schema (and its versions) per topic and part.
    #[default]
    TopicName,
    /// The record's full name (`com.example.Reading`): one schema per record type, on any
    /// topic.
    RecordName,
    /// `<topic>-<full name>`: several record types per topic, each with its own versions.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// Reads a strategy as Confluent spells it: the Java class name
    /// (`io.confluent.kafka.serializers.subject.TopicNameStrategy`) or its last part
    /// (`TopicNameStrategy`).
    pub fn parse(name: &str) -> Result<Self> {
        let short = name.rsplit('.').next().unwrap_or(name);
        match short {
            "TopicNameStrategy" => Ok(Self::TopicName),
            "RecordNameStrategy" => Ok(Self::RecordName),
            "TopicRecordNameStrategy" => Ok(Self::TopicRecordName),
            _ => Err(Error::config(format!(
                "unknown subject name strategy {name:?}: expected TopicNameStrategy, \
                 RecordNameStrategy or TopicRecordNameStrategy"
            ))),
        }
    }

    /// The subject for a `part` of a record of `topic` whose schema's full name is
    /// `record_name` (needed by the record strategies only).
    ///
    /// ```
    /// use kafkit::serdes::registry::SubjectNameStrategy;
    /// use kafkit::RecordPart;
    /// let s = SubjectNameStrategy::TopicRecordName;
    /// assert_eq!(s.subject("orders", RecordPart::Value, Some("shop.Order")).unwrap(), "orders-shop.Order");
    /// assert_eq!(SubjectNameStrategy::TopicName.subject("orders", RecordPart::Key, None).unwrap(), "orders-key");
    /// ```
    pub fn subject(
        self,
        topic: &str,
        part: RecordPart,
        record_name: Option<&str>,
    ) -> Result<String> {
        let record = || {
            record_name.ok_or_else(|| {
                Error::serialization(format!(
                    "{self:?} names the subject after the record, and this schema is not a named \
                     record"
                ))
            })
        };
        Ok(match self {
            Self::TopicName => format!("{topic}-{part}"),
            Self::RecordName => record()?.to_string(),
            Self::TopicRecordName => format!("{topic}-{}", record()?),
        })
    }
}

/// Where a client's basic-auth credentials come from (`basic.auth.credentials.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CredentialsSource {
    UserInfo,
    Url,
}

/// Settings of a [`SchemaRegistryClient`](super::SchemaRegistryClient) and of the serializers
/// that use it, with Confluent's names:
///
/// | key | default | meaning |
/// |---|---|---|
/// | `schema.registry.url` | (required) | the registry's base URL (one; `https` needs feature `tls`) |
/// | `basic.auth.credentials.source` | `USER_INFO` | `USER_INFO` (from the next key) or `URL` (`https://user:password@host`) |
/// | `basic.auth.user.info` | none | `user:password` for HTTP basic auth |
/// | `auto.register.schemas` | `true` | a serializer registers its schema under the subject |
/// | `use.latest.version` | `false` | a serializer writes with the subject's latest schema (needs `auto.register.schemas=false`) |
/// | `key.subject.name.strategy` | `TopicNameStrategy` | see [`SubjectNameStrategy`] |
/// | `value.subject.name.strategy` | `TopicNameStrategy` | see [`SubjectNameStrategy`] |
/// | `http.connect.timeout.ms` | 60000 | the longest wait for a connection |
/// | `http.read.timeout.ms` | 60000 | the longest wait for a whole request, connection included |
///
/// Other keys are refused.
///
/// ```
/// use kafkit::serdes::registry::SchemaRegistryConfig;
/// let config = SchemaRegistryConfig::from_properties([
///     ("schema.registry.url", "http://registry:8081"),
///     ("basic.auth.user.info", "app:secret"),
///     ("value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
/// ])?;
/// assert_eq!(config.url(), "http://registry:8081");
/// assert!(SchemaRegistryConfig::from_properties([("schema.registry.url", "http://r"), ("max.schemas.per.subject", "10")]).is_err());
/// # Ok::<(), kafkit::Error>(())
/// ```
#[derive(Clone)]
pub struct SchemaRegistryConfig {
    url: String,
    credentials_source: CredentialsSource,
    user_info: Option<(String, Secret)>,
    auto_register: bool,
    use_latest: bool,
    key_strategy: SubjectNameStrategy,
    value_strategy: SubjectNameStrategy,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl std::fmt::Debug for SchemaRegistryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials in the URL are as secret as basic.auth.user.info's.
        let url = match self.url.split_once("://") {
            Some((scheme, rest)) if self.url_has_credentials() => {
                let after = rest.split_once('@').map_or("", |(_, after)| after);
                format!("{scheme}://[redacted]@{after}")
            }
            _ => self.url.clone(),
        };
        f.debug_struct("SchemaRegistryConfig")
            .field("url", &url)
            .field("credentials_source", &self.credentials_source)
            .field("user_info", &self.user_info)
            .field("auto_register", &self.auto_register)
            .field("use_latest", &self.use_latest)
            .field("key_strategy", &self.key_strategy)
            .field("value_strategy", &self.value_strategy)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl SchemaRegistryConfig {
    /// The defaults, with the registry at `url` (validated when a client is made from it).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credentials_source: CredentialsSource::UserInfo,
            user_info: None,
            auto_register: true,
            use_latest: false,
            key_strategy: SubjectNameStrategy::TopicName,
            value_strategy: SubjectNameStrategy::TopicName,
            connect_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
        }
    }

    /// A config from Confluent-named properties (see the table above), validated; unknown
    /// keys and bad values are [`Error::Config`].
    pub fn from_properties<I, K, V>(properties: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::new("");
        for (key, value) in properties {
            config.set(key.as_ref(), value.as_ref())?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets one property by its Confluent name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let value = value.trim();
        let boolean = || match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Error::config(format!(
                "{key} must be true or false, not {value:?}"
            ))),
        };
        let millis = || {
            value
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    Error::config(format!(
                        "{key} must be a positive number of milliseconds, not {value:?}"
                    ))
                })
        };
        match key {
            "schema.registry.url" => self.url = value.to_string(),
            "basic.auth.credentials.source" => {
                self.credentials_source = match value {
                    "USER_INFO" => CredentialsSource::UserInfo,
                    "URL" => CredentialsSource::Url,
                    _ => {
                        return Err(Error::config(format!(
                            "basic.auth.credentials.source {value:?} is not supported: \
                             USER_INFO or URL"
                        )))
                    }
                }
            }
            "basic.auth.user.info" => {
                let (user, password) = value
                    .split_once(':')
                    .ok_or_else(|| Error::config("basic.auth.user.info must be user:password"))?;
                self.user_info = Some((user.to_string(), Secret::new(password)));
            }
            "auto.register.schemas" => self.auto_register = boolean()?,
            "use.latest.version" => self.use_latest = boolean()?,
            "key.subject.name.strategy" => self.key_strategy = SubjectNameStrategy::parse(value)?,
            "value.subject.name.strategy" => {
                self.value_strategy = SubjectNameStrategy::parse(value)?
            }
            "http.connect.timeout.ms" => self.connect_timeout = millis()?,
            "http.read.timeout.ms" => self.request_timeout = millis()?,
            _ => {
                return Err(Error::config(format!(
                    "unknown or unsupported schema registry setting {key:?}"
                )))
            }
        }
        Ok(self)
    }

    /// Checks the settings together; [`SchemaRegistryClient::new`](super::SchemaRegistryClient::new)
    /// calls it.
    pub fn validate(&self) -> Result<()> {
        if self.url.is_empty() {
            return Err(Error::config("schema.registry.url is required"));
        }
        if self.url.contains(',') {
            return Err(Error::config(
                "schema.registry.url: kafkit takes one registry URL (put a load balancer in \
                 front of several)",
            ));
        }
        let scheme = self.url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("http") => {}
            Some("https") if cfg!(feature = "tls") => {}
            Some("https") => {
                return Err(Error::config(
                    "schema.registry.url is https: turn on kafkit's `tls` feature",
                ))
            }
            _ => {
                return Err(Error::config(format!(
                    "schema.registry.url {:?} must start with http:// or https://",
                    self.url
                )))
            }
        }
        if self.use_latest && self.auto_register {
            return Err(Error::config(
                "use.latest.version=true needs auto.register.schemas=false",
            ));
        }
        if self.credentials_source == CredentialsSource::UserInfo && self.url_has_credentials() {
            return Err(Error::config(
                "schema.registry.url holds credentials: set basic.auth.credentials.source=URL",
            ));
        }
        if self.credentials_source == CredentialsSource::Url && self.user_info.is_some() {
            return Err(Error::config(
                "basic.auth.user.info is set but basic.auth.credentials.source=URL",
            ));
        }
        Ok(())
    }

    fn url_has_credentials(&self) -> bool {
        let rest = self.url.split_once("://").map_or("", |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or("");
        authority.contains('@')
    }

    /// The registry's base URL (`schema.registry.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `auto.register.schemas`.
    pub fn auto_register_schemas(&self) -> bool {
        self.auto_register
    }

    /// `use.latest.version`.
    pub fn use_latest_version(&self) -> bool {
        self.use_latest
    }

    /// The subject name strategy for `part` (`key.subject.name.strategy` or
    /// `value.subject.name.strategy`).
    pub fn subject_name_strategy(&self, part: RecordPart) -> SubjectNameStrategy {
        match part {
            RecordPart::Key => self.key_strategy,
            RecordPart::Value => self.value_strategy,
        }
    }

    pub(super) fn user_info(&self) -> Option<(&str, &str)> {
        self.user_info
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.expose()))
    }

    pub(super) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// `http.read.timeout.ms`: the bound on one request, from connecting to the last byte.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<SchemaRegistryConfig> {
        let mut all = vec![("schema.registry.url", "http://r:8081")];
        all.extend_from_slice(pairs);
        SchemaRegistryConfig::from_properties(all)
    }

    #[test]
    fn confluent_names_are_honoured() {
        let c = config(&[
            ("auto.register.schemas", "false"),
            ("use.latest.version", "true"),
            ("key.subject.name.strategy", "RecordNameStrategy"),
            (
                "value.subject.name.strategy",
                "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            ),
            ("basic.auth.user.info", "me:p:w"),
            ("http.read.timeout.ms", "1500"),
        ])
        .unwrap();
        assert!(!c.auto_register_schemas() && c.use_latest_version());
        assert_eq!(
            c.subject_name_strategy(RecordPart::Key),
            SubjectNameStrategy::RecordName
        );
        assert_eq!(
            c.subject_name_strategy(RecordPart::Value),
            SubjectNameStrategy::TopicRecordName
        );
        assert_eq!(c.user_info(), Some(("me", "p:w")));
        assert_eq!(c.request_timeout(), Duration::from_millis(1500));
        assert!(
            !format!("{c:?}").contains("p:w"),
            "the password is redacted"
        );
    }

    #[test]
    fn settings_kafkit_cannot_honour_are_refused() {
        for (pairs, why) in [
            (
                vec![("use.latest.version", "true")],
                "auto.register.schemas=false",
            ),
            (vec![("auto.register.schemas", "yes")], "true or false"),
            (
                vec![("value.subject.name.strategy", "Mine")],
                "unknown subject name strategy",
            ),
            (
                vec![("basic.auth.credentials.source", "SASL_INHERIT")],
                "not supported",
            ),
            (
                vec![("basic.auth.user.info", "nopassword")],
                "user:password",
            ),
            (vec![("http.read.timeout.ms", "0")], "positive"),
            (
                vec![("schema.registry.url", "http://a,http://b")],
                "one registry URL",
            ),
            (vec![("schema.registry.url", "registry:8081")], "http://"),
            (
                vec![("schema.registry.url", "http://u:p@r")],
                "credentials.source=URL",
            ),
            (vec![("normalize.schemas", "true")], "unsupported"),
        ] {
            let err = config(&pairs).unwrap_err().to_string();
            assert!(err.contains(why), "{pairs:?}: {err}");
        }
        let in_url = config(&[
            ("schema.registry.url", "http://u:pw@r/x"),
            ("basic.auth.credentials.source", "URL"),
        ])
        .unwrap();
        let shown = format!("{in_url:?}");
        assert!(
            shown.contains("http://[redacted]@r/x") && !shown.contains("pw"),
            "{shown}"
        );
        let https = config(&[("schema.registry.url", "https://r")]);
        assert_eq!(https.is_ok(), cfg!(feature = "tls"), "{https:?}");
        assert!(
            SchemaRegistryConfig::from_properties([("auto.register.schemas", "true")]).is_err()
        );
    }

    #[test]
    fn subject_names_follow_each_strategy() {
        use SubjectNameStrategy::*;
        assert_eq!(
            TopicName
                .subject("t", RecordPart::Value, Some("a.R"))
                .unwrap(),
            "t-value"
        );
        assert_eq!(
            RecordName
                .subject("t", RecordPart::Key, Some("a.R"))
                .unwrap(),
            "a.R"
        );
        assert_eq!(
            TopicRecordName
                .subject("t", RecordPart::Key, Some("a.R"))
                .unwrap(),
            "t-a.R"
        );
        assert!(RecordName.subject("t", RecordPart::Key, None).is_err());
    }
}
