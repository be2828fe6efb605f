//! The admin client: topics, partitions, configs, records, log directories, leader
//! elections, the cluster's description, offset lookups, consumer groups (`groups.rs`),
//! their offsets (`group_offsets.rs`) and their lag (`lag.rs`), ACLs (`acls.rs`) and SCRAM
//! users (`scram.rs`).
//!
//! Each job has its module; `Admin` and what they share (the timeouts, the per-item retry
//! loop, routing to a broker by id) live here. Calls about many resources answer per
//! resource, as Java's per-item `KafkaFuture`s do: one topic refused does not fail the
//! others, and only a failure of the whole call (bad input, no broker reachable) is the
//! outer error.

mod acls;
mod cluster;
mod configs;
mod group_offsets;
mod groups;
mod lag;
mod leaders;
mod log_dirs;
mod partitions;
mod records;
mod scram;
mod topics;

pub use acls::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, MatchingAcl, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType,
};
pub use cluster::{ClusterDescription, Node};
pub use configs::{
    AlterConfigOp, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource, ConfigSynonym,
    DescribeConfigsOptions, ResourceConfig,
};
pub use group_offsets::{GroupOffsets, PartitionResults};
pub use groups::{
    ConsumerGroupDescription, ConsumerGroupListing, GroupState, GroupType,
    ListConsumerGroupsOptions, MemberDescription,
};
pub use lag::PartitionLag;
pub use leaders::ElectionType;
pub use log_dirs::{LogDirDescription, ReplicaInfo};
pub use partitions::NewPartitions;
pub use records::DeletedRecords;
pub use scram::{
    ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration,
    UserScramCredentialDeletion, UserScramCredentialUpsertion, UserScramCredentialsDescription,
};
pub use topics::{NewTopic, TopicDescription, TopicListing, TopicPartitionInfo};

use crate::cluster::{Cluster, ListedOffset, OffsetSpec};
use crate::config::{AdminConfig, IsolationLevel};
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::record::TopicPartition;
use crate::retry::Retry;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

/// Administers the cluster. Cheap to clone.
///
/// ```no_run
/// use kafkit::{Admin, AdminConfig, ErrorCode, NewTopic};
///
/// # async fn demo() -> kafkit::Result<()> {
/// let admin = Admin::new(AdminConfig::new("localhost:9092")).await?;
/// match admin.create_topics([NewTopic::new("orders", 6, 3)]).await {
///     Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
///     other => other?,
/// }
/// for topic in admin.list_topics().await? {
///     println!("{}: {} partitions", topic.name, topic.partitions.len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Admin {
    cluster: Cluster,
    /// `request.timeout.ms`: one request's wait, and the timeout brokers get to apply it.
    timeout: Duration,
    /// `default.api.timeout.ms`: the whole call's budget, retries included.
    api_timeout: Duration,
}

/// One item's answer in a round of a per-item call.
enum Answer<T> {
    /// Final: the item's result.
    Done(Result<T>),
    /// Worth asking again (a leader moved, a broker is loading): the error, should time
    /// run out.
    Again(Error),
}

impl<T> Answer<T> {
    /// Java's split: a retriable error is asked again, except that a topic or partition
    /// the cluster does not know fails at once (the admin calls do not wait for topics to
    /// appear).
    fn of(result: Result<T>) -> Answer<T> {
        match result {
            Err(e) if e.is_retriable() && !unknown_topic(&e) => Answer::Again(e),
            other => Answer::Done(other),
        }
    }

    /// The same answer for every item of a request that got none (no connection, no
    /// response).
    fn for_all<K>(items: Vec<K>, error: Error) -> Vec<(K, Answer<T>)> {
        items
            .into_iter()
            .map(|k| (k, Answer::of(Err(error.clone()))))
            .collect()
    }
}

fn unknown_topic(error: &Error) -> bool {
    matches!(
        error.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) | Some(ErrorCode::UNKNOWN_TOPIC_ID)
    )
}

/// A broker's error code as a result: `Ok` for 0, else `Error::Broker` about `context`
/// with the broker's message.
fn check(code: i16, context: impl Into<String>, message: Option<&impl ToString>) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::Broker {
        code: ErrorCode(code),
        context: context.into(),
        message: message.map(ToString::to_string),
    })
}

impl Admin {
    /// Connects to the cluster. Takes an [`AdminConfig`], or a [`ClientConfig`](crate::ClientConfig)
    /// with the admin settings at their defaults; the config is validated first.
    pub async fn new(config: impl Into<AdminConfig>) -> Result<Admin> {
        let config = config.into();
        config.validate()?;
        let cluster = Cluster::connect(crate::cluster::cluster_settings(&config.client)?).await?;
        Ok(Admin {
            cluster,
            timeout: config.client.request_timeout,
            api_timeout: config.api_timeout(),
        })
    }

    /// Sends `request` to any broker (the calls any broker answers: ACLs, SCRAM
    /// credentials); returns the broker's address, to name it in a protocol error, and its
    /// answer.
    async fn send_to_any<R: kafka_protocol::protocol::Request>(
        &self,
        request: &R,
    ) -> Result<(String, R::Response)> {
        let conn = self.cluster.any_connection().await?;
        let response = conn.send(request).await?;
        Ok((conn.addr().to_string(), response))
    }

    /// Runs one public call within `default.api.timeout.ms`, as Java times a call out at its
    /// deadline even with a request in flight: the retry loops inside stop at the deadline
    /// too, but a request sent just before it could otherwise run `request.timeout.ms` past.
    async fn within<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.api_timeout, work).await {
            // A call made of others (`consumer_group_lag`) times out as itself.
            Ok(Err(Error::ApiTimeout { timeout, .. })) => Err(Error::ApiTimeout { call, timeout }),
            Ok(result) => result,
            Err(_) => Err(Error::ApiTimeout {
                call,
                timeout: self.api_timeout,
            }),
        }
    }

    /// Looks up offsets, asking each partition's leader. Retries while leaders move, within
    /// `default.api.timeout.ms`.
    pub async fn list_offsets(
        &self,
        partitions: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> Result<HashMap<TopicPartition, ListedOffset>> {
        self.within(
            "list_offsets",
            self.cluster.list_offsets(
                partitions,
                IsolationLevel::ReadUncommitted,
                self.api_timeout,
            ),
        )
        .await
    }

    /// Runs rounds of `round` over the items without a final answer until each has one or
    /// the call's time is up (then each left keeps its last error). A round that fails as a
    /// whole is retried when its error allows, else that error is the call's.
    async fn per_item<K, T, F, Fut>(
        &self,
        items: Vec<K>,
        mut round: F,
    ) -> Result<HashMap<K, Result<T>>>
    where
        K: Clone + Eq + Hash,
        F: FnMut(Vec<K>) -> Fut,
        Fut: Future<Output = Result<Vec<(K, Answer<T>)>>>,
    {
        let mut done = HashMap::with_capacity(items.len());
        let mut pending = items;
        let mut retry = Retry::new(self.api_timeout, self.cluster.backoff());
        while !pending.is_empty() {
            let error = match round(pending.clone()).await {
                Ok(answers) => {
                    let mut again = Vec::new();
                    let mut last = None;
                    for (key, answer) in answers {
                        match answer {
                            Answer::Done(result) => {
                                done.insert(key, result);
                            }
                            Answer::Again(e) => {
                                again.push((key, e.clone()));
                                last = Some(e);
                            }
                        }
                    }
                    let Some(error) = last else { break };
                    if error.retry_action() == RetryAction::RefreshMetadataAndRetry {
                        self.cluster.request_refresh();
                    }
                    if retry.wait(error).await.is_err() {
                        done.extend(again.into_iter().map(|(k, e)| (k, Err(e))));
                        break;
                    }
                    if again
                        .iter()
                        .any(|(_, e)| e.retry_action() == RetryAction::RefreshMetadataAndRetry)
                    {
                        // A failed refresh leaves the next round to fail, and be retried.
                        if let Err(e) = self.cluster.refresh().await {
                            tracing::debug!(error = %e, "metadata refresh failed");
                        }
                    }
                    pending = again.into_iter().map(|(k, _)| k).collect();
                    continue;
                }
                Err(e) => e,
            };
            if error.retry_action() == RetryAction::RefreshMetadataAndRetry {
                self.cluster.request_refresh();
            }
            retry.wait(error).await?;
        }
        Ok(done)
    }
}
