//! AWS MSK IAM: the `AWS_MSK_IAM` SASL mechanism (a SigV4-presigned `kafka-cluster:Connect`
//! request, sent as JSON), and the same signature as an OAUTHBEARER token, as AWS's signer
//! library issues it.

use super::aws_credentials::{real_env, DefaultChain};
use super::sigv4::{presign, query_string, Presign, EMPTY_PAYLOAD};
use super::Exchange;
use crate::config::{
    json_string, AwsCredentials, BoxFuture, MskIamConfig, OAuthBearerToken,
    OAuthBearerTokenProvider, SaslConfig, Secret,
};
use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::Arc;
use std::time::SystemTime;

/// The payload format MSK's brokers accept.
const VERSION: &str = "2020_10_22";
const SERVICE: &str = "kafka-cluster";
const ACTION: &str = "kafka-cluster:Connect";
/// How long a signature stays valid, as AWS's libraries sign it.
const EXPIRES_SECS: u64 = 900;
const USER_AGENT: &str = concat!("kafkit/", env!("CARGO_PKG_VERSION"));

/// Where credentials and the region come from.
pub(crate) struct MskIam {
    region: Option<String>,
    source: Source,
}

enum Source {
    Provider(Arc<dyn crate::config::AwsCredentialsProvider>),
    Chain(DefaultChain),
}

impl MskIam {
    pub(crate) fn from_config(sasl: &SaslConfig) -> Self {
        let config: &MskIamConfig = &sasl.msk_iam;
        let env = real_env();
        Self {
            region: config
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION")),
            source: match &config.credentials_provider {
                Some(provider) => Source::Provider(provider.0.clone()),
                None => Source::Chain(DefaultChain::new(env, sasl.msk_iam_profile())),
            },
        }
    }

    async fn credentials(&self) -> Result<AwsCredentials, String> {
        match &self.source {
            Source::Provider(p) => p
                .credentials()
                .await
                .map_err(|e| format!("the AWS credentials provider failed: {e}")),
            Source::Chain(chain) => chain.credentials().await,
        }
    }

    /// The region for `host`: its own (`...kafka.<region>.amazonaws.com`) when it names one,
    /// else the configured one.
    fn region_for(&self, host: &str) -> Result<String, String> {
        region_of_host(host)
            .map(str::to_string)
            .or_else(|| self.region.clone())
            .ok_or_else(|| {
                format!(
                    "no AWS region for {host}: it is not an MSK host name; set AWS_REGION or \
                     config.security.sasl.msk_iam.region"
                )
            })
    }

    /// A fresh `AWS_MSK_IAM` exchange for the broker at `host`.
    pub(super) async fn exchange(&self, host: &str) -> Result<Box<dyn Exchange>, String> {
        let region = self.region_for(host)?;
        let credentials = self.credentials().await?;
        let payload = signed_payload(host, &region, &credentials, SystemTime::now(), USER_AGENT);
        Ok(Box::new(Payload {
            message: Some(payload.into_bytes()),
            valid_until: credentials.expires_at,
        }))
    }
}

/// The region label of an AWS host name (`...<region>.amazonaws.com[.cn]`).
fn region_of_host(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.split('.').collect();
    let i = labels.iter().position(|l| *l == "amazonaws")?;
    let region = *labels.get(i.checked_sub(1)?)?;
    (region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then_some(region)
}

/// The JSON the broker verifies: the presigned request's query parameters and host, lower
/// case, with the payload version and a user agent.
pub(super) fn signed_payload(
    host: &str,
    region: &str,
    credentials: &AwsCredentials,
    time: SystemTime,
    user_agent: &str,
) -> String {
    payload_expiring(host, region, credentials, time, user_agent, EXPIRES_SECS)
}

/// [`signed_payload`] with another validity (AWS's library computes 899 s when its clock
/// crosses a second between taking the expiry and signing).
fn payload_expiring(
    host: &str,
    region: &str,
    credentials: &AwsCredentials,
    time: SystemTime,
    user_agent: &str,
    expires_secs: u64,
) -> String {
    let query = presign(
        &Presign {
            host,
            path: "/",
            query: &[("Action", ACTION)],
            region,
            service: SERVICE,
            expires_secs,
            payload_hash: EMPTY_PAYLOAD,
            time,
        },
        credentials,
    );
    let mut members = vec![
        ("version".to_string(), VERSION.to_string()),
        ("host".to_string(), host.to_string()),
        ("user-agent".to_string(), user_agent.to_string()),
    ];
    members.extend(query.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)));
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// One message out; any answer (the broker's `{"version":..,"request-id":..}`) ends it.
struct Payload {
    message: Option<Vec<u8>>,
    valid_until: Option<SystemTime>,
}

impl Exchange for Payload {
    fn first(&mut self) -> Result<Vec<u8>, String> {
        self.message
            .take()
            .ok_or_else(|| "payload already sent".to_string())
    }

    fn next(&mut self, _server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }

    fn valid_until(&self) -> Option<SystemTime> {
        self.valid_until
    }
}

/// MSK IAM over OAUTHBEARER: the token is the presigned URL of
/// `https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect`, with a user agent,
/// base64url without padding.
pub(crate) struct MskIamTokens(pub MskIam);

impl MskIamTokens {
    /// Checks there is a region to sign for: the token does not depend on the broker.
    pub(crate) fn new(iam: MskIam) -> Result<Self> {
        if iam.region.is_none() {
            return Err(Error::config(
                "MSK IAM over OAUTHBEARER needs an AWS region: set AWS_REGION or \
                 config.security.sasl.msk_iam.region",
            ));
        }
        Ok(Self(iam))
    }
}

pub(super) fn oauth_token(
    region: &str,
    credentials: &AwsCredentials,
    time: SystemTime,
    user_agent: &str,
) -> String {
    let host = format!("kafka.{region}.amazonaws.com");
    let query = presign(
        &Presign {
            host: &host,
            path: "/",
            query: &[("Action", ACTION)],
            region,
            service: SERVICE,
            expires_secs: EXPIRES_SECS,
            payload_hash: EMPTY_PAYLOAD,
            time,
        },
        credentials,
    );
    let url = format!(
        "https://{host}/?{}&{}",
        query_string(&query),
        query_string(&[("User-Agent".to_string(), user_agent.to_string())])
    );
    URL_SAFE_NO_PAD.encode(url)
}

impl OAuthBearerTokenProvider for MskIamTokens {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
        Box::pin(async move {
            let region = self.0.region.clone().unwrap_or_default();
            let credentials = self.0.credentials().await.map_err(Error::config)?;
            Ok(OAuthBearerToken {
                value: Secret::new(oauth_token(
                    &region,
                    &credentials,
                    SystemTime::now(),
                    USER_AGENT,
                )),
                extensions: Vec::new(),
            })
        })
    }
}

#[cfg(test)]
mod java_check;
#[cfg(test)]
mod tests;
