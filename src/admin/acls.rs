//! Access control lists (Java `Admin`'s `describeAcls`, `createAcls`, `deleteAcls`).
//!
//! ```text
//! describe_acls  DescribeAcls (one filter) to any broker         → the matching bindings
//! create_acls    CreateAcls (every binding) to any broker        → a result per binding
//! delete_acls    DeleteAcls (every filter) to any broker         → per filter, the bindings
//!                                                                  it matched, each deleted
//!                                                                  or not
//! ```
//!
//! A KRaft broker forwards creations and deletions to the controller, which commits them;
//! each broker's authorizer applies them a moment later, as with Java's client.
//!
//! The types mirror Java's `org.apache.kafka.common.acl` and `.resource` packages: an
//! [`AclBinding`] is a [`ResourcePattern`] (what) with an [`AccessControlEntry`] (who, from
//! where, may or may not do what); an [`AclBindingFilter`] matches bindings, any field left
//! open (`None`, or an `Any` variant) matching everything.

use super::{check, Admin, Answer};
use crate::error::{Error, Result};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A Java enum of the ACL API: its variants with their wire codes and Java names; a code
/// this client does not know reads as `Unknown`, as in Java.
macro_rules! acl_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $java:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            fn wire(self) -> i8 {
                match self {
                    $( $name::$variant => $code, )*
                }
            }

            fn from_wire(code: i8) -> Self {
                match code {
                    $( $code => $name::$variant, )*
                    _ => $name::Unknown,
                }
            }

            /// Java's name, as `kafka-acls` prints it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $java, )*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

acl_enum! {
    /// The kind of resource an ACL is about (Java's `ResourceType`).
    ResourceType {
        /// A type this client does not know (only read, never sent).
        Unknown = 0, "UNKNOWN";
        /// In a filter: every type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster itself (its name is `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (for delegation tokens created on another user's behalf).
        User = 7, "USER";
    }
}

acl_enum! {
    /// How a resource pattern's name matches resource names (Java's `PatternType`).
    PatternType {
        /// A type this client does not know (only read, never sent).
        Unknown = 0, "UNKNOWN";
        /// In a filter: patterns of every type.
        Any = 1, "ANY";
        /// In a filter: every pattern that applies to the filter's name: the literal name,
        /// the wildcard `*`, and every prefix of it.
        Match = 2, "MATCH";
        /// The name itself, or `*` for every resource of the type.
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with the pattern's name.
        Prefixed = 4, "PREFIXED";
    }
}

acl_enum! {
    /// What an ACL allows or denies (Java's `AclOperation`).
    AclOperation {
        /// An operation this client does not know (only read, never sent).
        Unknown = 0, "UNKNOWN";
        /// In a filter: every operation.
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read (fetch, commit offsets, describe a group).
        Read = 3, "READ";
        /// Write (produce).
        Write = 4, "WRITE";
        /// Create (topics).
        Create = 5, "CREATE";
        /// Delete (topics, records, groups).
        Delete = 6, "DELETE";
        /// Alter (partitions, ACLs).
        Alter = 7, "ALTER";
        /// Describe (metadata, offsets, ACLs).
        Describe = 8, "DESCRIBE";
        /// Inter-broker actions.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce (on the cluster).
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// Two-phase commit of transactions (KIP-939, Kafka 4.0+).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
}

acl_enum! {
    /// Whether an ACL allows or denies (Java's `AclPermissionType`). A matching deny wins
    /// over any allow.
    AclPermissionType {
        /// A type this client does not know (only read, never sent).
        Unknown = 0, "UNKNOWN";
        /// In a filter: both.
        Any = 1, "ANY";
        /// Denies the operation.
        Deny = 2, "DENY";
        /// Allows the operation.
        Allow = 3, "ALLOW";
    }
}

/// Which resources an ACL applies to (Java's `ResourcePattern`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ResourcePattern {
    /// The kind of resource; never `Any` in a binding.
    pub resource_type: ResourceType,
    /// The resource's name (`*` with [`PatternType::Literal`]: every one), or a prefix.
    pub name: String,
    /// [`PatternType::Literal`] or [`PatternType::Prefixed`] in a binding.
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    /// The resources of `resource_type` that `name` names under `pattern_type`.
    pub fn new(
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
    ) -> Self {
        Self {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    /// A filter that matches this pattern only.
    pub fn to_filter(&self) -> ResourcePatternFilter {
        ResourcePatternFilter::new(
            self.resource_type,
            Some(self.name.clone()),
            self.pattern_type,
        )
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// Who may or may not do what, from where (Java's `AccessControlEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AccessControlEntry {
    /// The principal, as `User:alice` (`User:*`: everyone).
    pub principal: String,
    /// The client host it applies from (`*`: any).
    pub host: String,
    /// The operation; never `Any` in a binding.
    pub operation: AclOperation,
    /// Allow or deny; never `Any` in a binding.
    pub permission_type: AclPermissionType,
}

impl AccessControlEntry {
    /// `permission_type` for `principal` doing `operation` from `host`.
    pub fn new(
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> Self {
        Self {
            principal: principal.into(),
            host: host.into(),
            operation,
            permission_type,
        }
    }

    /// A filter that matches this entry only.
    pub fn to_filter(&self) -> AccessControlEntryFilter {
        AccessControlEntryFilter::new(
            Some(self.principal.clone()),
            Some(self.host.clone()),
            self.operation,
            self.permission_type,
        )
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission_type
        )
    }
}

/// An ACL: a resource pattern and an entry (Java's `AclBinding`).
///
/// Allowing `User:bob` to write to topic `orders`, from any host:
///
/// ```no_run
/// use kafkit::{AccessControlEntry, AclBinding, AclOperation, AclPermissionType};
/// use kafkit::{Admin, ClientConfig, PatternType, ResourcePattern, ResourceType};
///
/// # async fn demo() -> kafkit::Result<()> {
/// let admin = Admin::new(ClientConfig::new("localhost:9092")).await?;
/// let binding = AclBinding::new(
///     ResourcePattern::new(ResourceType::Topic, "orders", PatternType::Literal),
///     AccessControlEntry::new("User:bob", "*", AclOperation::Write, AclPermissionType::Allow),
/// );
/// let results = admin.create_acls([binding.clone()]).await?;
/// results[&binding].clone()?; // this binding's own result
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AclBinding {
    /// Which resources.
    pub pattern: ResourcePattern,
    /// Who, from where, what, allowed or denied.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// `entry` on the resources of `pattern`.
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        Self { pattern, entry }
    }

    /// A filter that matches this binding only: to describe or delete exactly it.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter::new(self.pattern.to_filter(), self.entry.to_filter())
    }

    /// Why the broker could not store this binding (a field that is a filter's wildcard, or
    /// a value this client does not know): Java's `findIndefiniteField`.
    fn indefinite(&self) -> Option<String> {
        let pattern = &self.pattern;
        let entry = &self.entry;
        if matches!(
            pattern.resource_type,
            ResourceType::Any | ResourceType::Unknown
        ) {
            return Some(format!("resource type is {}", pattern.resource_type));
        }
        if !matches!(
            pattern.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Some(format!("pattern type is {}", pattern.pattern_type));
        }
        if matches!(entry.operation, AclOperation::Any | AclOperation::Unknown) {
            return Some(format!("operation is {}", entry.operation));
        }
        if matches!(
            entry.permission_type,
            AclPermissionType::Any | AclPermissionType::Unknown
        ) {
            return Some(format!("permission type is {}", entry.permission_type));
        }
        None
    }

    fn creation(&self) -> AclCreation {
        AclCreation::default()
            .with_resource_type(self.pattern.resource_type.wire())
            .with_resource_name(StrBytes::from_string(self.pattern.name.clone()))
            .with_resource_pattern_type(self.pattern.pattern_type.wire())
            .with_principal(StrBytes::from_string(self.entry.principal.clone()))
            .with_host(StrBytes::from_string(self.entry.host.clone()))
            .with_operation(self.entry.operation.wire())
            .with_permission_type(self.entry.permission_type.wire())
    }

    /// A binding from its wire fields, unknown codes read as `Unknown`.
    fn from_wire(
        (resource_type, name, pattern_type): (i8, &StrBytes, i8),
        (principal, host, operation, permission_type): (&StrBytes, &StrBytes, i8, i8),
    ) -> Self {
        AclBinding::new(
            ResourcePattern::new(
                ResourceType::from_wire(resource_type),
                name.as_str(),
                PatternType::from_wire(pattern_type),
            ),
            AccessControlEntry::new(
                principal.as_str(),
                host.as_str(),
                AclOperation::from_wire(operation),
                AclPermissionType::from_wire(permission_type),
            ),
        )
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

/// Matches resource patterns (Java's `ResourcePatternFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ResourcePatternFilter {
    /// The kind of resource, or `Any`.
    pub resource_type: ResourceType,
    /// The name (`None`: any name).
    pub name: Option<String>,
    /// `Literal`, `Prefixed`, `Any` (both), or `Match` (every pattern that applies to
    /// `name`).
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Matches every pattern.
    pub const ANY: ResourcePatternFilter = ResourcePatternFilter {
        resource_type: ResourceType::Any,
        name: None,
        pattern_type: PatternType::Any,
    };

    /// Patterns of `resource_type` with `name` (`None`: any) under `pattern_type`.
    pub fn new(
        resource_type: ResourceType,
        name: Option<String>,
        pattern_type: PatternType,
    ) -> Self {
        Self {
            resource_type,
            name,
            pattern_type,
        }
    }
}

/// Matches access control entries (Java's `AccessControlEntryFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AccessControlEntryFilter {
    /// The principal (`None`: any).
    pub principal: Option<String>,
    /// The host (`None`: any).
    pub host: Option<String>,
    /// The operation, or `Any`.
    pub operation: AclOperation,
    /// Allow, deny, or `Any`.
    pub permission_type: AclPermissionType,
}

impl AccessControlEntryFilter {
    /// Matches every entry.
    pub const ANY: AccessControlEntryFilter = AccessControlEntryFilter {
        principal: None,
        host: None,
        operation: AclOperation::Any,
        permission_type: AclPermissionType::Any,
    };

    /// Entries of `principal` from `host` (`None`: any) for `operation` with
    /// `permission_type`.
    pub fn new(
        principal: Option<String>,
        host: Option<String>,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> Self {
        Self {
            principal,
            host,
            operation,
            permission_type,
        }
    }
}

/// Matches ACL bindings (Java's `AclBindingFilter`): for `describe_acls` and `delete_acls`.
///
/// Every ACL of `User:bob`, on any resource:
///
/// ```no_run
/// use kafkit::{AccessControlEntryFilter, AclBindingFilter, AclOperation, AclPermissionType};
/// use kafkit::{Admin, ClientConfig, ResourcePatternFilter};
///
/// # async fn demo() -> kafkit::Result<()> {
/// let admin = Admin::new(ClientConfig::new("localhost:9092")).await?;
/// let bobs = AclBindingFilter::new(
///     ResourcePatternFilter::ANY,
///     AccessControlEntryFilter::new(
///         Some("User:bob".into()),
///         None,
///         AclOperation::Any,
///         AclPermissionType::Any,
///     ),
/// );
/// for binding in admin.describe_acls(bobs).await? {
///     println!("{binding}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct AclBindingFilter {
    /// Which patterns.
    pub pattern_filter: ResourcePatternFilter,
    /// Which entries.
    pub entry_filter: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Matches every binding.
    pub const ANY: AclBindingFilter = AclBindingFilter {
        pattern_filter: ResourcePatternFilter::ANY,
        entry_filter: AccessControlEntryFilter::ANY,
    };

    /// Bindings whose pattern and entry both match.
    pub fn new(
        pattern_filter: ResourcePatternFilter,
        entry_filter: AccessControlEntryFilter,
    ) -> Self {
        Self {
            pattern_filter,
            entry_filter,
        }
    }

    /// The field holding a value this client does not know: no broker could match it (Java's
    /// `isUnknown`).
    fn unknown(&self) -> Option<&'static str> {
        let (p, e) = (&self.pattern_filter, &self.entry_filter);
        [
            (p.resource_type == ResourceType::Unknown, "resource type"),
            (p.pattern_type == PatternType::Unknown, "pattern type"),
            (e.operation == AclOperation::Unknown, "operation"),
            (
                e.permission_type == AclPermissionType::Unknown,
                "permission type",
            ),
        ]
        .into_iter()
        .find_map(|(unknown, field)| unknown.then_some(field))
    }

    fn refused(&self, field: &str) -> Error {
        Error::InvalidArgument(format!(
            "ACL filter {self}: its {field} is UNKNOWN, which no broker can match"
        ))
    }

    fn wire(&self) -> DeleteAclsFilter {
        let (p, e) = (&self.pattern_filter, &self.entry_filter);
        let text = |s: &Option<String>| s.clone().map(StrBytes::from_string);
        DeleteAclsFilter::default()
            .with_resource_type_filter(p.resource_type.wire())
            .with_resource_name_filter(text(&p.name))
            .with_pattern_type_filter(p.pattern_type.wire())
            .with_principal_filter(text(&e.principal))
            .with_host_filter(text(&e.host))
            .with_operation(e.operation.wire())
            .with_permission_type(e.permission_type.wire())
    }
}

impl fmt::Display for AclBindingFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, e) = (&self.pattern_filter, &self.entry_filter);
        let any = |s: &Option<String>| s.clone().unwrap_or_else(|| "<any>".to_string());
        write!(
            f,
            "(patternFilter=(resourceType={}, name={}, patternType={}), \
             entryFilter=(principal={}, host={}, operation={}, permissionType={}))",
            p.resource_type,
            any(&p.name),
            p.pattern_type,
            any(&e.principal),
            any(&e.host),
            e.operation,
            e.permission_type
        )
    }
}

/// A binding a `delete_acls` filter matched, and whether it was deleted (Java's
/// `DeleteAclsResult.FilterResult`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MatchingAcl {
    /// The binding.
    pub binding: AclBinding,
    /// `Ok` if it was deleted, else why not.
    pub result: Result<()>,
}

impl Admin {
    /// The ACLs that match `filter` (Java's `describeAcls`), asked of any broker. A filter
    /// with an `Unknown` field fails the call before anything is sent; so does
    /// `SECURITY_DISABLED` from a cluster without an authorizer, or
    /// `CLUSTER_AUTHORIZATION_FAILED` for a principal not allowed to describe ACLs.
    pub async fn describe_acls(&self, filter: AclBindingFilter) -> Result<Vec<AclBinding>> {
        self.within("describe_acls", async move {
            if let Some(field) = filter.unknown() {
                return Err(filter.refused(field));
            }
            let wire = filter.wire();
            let request = DescribeAclsRequest::default()
                .with_resource_type_filter(wire.resource_type_filter)
                .with_resource_name_filter(wire.resource_name_filter)
                .with_pattern_type_filter(wire.pattern_type_filter)
                .with_principal_filter(wire.principal_filter)
                .with_host_filter(wire.host_filter)
                .with_operation(wire.operation)
                .with_permission_type(wire.permission_type);
            let response = self
                .cluster
                .retry(self.api_timeout, || async {
                    let conn = self.cluster.any_connection().await?;
                    let response = conn.send(&request).await?;
                    check(
                        response.error_code,
                        format!("describing ACLs matching {filter}"),
                        response.error_message.as_ref(),
                    )?;
                    Ok(response)
                })
                .await?;
            Ok(response
                .resources
                .iter()
                .flat_map(|r| {
                    r.acls.iter().map(|a| {
                        AclBinding::from_wire(
                            (r.resource_type, &r.resource_name, r.pattern_type),
                            (&a.principal, &a.host, a.operation, a.permission_type),
                        )
                    })
                })
                .collect())
        })
        .await
    }

    /// Creates ACLs (Java's `createAcls`), through any broker. Each binding has its own
    /// result: a binding with a filter's wildcard (`Any`, `Match`) or an `Unknown` field
    /// fails alone with `InvalidArgument` and is not sent, as in Java; the broker refuses
    /// others one by one (`INVALID_REQUEST` for a principal not spelled `Type:name`,
    /// `CLUSTER_AUTHORIZATION_FAILED` for a caller not allowed to alter ACLs). Creating a
    /// binding that exists succeeds and changes nothing.
    pub async fn create_acls(
        &self,
        bindings: impl IntoIterator<Item = AclBinding>,
    ) -> Result<HashMap<AclBinding, Result<()>>> {
        self.within("create_acls", async move {
            let mut refused = HashMap::new();
            let mut seen = HashSet::new();
            let mut valid = Vec::new();
            for binding in bindings {
                if !seen.insert(binding.clone()) {
                    continue;
                }
                match binding.indefinite() {
                    Some(why) => {
                        let error = Error::InvalidArgument(format!(
                            "invalid ACL creation {binding}: {why}"
                        ));
                        refused.insert(binding, Err(error));
                    }
                    None => valid.push(binding),
                }
            }
            let mut results = self
                .per_item(valid, |pending| async move {
                    let request = CreateAclsRequest::default()
                        .with_creations(pending.iter().map(AclBinding::creation).collect());
                    let sent = self.send_to_any(&request).await;
                    let (addr, response) = match sent {
                        Ok(sent) => sent,
                        Err(e) => return Ok(Answer::for_all(pending, e)),
                    };
                    if response.results.len() != pending.len() {
                        let error = Error::Protocol {
                            broker: addr,
                            reason: format!(
                                "CreateAcls answered {} results for {} creations",
                                response.results.len(),
                                pending.len()
                            ),
                        };
                        return Ok(Answer::for_all(pending, error));
                    }
                    Ok(pending
                        .into_iter()
                        .zip(&response.results)
                        .map(|(binding, r)| {
                            let result = check(
                                r.error_code,
                                format!("creating ACL {binding}"),
                                r.error_message.as_ref(),
                            );
                            (binding, Answer::of(result))
                        })
                        .collect())
                })
                .await?;
            results.extend(refused);
            Ok(results)
        })
        .await
    }

    /// Deletes every ACL that matches one of `filters` (Java's `deleteAcls`), through any
    /// broker. Each filter has its own result: the bindings it matched, each with whether it
    /// was deleted, or the filter's error (`CLUSTER_AUTHORIZATION_FAILED`). A filter with an
    /// `Unknown` field fails alone with `InvalidArgument` and is not sent. A filter that
    /// matches nothing answers an empty list.
    pub async fn delete_acls(
        &self,
        filters: impl IntoIterator<Item = AclBindingFilter>,
    ) -> Result<HashMap<AclBindingFilter, Result<Vec<MatchingAcl>>>> {
        self.within("delete_acls", async move {
            let mut refused = HashMap::new();
            let mut seen = HashSet::new();
            let mut valid = Vec::new();
            for filter in filters {
                if !seen.insert(filter.clone()) {
                    continue;
                }
                match filter.unknown() {
                    Some(field) => {
                        let error = filter.refused(field);
                        refused.insert(filter, Err(error));
                    }
                    None => valid.push(filter),
                }
            }
            let mut results = self
                .per_item(valid, |pending| async move {
                    let request = DeleteAclsRequest::default()
                        .with_filters(pending.iter().map(AclBindingFilter::wire).collect());
                    let sent = self.send_to_any(&request).await;
                    let (addr, response) = match sent {
                        Ok(sent) => sent,
                        Err(e) => return Ok(Answer::for_all(pending, e)),
                    };
                    if response.filter_results.len() != pending.len() {
                        let error = Error::Protocol {
                            broker: addr,
                            reason: format!(
                                "DeleteAcls answered {} results for {} filters",
                                response.filter_results.len(),
                                pending.len()
                            ),
                        };
                        return Ok(Answer::for_all(pending, error));
                    }
                    Ok(pending
                        .into_iter()
                        .zip(&response.filter_results)
                        .map(|(filter, r)| {
                            let result = check(
                                r.error_code,
                                format!("deleting ACLs matching {filter}"),
                                r.error_message.as_ref(),
                            )
                            .map(|()| {
                                r.matching_acls
                                    .iter()
                                    .map(|m| {
                                        let binding = AclBinding::from_wire(
                                            (m.resource_type, &m.resource_name, m.pattern_type),
                                            (&m.principal, &m.host, m.operation, m.permission_type),
                                        );
                                        let result = check(
                                            m.error_code,
                                            format!("deleting ACL {binding}"),
                                            m.error_message.as_ref(),
                                        );
                                        MatchingAcl { binding, result }
                                    })
                                    .collect()
                            });
                            (filter, Answer::of(result))
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

    /// Java's wire codes (`ResourceType`, `PatternType`, `AclOperation`, `AclPermissionType`
    /// in kafka-clients 4.4.0), both ways; a code from a newer broker reads as `Unknown`.
    #[test]
    fn enums_have_javas_codes_and_names() {
        let types = [
            (ResourceType::Unknown, 0, "UNKNOWN"),
            (ResourceType::Any, 1, "ANY"),
            (ResourceType::Topic, 2, "TOPIC"),
            (ResourceType::Group, 3, "GROUP"),
            (ResourceType::Cluster, 4, "CLUSTER"),
            (ResourceType::TransactionalId, 5, "TRANSACTIONAL_ID"),
            (ResourceType::DelegationToken, 6, "DELEGATION_TOKEN"),
            (ResourceType::User, 7, "USER"),
        ];
        for (t, code, name) in types {
            assert_eq!((t.wire(), t.as_str()), (code, name));
            assert_eq!(ResourceType::from_wire(code), t);
        }
        let patterns = [
            (PatternType::Unknown, 0, "UNKNOWN"),
            (PatternType::Any, 1, "ANY"),
            (PatternType::Match, 2, "MATCH"),
            (PatternType::Literal, 3, "LITERAL"),
            (PatternType::Prefixed, 4, "PREFIXED"),
        ];
        for (p, code, name) in patterns {
            assert_eq!((p.wire(), p.as_str()), (code, name));
            assert_eq!(PatternType::from_wire(code), p);
        }
        let operations = [
            AclOperation::Unknown,
            AclOperation::Any,
            AclOperation::All,
            AclOperation::Read,
            AclOperation::Write,
            AclOperation::Create,
            AclOperation::Delete,
            AclOperation::Alter,
            AclOperation::Describe,
            AclOperation::ClusterAction,
            AclOperation::DescribeConfigs,
            AclOperation::AlterConfigs,
            AclOperation::IdempotentWrite,
            AclOperation::CreateTokens,
            AclOperation::DescribeTokens,
            AclOperation::TwoPhaseCommit,
        ];
        for (code, op) in operations.into_iter().enumerate() {
            assert_eq!(op.wire(), code as i8, "{op}");
            assert_eq!(AclOperation::from_wire(code as i8), op);
        }
        assert_eq!(AclOperation::IdempotentWrite.as_str(), "IDEMPOTENT_WRITE");
        let permissions = [
            (AclPermissionType::Unknown, 0, "UNKNOWN"),
            (AclPermissionType::Any, 1, "ANY"),
            (AclPermissionType::Deny, 2, "DENY"),
            (AclPermissionType::Allow, 3, "ALLOW"),
        ];
        for (p, code, name) in permissions {
            assert_eq!((p.wire(), p.as_str()), (code, name));
            assert_eq!(AclPermissionType::from_wire(code), p);
        }
        assert_eq!(ResourceType::from_wire(8), ResourceType::Unknown);
        assert_eq!(PatternType::from_wire(-1), PatternType::Unknown);
        assert_eq!(AclOperation::from_wire(16), AclOperation::Unknown);
        assert_eq!(AclPermissionType::from_wire(4), AclPermissionType::Unknown);
    }

    fn binding(
        t: ResourceType,
        p: PatternType,
        op: AclOperation,
        perm: AclPermissionType,
    ) -> AclBinding {
        AclBinding::new(
            ResourcePattern::new(t, "orders", p),
            AccessControlEntry::new("User:bob", "*", op, perm),
        )
    }

    /// Java's `findIndefiniteField`: a binding holding a filter's wildcard, or a value
    /// this client cannot name, cannot be created.
    #[test]
    fn only_definite_bindings_can_be_created() {
        use AclOperation as O;
        use AclPermissionType as A;
        use PatternType as P;
        use ResourceType as R;
        assert_eq!(
            binding(R::Topic, P::Literal, O::Write, A::Allow).indefinite(),
            None
        );
        assert_eq!(
            binding(R::Group, P::Prefixed, O::Read, A::Deny).indefinite(),
            None
        );
        let rows = [
            (
                binding(R::Any, P::Literal, O::Write, A::Allow),
                "resource type is ANY",
            ),
            (
                binding(R::Unknown, P::Literal, O::Write, A::Allow),
                "resource type is UNKNOWN",
            ),
            (
                binding(R::Topic, P::Match, O::Write, A::Allow),
                "pattern type is MATCH",
            ),
            (
                binding(R::Topic, P::Any, O::Write, A::Allow),
                "pattern type is ANY",
            ),
            (
                binding(R::Topic, P::Literal, O::Any, A::Allow),
                "operation is ANY",
            ),
            (
                binding(R::Topic, P::Literal, O::Unknown, A::Allow),
                "operation is UNKNOWN",
            ),
            (
                binding(R::Topic, P::Literal, O::Write, A::Any),
                "permission type is ANY",
            ),
        ];
        for (b, why) in rows {
            assert_eq!(b.indefinite().as_deref(), Some(why), "{b}");
        }
    }

    #[test]
    fn filters_with_unknown_fields_are_refused_and_open_fields_sent_as_null() {
        assert_eq!(AclBindingFilter::ANY.unknown(), None);
        let mut filter = AclBindingFilter::ANY;
        filter.entry_filter.operation = AclOperation::Unknown;
        assert_eq!(filter.unknown(), Some("operation"));
        let err = filter.refused("operation");
        assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("operation is UNKNOWN")));

        let wire = AclBindingFilter::ANY.wire();
        assert_eq!(wire.resource_type_filter, 1);
        assert_eq!(wire.pattern_type_filter, 1);
        assert_eq!((wire.operation, wire.permission_type), (1, 1));
        assert!(wire.resource_name_filter.is_none());
        assert!(wire.principal_filter.is_none() && wire.host_filter.is_none());

        let exact = binding(
            ResourceType::Topic,
            PatternType::Prefixed,
            AclOperation::Read,
            AclPermissionType::Deny,
        );
        let wire = exact.to_filter().wire();
        assert_eq!(wire.resource_type_filter, 2);
        assert_eq!(wire.resource_name_filter.as_deref(), Some("orders"));
        assert_eq!(wire.pattern_type_filter, 4);
        assert_eq!(wire.principal_filter.as_deref(), Some("User:bob"));
        assert_eq!(wire.host_filter.as_deref(), Some("*"));
        assert_eq!((wire.operation, wire.permission_type), (3, 2));
    }

    #[test]
    fn bindings_print_as_javas_do() {
        let b = binding(
            ResourceType::Topic,
            PatternType::Literal,
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        assert_eq!(
            b.to_string(),
            "(pattern=ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL), \
             entry=(principal=User:bob, host=*, operation=WRITE, permissionType=ALLOW))"
        );
    }
}
