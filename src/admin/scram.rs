//! SCRAM users (Java `Admin`'s `describeUserScramCredentials`,
//! `alterUserScramCredentials`).
//!
//! ```text
//! describe_user_scram_credentials  DescribeUserScramCredentials to any broker
//!                                  → per user, its mechanisms and iteration counts
//! alter_user_scram_credentials     salt and salted password computed here (PBKDF2 with
//!                                  HMAC, by the code kafkit's SCRAM login uses), then
//!                                  AlterUserScramCredentials to any broker → per user
//! ```
//!
//! The password never leaves the client: the broker stores the salted password, from which
//! it checks a login's proof. A KRaft broker forwards the change to the controller; each
//! broker accepts the new credential a moment after the call returns, as with Java's client.

use super::{check, Admin, Answer};
use crate::config::{SaslMechanism, Secret};
use crate::connection::{scram_salted_password, SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS};
use crate::error::{Error, Result};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// A SCRAM mechanism (Java's `ScramMechanism`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScramMechanism {
    /// A mechanism this client does not know (only read, never sent).
    Unknown,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl ScramMechanism {
    fn wire(self) -> i8 {
        match self {
            ScramMechanism::Unknown => 0,
            ScramMechanism::ScramSha256 => 1,
            ScramMechanism::ScramSha512 => 2,
        }
    }

    fn from_wire(code: i8) -> Self {
        match code {
            1 => ScramMechanism::ScramSha256,
            2 => ScramMechanism::ScramSha512,
            _ => ScramMechanism::Unknown,
        }
    }

    /// The SASL mechanism's name, as `sasl.mechanism` spells it (Java's `mechanismName`).
    pub fn mechanism_name(self) -> &'static str {
        match self.sasl() {
            Some(sasl) => sasl.name(),
            None => "UNKNOWN",
        }
    }

    fn sasl(self) -> Option<SaslMechanism> {
        match self {
            ScramMechanism::ScramSha256 => Some(SaslMechanism::ScramSha256),
            ScramMechanism::ScramSha512 => Some(SaslMechanism::ScramSha512),
            ScramMechanism::Unknown => None,
        }
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mechanism_name())
    }
}

/// A mechanism and its iteration count (Java's `ScramCredentialInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2's iteration count: Kafka accepts 4096 to 16384.
    pub iterations: i32,
}

impl ScramCredentialInfo {
    /// `mechanism` with `iterations`.
    pub fn new(mechanism: ScramMechanism, iterations: i32) -> Self {
        Self {
            mechanism,
            iterations,
        }
    }
}

/// A user's SCRAM credentials as the broker describes them (Java's
/// `UserScramCredentialsDescription`): never the salt or the salted password.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserScramCredentialsDescription {
    /// The user name.
    pub name: String,
    /// One per mechanism the user has a credential for.
    pub credential_infos: Vec<ScramCredentialInfo>,
}

/// Sets a user's credential for one mechanism, creating the user if need be (Java's
/// `UserScramCredentialUpsertion`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserScramCredentialUpsertion {
    /// The user name.
    pub user: String,
    /// The mechanism and iteration count.
    pub credential_info: ScramCredentialInfo,
    /// The password (printed `[redacted]`): only its salted form is sent.
    pub password: Secret,
    /// The salt; `None`: 32 random bytes from a cryptographic generator, drawn per call
    /// (Java draws its own likewise).
    pub salt: Option<Vec<u8>>,
}

impl UserScramCredentialUpsertion {
    /// `user`'s `credential_info.mechanism` credential, from `password`, with a random salt.
    pub fn new(
        user: impl Into<String>,
        credential_info: ScramCredentialInfo,
        password: impl Into<Secret>,
    ) -> Self {
        Self {
            user: user.into(),
            credential_info,
            password: password.into(),
            salt: None,
        }
    }

    /// Uses `salt` instead of a random one.
    pub fn with_salt(mut self, salt: impl Into<Vec<u8>>) -> Self {
        self.salt = Some(salt.into());
        self
    }

    /// What goes on the wire: the salted password computed here, or why it cannot be.
    fn wire(&self) -> Result<ScramCredentialUpsertion> {
        let ScramCredentialInfo {
            mechanism,
            iterations,
        } = self.credential_info;
        let refuse = |why: String| {
            Err(Error::InvalidArgument(format!(
                "SCRAM credential of user {:?}: {why}",
                self.user
            )))
        };
        // Checked before PBKDF2 runs: the broker refuses other counts anyway, and a huge
        // one would spin this task for minutes first.
        let rounds = match u32::try_from(iterations) {
            Ok(n) if (SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(&n) => n,
            _ => {
                return refuse(format!(
                    "{iterations} iterations, outside Kafka's \
                     {SCRAM_MIN_ITERATIONS}..={SCRAM_MAX_ITERATIONS}"
                ))
            }
        };
        if self.password.expose().is_empty() {
            // A broker cannot check a login against an empty key (Java's HMAC refuses it).
            return refuse("an empty password".to_string());
        }
        let salt = self
            .salt
            .clone()
            .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let Some(salted) = mechanism
            .sasl()
            .and_then(|sasl| scram_salted_password(sasl, &self.password, &salt, rounds))
        else {
            return refuse(format!(
                "mechanism {mechanism} is not one kafkit can salt for"
            ));
        };
        Ok(ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_string(self.user.clone()))
            .with_mechanism(mechanism.wire())
            .with_iterations(iterations)
            .with_salt(salt.into())
            .with_salted_password(salted.into()))
    }
}

/// Removes a user's credential for one mechanism (Java's `UserScramCredentialDeletion`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UserScramCredentialDeletion {
    /// The user name.
    pub user: String,
    /// The mechanism whose credential goes.
    pub mechanism: ScramMechanism,
}

impl UserScramCredentialDeletion {
    /// Removes `user`'s `mechanism` credential.
    pub fn new(user: impl Into<String>, mechanism: ScramMechanism) -> Self {
        Self {
            user: user.into(),
            mechanism,
        }
    }

    fn wire(&self) -> Result<ScramCredentialDeletion> {
        if self.mechanism == ScramMechanism::Unknown {
            return Err(Error::InvalidArgument(format!(
                "SCRAM credential of user {:?}: the mechanism is UNKNOWN",
                self.user
            )));
        }
        Ok(ScramCredentialDeletion::default()
            .with_name(StrBytes::from_string(self.user.clone()))
            .with_mechanism(self.mechanism.wire()))
    }
}

/// One change of `alter_user_scram_credentials` (Java's `UserScramCredentialAlteration`).
///
/// Creating users `carol` and `dave`, who may then log in with SCRAM-SHA-512:
///
/// ```no_run
/// use kafkit::{Admin, ClientConfig, ScramCredentialInfo, ScramMechanism};
/// use kafkit::UserScramCredentialUpsertion;
///
/// # async fn demo() -> kafkit::Result<()> {
/// let admin = Admin::new(ClientConfig::new("localhost:9092")).await?;
/// let sha512 = ScramCredentialInfo::new(ScramMechanism::ScramSha512, 8192);
/// let results = admin
///     .alter_user_scram_credentials([
///         UserScramCredentialUpsertion::new("carol", sha512, "carol-secret").into(),
///         UserScramCredentialUpsertion::new("dave", sha512, "dave-secret").into(),
///     ])
///     .await?;
/// results["carol"].clone()?; // one result per user
/// results["dave"].clone()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserScramCredentialAlteration {
    /// Set a credential.
    Upsertion(UserScramCredentialUpsertion),
    /// Remove a credential.
    Deletion(UserScramCredentialDeletion),
}

impl UserScramCredentialAlteration {
    /// The user it changes.
    pub fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsertion(u) => &u.user,
            UserScramCredentialAlteration::Deletion(d) => &d.user,
        }
    }
}

impl From<UserScramCredentialUpsertion> for UserScramCredentialAlteration {
    fn from(upsertion: UserScramCredentialUpsertion) -> Self {
        UserScramCredentialAlteration::Upsertion(upsertion)
    }
}

impl From<UserScramCredentialDeletion> for UserScramCredentialAlteration {
    fn from(deletion: UserScramCredentialDeletion) -> Self {
        UserScramCredentialAlteration::Deletion(deletion)
    }
}

/// One user's alterations as they go on the wire.
#[derive(Default)]
struct UserChanges {
    upsertions: Vec<ScramCredentialUpsertion>,
    deletions: Vec<ScramCredentialDeletion>,
}

impl Admin {
    /// Describes users' SCRAM credentials (Java's `describeUserScramCredentials`): for each
    /// user, the mechanisms it has a credential for and their iteration counts. No users
    /// given means every user that has one. Asked of any broker. A user without any
    /// credential has its own `RESOURCE_NOT_FOUND`; a refusal of the whole request
    /// (`CLUSTER_AUTHORIZATION_FAILED` without DESCRIBE on the cluster) fails the call.
    pub async fn describe_user_scram_credentials(
        &self,
        users: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<HashMap<String, Result<UserScramCredentialsDescription>>> {
        self.within("describe_user_scram_credentials", async move {
            let users: BTreeSet<String> = users.into_iter().map(Into::into).collect();
            let request = DescribeUserScramCredentialsRequest::default().with_users(
                (!users.is_empty()).then(|| {
                    users
                        .iter()
                        .map(|u| UserName::default().with_name(StrBytes::from_string(u.clone())))
                        .collect()
                }),
            );
            let (addr, response) = self
                .cluster
                .retry(self.api_timeout, || async {
                    let conn = self.cluster.any_connection().await?;
                    let response = conn.send(&request).await?;
                    check(
                        response.error_code,
                        "describing SCRAM credentials",
                        response.error_message.as_ref(),
                    )?;
                    Ok((conn.addr().to_string(), response))
                })
                .await?;
            let mut results: HashMap<String, Result<UserScramCredentialsDescription>> = response
                .results
                .iter()
                .map(|r| {
                    let name = r.user.to_string();
                    let result = check(
                        r.error_code,
                        format!("SCRAM credentials of user {name:?}"),
                        r.error_message.as_ref(),
                    )
                    .map(|()| UserScramCredentialsDescription {
                        name: name.clone(),
                        credential_infos: r
                            .credential_infos
                            .iter()
                            .map(|c| {
                                ScramCredentialInfo::new(
                                    ScramMechanism::from_wire(c.mechanism),
                                    c.iterations,
                                )
                            })
                            .collect(),
                    });
                    (name, result)
                })
                .collect();
            for user in users {
                results.entry(user).or_insert_with_key(|user| {
                    Err(Error::Protocol {
                        broker: addr.clone(),
                        reason: format!(
                            "DescribeUserScramCredentials response is missing {user:?}"
                        ),
                    })
                });
            }
            Ok(results)
        })
        .await
    }

    /// Sets and removes users' SCRAM credentials (Java's `alterUserScramCredentials`),
    /// through any broker. An upsertion's salted password is computed here (PBKDF2 with
    /// HMAC-SHA-256 or -512 over the salt, the iteration count times): the password itself
    /// is never sent. Each user has one result. A user with an alteration this client cannot
    /// send (an `Unknown` mechanism, iterations outside 4096..=16384, an empty password)
    /// fails alone with `InvalidArgument`, none of its alterations sent, as Java fails such a
    /// user; the broker refuses others per user: `DUPLICATE_RESOURCE` for a user altered
    /// twice in one call (a KRaft controller takes one alteration per user and request,
    /// whatever the mechanisms: change a user's two mechanisms in two calls),
    /// `UNACCEPTABLE_CREDENTIAL` for an empty user name, `RESOURCE_NOT_FOUND` for deleting a
    /// credential that does not exist, `CLUSTER_AUTHORIZATION_FAILED` without ALTER on the
    /// cluster.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: impl IntoIterator<Item = UserScramCredentialAlteration>,
    ) -> Result<HashMap<String, Result<()>>> {
        self.within("alter_user_scram_credentials", async move {
            let mut changes: HashMap<String, Result<UserChanges>> = HashMap::new();
            for alteration in alterations {
                let user = changes
                    .entry(alteration.user().to_string())
                    .or_insert_with(|| Ok(UserChanges::default()));
                let Ok(wire) = user else { continue };
                let added = match &alteration {
                    UserScramCredentialAlteration::Upsertion(u) => {
                        u.wire().map(|w| wire.upsertions.push(w))
                    }
                    UserScramCredentialAlteration::Deletion(d) => {
                        d.wire().map(|w| wire.deletions.push(w))
                    }
                };
                if let Err(e) = added {
                    *user = Err(e);
                }
            }
            let mut refused = HashMap::new();
            let mut valid = HashMap::new();
            for (user, change) in changes {
                match change {
                    Ok(change) => {
                        valid.insert(user, change);
                    }
                    Err(e) => {
                        refused.insert(user, Err(e));
                    }
                }
            }
            let valid = &valid;
            let mut results = self
                .per_item(valid.keys().cloned().collect(), |pending| async move {
                    let request = AlterUserScramCredentialsRequest::default()
                        .with_upsertions(
                            pending
                                .iter()
                                .flat_map(|u| valid[u].upsertions.iter().cloned())
                                .collect(),
                        )
                        .with_deletions(
                            pending
                                .iter()
                                .flat_map(|u| valid[u].deletions.iter().cloned())
                                .collect(),
                        );
                    let sent = self.send_to_any(&request).await;
                    let (addr, response) = match sent {
                        Ok(sent) => sent,
                        Err(e) => return Ok(Answer::for_all(pending, e)),
                    };
                    Ok(pending
                        .into_iter()
                        .map(|user| {
                            let result =
                                match response.results.iter().find(|r| r.user.as_str() == user) {
                                    None => Err(Error::Protocol {
                                        broker: addr.clone(),
                                        reason: format!(
                                        "AlterUserScramCredentials response is missing {user:?}"
                                    ),
                                    }),
                                    Some(r) => check(
                                        r.error_code,
                                        format!("altering SCRAM credentials of user {user:?}"),
                                        r.error_message.as_ref(),
                                    ),
                                };
                            (user, Answer::of(result))
                        })
                        .collect())
                })
                .await?;
            results.extend(refused);
            Ok(results)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsertion(mechanism: ScramMechanism, iterations: i32) -> UserScramCredentialUpsertion {
        UserScramCredentialUpsertion::new(
            "user",
            ScramCredentialInfo::new(mechanism, iterations),
            "pencil",
        )
    }

    #[test]
    fn mechanisms_have_javas_codes_and_sasl_names() {
        let rows = [
            (ScramMechanism::Unknown, 0, "UNKNOWN"),
            (ScramMechanism::ScramSha256, 1, "SCRAM-SHA-256"),
            (ScramMechanism::ScramSha512, 2, "SCRAM-SHA-512"),
        ];
        for (m, code, name) in rows {
            assert_eq!((m.wire(), m.mechanism_name()), (code, name));
            assert_eq!(ScramMechanism::from_wire(code), m);
        }
        assert_eq!(ScramMechanism::from_wire(3), ScramMechanism::Unknown);
    }

    /// RFC 7677's example: user "user", password "pencil", this salt and 4096 iterations;
    /// its ServerKey and StoredKey follow from the salted password sent here. The expected
    /// bytes are PBKDF2-HMAC-SHA-256 as Python's `hashlib.pbkdf2_hmac` computes it.
    #[test]
    fn the_salted_password_is_pbkdf2_over_the_given_salt() {
        let salt = b"\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81";
        let wire = upsertion(ScramMechanism::ScramSha256, 4096)
            .with_salt(salt.to_vec())
            .wire()
            .unwrap();
        assert_eq!(wire.name.as_str(), "user");
        assert_eq!((wire.mechanism, wire.iterations), (1, 4096));
        assert_eq!(&wire.salt[..], salt);
        assert_eq!(hex(&wire.salted_password), RFC_7677_SALTED_PASSWORD);

        let sha512 = upsertion(ScramMechanism::ScramSha512, 4096)
            .with_salt(salt.to_vec())
            .wire()
            .unwrap();
        assert_eq!(sha512.salted_password.len(), 64);
    }

    const RFC_7677_SALTED_PASSWORD: &str =
        "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn random_salts_differ_and_so_do_the_salted_passwords() {
        let a = upsertion(ScramMechanism::ScramSha512, 4096).wire().unwrap();
        let b = upsertion(ScramMechanism::ScramSha512, 4096).wire().unwrap();
        assert_eq!(a.salt.len(), 32);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.salted_password, b.salted_password);
    }

    #[test]
    fn what_cannot_be_sent_is_refused_with_the_reason_and_no_password() {
        let rows = [
            (
                upsertion(ScramMechanism::ScramSha256, 4095),
                "4095 iterations",
            ),
            (
                upsertion(ScramMechanism::ScramSha256, 16385),
                "16385 iterations",
            ),
            (upsertion(ScramMechanism::ScramSha256, -1), "-1 iterations"),
            (
                upsertion(ScramMechanism::ScramSha256, i32::MAX),
                "iterations",
            ),
            (
                upsertion(ScramMechanism::Unknown, 4096),
                "mechanism UNKNOWN",
            ),
            (
                UserScramCredentialUpsertion::new(
                    "user",
                    ScramCredentialInfo::new(ScramMechanism::ScramSha256, 4096),
                    "",
                ),
                "empty password",
            ),
        ];
        for (u, why) in rows {
            let err = u.wire().unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, Error::InvalidArgument(_)) && text.contains(why),
                "{text}"
            );
            assert!(!text.contains("pencil"), "{text}");
        }
        assert!(
            UserScramCredentialDeletion::new("user", ScramMechanism::Unknown)
                .wire()
                .is_err()
        );
        let deletion = UserScramCredentialDeletion::new("user", ScramMechanism::ScramSha512)
            .wire()
            .unwrap();
        assert_eq!((deletion.name.as_str(), deletion.mechanism), ("user", 2));
        assert!(!format!("{:?}", upsertion(ScramMechanism::ScramSha256, 4096)).contains("pencil"));
    }
}
