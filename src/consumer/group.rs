//! Consumer group membership (the classic protocol): coordinator discovery, JoinGroup and
//! SyncGroup, heartbeats on their own task, LeaveGroup, and offset commit and fetch.
//!
//! ```text
//! poll ──▶ rejoin needed? ──▶ FindCoordinator ─▶ JoinGroup ─▶ (leader: assign) ─▶ SyncGroup
//!   ▲                                                                              │
//!   │            heartbeat task: Heartbeat every heartbeat.interval.ms ◀── Stable ◀┘
//!   │                 │ REBALANCE_IN_PROGRESS → rejoin needed
//!   └─────────────────┤ UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / FENCED → partitions lost
//!                     │ no poll for max.poll.interval.ms → LeaveGroup, partitions lost
//! ```
//! Joining happens inside `poll`, so rebalance hooks run on the application's task and a
//! revoke hook can commit; heartbeats never wait for the application.

use super::assignor::protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Subscription,
};
use super::assignor::{assignor, Assignor, RebalanceProtocol};
use crate::cluster::{Cluster, TrafficClass};
use crate::config::ConsumerConfig;
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::protocol::wire::{group_id, millis, topic_name};
use crate::record::TopicPartition;
use crate::retry::Retry;
use crate::sync::lock;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;
use tokio::time::Instant;

/// A committed offset and its metadata.
///
/// ```
/// let offset = kafkit::OffsetAndMetadata::new(42).with_metadata("checkpoint");
/// assert_eq!((offset.offset, offset.metadata.as_deref()), (42, Some("checkpoint")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Free text stored with the offset.
    pub metadata: Option<String>,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            metadata: None,
        }
    }

    /// The same offset, with free text stored beside it.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Where membership stands, as the heartbeat task and `poll` see it.
#[derive(Debug)]
struct Membership {
    coordinator: Option<String>,
    member_id: String,
    generation: i32,
    /// Set by the heartbeat task; `poll` rejoins.
    rejoin: bool,
    /// The member was fenced or timed out: its partitions belong to someone else now.
    lost: bool,
    /// The heartbeat task runs only while Stable.
    stable: bool,
    last_poll: Instant,
    /// Why the heartbeat task last gave up on the membership, for the next poll to report.
    left_reason: Option<String>,
}

/// The result of a completed rebalance, for `poll` to apply.
pub(crate) struct Rebalanced {
    pub assigned: Vec<TopicPartition>,
    pub revoked: Vec<TopicPartition>,
}

pub(crate) struct Group {
    cluster: Cluster,
    config: ConsumerConfig,
    group_id: String,
    assignors: Vec<Box<dyn Assignor>>,
    state: Mutex<Membership>,
    wake_heartbeat: Arc<Notify>,
}

impl Group {
    pub(crate) fn new(cluster: Cluster, config: ConsumerConfig, group_id: String) -> Arc<Group> {
        let assignors = config
            .partition_assignment_strategy
            .iter()
            .map(|k| assignor(*k))
            .collect();
        let group = Arc::new(Group {
            cluster,
            config,
            group_id,
            assignors,
            state: Mutex::new(Membership {
                coordinator: None,
                member_id: String::new(),
                generation: -1,
                rejoin: true,
                lost: false,
                stable: false,
                last_poll: Instant::now(),
                left_reason: None,
            }),
            wake_heartbeat: Arc::new(Notify::new()),
        });
        tokio::spawn(heartbeat_loop(Arc::downgrade(&group)));
        group
    }

    /// Records that the application polled (for `max.poll.interval.ms`).
    pub(crate) fn polled(&self) {
        lock(&self.state).last_poll = Instant::now();
    }

    pub(crate) fn needs_rejoin(&self) -> bool {
        lock(&self.state).rejoin
    }

    /// Asks for a rebalance at the next poll (the subscription changed).
    pub(crate) fn request_rejoin(&self) {
        lock(&self.state).rejoin = true;
    }

    pub(crate) fn protocol(&self) -> RebalanceProtocol {
        // All members must share a protocol; like Java, use the first assignor's.
        self.assignors
            .first()
            .map(|a| a.protocol())
            .unwrap_or(RebalanceProtocol::Eager)
    }

    /// Whether the membership was lost since the last call (and why).
    pub(crate) fn take_lost(&self) -> Option<String> {
        let mut s = lock(&self.state);
        if s.lost {
            s.lost = false;
            Some(
                s.left_reason
                    .take()
                    .unwrap_or_else(|| "membership lost".into()),
            )
        } else {
            None
        }
    }

    async fn coordinator(&self) -> Result<Connection> {
        let known = lock(&self.state).coordinator.clone();
        if let Some(addr) = known {
            match self.cluster.connection_to(&addr, TrafficClass::Group).await {
                Ok(conn) => return Ok(conn),
                Err(_) => lock(&self.state).coordinator = None,
            }
        }
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.group_id.clone()))
            .with_key_type(0);
        let find = || async {
            let response = self.cluster.any_connection().await?.send(&request).await?;
            match ErrorCode(response.error_code) {
                ErrorCode::NONE => Ok(format!("{}:{}", response.host, response.port)),
                code => Err(Error::broker(code, format!("group {}", self.group_id))),
            }
        };
        let addr = self
            .cluster
            .retry(self.config.client.request_timeout, find)
            .await?;
        let conn = self
            .cluster
            .connection_to(&addr, TrafficClass::Group)
            .await?;
        lock(&self.state).coordinator = Some(addr);
        Ok(conn)
    }

    /// Drops the coordinator after an error that says it moved.
    fn coordinator_error(&self, code: ErrorCode) {
        if matches!(
            code,
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
        ) {
            lock(&self.state).coordinator = None;
        }
    }

    /// Joins (or rejoins) the group and returns what changed against `owned`.
    pub(crate) async fn join(
        &self,
        topics: &[String],
        owned: &BTreeSet<TopicPartition>,
    ) -> Result<Rebalanced> {
        // The group waits for a joining member up to the rebalance timeout, so retrying longer
        // would only rejoin a group that has moved on.
        let mut retry = Retry::new(self.config.max_poll_interval, self.cluster.backoff());
        loop {
            let e = match self.join_once(topics, owned).await {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            let code = e.code().unwrap_or(ErrorCode::NONE);
            self.coordinator_error(code);
            let action = match code {
                ErrorCode::UNKNOWN_MEMBER_ID => {
                    let mut s = lock(&self.state);
                    s.member_id.clear();
                    s.generation = -1;
                    RetryAction::Retry
                }
                ErrorCode::ILLEGAL_GENERATION => {
                    lock(&self.state).generation = -1;
                    RetryAction::Retry
                }
                ErrorCode::REBALANCE_IN_PROGRESS | ErrorCode::MEMBER_ID_REQUIRED => {
                    RetryAction::Retry
                }
                _ => e.retry_action(),
            };
            tracing::debug!(group = %self.group_id, error = %e, "join failed");
            retry.wait_for(e, action).await?;
        }
    }

    async fn join_once(
        &self,
        topics: &[String],
        owned: &BTreeSet<TopicPartition>,
    ) -> Result<Rebalanced> {
        let conn = self.coordinator().await?;
        let (member_id, generation) = {
            let mut s = lock(&self.state);
            // No heartbeats while joining: one sent with the generation being replaced would
            // come back ILLEGAL_GENERATION and look like fencing.
            s.stable = false;
            (s.member_id.clone(), s.generation)
        };
        let protocol_error = |reason: String| Error::Protocol {
            broker: conn.addr().to_string(),
            reason,
        };
        // Each assignor gets its own metadata: cooperative-sticky adds its generation as
        // user data, which Java leaders read.
        let mut protocols = Vec::new();
        for a in &self.assignors {
            let subscription = Subscription {
                topics: topics.to_vec(),
                user_data: a.subscription_user_data(generation),
                owned: owned.iter().cloned().collect(),
                generation,
                rack: self.config.client_rack.clone(),
            };
            protocols.push(
                JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(a.name()))
                    .with_metadata(encode_subscription(&subscription).map_err(protocol_error)?),
            );
        }
        let request = JoinGroupRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_session_timeout_ms(millis(self.config.session_timeout))
            .with_rebalance_timeout_ms(millis(self.config.max_poll_interval))
            .with_member_id(StrBytes::from_string(member_id.clone()))
            .with_group_instance_id(self.instance_id())
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(protocols);
        // JoinGroup waits for every member to join: up to the rebalance timeout.
        let timeout = self.config.max_poll_interval + self.config.client.request_timeout;
        let response = conn.send_with_timeout(&request, timeout).await?;
        let code = ErrorCode(response.error_code);
        if code == ErrorCode::MEMBER_ID_REQUIRED {
            lock(&self.state).member_id = response.member_id.to_string();
            return Err(Error::broker(
                code,
                format!("joining group {}", self.group_id),
            ));
        }
        if !code.is_ok() {
            return Err(Error::broker(
                code,
                format!("joining group {}", self.group_id),
            ));
        }
        let member_id = response.member_id.to_string();
        let generation = response.generation_id;
        let protocol = response
            .protocol_name
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        {
            let mut s = lock(&self.state);
            s.member_id = member_id.clone();
            s.generation = generation;
        }
        let assignments = if response.leader.as_str() == member_id && !response.skip_assignment {
            self.assign_as_leader(&protocol, &response.members).await?
        } else {
            Vec::new()
        };
        let sync = SyncGroupRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id())
            .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
            .with_protocol_name(Some(StrBytes::from_string(protocol)))
            .with_assignments(assignments);
        let response = conn.send_with_timeout(&sync, timeout).await?;
        let code = ErrorCode(response.error_code);
        if !code.is_ok() {
            return Err(Error::broker(
                code,
                format!("syncing group {}", self.group_id),
            ));
        }
        let assignment =
            decode_assignment(response.assignment).map_err(|reason| Error::Protocol {
                broker: conn.addr().to_string(),
                reason: format!("assignment for group {}: {reason}", self.group_id),
            })?;
        let assigned: BTreeSet<TopicPartition> = assignment.partitions.into_iter().collect();
        {
            let mut s = lock(&self.state);
            s.rejoin = false;
            s.stable = true;
            s.lost = false;
            s.last_poll = Instant::now();
        }
        self.wake_heartbeat.notify_one();
        let revoked: Vec<TopicPartition> = owned.difference(&assigned).cloned().collect();
        if self.protocol() == RebalanceProtocol::Cooperative && !revoked.is_empty() {
            // KIP-429: partitions given up go back to the group in a follow-up round.
            lock(&self.state).rejoin = true;
        }
        Ok(Rebalanced {
            assigned: assigned.into_iter().collect(),
            revoked,
        })
    }

    async fn assign_as_leader(
        &self,
        protocol: &str,
        members: &[kafka_protocol::messages::join_group_response::JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let Some(assignor) = self.assignors.iter().find(|a| a.name() == protocol) else {
            return Err(Error::broker(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                format!(
                    "group {} chose assignor {protocol:?}, which this member lacks",
                    self.group_id
                ),
            ));
        };
        let mut subscriptions = Vec::new();
        for member in members {
            let s =
                decode_subscription(member.metadata.clone()).map_err(|reason| Error::Protocol {
                    broker: "coordinator".into(),
                    reason: format!("subscription of member {}: {reason}", member.member_id),
                })?;
            subscriptions.push(assignor.member_subscription(
                member.member_id.to_string(),
                member.group_instance_id.as_ref().map(|i| i.to_string()),
                s,
            ));
        }
        let all_topics: BTreeSet<String> = subscriptions
            .iter()
            .flat_map(|m| m.topics.iter().cloned())
            .collect();
        let mut partitions = BTreeMap::new();
        for topic in all_topics {
            // A subscribed topic that does not exist (yet) gets no partitions.
            if let Ok(info) = self
                .cluster
                .topic(&topic, self.config.client.request_timeout)
                .await
            {
                partitions.insert(topic, info.partitions.len() as i32);
            }
        }
        let assignment = assignor.assign(&subscriptions, &partitions);
        subscriptions
            .iter()
            .map(|m| {
                let partitions = assignment.get(&m.member_id).cloned().unwrap_or_default();
                let bytes = encode_assignment(&Assignment {
                    partitions,
                    user_data: None,
                })
                .map_err(|reason| Error::Protocol {
                    broker: "coordinator".into(),
                    reason,
                })?;
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(StrBytes::from_string(m.member_id.clone()))
                    .with_assignment(bytes))
            })
            .collect()
    }

    fn instance_id(&self) -> Option<StrBytes> {
        self.config
            .group_instance_id
            .as_ref()
            .map(|i| StrBytes::from_string(i.clone()))
    }

    /// Commits offsets under the current generation. A member that was fenced gets the
    /// broker's refusal (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, `FENCED_INSTANCE_ID`) and
    /// cannot overwrite the new owner's offsets.
    pub(crate) async fn commit(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let attempt = || async {
            let result = self.commit_once(offsets).await;
            if let Err(e) = &result {
                self.coordinator_error(e.code().unwrap_or(ErrorCode::NONE));
            }
            result
        };
        self.cluster
            .retry(self.config.default_api_timeout, attempt)
            .await
    }

    async fn commit_once(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        let conn = self.coordinator().await?;
        let (member_id, generation) = {
            let s = lock(&self.state);
            (s.member_id.clone(), s.generation)
        };
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, om) in offsets {
            topics.entry(&tp.topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(om.offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(StrBytes::from_string(
                        om.metadata.clone().unwrap_or_default(),
                    ))),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id())
            .with_retention_time_ms(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let response = conn.send(&request).await?;
        for topic in &response.topics {
            for p in &topic.partitions {
                let code = ErrorCode(p.error_code);
                if !code.is_ok() {
                    if matches!(
                        code,
                        ErrorCode::ILLEGAL_GENERATION
                            | ErrorCode::UNKNOWN_MEMBER_ID
                            | ErrorCode::FENCED_INSTANCE_ID
                    ) {
                        let mut s = lock(&self.state);
                        s.rejoin = true;
                    }
                    return Err(Error::broker(
                        code,
                        format!(
                            "committing {}-{} for group {}",
                            topic.name.0, p.partition_index, self.group_id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The committed offsets of these partitions (absent: nothing committed).
    pub(crate) async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, OffsetAndMetadata>> {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics.entry(&tp.topic).or_default().push(tp.partition);
        }
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_require_stable(true)
            .with_topics(Some(
                topics
                    .into_iter()
                    .map(|(name, partition_indexes)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partition_indexes(partition_indexes)
                    })
                    .collect(),
            ));
        // UNSTABLE_OFFSET_COMMIT (a transaction's offsets are pending) is retried like the
        // coordinator errors, until default.api.timeout.ms.
        let attempt = || async {
            let result = async {
                let response = self.coordinator().await?.send(&request).await?;
                let code = ErrorCode(response.error_code);
                if !code.is_ok() {
                    return Err(Error::broker(
                        code,
                        format!("offsets of group {}", self.group_id),
                    ));
                }
                let mut out = HashMap::new();
                for topic in &response.topics {
                    for p in &topic.partitions {
                        let code = ErrorCode(p.error_code);
                        if !code.is_ok() {
                            return Err(Error::broker(
                                code,
                                format!("offset of {}-{}", topic.name.0, p.partition_index),
                            ));
                        }
                        if p.committed_offset >= 0 {
                            out.insert(
                                TopicPartition::new(topic.name.0.to_string(), p.partition_index),
                                OffsetAndMetadata {
                                    offset: p.committed_offset,
                                    metadata: p
                                        .metadata
                                        .as_ref()
                                        .map(|m| m.to_string())
                                        .filter(|m| !m.is_empty()),
                                },
                            );
                        }
                    }
                }
                Ok(out)
            }
            .await;
            if let Err(e) = &result {
                self.coordinator_error(e.code().unwrap_or(ErrorCode::NONE));
            }
            result
        };
        self.cluster
            .retry(self.config.default_api_timeout, attempt)
            .await
    }

    /// Leaves the group (dynamic members only: a static member keeps its place for a
    /// restart within the session timeout, KIP-345).
    pub(crate) async fn leave(&self, reason: &str) {
        let member_id = {
            let mut s = lock(&self.state);
            s.stable = false;
            std::mem::take(&mut s.member_id)
        };
        if member_id.is_empty() || self.config.group_instance_id.is_some() {
            return;
        }
        let request = LeaveGroupRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_members(vec![MemberIdentity::default()
                .with_member_id(StrBytes::from_string(member_id))
                .with_reason(Some(StrBytes::from_string(reason.to_string())))]);
        if let Ok(conn) = self.coordinator().await {
            if let Err(e) = conn.send(&request).await {
                tracing::debug!(error = %e, "LeaveGroup failed");
            }
        }
    }

    /// Sends one heartbeat; an error comes with the generation it was sent for.
    async fn heartbeat(&self) -> std::result::Result<(), (Error, i32)> {
        let (member_id, generation) = {
            let s = lock(&self.state);
            (s.member_id.clone(), s.generation)
        };
        let request = HeartbeatRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id());
        let send = async { self.coordinator().await?.send(&request).await };
        match send.await {
            Err(e) => Err((e, generation)),
            Ok(response) => match ErrorCode(response.error_code) {
                ErrorCode::NONE => Ok(()),
                code => Err((
                    Error::broker(code, format!("heartbeat of group {}", self.group_id)),
                    generation,
                )),
            },
        }
    }

    /// Marks the membership lost: the next poll reports the partitions lost and rejoins.
    fn lose(&self, reason: String) {
        let mut s = lock(&self.state);
        tracing::info!(group = %self.group_id, %reason, "group membership lost");
        s.stable = false;
        s.lost = true;
        s.rejoin = true;
        s.generation = -1;
        s.left_reason = Some(reason);
    }
}

async fn heartbeat_loop(group: Weak<Group>) {
    loop {
        let (interval, stable, overdue) = {
            let Some(g) = group.upgrade() else { return };
            let s = lock(&g.state);
            let overdue = s.stable && s.last_poll.elapsed() > g.config.max_poll_interval;
            (g.config.heartbeat_interval, s.stable, overdue)
        };
        if overdue {
            let Some(g) = group.upgrade() else { return };
            let reason = format!(
                "no poll within max.poll.interval.ms ({:?}): left the group",
                g.config.max_poll_interval
            );
            g.leave("consumer poll timeout has expired").await;
            g.lose(reason);
            continue;
        }
        if !stable {
            let Some(g) = group.upgrade() else { return };
            let wake = g.wake_heartbeat.clone();
            drop(g);
            let _ = tokio::time::timeout(interval, wake.notified()).await;
            continue;
        }
        tokio::time::sleep(interval).await;
        let Some(g) = group.upgrade() else { return };
        if !lock(&g.state).stable {
            continue;
        }
        if let Err((e, generation)) = g.heartbeat().await {
            {
                let s = lock(&g.state);
                if !s.stable || s.generation != generation {
                    // A rebalance moved on while this heartbeat was out; its answer is stale.
                    continue;
                }
            }
            let code = e.code().unwrap_or(ErrorCode::NONE);
            g.coordinator_error(code);
            match code {
                ErrorCode::REBALANCE_IN_PROGRESS => lock(&g.state).rejoin = true,
                ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::FENCED_INSTANCE_ID => {
                    if code == ErrorCode::UNKNOWN_MEMBER_ID {
                        lock(&g.state).member_id.clear();
                    }
                    g.lose(format!("the coordinator fenced this member: {e}"));
                }
                _ => tracing::debug!(error = %e, "heartbeat failed"),
            }
        }
    }
}
