//! AWS MSK IAM settings (feature `aws-msk-iam`): where AWS credentials come from and which
//! region signs them.

use super::super::secret::Secret;
use super::oauth::BoxFuture;
use super::shared::Shared;
use crate::error::Result;
use std::sync::Arc;
use std::time::SystemTime;

/// AWS credentials: an access key, its secret, and for temporary credentials a session
/// token and an expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
    /// When temporary credentials expire; kafkit re-authenticates before then.
    pub expires_at: Option<SystemTime>,
}

/// A source of AWS credentials of your own (a vault, STS in your code). Called on every
/// (re-)authentication; cache inside if fetching is expensive.
pub trait AwsCredentialsProvider: Send + Sync + 'static {
    /// Current credentials; an error fails the authentication.
    fn credentials(&self) -> BoxFuture<'_, Result<AwsCredentials>>;
}

/// A shared [`AwsCredentialsProvider`], as a config holds it.
pub type SharedAwsCredentialsProvider = Shared<dyn AwsCredentialsProvider>;

impl SharedAwsCredentialsProvider {
    /// Wraps a provider.
    pub fn new(provider: impl AwsCredentialsProvider) -> Self {
        Shared(Arc::new(provider))
    }
}

/// How `AWS_MSK_IAM` (and MSK's IAM tokens over OAUTHBEARER) authenticate.
///
/// Credentials come from `credentials_provider` when set, else from the default chain: the
/// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the
/// shared files (`~/.aws/credentials`, `~/.aws/config`; profile from `profile`,
/// `AWS_PROFILE`, or `default`), the container credentials endpoint (ECS, EKS pod
/// identity), then EC2 instance metadata (IMDSv2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MskIamConfig {
    /// The region to sign for. Default: taken from the broker's host name
    /// (`b-1.c.x.c2.kafka.<region>.amazonaws.com`), else `AWS_REGION` or
    /// `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// The shared-file profile, `awsProfileName` in `sasl.jaas.config`. Default
    /// `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// Credentials of your own, instead of the default chain.
    pub credentials_provider: Option<SharedAwsCredentialsProvider>,
    /// With `sasl.mechanism=OAUTHBEARER`: send MSK IAM tokens, signed as AWS's signer library
    /// issues them. Set by `sasl.login.callback.handler.class=
    /// software.amazon.msk.auth.iam.IAMOAuthBearerLoginCallbackHandler`.
    pub oauthbearer: bool,
}
