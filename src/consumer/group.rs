//! Consumer group membership: the coordinator, the membership state, leaving; joins,
//! heartbeats and offsets in the files beside it. Two protocols (`group.protocol`), one
//! [`Member`] enum: the classic one below, and KIP-848's (`consumer_member.rs`,
//! `consumer_heartbeat.rs`), where the broker assigns and `poll` reconciles.
//!
//! ```text
//! poll ──▶ join wanted? ──▶ FindCoordinator ─▶ JoinGroup ─▶ (leader: assign) ─▶ SyncGroup
//!   ▲                                  (join.rs)                                   │
//!   │            heartbeat task: Heartbeat every heartbeat.interval.ms ◀── Stable ◀┘
//!   │            (heartbeat.rs)   │ REBALANCE_IN_PROGRESS → rejoin asked
//!   └─────────────────────────────┤ UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / FENCED → Lost
//!                                 │ no poll for max.poll.interval.ms → LeaveGroup, Lost
//! ```
//! The membership (member id, phase, generation) is one state machine, `membership.rs`;
//! everything here reads it and applies events to it under a short lock, never across a
//! request. Joining happens inside `poll`, so rebalance hooks run on the application's task
//! and a revoke hook can commit; heartbeats never wait for the application.

mod consumer_heartbeat;
mod consumer_member;
mod heartbeat;
mod join;
mod membership;
mod offsets;

use super::assignor::{assignor, Assignor, RebalanceProtocol};
use crate::cluster::{Cluster, TrafficClass};
use crate::config::{ConsumerConfig, GroupProtocol};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::group_id;
use crate::record::ConsumerGroupMetadata;
pub use crate::record::OffsetAndMetadata;
use crate::sync::lock;
pub(crate) use consumer_heartbeat::Acknowledgement;
use consumer_member::{ConsumerMember, Subscription};
pub(crate) use join::Rebalanced;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{FindCoordinatorRequest, LeaveGroupRequest};
use kafka_protocol::protocol::StrBytes;
use membership::{Event, Membership};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where this member stands, in the protocol its group speaks: the one place the protocol
/// choice lives.
enum Member {
    /// JoinGroup/SyncGroup rounds, client-side assignment.
    Classic(Membership),
    /// KIP-848: ConsumerGroupHeartbeat, broker-side assignment.
    Consumer(Box<ConsumerMember>),
}

impl Member {
    fn member_id(&self) -> &str {
        match self {
            Member::Classic(m) => m.member_id(),
            Member::Consumer(m) => m.member_id(),
        }
    }

    /// What commits carry as the generation: the classic generation, or the member epoch.
    fn generation(&self) -> i32 {
        match self {
            Member::Classic(m) => m.generation(),
            Member::Consumer(m) => m.epoch(),
        }
    }

    fn lost(&self) -> Option<&str> {
        match self {
            Member::Classic(m) => m.lost(),
            Member::Consumer(m) => m.lost(),
        }
    }

    /// Whether a classic join round is wanted (the consumer protocol has none).
    fn wants_join(&self) -> bool {
        match self {
            Member::Classic(m) => m.wants_join(),
            Member::Consumer(_) => false,
        }
    }

    /// Whether the classic heartbeat task beats.
    fn is_stable(&self) -> bool {
        match self {
            Member::Classic(m) => m.is_stable(),
            Member::Consumer(_) => false,
        }
    }

    /// Applies a classic membership event (the consumer protocol's member changes only
    /// through its heartbeats and reconciliation).
    fn apply(&mut self, event: Event) {
        if let Member::Classic(m) = self {
            m.apply(event);
        }
    }

    fn consumer(&mut self) -> Option<&mut ConsumerMember> {
        match self {
            Member::Consumer(m) => Some(m),
            Member::Classic(_) => None,
        }
    }
}

/// What the group's tasks share, each read or changed under one short lock.
struct GroupState {
    membership: Member,
    /// The subscribed topics (sorted), or the pattern the broker matches.
    subscription: Subscription,
    /// The coordinator's address, once found.
    coordinator: Option<String>,
    /// When the application last polled (for `max.poll.interval.ms`).
    last_poll: Instant,
}

pub(crate) struct Group {
    cluster: Cluster,
    config: ConsumerConfig,
    group_id: String,
    assignors: Vec<Box<dyn Assignor>>,
    state: Mutex<GroupState>,
    /// Wakes the heartbeat task when the member becomes stable.
    wake_heartbeat: Arc<Notify>,
    /// A lookup of the topics behind assigned topic ids is under way (KIP-848).
    naming_ids: Arc<AtomicBool>,
}

impl Group {
    pub(crate) fn new(cluster: Cluster, config: ConsumerConfig, group_id: String) -> Arc<Group> {
        let assignors = config
            .partition_assignment_strategy
            .iter()
            .map(|k| assignor(*k))
            .collect();
        let membership = match config.group_protocol {
            GroupProtocol::Classic => Member::Classic(Membership::default()),
            GroupProtocol::Consumer => Member::Consumer(Box::new(ConsumerMember::new(
                consumer_member::new_member_id(),
                config.group_instance_id.is_some(),
            ))),
        };
        let protocol = config.group_protocol;
        let group = Arc::new(Group {
            cluster,
            config,
            group_id,
            assignors,
            state: Mutex::new(GroupState {
                membership,
                subscription: Subscription::Topics(Vec::new()),
                coordinator: None,
                last_poll: Instant::now(),
            }),
            wake_heartbeat: Arc::new(Notify::new()),
            naming_ids: Arc::new(AtomicBool::new(false)),
        });
        match protocol {
            GroupProtocol::Classic => tokio::spawn(heartbeat::run(Arc::downgrade(&group))),
            GroupProtocol::Consumer => {
                tokio::spawn(consumer_heartbeat::run(Arc::downgrade(&group)))
            }
        };
        group
    }

    fn apply(&self, event: Event) {
        lock(&self.state).membership.apply(event);
    }

    /// The member id and generation requests carry now.
    fn identity(&self) -> (String, i32) {
        let s = lock(&self.state);
        (
            s.membership.member_id().to_string(),
            s.membership.generation(),
        )
    }

    /// Records that the application polled (for `max.poll.interval.ms`).
    pub(crate) fn polled(&self) {
        lock(&self.state).last_poll = Instant::now();
    }

    /// Whether the next step of `poll` is a join round.
    pub(crate) fn wants_join(&self) -> bool {
        lock(&self.state).membership.wants_join()
    }

    /// Moves to Joining if a join is (still) wanted and no loss waits to be reported;
    /// `true` when the caller must now run [`join`](Self::join).
    pub(crate) fn start_join(&self) -> bool {
        let mut s = lock(&self.state);
        if !s.membership.wants_join() || s.membership.lost().is_some() {
            return false;
        }
        s.membership.apply(Event::JoinStarted);
        true
    }

    /// The join round ended without an assignment (the join task failed): the next poll
    /// joins again.
    pub(crate) fn join_abandoned(&self) {
        self.apply(Event::JoinAbandoned);
    }

    /// Subscribes to `topics` (sorted, without duplicates): rejoin at the next poll
    /// (classic), or tell the broker in the next heartbeat, at once (consumer).
    pub(crate) fn subscribe(&self, topics: Vec<String>) {
        self.set_subscription(Subscription::Topics(topics));
    }

    /// Subscribes to every topic the broker finds `pattern` (RE2J) to match, now and
    /// later (KIP-848's `SubscribedTopicRegex`; the caller checked the protocol).
    pub(crate) fn subscribe_broker_pattern(&self, pattern: String) {
        self.set_subscription(Subscription::Pattern(pattern));
    }

    fn set_subscription(&self, subscription: Subscription) {
        let mut s = lock(&self.state);
        s.subscription = subscription.clone();
        s.membership.apply(Event::Subscribed);
        if let Some(m) = s.membership.consumer() {
            m.apply(consumer_member::Event::Subscribed(subscription));
            self.wake_heartbeat.notify_one();
        }
    }

    /// The protocol the group speaks (`group.protocol`).
    pub(crate) fn group_protocol(&self) -> GroupProtocol {
        self.config.group_protocol
    }

    /// The subscribed topics (none for a broker pattern, whose topics the broker knows).
    pub(crate) fn topics(&self) -> Vec<String> {
        match &lock(&self.state).subscription {
            Subscription::Topics(topics) => topics.clone(),
            Subscription::Pattern(_) => Vec::new(),
        }
    }

    /// Whether the group hands this consumer its partitions (a subscription, not `assign`).
    pub(crate) fn is_subscribed(&self) -> bool {
        !lock(&self.state).subscription.is_empty()
    }

    pub(crate) fn protocol(&self) -> RebalanceProtocol {
        // All members must share a protocol; like Java, use the first assignor's.
        self.assignors
            .first()
            .map(|a| a.protocol())
            .unwrap_or(RebalanceProtocol::Eager)
    }

    /// Why the membership was lost, once: the loss counts as reported afterwards.
    pub(crate) fn take_lost(&self) -> Option<String> {
        let mut s = lock(&self.state);
        let reason = s.membership.lost()?.to_string();
        s.membership.apply(Event::LossReported);
        if let Some(m) = s.membership.consumer() {
            m.apply(consumer_member::Event::LossReported);
            self.wake_heartbeat.notify_one();
        }
        Some(reason)
    }

    /// A connection to the coordinator for heartbeats, commits, offset lookups, LeaveGroup.
    async fn coordinator(&self) -> Result<Connection> {
        self.coordinator_for(TrafficClass::Group).await
    }

    /// A connection to the coordinator of `class`: JoinGroup and SyncGroup go on their own
    /// (`TrafficClass::Join`), so nothing queues behind a join that waits for the group.
    async fn coordinator_for(&self, class: TrafficClass) -> Result<Connection> {
        let known = lock(&self.state).coordinator.clone();
        if let Some(addr) = known {
            match self.cluster.connection_to(&addr, class).await {
                Ok(conn) => return Ok(conn),
                Err(_) => lock(&self.state).coordinator = None,
            }
        }
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.group_id.clone()))
            .with_key_type(0);
        let find = || async {
            // One key: the v0-3 shape (v4 carries keys in a list).
            let response = self
                .cluster
                .any_connection()
                .await?
                .send_at_most(&request, 3)
                .await?;
            match ErrorCode(response.error_code) {
                ErrorCode::NONE => Ok(format!("{}:{}", response.host, response.port)),
                code => Err(Error::broker(code, format!("group {}", self.group_id))),
            }
        };
        let addr = self
            .cluster
            .retry(self.config.client.request_timeout, find)
            .await?;
        let conn = self.cluster.connection_to(&addr, class).await?;
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

    fn instance_id(&self) -> Option<StrBytes> {
        self.config
            .group_instance_id
            .as_ref()
            .map(|i| StrBytes::from_string(i.clone()))
    }

    /// Closes the membership and, for a dynamic member, sends LeaveGroup from a task of its
    /// own, bounded by `request.timeout.ms` (twice: the coordinator lookup, then the request),
    /// whose handle is returned; the caller may wait for it or not. A static member
    /// (`group.instance.id`) sends nothing: it keeps its place for a restart within
    /// `session.timeout.ms` (KIP-345). Needs a tokio runtime; without one (a consumer
    /// dropped outside any) nothing is sent and the session times out.
    ///
    /// With the consumer protocol the member leaves with a heartbeat of epoch -1, or -2 for
    /// a static member, which keeps its place (`consumer_heartbeat.rs`).
    pub(crate) fn leave(self: &Arc<Self>, reason: &str) -> Option<tokio::task::JoinHandle<()>> {
        if self.config.group_protocol == GroupProtocol::Consumer {
            return self.leave_consumer_group();
        }
        let member_id = {
            let mut s = lock(&self.state);
            let member_id = s.membership.member_id().to_string();
            s.membership.apply(Event::Left);
            member_id
        };
        if member_id.is_empty() || self.config.group_instance_id.is_some() {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let group = self.clone();
        let reason = reason.to_string();
        let bound = self.config.client.request_timeout.saturating_mul(2);
        Some(runtime.spawn(async move {
            let send = group.send_leave_group(member_id, &reason);
            if tokio::time::timeout(bound, send).await.is_err() {
                tracing::debug!(group = %group.group_id, "LeaveGroup timed out");
            }
        }))
    }

    /// The member's group id, generation, member id and instance id now.
    pub(crate) fn metadata(&self) -> ConsumerGroupMetadata {
        let (member_id, generation) = self.identity();
        let mut metadata = ConsumerGroupMetadata::new(self.group_id.clone());
        metadata.generation_id = generation;
        metadata.member_id = member_id;
        metadata.group_instance_id = self.config.group_instance_id.clone();
        metadata
    }

    /// LeaveGroup for `member_id`; dynamic members only: a static member keeps its place
    /// for a restart within the session timeout (KIP-345).
    async fn send_leave_group(&self, member_id: String, reason: &str) {
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

    /// The coordinator refused a request of `generation` with `code`: the membership
    /// decides whether that fences this member or asks for a rejoin.
    fn refused(&self, generation: i32, code: ErrorCode) {
        let mut s = lock(&self.state);
        let was_lost = s.membership.lost().is_some();
        s.membership.apply(Event::Refused { generation, code });
        match s.membership.lost() {
            Some(reason) if !was_lost => {
                tracing::info!(group = %self.group_id, %reason, "group membership lost")
            }
            _ => {}
        }
    }
}
