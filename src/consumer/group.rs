//! Consumer group membership (the classic protocol): the coordinator, the membership state,
//! LeaveGroup; joins, heartbeats and offsets in the files beside it.
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

mod heartbeat;
mod join;
mod membership;
mod offsets;

use super::assignor::{assignor, Assignor, RebalanceProtocol};
use crate::cluster::{Cluster, TrafficClass};
use crate::config::ConsumerConfig;
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::group_id;
use crate::record::ConsumerGroupMetadata;
pub use crate::record::OffsetAndMetadata;
use crate::sync::lock;
pub(crate) use join::Rebalanced;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{FindCoordinatorRequest, LeaveGroupRequest};
use kafka_protocol::protocol::StrBytes;
use membership::{Event, Membership};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What the group's tasks share, each read or changed under one short lock.
struct GroupState {
    membership: Membership,
    /// The subscribed topics, sorted.
    topics: Vec<String>,
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
            state: Mutex::new(GroupState {
                membership: Membership::default(),
                topics: Vec::new(),
                coordinator: None,
                last_poll: Instant::now(),
            }),
            wake_heartbeat: Arc::new(Notify::new()),
        });
        tokio::spawn(heartbeat::run(Arc::downgrade(&group)));
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

    /// Subscribes to `topics` (sorted, without duplicates): rejoin at the next poll.
    pub(crate) fn subscribe(&self, topics: Vec<String>) {
        let mut s = lock(&self.state);
        s.topics = topics;
        s.membership.apply(Event::Subscribed);
    }

    pub(crate) fn topics(&self) -> Vec<String> {
        lock(&self.state).topics.clone()
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
    pub(crate) fn leave(self: &Arc<Self>, reason: &str) -> Option<tokio::task::JoinHandle<()>> {
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
