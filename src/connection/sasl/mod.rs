//! SASL authentication, a step after ApiVersions: SaslHandshake v1 names the mechanism, then
//! SaslAuthenticate requests carry the mechanism's messages through the connection's usual
//! request path. Each mechanism is a small [`Exchange`] in its own file.
//!
//! When the broker limits the session (`connections.max.reauth.ms`, KIP-368), the connection
//! re-authenticates before the session ends, on the same socket: requests already written
//! are answered as usual, new ones wait for the few round trips it takes.

#[cfg(feature = "aws-msk-iam")]
mod aws_credentials;
#[cfg(feature = "aws-msk-iam")]
mod aws_http;
#[cfg(feature = "aws-msk-iam")]
mod msk_iam;
mod oauthbearer;
mod plain;
mod scram;
#[cfg(feature = "aws-msk-iam")]
mod sigv4;

use super::{Gate, Inner};
use crate::config::{OAuthBearerTokenProvider, SaslConfig, SaslMechanism, Secret};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::versions::api_name;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// One SASL conversation, from the client's side.
trait Exchange: Send {
    /// The client's first message.
    fn first(&mut self) -> Result<Vec<u8>, String>;
    /// The client's answer to the server's message, or `None` when the exchange is complete.
    fn next(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// When the credentials used expire, if they do: the session must be renewed before.
    fn valid_until(&self) -> Option<std::time::SystemTime> {
        None
    }
}

/// A SASL mechanism with its credentials, resolved once from the config.
#[derive(Clone)]
pub(crate) enum SaslSettings {
    Plain {
        user: String,
        password: Secret,
    },
    ScramSha256 {
        user: String,
        password: Secret,
    },
    ScramSha512 {
        user: String,
        password: Secret,
    },
    OAuthBearer(Arc<dyn OAuthBearerTokenProvider>),
    #[cfg(feature = "aws-msk-iam")]
    MskIam(Arc<msk_iam::MskIam>),
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mechanism())
    }
}

impl SaslSettings {
    /// The mechanism and its credentials, from a validated config.
    pub(crate) fn from_config(sasl: &SaslConfig) -> Result<Self> {
        let credentials = || sasl.credentials();
        Ok(match sasl.mechanism {
            Some(SaslMechanism::Plain) => {
                let (user, password) = credentials()?;
                Self::Plain { user, password }
            }
            Some(SaslMechanism::ScramSha256) => {
                let (user, password) = credentials()?;
                Self::ScramSha256 { user, password }
            }
            Some(SaslMechanism::ScramSha512) => {
                let (user, password) = credentials()?;
                Self::ScramSha512 { user, password }
            }
            #[cfg(feature = "aws-msk-iam")]
            Some(SaslMechanism::AwsMskIam) => {
                Self::MskIam(Arc::new(msk_iam::MskIam::from_config(sasl)))
            }
            #[cfg(feature = "aws-msk-iam")]
            Some(SaslMechanism::OAuthBearer) if sasl.msk_iam.oauthbearer => {
                Self::OAuthBearer(Arc::new(msk_iam::MskIamTokens::new(
                    msk_iam::MskIam::from_config(sasl),
                )?))
            }
            Some(SaslMechanism::OAuthBearer) => match &sasl.token_provider {
                Some(provider) => Self::OAuthBearer(provider.0.clone()),
                None => Self::OAuthBearer(Arc::new(oauthbearer::UnsecuredTokens(
                    sasl.unsecured_login()?,
                ))),
            },
            other => {
                return Err(Error::config(format!(
                    "sasl.mechanism={} is not available in this build",
                    other.map_or("(unset)", SaslMechanism::name)
                )))
            }
        })
    }

    fn mechanism(&self) -> &'static str {
        match self {
            Self::Plain { .. } => SaslMechanism::Plain.name(),
            Self::ScramSha256 { .. } => SaslMechanism::ScramSha256.name(),
            Self::ScramSha512 { .. } => SaslMechanism::ScramSha512.name(),
            Self::OAuthBearer(_) => SaslMechanism::OAuthBearer.name(),
            #[cfg(feature = "aws-msk-iam")]
            Self::MskIam(_) => SaslMechanism::AwsMskIam.name(),
        }
    }

    /// A fresh exchange with the broker at `host`; token and credential providers are asked
    /// here, once per authentication.
    async fn exchange(&self, host: &str) -> Result<Box<dyn Exchange>, String> {
        let _ = host;
        Ok(match self {
            Self::Plain { user, password } => Box::new(plain::Plain {
                user: user.clone(),
                password: password.clone(),
            }),
            Self::ScramSha256 { user, password } => Box::new(scram::Scram::<sha2::Sha256>::new(
                user,
                password.clone(),
                scram::nonce(),
            )),
            Self::ScramSha512 { user, password } => Box::new(scram::Scram::<sha2::Sha512>::new(
                user,
                password.clone(),
                scram::nonce(),
            )),
            Self::OAuthBearer(provider) => {
                let token = provider
                    .token()
                    .await
                    .map_err(|e| format!("the token provider failed: {e}"))?;
                Box::new(oauthbearer::OAuthBearer::new(token)?)
            }
            #[cfg(feature = "aws-msk-iam")]
            Self::MskIam(iam) => iam.exchange(host).await?,
        })
    }
}

/// Authenticates the connection. Returns the session lifetime the broker granted, if it
/// limits sessions.
pub(super) async fn authenticate(inner: &Inner, sasl: &SaslSettings) -> Result<Option<Duration>> {
    let mechanism = sasl.mechanism();
    let broker = &inner.shared.addr;
    let failed = |reason: String| Error::Authentication {
        broker: broker.clone(),
        mechanism,
        reason,
    };
    let timeout = inner.params.request_timeout;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let version = inner.version(ApiKey::SaslHandshake)?;
    let response = inner
        .send_at(&handshake, version, timeout, true, Gate::Pass)
        .await?;
    match ErrorCode(response.error_code) {
        ErrorCode::NONE => {}
        ErrorCode::UNSUPPORTED_SASL_MECHANISM => {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(failed(format!(
                "the broker does not enable {mechanism}; it offers {}: set sasl.mechanism to \
                 one of those",
                if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(", ")
                }
            )));
        }
        ErrorCode::ILLEGAL_SASL_STATE => {
            return Err(failed(
                "the listener does not expect SASL: it is probably PLAINTEXT or SSL; check the \
                 port and security.protocol"
                    .to_string(),
            ))
        }
        code => {
            return Err(failed(format!(
                "{} answered {code}",
                api_name(ApiKey::SaslHandshake as i16)
            )))
        }
    }
    let mut exchange = sasl
        .exchange(super::transport::host_of(broker))
        .await
        .map_err(failed)?;
    let mut message = exchange.first().map_err(failed)?;
    let version = inner.version(ApiKey::SaslAuthenticate)?;
    loop {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(message.into());
        let response = inner
            .send_at(&request, version, timeout, true, Gate::Pass)
            .await?;
        if response.error_code != 0 {
            let code = ErrorCode(response.error_code);
            return Err(failed(match response.error_message {
                Some(m) if !m.is_empty() => format!("{code}: {}", m.as_str()),
                _ => code.to_string(),
            }));
        }
        match exchange.next(&response.auth_bytes).map_err(failed)? {
            Some(next) => message = next,
            None => {
                let lifetime = u64::try_from(response.session_lifetime_ms).unwrap_or(0);
                tracing::debug!(%broker, mechanism, session_lifetime_ms = lifetime, "authenticated");
                if lifetime == 0 {
                    // The broker does not re-authenticate (connections.max.reauth.ms=0).
                    return Ok(None);
                }
                let mut lifetime = Duration::from_millis(lifetime);
                // Credentials that expire sooner than the session end it sooner.
                if let Some(until) = exchange.valid_until() {
                    let left = until
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default();
                    lifetime = lifetime.min(left.max(Duration::from_secs(1)));
                }
                return Ok(Some(lifetime));
            }
        }
    }
}

/// A SASL connection's re-authentication state.
pub(super) struct Reauth {
    /// Ordinary requests take a read pass to be written; a re-authentication takes the write
    /// side, so its requests go out alone.
    gate: tokio::sync::RwLock<()>,
    settings: SaslSettings,
}

impl Reauth {
    pub(super) fn new(settings: SaslSettings) -> Self {
        Self {
            gate: tokio::sync::RwLock::new(()),
            settings,
        }
    }

    pub(super) async fn pass(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }
}

/// When to re-authenticate: at 85 to 95% of the session, as the Java client does, so the
/// connections of many clients do not all do it at once; but at least [`REAUTH_MARGIN`]
/// before the end (for sessions longer than twice that), and never before half of it.
fn reauth_delay(lifetime: Duration) -> Duration {
    let spread = lifetime.mul_f64(rand::random_range(0.85..0.95));
    spread
        .min(lifetime.saturating_sub(REAUTH_MARGIN))
        .max(lifetime / 2)
}

/// How long before the session's end a re-authentication must start. The broker reads the
/// SaslHandshake only after answering the requests before it, a Fetch among them may wait
/// `fetch.max.wait.ms` (500 ms by default), and a handshake it reads after the session
/// expired closes the connection (KIP-368).
const REAUTH_MARGIN: Duration = Duration::from_secs(2);

/// Re-authenticates the connection before each session ends, for as long as it lives. A
/// failed re-authentication closes the connection; the next connect reports why.
pub(super) fn keep_authenticated(inner: Weak<Inner>, lifetime: Duration) {
    tokio::spawn(async move {
        let mut lifetime = lifetime;
        loop {
            // No strong reference while waiting: dropping the last handle ends the task.
            tokio::time::sleep(reauth_delay(lifetime)).await;
            let Some(inner) = inner.upgrade() else { return };
            if inner.shared.is_poisoned() {
                return;
            }
            let Some(reauth) = &inner.reauth else { return };
            let result = {
                let _alone = reauth.gate.write().await;
                authenticate(&inner, &reauth.settings).await
            };
            match result {
                Ok(Some(next)) => lifetime = next,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(broker = %inner.shared.addr, error = %e, "re-authentication failed");
                    // A connection error, not the authentication error itself: requests in
                    // flight may have been applied, and their callers must know that.
                    inner.shared.poison(Error::connection(
                        &inner.shared.addr,
                        format!("closed after re-authentication failed: {e}"),
                    ));
                    return;
                }
            }
        }
    });
}

pub(crate) use scram::{
    MAX_ITERATIONS as SCRAM_MAX_ITERATIONS, MIN_ITERATIONS as SCRAM_MIN_ITERATIONS,
};

/// The salted password a broker stores for a SCRAM user (`None` for a mechanism that is not
/// SCRAM), computed by the code that logs in with it, so the two cannot disagree.
pub(crate) fn scram_salted_password(
    mechanism: SaslMechanism,
    password: &Secret,
    salt: &[u8],
    iterations: u32,
) -> Option<Vec<u8>> {
    let password = password.expose().as_bytes();
    match mechanism {
        SaslMechanism::ScramSha256 => Some(scram::salted_password::<sha2::Sha256>(
            password, salt, iterations,
        )),
        SaslMechanism::ScramSha512 => Some(scram::salted_password::<sha2::Sha512>(
            password, salt, iterations,
        )),
        _ => None,
    }
}

/// The server's side of a SCRAM-SHA-256 exchange, for scripted brokers in tests: the proof
/// the client must send and the signature the server answers with.
#[cfg(test)]
pub(super) fn scram_server_view(
    password: &str,
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> (String, String) {
    scram::server_view::<sha2::Sha256>(password, salt, iterations, auth_message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauthentication_comes_before_the_session_ends() {
        for _ in 0..100 {
            let d = reauth_delay(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(85) && d < Duration::from_secs(95),
                "{d:?}"
            );
        }
    }
}
