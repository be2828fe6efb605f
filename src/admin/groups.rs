//! Consumer groups: list, describe and delete them (Java `Admin`'s `listConsumerGroups`,
//! `describeConsumerGroups`, `deleteConsumerGroups`).
//!
//! ```text
//! list_consumer_groups      ListGroups (v5: state and type filters) to every broker, merged
//! describe_consumer_groups  the groups' coordinators with one FindCoordinator (v4: every
//!                           key at once; key_type 0), then per coordinator, all its groups:
//!                           ConsumerGroupDescribe (KIP-848 groups); the groups it does not
//!                           know as consumer groups ──▶ DescribeGroups (classic groups),
//!                           whose member assignments are the consumer protocol's bytes
//! delete_consumer_groups    the same lookup, then DeleteGroups per coordinator
//!                           a group answered NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS
//!                           goes round again alone (lookup included), the others keep theirs
//! ```
//!
//! Each group's answer stands alone, like Java's per-group `KafkaFuture`: one group's
//! failure (`GROUP_ID_NOT_FOUND`, `NON_EMPTY_GROUP`) is that group's `Err`, naming it.

use super::{Admin, Answer};
use crate::cluster::{Coordinator, CoordinatorKind, TrafficClass};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::consumer_protocol::decode_assignment;
use crate::protocol::wire::group_id;
use crate::record::TopicPartition;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as WireAssignment, DescribedGroup,
};
use kafka_protocol::messages::describe_groups_response::DescribedGroup as DescribedClassicGroup;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, DeleteGroupsRequest, DescribeGroupsRequest,
    FindCoordinatorRequest, ListGroupsRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

/// A group's state (Java's `GroupState`): the classic protocol's states and KIP-848's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GroupState {
    /// A state this client does not know.
    Unknown,
    /// Classic: members are (re)joining.
    PreparingRebalance,
    /// Classic: waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignment and consume.
    Stable,
    /// The group is gone (or never was): a classic coordinator describes an unknown group so.
    Dead,
    /// No members; committed offsets may remain.
    Empty,
    /// KIP-848: the coordinator is computing a new target assignment.
    Assigning,
    /// KIP-848: members are moving to the target assignment.
    Reconciling,
    /// KIP-1071 streams groups: not ready to be assigned.
    NotReady,
}

impl GroupState {
    const ALL: [GroupState; 9] = [
        GroupState::Unknown,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
        GroupState::Empty,
        GroupState::Assigning,
        GroupState::Reconciling,
        GroupState::NotReady,
    ];

    /// Java's spelling, which ListGroups' state filter and `kafka-consumer-groups` use.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Unknown => "Unknown",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
            GroupState::Empty => "Empty",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
            GroupState::NotReady => "NotReady",
        }
    }

    /// A state as a broker spells it, ignoring case (KIP-848 coordinators answer `stable`,
    /// classic ones `Stable`), as Java's `GroupState.parse`; anything else is `Unknown`.
    pub fn parse(s: &str) -> GroupState {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .unwrap_or(GroupState::Unknown)
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which protocol a group speaks (Java's `GroupType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GroupType {
    /// A type this client does not know.
    Unknown,
    /// KIP-848's consumer protocol (`group.protocol=consumer`).
    Consumer,
    /// The classic protocol (JoinGroup, SyncGroup), and groups that only commit offsets.
    Classic,
    /// KIP-932 share groups.
    Share,
    /// KIP-1071 streams groups.
    Streams,
}

impl GroupType {
    const ALL: [GroupType; 5] = [
        GroupType::Unknown,
        GroupType::Consumer,
        GroupType::Classic,
        GroupType::Share,
        GroupType::Streams,
    ];

    /// Java's spelling, which ListGroups' type filter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Unknown => "Unknown",
            GroupType::Consumer => "Consumer",
            GroupType::Classic => "Classic",
            GroupType::Share => "Share",
            GroupType::Streams => "Streams",
        }
    }

    /// A type as a broker spells it, ignoring case; anything else is `Unknown`.
    pub fn parse(s: &str) -> GroupType {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .unwrap_or(GroupType::Unknown)
    }
}

impl fmt::Display for GroupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which groups `list_consumer_groups` lists (Java's `ListConsumerGroupsOptions`): none
/// given means all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListConsumerGroupsOptions {
    /// Only groups in one of these states (ListGroups v4+).
    pub states: Vec<GroupState>,
    /// Only groups of one of these types (ListGroups v5+).
    pub types: Vec<GroupType>,
}

impl ListConsumerGroupsOptions {
    /// Only groups in one of these states.
    pub fn in_states(mut self, states: impl IntoIterator<Item = GroupState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }

    /// Only groups of one of these types.
    pub fn of_types(mut self, types: impl IntoIterator<Item = GroupType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }
}

/// A group as `list_consumer_groups` reports it (Java's `ConsumerGroupListing`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupListing {
    /// The group id.
    pub group_id: String,
    /// Whether the group has no protocol type: it only stores offsets (committed with
    /// `assign`, or by `alter_consumer_group_offsets`), it never had members.
    pub is_simple_consumer_group: bool,
    /// Its state, from brokers that report it (ListGroups v4+).
    pub state: Option<GroupState>,
    /// Its type, from brokers that report it (ListGroups v5+).
    pub group_type: Option<GroupType>,
}

/// A member of a group (Java's `MemberDescription`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host, as the coordinator saw it (`/127.0.0.1`).
    pub host: String,
    /// The partitions the member owns now.
    pub assignment: Vec<TopicPartition>,
    /// KIP-848: the partitions the coordinator wants it to own (`None` for classic groups).
    pub target_assignment: Option<Vec<TopicPartition>>,
    /// KIP-848: the member's epoch (`None` for classic groups).
    pub member_epoch: Option<i32>,
    /// KIP-848: the rack its heartbeats named (the consumer's `client.rack`; `None` without
    /// one, and for classic groups, whose DescribeGroups has no rack).
    pub rack_id: Option<String>,
}

/// A group as `describe_consumer_groups` reports it (Java's `ConsumerGroupDescription`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// The group id.
    pub group_id: String,
    /// Whether the group has no protocol type (it only stores offsets).
    pub is_simple_consumer_group: bool,
    /// Its members, in the coordinator's order.
    pub members: Vec<MemberDescription>,
    /// The assignor: a classic group's chosen protocol (`range`), a KIP-848 group's
    /// server-side assignor (`uniform`); empty when none was chosen.
    pub partition_assignor: String,
    /// Classic or consumer.
    pub group_type: GroupType,
    /// Its state.
    pub state: GroupState,
    /// The coordinator's address (`host:port`).
    pub coordinator: String,
    /// KIP-848: the group epoch (`None` for classic groups).
    pub group_epoch: Option<i32>,
    /// KIP-848: the epoch of the target assignment (`None` for classic groups).
    pub target_assignment_epoch: Option<i32>,
}

/// A group id as requests carry it, refused before anything is sent when empty (Java's
/// `InvalidGroupIdException`) or too long for the protocol's `i16` length.
pub(super) fn check_group_id(group: &str) -> Result<()> {
    if group.is_empty() {
        return Err(Error::config("a group id must not be empty"));
    }
    if group.len() > i16::MAX as usize {
        return Err(Error::config(format!(
            "group id of {} bytes is longer than the protocol's {}",
            group.len(),
            i16::MAX
        )));
    }
    Ok(())
}

/// The group ids asked for, checked, without duplicates.
fn group_ids(groups: impl IntoIterator<Item = impl AsRef<str>>) -> Result<BTreeSet<String>> {
    let ids: BTreeSet<String> = groups.into_iter().map(|g| g.as_ref().to_string()).collect();
    ids.iter().try_for_each(|g| check_group_id(g))?;
    Ok(ids)
}

/// A broker's error code as the error of `group`, or `Ok` for `NONE`.
pub(super) fn group_error(
    code: i16,
    group: &str,
    what: &str,
    message: Option<&StrBytes>,
) -> Result<()> {
    match ErrorCode(code) {
        ErrorCode::NONE => Ok(()),
        code => Err(Error::Broker {
            code,
            context: format!("{what} group {group}"),
            message: message.map(|m| m.to_string()).filter(|m| !m.is_empty()),
        }),
    }
}

impl Admin {
    /// Runs `attempt` against `group`'s coordinator until it succeeds, fails for good, or
    /// `default.api.timeout.ms` has passed: `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`
    /// and a lost connection look the coordinator up again, `COORDINATOR_LOAD_IN_PROGRESS`
    /// waits. `attempt` gets the connection and the coordinator's address.
    pub(super) async fn at_coordinator<T, F, Fut>(&self, group: &str, attempt: F) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let coordinator = Coordinator::new(
            self.cluster.clone(),
            CoordinatorKind::Group,
            group,
            TrafficClass::Control,
        );
        coordinator
            .request(self.api_timeout, Error::retry_action, attempt)
            .await
    }

    /// The consumer groups of the cluster (Java's `listConsumerGroups`): groups of protocol
    /// type `consumer`, and simple groups that only store offsets, sorted by id. Every
    /// broker is asked (each coordinates some groups); one that cannot answer within
    /// `default.api.timeout.ms` fails the call. A broker older than ListGroups v4 (states)
    /// or v5 (types) cannot filter: asking it to is `Error::UnsupportedVersion`.
    pub async fn list_consumer_groups(
        &self,
        options: ListConsumerGroupsOptions,
    ) -> Result<Vec<ConsumerGroupListing>> {
        self.within("list_consumer_groups", async move {
            let request = ListGroupsRequest::default()
                .with_states_filter(
                    options
                        .states
                        .iter()
                        .map(|s| StrBytes::from_static_str(s.as_str()))
                        .collect(),
                )
                .with_types_filter(
                    options
                        .types
                        .iter()
                        .map(|t| StrBytes::from_static_str(t.as_str()))
                        .collect(),
                );
            let snapshot = self.cluster.refresh().await?;
            let mut ids: Vec<i32> = snapshot.brokers.keys().copied().collect();
            ids.sort_unstable();
            let mut listings: BTreeMap<String, ConsumerGroupListing> = BTreeMap::new();
            for id in ids {
                let request = &request;
                let options = &options;
                let groups = self
                    .cluster
                    .retry(self.api_timeout, || async move {
                        let conn = self.cluster.broker(id, TrafficClass::Control).await?;
                        let version = conn.version(ApiKey::ListGroups)?;
                        let needs = if !options.types.is_empty() {
                            5
                        } else if !options.states.is_empty() {
                            4
                        } else {
                            0
                        };
                        if version < needs {
                            return Err(Error::UnsupportedVersion {
                                api: "ListGroups",
                                broker: conn.addr().to_string(),
                                ours: format!("{needs}..=5 (to filter by state or type)"),
                                theirs: format!("up to {version}"),
                            });
                        }
                        let response = conn.send(request).await?;
                        match ErrorCode(response.error_code) {
                            ErrorCode::NONE => Ok((response.groups, version)),
                            code => Err(Error::broker(
                                code,
                                format!("listing groups on broker {id}"),
                            )),
                        }
                    })
                    .await?;
                let (groups, version) = groups;
                for g in groups {
                    let protocol_type = g.protocol_type.as_str();
                    if protocol_type != "consumer" && !protocol_type.is_empty() {
                        continue;
                    }
                    let listing = ConsumerGroupListing {
                        group_id: g.group_id.0.to_string(),
                        is_simple_consumer_group: protocol_type.is_empty(),
                        state: (version >= 4).then(|| GroupState::parse(&g.group_state)),
                        group_type: (version >= 5).then(|| GroupType::parse(&g.group_type)),
                    };
                    listings.insert(listing.group_id.clone(), listing);
                }
            }
            Ok(listings.into_values().collect())
        })
        .await
    }

    /// Describes consumer groups (Java's `describeConsumerGroups`): each group's members,
    /// their assignments, state, type, assignor and coordinator. As Java does, the groups'
    /// coordinators are found with one FindCoordinator (v4+; one per group from older
    /// brokers) and each coordinator gets one request for all its groups: KIP-848 groups
    /// answer ConsumerGroupDescribe; the others DescribeGroups, whose member assignments are
    /// decoded from the consumer protocol's bytes. A group whose coordinator moved or is
    /// loading (`NOT_COORDINATOR`, `COORDINATOR_LOAD_IN_PROGRESS`) is asked again alone,
    /// within `default.api.timeout.ms`. The outer `Err` is invalid input (an empty group id),
    /// found before anything is sent; each group's own outcome is in the map:
    /// `GROUP_ID_NOT_FOUND` from a coordinator that answers so (DescribeGroups v6+; older
    /// ones describe an unknown group as `Dead`, without members), a group of another
    /// protocol type as `INVALID_GROUP_ID`.
    pub async fn describe_consumer_groups(
        &self,
        groups: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        self.within("describe_consumer_groups", async move {
            let ids = group_ids(groups)?;
            self.per_group(ids, |conn, groups| self.describe_at(conn, groups))
                .await
        })
        .await
    }

    /// Runs rounds of `at` over the groups without a final answer: each round finds the
    /// coordinators of those groups with one lookup, and calls `at` once per coordinator
    /// with its groups (Java's batched coordinator strategy).
    pub(super) async fn per_group<T, F, Fut>(
        &self,
        groups: BTreeSet<String>,
        at: F,
    ) -> Result<BTreeMap<String, Result<T>>>
    where
        F: Fn(Connection, Vec<String>) -> Fut,
        Fut: Future<Output = Vec<(String, Answer<T>)>>,
    {
        let at = &at;
        let done = self
            .per_item(groups.into_iter().collect(), |pending| async move {
                let (by_coordinator, failed) = self.group_coordinators(pending).await?;
                let mut answers: Vec<(String, Answer<T>)> = failed
                    .into_iter()
                    .map(|(group, e)| (group, Answer::of(Err(e))))
                    .collect();
                for (addr, groups) in by_coordinator {
                    match self
                        .cluster
                        .connection_to(&addr, TrafficClass::Control)
                        .await
                    {
                        Ok(conn) => answers.extend(at(conn, groups).await),
                        Err(e) => answers.extend(Answer::for_all(groups, e)),
                    }
                }
                Ok(answers)
            })
            .await?;
        Ok(done.into_iter().collect())
    }

    /// The groups by the address of their coordinator, and the groups whose lookup failed
    /// with their error. One FindCoordinator (v4) carries every group; a broker without v4
    /// is asked once per group. `Err` only when no broker could be asked.
    async fn group_coordinators(
        &self,
        groups: Vec<String>,
    ) -> Result<(BTreeMap<String, Vec<String>>, Vec<(String, Error)>)> {
        let conn = self.cluster.any_connection().await?;
        let mut found: Vec<(String, Result<String>)> = Vec::with_capacity(groups.len());
        if conn.version(ApiKey::FindCoordinator)? >= 4 {
            let request = FindCoordinatorRequest::default()
                .with_key_type(0)
                .with_coordinator_keys(
                    groups
                        .iter()
                        .map(|g| StrBytes::from_string(g.clone()))
                        .collect(),
                );
            let response = conn.send(&request).await?;
            for group in groups {
                let answer = response
                    .coordinators
                    .iter()
                    .find(|c| c.key.as_str() == group);
                let addr = match answer {
                    None => Err(missing(&conn, "FindCoordinator", &group)),
                    Some(c) => group_error(
                        c.error_code,
                        &group,
                        "finding the coordinator of",
                        c.error_message.as_ref(),
                    )
                    .map(|()| format!("{}:{}", c.host, c.port)),
                };
                found.push((group, addr));
            }
        } else {
            for group in groups {
                let request = FindCoordinatorRequest::default()
                    .with_key_type(0)
                    .with_key(StrBytes::from_string(group.clone()));
                let addr = match conn.send_at_most(&request, 3).await {
                    Ok(r) => group_error(
                        r.error_code,
                        &group,
                        "finding the coordinator of",
                        r.error_message.as_ref(),
                    )
                    .map(|()| format!("{}:{}", r.host, r.port)),
                    Err(e) => Err(e),
                };
                found.push((group, addr));
            }
        }
        let mut by_coordinator: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut failed = Vec::new();
        for (group, addr) in found {
            match addr {
                Ok(addr) => by_coordinator.entry(addr).or_default().push(group),
                Err(e) => failed.push((group, e)),
            }
        }
        Ok((by_coordinator, failed))
    }

    /// One coordinator's groups described: ConsumerGroupDescribe for all of them where the
    /// coordinator speaks it, then DescribeGroups for those it does not know as KIP-848
    /// groups (classic groups, or none).
    async fn describe_at(
        &self,
        conn: Connection,
        groups: Vec<String>,
    ) -> Vec<(String, Answer<ConsumerGroupDescription>)> {
        let mut answers = Vec::with_capacity(groups.len());
        let mut classic = groups;
        if conn.version(ApiKey::ConsumerGroupDescribe).is_ok() {
            let request = ConsumerGroupDescribeRequest::default()
                .with_group_ids(classic.iter().map(|g| group_id(g)).collect());
            let response = match conn.send(&request).await {
                Ok(response) => response,
                Err(e) => return Answer::for_all(classic, e),
            };
            let mut described: BTreeMap<String, _> = response
                .groups
                .into_iter()
                .map(|g| (g.group_id.0.to_string(), g))
                .collect();
            let mut left = Vec::new();
            for group in classic {
                let result = match described.remove(&group) {
                    None => Err(missing(&conn, "ConsumerGroupDescribe", &group)),
                    // A classic group (or none) is GROUP_ID_NOT_FOUND here: DescribeGroups
                    // decides.
                    Some(d) if ErrorCode(d.error_code) == ErrorCode::GROUP_ID_NOT_FOUND => {
                        left.push(group);
                        continue;
                    }
                    Some(d) => {
                        group_error(d.error_code, &group, "describing", d.error_message.as_ref())
                            .map(|()| consumer_description(&conn, &group, d))
                    }
                };
                answers.push((group, Answer::of(result)));
            }
            classic = left;
        }
        if classic.is_empty() {
            return answers;
        }
        let request = DescribeGroupsRequest::default()
            .with_groups(classic.iter().map(|g| group_id(g)).collect());
        let response = match conn.send(&request).await {
            Ok(response) => response,
            Err(e) => {
                answers.extend(Answer::for_all(classic, e));
                return answers;
            }
        };
        let mut described: BTreeMap<String, _> = response
            .groups
            .into_iter()
            .map(|g| (g.group_id.0.to_string(), g))
            .collect();
        for group in classic {
            let result = match described.remove(&group) {
                None => Err(missing(&conn, "DescribeGroups", &group)),
                Some(d) => classic_description(&conn, &group, d),
            };
            answers.push((group, Answer::of(result)));
        }
        answers
    }

    /// Deletes consumer groups and their committed offsets (Java's `deleteConsumerGroups`):
    /// one DeleteGroups per coordinator with all its groups, found and retried as
    /// [`describe_consumer_groups`](Self::describe_consumer_groups) says. A group with
    /// members fails with `NON_EMPTY_GROUP`, an unknown one with `GROUP_ID_NOT_FOUND`, each
    /// in its own entry; the outer `Err` is invalid input.
    pub async fn delete_consumer_groups(
        &self,
        groups: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.within("delete_consumer_groups", async move {
            let ids = group_ids(groups)?;
            self.per_group(ids, |conn, groups| async move {
                let request = DeleteGroupsRequest::default()
                    .with_groups_names(groups.iter().map(|g| group_id(g)).collect());
                let response = match conn.send(&request).await {
                    Ok(response) => response,
                    Err(e) => return Answer::for_all(groups, e),
                };
                groups
                    .into_iter()
                    .map(|group| {
                        let result = response
                            .results
                            .iter()
                            .find(|r| r.group_id.0.as_str() == group)
                            .ok_or_else(|| missing(&conn, "DeleteGroups", &group))
                            .and_then(|r| group_error(r.error_code, &group, "deleting", None));
                        (group, Answer::of(result))
                    })
                    .collect()
            })
            .await
        })
        .await
    }
}

/// A KIP-848 group as ConsumerGroupDescribe described it.
fn consumer_description(
    conn: &Connection,
    group: &str,
    described: DescribedGroup,
) -> ConsumerGroupDescription {
    ConsumerGroupDescription {
        group_id: group.to_string(),
        is_simple_consumer_group: false,
        members: described
            .members
            .into_iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.to_string(),
                group_instance_id: m.instance_id.map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment: partitions(&m.assignment),
                target_assignment: Some(partitions(&m.target_assignment)),
                member_epoch: Some(m.member_epoch),
                rack_id: m.rack_id.map(|r| r.to_string()),
            })
            .collect(),
        partition_assignor: described.assignor_name.to_string(),
        group_type: GroupType::Consumer,
        state: GroupState::parse(&described.group_state),
        coordinator: conn.addr().to_string(),
        group_epoch: Some(described.group_epoch),
        target_assignment_epoch: Some(described.assignment_epoch),
    }
}

/// A group as DescribeGroups described it: a classic consumer group (its members'
/// assignments decoded), a simple group, or the group's error.
fn classic_description(
    conn: &Connection,
    group: &str,
    described: DescribedClassicGroup,
) -> Result<ConsumerGroupDescription> {
    group_error(
        described.error_code,
        group,
        "describing",
        described.error_message.as_ref(),
    )?;
    let protocol_type = described.protocol_type.as_str();
    if protocol_type != "consumer" && !protocol_type.is_empty() {
        return Err(Error::Broker {
            code: ErrorCode::INVALID_GROUP_ID,
            context: format!("describing group {group}"),
            message: Some(format!(
                "group {group} is not a consumer group (protocol type {protocol_type})"
            )),
        });
    }
    let mut members = Vec::with_capacity(described.members.len());
    for m in described.members {
        let assignment = if protocol_type == "consumer" {
            decode_assignment(m.member_assignment)
                .map_err(|reason| Error::Protocol {
                    broker: conn.addr().to_string(),
                    reason: format!("member {} of group {group}: {reason}", m.member_id.as_str()),
                })?
                .partitions
        } else {
            Vec::new()
        };
        members.push(MemberDescription {
            member_id: m.member_id.to_string(),
            group_instance_id: m.group_instance_id.map(|i| i.to_string()),
            client_id: m.client_id.to_string(),
            host: m.client_host.to_string(),
            assignment,
            target_assignment: None,
            member_epoch: None,
            rack_id: None,
        });
    }
    Ok(ConsumerGroupDescription {
        group_id: group.to_string(),
        is_simple_consumer_group: protocol_type.is_empty(),
        members,
        partition_assignor: described.protocol_data.to_string(),
        group_type: GroupType::Classic,
        state: GroupState::parse(&described.group_state),
        coordinator: conn.addr().to_string(),
        group_epoch: None,
        target_assignment_epoch: None,
    })
}

/// A response that leaves out the group it was asked about breaks the protocol.
pub(super) fn missing(conn: &Connection, api: &str, group: &str) -> Error {
    Error::Protocol {
        broker: conn.addr().to_string(),
        reason: format!("{api} response without group {group}"),
    }
}

/// A KIP-848 assignment's partitions, by topic name, sorted.
fn partitions(assignment: &WireAssignment) -> Vec<TopicPartition> {
    let mut out: Vec<TopicPartition> = assignment
        .topic_partitions
        .iter()
        .flat_map(|t| {
            let topic = t.topic_name.0.to_string();
            t.partitions
                .iter()
                .map(move |&p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_types_parse_whatever_the_case() {
        for state in GroupState::ALL {
            assert_eq!(GroupState::parse(state.as_str()), state);
            assert_eq!(
                GroupState::parse(&state.as_str().to_ascii_lowercase()),
                state
            );
        }
        assert_eq!(GroupState::parse("stable"), GroupState::Stable);
        assert_eq!(GroupState::parse("Rebalancing"), GroupState::Unknown);
        for t in GroupType::ALL {
            assert_eq!(GroupType::parse(&t.as_str().to_ascii_uppercase()), t);
        }
        assert_eq!(GroupType::parse("classic"), GroupType::Classic);
        assert_eq!(GroupType::parse(""), GroupType::Unknown);
    }

    #[test]
    fn bad_group_ids_are_refused_before_any_request() {
        assert!(matches!(check_group_id(""), Err(Error::Config(_))));
        assert!(matches!(
            check_group_id(&"g".repeat(40_000)),
            Err(Error::Config(_))
        ));
        check_group_id("orders").unwrap();
        let ids = group_ids(["b", "a", "b"]).unwrap();
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(group_ids(["a", ""]).is_err());
    }

    #[test]
    fn broker_codes_name_the_group() {
        group_error(0, "g", "deleting", None).unwrap();
        let e = group_error(68, "orders", "deleting", None).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NON_EMPTY_GROUP));
        assert!(e.to_string().contains("deleting group orders"), "{e}");
        let msg = StrBytes::from_static_str("nope");
        let e = group_error(69, "g", "describing", Some(&msg)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "GROUP_ID_NOT_FOUND(69) from broker for describing group g: nope"
        );
    }
}
