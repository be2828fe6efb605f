//! SASL/OAUTHBEARER: the token-provider trait, and the unsecured tokens of Kafka's default
//! login handler (for tests and development clusters).

use super::super::secret::Secret;
use super::jaas::JaasConfig;
use super::shared::Shared;
use crate::error::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, as the provider traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An OAuth 2 bearer token, and the SASL extensions sent with it (KIP-342).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthBearerToken {
    /// The token (a JWT, usually), sent as `auth=Bearer <token>`.
    pub value: Secret,
    /// SASL extensions as `(key, value)`: keys are letters only, values printable ASCII.
    pub extensions: Vec<(String, String)>,
}

/// Where SASL/OAUTHBEARER tokens come from: your identity provider's client, a cache, a
/// sidecar. kafkit asks for a token on every (re-)authentication, so a provider that caches
/// should hand out a token with enough lifetime left.
///
/// ```
/// use kafkit::{BoxFuture, OAuthBearerToken, OAuthBearerTokenProvider, Result, Secret};
///
/// struct Fixed(&'static str);
/// impl OAuthBearerTokenProvider for Fixed {
///     fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
///         Box::pin(async move {
///             Ok(OAuthBearerToken { value: Secret::new(self.0), extensions: Vec::new() })
///         })
///     }
/// }
/// let mut config = kafkit::ClientConfig::new("broker:9093");
/// config.security.sasl.token_provider = Some(kafkit::SharedTokenProvider::new(Fixed("t")));
/// ```
pub trait OAuthBearerTokenProvider: Send + Sync + 'static {
    /// A current token. An error fails the authentication with [`Error::Authentication`].
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>>;
}

/// A shared [`OAuthBearerTokenProvider`], as a config holds it.
pub type SharedTokenProvider = Shared<dyn OAuthBearerTokenProvider>;

impl SharedTokenProvider {
    /// Wraps a provider.
    pub fn new(provider: impl OAuthBearerTokenProvider) -> Self {
        Shared(Arc::new(provider))
    }
}

/// The options of Kafka's unsecured OAUTHBEARER login (`OAuthBearerLoginModule` with
/// `unsecuredLogin*` options): tokens signed with `alg: none`, which only a broker using the
/// unsecured validator accepts. For tests and development.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnsecuredLogin {
    /// Claims as `(name, JSON value)`.
    pub claims: Vec<(String, String)>,
    pub principal_claim: String,
    pub lifetime: Duration,
    pub extensions: Vec<(String, String)>,
}

const STRING_CLAIM: &str = "unsecuredLoginStringClaim_";
const NUMBER_CLAIM: &str = "unsecuredLoginNumberClaim_";
const LIST_CLAIM: &str = "unsecuredLoginListClaim_";
const EXTENSION: &str = "unsecuredLoginExtension_";

impl UnsecuredLogin {
    /// Reads the options of an `OAuthBearerLoginModule` line; each must be one kafkit honours.
    pub(crate) fn from_jaas(jaas: &JaasConfig) -> Result<Self> {
        jaas.only_options(
            &[
                "unsecuredLoginPrincipalClaimName",
                "unsecuredLoginLifetimeSeconds",
            ],
            &[STRING_CLAIM, NUMBER_CLAIM, LIST_CLAIM, EXTENSION],
        )?;
        let mut login = Self {
            claims: Vec::new(),
            principal_claim: jaas
                .option("unsecuredLoginPrincipalClaimName")
                .unwrap_or("sub")
                .to_string(),
            lifetime: Duration::from_secs(3600),
            extensions: Vec::new(),
        };
        if let Some(secs) = jaas.option("unsecuredLoginLifetimeSeconds") {
            let secs: u64 = secs.trim().parse().map_err(|_| {
                Error::config(format!(
                    "sasl.jaas.config: unsecuredLoginLifetimeSeconds {secs:?} is not a whole \
                     number of seconds"
                ))
            })?;
            login.lifetime = Duration::from_secs(secs);
        }
        for (key, value) in &jaas.options {
            let value = value.expose();
            if let Some(name) = key.strip_prefix(STRING_CLAIM) {
                login.claims.push((name.to_string(), json_string(value)));
            } else if let Some(name) = key.strip_prefix(NUMBER_CLAIM) {
                let number: f64 = value.trim().parse().map_err(|_| {
                    Error::config(format!("sasl.jaas.config: {key} {value:?} is not a number"))
                })?;
                login.claims.push((name.to_string(), number.to_string()));
            } else if let Some(name) = key.strip_prefix(LIST_CLAIM) {
                // Java's form: the first character is the separator, ",a,b" is [a, b].
                let mut chars = value.chars();
                let items = match chars.next() {
                    Some(sep) => chars
                        .as_str()
                        .split(sep)
                        .filter(|s| !s.is_empty())
                        .map(json_string)
                        .collect::<Vec<_>>(),
                    None => Vec::new(),
                };
                login
                    .claims
                    .push((name.to_string(), format!("[{}]", items.join(","))));
            } else if let Some(name) = key.strip_prefix(EXTENSION) {
                check_extension(name, value)?;
                login.extensions.push((name.to_string(), value.to_string()));
            }
        }
        if !login
            .claims
            .iter()
            .any(|(k, _)| *k == login.principal_claim)
        {
            return Err(Error::config(format!(
                "sasl.jaas.config: the unsecured OAUTHBEARER login needs the principal claim; \
                 add unsecuredLoginStringClaim_{}=\"<principal>\"",
                login.principal_claim
            )));
        }
        for reserved in ["iat", "exp"] {
            if login.claims.iter().any(|(k, _)| k == reserved) {
                return Err(Error::config(format!(
                    "sasl.jaas.config: the {reserved} claim is set from \
                     unsecuredLoginLifetimeSeconds; remove it"
                )));
            }
        }
        Ok(login)
    }
}

/// KIP-342's rules: keys are letters, not `auth`; values printable ASCII (no 0x01).
pub(crate) fn check_extension(key: &str, value: &str) -> Result<()> {
    let key_ok = !key.is_empty() && key != "auth" && key.bytes().all(|b| b.is_ascii_alphabetic());
    let value_ok = value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) || b == b' ' || b == b'\t' || b == b'\r' || b == b'\n');
    if key_ok && value_ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "OAUTHBEARER extension {key:?}: keys must be letters only and not \"auth\", values \
             printable ASCII"
        )))
    }
}

/// `value` as a JSON string literal.
pub(crate) fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(options: &str) -> Result<UnsecuredLogin> {
        UnsecuredLogin::from_jaas(&JaasConfig::parse(&format!(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             {options};"
        ))?)
    }

    #[test]
    fn unsecured_options_become_claims_and_extensions() {
        let l = login(
            "unsecuredLoginStringClaim_sub=\"al\\\"ice\" unsecuredLoginNumberClaim_n=\"5\" \
             unsecuredLoginListClaim_scope=\",a,b\" unsecuredLoginExtension_traceId=\"x1\" \
             unsecuredLoginLifetimeSeconds=\"60\"",
        )
        .unwrap();
        assert_eq!(
            l.claims,
            [
                ("sub".to_string(), "\"al\\\"ice\"".to_string()),
                ("n".to_string(), "5".to_string()),
                ("scope".to_string(), "[\"a\",\"b\"]".to_string()),
            ]
        );
        assert_eq!(l.extensions, [("traceId".to_string(), "x1".to_string())]);
        assert_eq!(l.lifetime, Duration::from_secs(60));
        assert_eq!(l.principal_claim, "sub");
    }

    #[test]
    fn bad_unsecured_options_are_named() {
        for (options, why) in [
            ("", "principal claim"),
            (
                "unsecuredLoginStringClaim_sub=a unsecuredLoginStringClaim_exp=1",
                "exp claim",
            ),
            (
                "unsecuredLoginStringClaim_sub=a unsecuredLoginExtension_auth=x",
                "\"auth\"",
            ),
            (
                "unsecuredLoginStringClaim_sub=a unsecuredLoginExtension_a1=x",
                "letters",
            ),
            (
                "unsecuredLoginStringClaim_sub=a unsecuredLoginLifetimeSeconds=x",
                "seconds",
            ),
            ("unsecuredLoginStringClaim_sub=a clientId=x", "\"clientId\""),
        ] {
            let err = login(options).unwrap_err().to_string();
            assert!(err.contains(why), "{options}: {err}");
        }
    }
}
