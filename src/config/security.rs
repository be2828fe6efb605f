//! Security settings: `security.protocol`, TLS (`ssl.*`) and SASL (`sasl.*`), with the Java
//! client's keys, and librdkafka's where Java has none (`sasl.username`, `sasl.password`,
//! `ssl.certificate.location`, `ssl.key.location`), so configs move over from either;
//! librdkafka's other names (`ssl.ca.location`, `sasl.mechanisms`, ...) reach this module
//! as their Java keys, translated by `librdkafka.rs`.
//!
//! This module only checks the settings; the connection layer loads certificates and runs
//! the handshakes.

#[cfg(feature = "aws-msk-iam")]
mod aws;
mod jaas;
mod oauth;
mod shared;

use std::path::PathBuf;

use super::properties::{bad_value, ensure, parse_optional};
use super::secret::Secret;
use crate::error::{Error, Result};

#[cfg(feature = "aws-msk-iam")]
pub use aws::{AwsCredentials, AwsCredentialsProvider, MskIamConfig, SharedAwsCredentialsProvider};
pub use jaas::JaasConfig;
#[cfg(feature = "aws-msk-iam")]
pub(crate) use jaas::MSK_IAM_MODULE;
pub(crate) use jaas::{OAUTHBEARER_MODULE, PLAIN_MODULE, SCRAM_MODULE};
pub(crate) use oauth::{check_extension, json_string, UnsecuredLogin};
pub use oauth::{BoxFuture, OAuthBearerToken, OAuthBearerTokenProvider, SharedTokenProvider};
pub use shared::Shared;

/// `security.protocol`: how connections to brokers are secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: no TLS, no authentication. The default.
    #[default]
    Plaintext,
    /// `SSL`: TLS, optionally with a client certificate (mTLS). Needs the `tls` feature.
    Ssl,
    /// `SASL_PLAINTEXT`: SASL authentication without TLS.
    SaslPlaintext,
    /// `SASL_SSL`: SASL authentication over TLS. Needs the `tls` feature.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// The Java name, such as `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

/// `sasl.mechanism`: how a SASL connection authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN`: user name and password, in the clear (use it over TLS).
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677): the password never crosses the wire.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628): a bearer token from a [`OAuthBearerTokenProvider`].
    OAuthBearer,
    /// `AWS_MSK_IAM`: Amazon MSK's IAM access control, with SigV4-signed AWS credentials.
    /// Needs the `aws-msk-iam` feature.
    AwsMskIam,
}

impl SaslMechanism {
    /// The name the broker knows it by, such as `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OAuthBearer => "OAUTHBEARER",
            Self::AwsMskIam => "AWS_MSK_IAM",
        }
    }

    fn parse(key: &str, value: &str) -> Result<Self> {
        let v = value.trim();
        Ok(match v.to_ascii_uppercase().as_str() {
            "PLAIN" => Self::Plain,
            "SCRAM-SHA-256" => Self::ScramSha256,
            "SCRAM-SHA-512" => Self::ScramSha512,
            "OAUTHBEARER" => Self::OAuthBearer,
            "AWS_MSK_IAM" => Self::AwsMskIam,
            "GSSAPI" => {
                return Err(Error::config(format!(
                    "{key}=GSSAPI (Kerberos) is not implemented by kafkit; use PLAIN, \
                     SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM"
                )))
            }
            _ => {
                return Err(bad_value(
                    key,
                    value,
                    "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM",
                ))
            }
        })
    }
}

/// TLS settings (`ssl.*`), used when `security.protocol` is `SSL` or `SASL_SSL`.
///
/// Certificates and keys are PEM, from files or inline. The client certificate (mTLS) comes
/// from one of: `ssl.keystore.location` (one PEM file with the key and the chain),
/// `ssl.certificate.location` + `ssl.key.location`, or `ssl.keystore.certificate.chain` +
/// `ssl.keystore.key`. JKS and PKCS#12 keystores are refused: convert them to PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `ssl.truststore.location` with `ssl.truststore.type=PEM` (librdkafka:
    /// `ssl.ca.location`): a PEM file of the CA certificates to trust. When neither this nor
    /// `ca_pem` is set, the Mozilla root certificates are trusted.
    pub ca_location: Option<PathBuf>,
    /// `ssl.truststore.certificates` (librdkafka: `ssl.ca.pem`): the same, inline.
    pub ca_pem: Option<String>,
    /// `ssl.keystore.location` with `ssl.keystore.type=PEM`: one PEM file with the client's
    /// private key and certificate chain.
    pub keystore_location: Option<PathBuf>,
    /// `ssl.certificate.location` (librdkafka): the client certificate chain, a PEM file.
    pub certificate_location: Option<PathBuf>,
    /// `ssl.key.location` (librdkafka): the client's private key, a PEM file.
    pub key_location: Option<PathBuf>,
    /// `ssl.keystore.certificate.chain` (librdkafka: `ssl.certificate.pem`): the client
    /// certificate chain, inline PEM.
    pub certificate_chain: Option<String>,
    /// `ssl.keystore.key` (librdkafka: `ssl.key.pem`): the client's private key, inline PEM.
    pub key: Option<Secret>,
    /// `ssl.endpoint.identification.algorithm`: `https` (the default, `true` here) checks
    /// that the broker's certificate names the host dialled; empty (`false`) skips that
    /// check. **Disabling it lets anyone with a certificate from your CA impersonate a
    /// broker**; do it only for a CA that signs broker certificates alone.
    pub endpoint_identification: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_location: None,
            ca_pem: None,
            keystore_location: None,
            certificate_location: None,
            key_location: None,
            certificate_chain: None,
            key: None,
            endpoint_identification: true,
        }
    }
}

impl TlsConfig {
    fn is_customised(&self) -> bool {
        *self != Self::default()
    }

    fn validate(&self) -> Result<()> {
        ensure(self.ca_location.is_none() || self.ca_pem.is_none(), || {
            "both ssl.truststore.location and ssl.truststore.certificates are set; keep one"
                .to_string()
        })?;
        let chains = [
            self.keystore_location.is_some(),
            self.certificate_location.is_some(),
            self.certificate_chain.is_some(),
        ];
        let keys = [
            self.keystore_location.is_some(),
            self.key_location.is_some(),
            self.key.is_some(),
        ];
        let count = |xs: [bool; 3]| xs.iter().filter(|x| **x).count();
        ensure(count(chains) <= 1 && count(keys) <= 1, || {
            "the client certificate is set more than one way; use one of ssl.keystore.location, \
             ssl.certificate.location with ssl.key.location, or ssl.keystore.certificate.chain \
             with ssl.keystore.key"
                .to_string()
        })?;
        ensure(count(chains) == count(keys), || {
            "a client certificate needs both its chain and its private key \
             (ssl.certificate.location with ssl.key.location, or \
             ssl.keystore.certificate.chain with ssl.keystore.key)"
                .to_string()
        })
    }
}

/// SASL settings (`sasl.*`), used when `security.protocol` is `SASL_PLAINTEXT` or
/// `SASL_SSL`.
///
/// User name and password come from `sasl.username`/`sasl.password` (librdkafka's keys) or
/// from `sasl.jaas.config` (Java's), not both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaslConfig {
    /// `sasl.mechanism` (librdkafka: `sasl.mechanisms`). Required with SASL; Java's default,
    /// GSSAPI, is not implemented.
    pub mechanism: Option<SaslMechanism>,
    /// `sasl.username` (librdkafka), for PLAIN and SCRAM.
    pub username: Option<String>,
    /// `sasl.password` (librdkafka), for PLAIN and SCRAM.
    pub password: Option<Secret>,
    /// `sasl.jaas.config`: Java's login-module line. `PlainLoginModule` and
    /// `ScramLoginModule` take `username` and `password`; `OAuthBearerLoginModule` takes the
    /// `unsecuredLogin*` options of Kafka's unsecured tokens.
    pub jaas_config: Option<JaasConfig>,
    /// For OAUTHBEARER: where tokens come from (code only, no property). Without it, the
    /// unsecured login of `sasl.jaas.config` is used.
    pub token_provider: Option<SharedTokenProvider>,
    /// For AWS_MSK_IAM, and MSK IAM tokens over OAUTHBEARER (feature `aws-msk-iam`).
    #[cfg(feature = "aws-msk-iam")]
    pub msk_iam: MskIamConfig,
}

impl SaslConfig {
    /// The user name and password for PLAIN and SCRAM.
    pub(crate) fn credentials(&self) -> Result<(String, Secret)> {
        let mechanism = self.mechanism.map_or("SASL", SaslMechanism::name);
        let module = match self.mechanism {
            Some(SaslMechanism::Plain) => PLAIN_MODULE,
            _ => SCRAM_MODULE,
        };
        if let Some(jaas) = &self.jaas_config {
            ensure(self.username.is_none() && self.password.is_none(), || {
                "both sasl.jaas.config and sasl.username/sasl.password are set; keep one"
                    .to_string()
            })?;
            ensure(jaas.login_module == module, || {
                format!(
                    "sasl.mechanism={mechanism} needs {module} in sasl.jaas.config, not {}",
                    jaas.login_module
                )
            })?;
            let known: &[&str] = if module == SCRAM_MODULE {
                &["username", "password", "tokenauth"]
            } else {
                &["username", "password"]
            };
            jaas.only_options(known, &[])?;
            ensure(
                jaas.option("tokenauth").is_none_or(|t| t == "false"),
                || {
                    "sasl.jaas.config: tokenauth=true (delegation tokens) is not implemented by \
                 kafkit"
                        .to_string()
                },
            )?;
            return match (jaas.option("username"), jaas.option("password")) {
                (Some(user), Some(password)) => Ok((user.to_string(), Secret::new(password))),
                _ => Err(Error::config(format!(
                    "sasl.jaas.config for {mechanism} needs username=\"...\" and \
                     password=\"...\""
                ))),
            };
        }
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => Ok((user.clone(), password.clone())),
            _ => Err(Error::config(format!(
                "sasl.mechanism={mechanism} needs a user name and password: set sasl.username \
                 and sasl.password, or sasl.jaas.config"
            ))),
        }
    }

    /// The unsecured OAUTHBEARER login of `sasl.jaas.config`, when no provider is set.
    pub(crate) fn unsecured_login(&self) -> Result<UnsecuredLogin> {
        match &self.jaas_config {
            Some(jaas) if jaas.login_module == OAUTHBEARER_MODULE => {
                UnsecuredLogin::from_jaas(jaas)
            }
            Some(jaas) => Err(Error::config(format!(
                "sasl.mechanism=OAUTHBEARER needs {OAUTHBEARER_MODULE} in sasl.jaas.config, \
                 not {}",
                jaas.login_module
            ))),
            None => Err(Error::config(
                "sasl.mechanism=OAUTHBEARER needs a token provider \
                 (config.security.sasl.token_provider) or Kafka's unsecured login in \
                 sasl.jaas.config",
            )),
        }
    }

    fn validate(&self, protocol: SecurityProtocol) -> Result<()> {
        let Some(mechanism) = self.mechanism else {
            ensure(!protocol.uses_sasl(), || {
                format!(
                    "security.protocol={} needs sasl.mechanism (PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM)",
                    protocol.name()
                )
            })?;
            return ensure(*self == Self::default(), || {
                "sasl settings are set but security.protocol is not SASL_PLAINTEXT or \
                 SASL_SSL; set it, or remove them"
                    .to_string()
            });
        };
        ensure(protocol.uses_sasl(), || {
            format!(
                "sasl.mechanism={} is set but security.protocol is {}; set \
                 security.protocol=SASL_SSL (or SASL_PLAINTEXT)",
                mechanism.name(),
                protocol.name()
            )
        })?;
        let unused = |what: &str| {
            Error::config(format!(
                "{what} is set but sasl.mechanism={} does not use it; remove it",
                mechanism.name()
            ))
        };
        match mechanism {
            SaslMechanism::Plain | SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                if self.token_provider.is_some() {
                    return Err(unused("token_provider"));
                }
                self.credentials().map(drop)
            }
            SaslMechanism::OAuthBearer => {
                if self.username.is_some() || self.password.is_some() {
                    return Err(unused("sasl.username/sasl.password"));
                }
                #[cfg(feature = "aws-msk-iam")]
                if self.msk_iam.oauthbearer {
                    ensure(self.token_provider.is_none(), || {
                        "both a token provider and IAMOAuthBearerLoginCallbackHandler are set; \
                         keep one"
                            .to_string()
                    })?;
                    return self.msk_iam_jaas();
                }
                match (&self.token_provider, &self.jaas_config) {
                    (Some(_), Some(_)) => Err(Error::config(
                        "both a token provider and sasl.jaas.config are set for OAUTHBEARER; \
                         keep one",
                    )),
                    (Some(_), None) => Ok(()),
                    (None, _) => self.unsecured_login().map(drop),
                }
            }
            #[cfg(feature = "aws-msk-iam")]
            SaslMechanism::AwsMskIam => {
                if self.username.is_some() || self.password.is_some() {
                    return Err(unused("sasl.username/sasl.password"));
                }
                if self.token_provider.is_some() {
                    return Err(unused("token_provider"));
                }
                self.msk_iam_jaas()
            }
            #[cfg(not(feature = "aws-msk-iam"))]
            SaslMechanism::AwsMskIam => Err(Error::config(
                "sasl.mechanism=AWS_MSK_IAM needs kafkit built with the `aws-msk-iam` cargo \
                 feature",
            )),
        }
    }

    /// The `IAMLoginModule` options kafkit honours (`awsProfileName`); an absent
    /// `sasl.jaas.config` is fine.
    #[cfg(feature = "aws-msk-iam")]
    fn msk_iam_jaas(&self) -> Result<()> {
        let Some(jaas) = &self.jaas_config else {
            return Ok(());
        };
        ensure(jaas.login_module == MSK_IAM_MODULE, || {
            format!(
                "MSK IAM needs {MSK_IAM_MODULE} in sasl.jaas.config, not {}",
                jaas.login_module
            )
        })?;
        for refused in ["awsRoleArn", "awsRoleSessionName", "awsStsRegion"] {
            ensure(jaas.option(refused).is_none(), || {
                format!(
                    "sasl.jaas.config: {refused} (assuming a role through STS) is not \
                     implemented by kafkit; assume the role outside (a profile with \
                     credentials, or a credentials provider in code)"
                )
            })?;
        }
        ensure(
            jaas.option("awsDebugCreds").is_none_or(|v| v == "false"),
            || "sasl.jaas.config: awsDebugCreds=true is not implemented by kafkit".to_string(),
        )?;
        jaas.only_options(
            &[
                "awsProfileName",
                "awsDebugCreds",
                "awsMaxRetries",
                "awsMaxBackOffTimeMs",
            ],
            &[],
        )?;
        ensure(
            jaas.option("awsMaxRetries").is_none() && jaas.option("awsMaxBackOffTimeMs").is_none(),
            || {
                "sasl.jaas.config: awsMaxRetries/awsMaxBackOffTimeMs are not implemented by \
                 kafkit: a failed credential fetch fails the connection attempt, which the \
                 reconnect backoff retries"
                    .to_string()
            },
        )
    }

    /// The profile for MSK IAM: the config's, else `awsProfileName` in `sasl.jaas.config`.
    #[cfg(feature = "aws-msk-iam")]
    pub(crate) fn msk_iam_profile(&self) -> Option<String> {
        self.msk_iam.profile.clone().or_else(|| {
            self.jaas_config
                .as_ref()
                .and_then(|j| j.option("awsProfileName"))
                .map(str::to_string)
        })
    }
}

/// How connections are secured: `security.protocol`, TLS and SASL settings. Part of
/// [`ClientConfig`](super::ClientConfig) as its `security` field.
///
/// ```
/// # use kafkit::{SaslMechanism, SecurityProtocol};
/// let config = kafkit::ClientConfig::from_properties([
///     ("bootstrap.servers", "broker:9096"),
///     ("security.protocol", "SASL_PLAINTEXT"),
///     ("sasl.mechanism", "SCRAM-SHA-512"),
///     ("sasl.username", "alice"),
///     ("sasl.password", "alice-secret"),
/// ])
/// .unwrap();
/// assert_eq!(config.security.protocol, SecurityProtocol::SaslPlaintext);
/// assert!(!format!("{config:?}").contains("alice-secret"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// `security.protocol`: `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: SecurityProtocol,
    /// TLS settings, for `SSL` and `SASL_SSL`.
    pub tls: TlsConfig,
    /// SASL settings, for `SASL_PLAINTEXT` and `SASL_SSL`.
    pub sasl: SaslConfig,
}

/// Settings kafkit knows but does not implement, and what to do instead.
const REFUSED: &[(&str, &str)] = &[
    (
        "ssl.keystore.password",
        "kafkit reads PEM keystores, which have no store password; convert a JKS or PKCS#12 \
         keystore to PEM (keytool -importkeystore -deststoretype PKCS12, then openssl pkcs12 \
         -nodes) and drop this setting",
    ),
    (
        "ssl.truststore.password",
        "kafkit reads PEM truststores, which have no password; convert the truststore to PEM \
         (keytool -exportcert -rfc) and drop this setting",
    ),
    (
        "ssl.key.password",
        "kafkit reads unencrypted PEM private keys only; decrypt the key (openssl pkcs8 \
         -topk8 -nocrypt) and drop this setting",
    ),
    (
        "sasl.oauthbearer.token.endpoint.url",
        "kafkit does not implement the OIDC client-credentials flow; fetch tokens in your \
         code and set config.security.sasl.token_provider",
    ),
    (
        "sasl.login.callback.handler.class",
        "kafkit cannot load Java classes; for OAUTHBEARER set \
         config.security.sasl.token_provider",
    ),
    (
        "sasl.client.callback.handler.class",
        "kafkit cannot load Java classes",
    ),
];

impl SecurityConfig {
    /// Applies one property; `Ok(false)` when `key` is not a security key.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        if !cfg!(feature = "tls") && Self::tls_key(key) {
            return Err(Error::config(format!(
                "{key} needs kafkit built with the `tls` cargo feature"
            )));
        }
        let path = |value: &str| parse_optional(value).map(PathBuf::from);
        match key {
            "security.protocol" => self.protocol = parse_protocol(key, value)?,
            "sasl.mechanism" => self.sasl.mechanism = Some(SaslMechanism::parse(key, value)?),
            "sasl.username" => self.sasl.username = Some(value.to_string()),
            "sasl.password" => self.sasl.password = Some(Secret::new(value)),
            "sasl.jaas.config" => self.sasl.jaas_config = Some(JaasConfig::parse(value)?),
            "ssl.truststore.location" => self.tls.ca_location = path(value),
            "ssl.truststore.certificates" => self.tls.ca_pem = parse_optional(value),
            "ssl.keystore.location" => self.tls.keystore_location = path(value),
            "ssl.certificate.location" => self.tls.certificate_location = path(value),
            "ssl.key.location" => self.tls.key_location = path(value),
            "ssl.keystore.certificate.chain" => self.tls.certificate_chain = parse_optional(value),
            "ssl.keystore.key" => self.tls.key = parse_optional(value).map(Secret::new),
            "ssl.endpoint.identification.algorithm" => {
                self.tls.endpoint_identification = match value.trim() {
                    "" => false,
                    v if v.eq_ignore_ascii_case("https") => true,
                    _ => return Err(bad_value(key, value, "https, or empty to disable it")),
                }
            }
            "ssl.truststore.type" | "ssl.keystore.type" => {
                if !value.trim().eq_ignore_ascii_case("PEM") {
                    return Err(Error::config(format!(
                        "{key}={}: kafkit reads PEM only; convert the store to PEM (keytool \
                         -importkeystore -deststoretype PKCS12, then openssl pkcs12 -nodes) \
                         and set {key}=PEM",
                        value.trim()
                    )));
                }
            }
            #[cfg(feature = "aws-msk-iam")]
            "sasl.client.callback.handler.class"
                if value.trim() == "software.amazon.msk.auth.iam.IAMClientCallbackHandler" =>
            {
                // What AWS_MSK_IAM does anyway; accepted so Java configs work unchanged.
            }
            #[cfg(feature = "aws-msk-iam")]
            "sasl.login.callback.handler.class"
                if value.trim()
                    == "software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler" =>
            {
                self.sasl.msk_iam.oauthbearer = true
            }
            _ => {
                if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == key) {
                    // An empty value is how Java spells "unset"; anything else would be
                    // ignored, so it is refused.
                    if value.trim().is_empty() {
                        return Ok(true);
                    }
                    return Err(Error::config(format!("{key} is not supported: {why}")));
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `key` is a TLS setting this module knows (accepts, or refuses by name).
    fn tls_key(key: &str) -> bool {
        matches!(
            key,
            "ssl.truststore.location"
                | "ssl.truststore.certificates"
                | "ssl.keystore.location"
                | "ssl.certificate.location"
                | "ssl.key.location"
                | "ssl.keystore.certificate.chain"
                | "ssl.keystore.key"
                | "ssl.endpoint.identification.algorithm"
                | "ssl.truststore.type"
                | "ssl.keystore.type"
        ) || REFUSED
            .iter()
            .any(|(k, _)| *k == key && k.starts_with("ssl."))
    }

    /// Checks the settings and that they fit together.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.protocol.uses_tls() && !cfg!(feature = "tls") {
            return Err(Error::config(format!(
                "security.protocol={} needs kafkit built with the `tls` cargo feature",
                self.protocol.name()
            )));
        }
        ensure(
            self.protocol.uses_tls() || !self.tls.is_customised(),
            || {
                format!(
                    "ssl settings are set but security.protocol is {}; set it to SSL or SASL_SSL, \
                 or remove them",
                    self.protocol.name()
                )
            },
        )?;
        self.tls.validate()?;
        self.sasl.validate(self.protocol)
    }
}

fn parse_protocol(key: &str, value: &str) -> Result<SecurityProtocol> {
    let protocol = match value.trim().to_ascii_uppercase().as_str() {
        "PLAINTEXT" => SecurityProtocol::Plaintext,
        "SSL" => SecurityProtocol::Ssl,
        "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
        "SASL_SSL" => SecurityProtocol::SaslSsl,
        _ => {
            return Err(bad_value(
                key,
                value,
                "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            ))
        }
    };
    if protocol.uses_tls() && !cfg!(feature = "tls") {
        return Err(Error::config(format!(
            "security.protocol={} needs kafkit built with the `tls` cargo feature",
            protocol.name()
        )));
    }
    Ok(protocol)
}

#[cfg(test)]
mod tests;
