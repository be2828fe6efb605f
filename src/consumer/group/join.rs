//! One join round: JoinGroup, the leader's assignment, SyncGroup; retried until the group
//! answers or the rebalance timeout passes.

use super::membership::Event;
use super::Group;
use crate::cluster::TrafficClass;
use crate::connection::Connection;
use crate::consumer::assignor::protocol::{
    decode_assignment, decode_subscription, encode_assignment, encode_subscription, Assignment,
    Subscription,
};
use crate::consumer::assignor::RebalanceProtocol;
use crate::consumer::telemetry::group_request_span;
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::protocol::wire::{group_id, millis};
use crate::record::TopicPartition;
use crate::retry::Retry;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{JoinGroupRequest, SyncGroupRequest};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tracing::Instrument;

/// The result of a completed rebalance, for `poll` to apply.
pub(crate) struct Rebalanced {
    pub assigned: Vec<TopicPartition>,
    pub revoked: Vec<TopicPartition>,
}

/// What JoinGroup answered.
struct Joined {
    member_id: String,
    generation: i32,
    /// The assignor the group chose.
    protocol: String,
    /// The members to assign, when this member leads the group.
    members_to_assign: Option<Vec<JoinGroupResponseMember>>,
}

impl Group {
    /// Runs a join round (after [`start_join`](Group::start_join)) and returns what changed
    /// against `owned`. On failure the membership goes back to Unjoined: the next poll joins
    /// again.
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
            self.apply(Event::JoinRefused(code));
            let action = match code {
                ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::MEMBER_ID_REQUIRED => RetryAction::Retry,
                _ => e.retry_action(),
            };
            tracing::debug!(group = %self.group_id, error = %e, "join failed");
            if let Err(e) = retry.wait_for(e, action).await {
                self.join_abandoned();
                return Err(e);
            }
        }
    }

    async fn join_once(
        &self,
        topics: &[String],
        owned: &BTreeSet<TopicPartition>,
    ) -> Result<Rebalanced> {
        let conn = self.coordinator_for(TrafficClass::Join).await?;
        let joined = self.join_group(&conn, topics, owned).await?;
        let assignments = match &joined.members_to_assign {
            Some(members) => self.assign_as_leader(&joined.protocol, members).await?,
            None => Vec::new(),
        };
        let assigned = self.sync_group(&conn, joined, assignments).await?;
        let revoked: Vec<TopicPartition> = owned.difference(&assigned).cloned().collect();
        // KIP-429: partitions given up go back to the group in a follow-up round.
        let follow_up = self.protocol() == RebalanceProtocol::Cooperative && !revoked.is_empty();
        {
            let mut s = crate::sync::lock(&self.state);
            s.membership.apply(Event::Synced { follow_up });
            s.last_poll = tokio::time::Instant::now();
        }
        self.wake_heartbeat.notify_one();
        Ok(Rebalanced {
            assigned: assigned.into_iter().collect(),
            revoked,
        })
    }

    /// JoinGroup: waits for every member to join, up to the rebalance timeout.
    async fn join_group(
        &self,
        conn: &Connection,
        topics: &[String],
        owned: &BTreeSet<TopicPartition>,
    ) -> Result<Joined> {
        let (member_id, generation) = self.identity();
        let request = JoinGroupRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_session_timeout_ms(millis(self.config.session_timeout))
            .with_rebalance_timeout_ms(millis(self.config.max_poll_interval))
            .with_member_id(StrBytes::from_string(member_id))
            .with_group_instance_id(self.instance_id())
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(self.protocols(conn, topics, owned, generation)?);
        let span = group_request_span("join_group", &self.group_id, conn.addr());
        let response = conn
            .send_with_timeout(&request, self.round_timeout())
            .instrument(span)
            .await?;
        let code = ErrorCode(response.error_code);
        if code == ErrorCode::MEMBER_ID_REQUIRED {
            self.apply(Event::MemberIdRequired(response.member_id.to_string()));
        }
        if !code.is_ok() {
            return Err(Error::broker(
                code,
                format!("joining group {}", self.group_id),
            ));
        }
        let member_id = response.member_id.to_string();
        self.apply(Event::JoinedGeneration {
            member_id: member_id.clone(),
            generation: response.generation_id,
        });
        let leads = response.leader.as_str() == member_id && !response.skip_assignment;
        Ok(Joined {
            member_id,
            generation: response.generation_id,
            protocol: response
                .protocol_name
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            members_to_assign: leads.then_some(response.members),
        })
    }

    /// The subscription, once per assignor: cooperative-sticky adds its generation as user
    /// data, which Java leaders read.
    fn protocols(
        &self,
        conn: &Connection,
        topics: &[String],
        owned: &BTreeSet<TopicPartition>,
        generation: i32,
    ) -> Result<Vec<JoinGroupRequestProtocol>> {
        self.assignors
            .iter()
            .map(|a| {
                let subscription = Subscription {
                    topics: topics.to_vec(),
                    user_data: a.subscription_user_data(generation),
                    owned: owned.iter().cloned().collect(),
                    generation,
                    rack: self.config.client_rack.clone(),
                };
                let metadata =
                    encode_subscription(&subscription).map_err(|reason| Error::Protocol {
                        broker: conn.addr().to_string(),
                        reason,
                    })?;
                Ok(JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(a.name()))
                    .with_metadata(metadata))
            })
            .collect()
    }

    /// SyncGroup: hands in the leader's assignments (none from followers) and returns this
    /// member's partitions.
    async fn sync_group(
        &self,
        conn: &Connection,
        joined: Joined,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> Result<BTreeSet<TopicPartition>> {
        let request = SyncGroupRequest::default()
            .with_group_id(group_id(&self.group_id))
            .with_generation_id(joined.generation)
            .with_member_id(StrBytes::from_string(joined.member_id))
            .with_group_instance_id(self.instance_id())
            .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
            .with_protocol_name(Some(StrBytes::from_string(joined.protocol)))
            .with_assignments(assignments);
        let span = group_request_span("sync_group", &self.group_id, conn.addr());
        let response = conn
            .send_with_timeout(&request, self.round_timeout())
            .instrument(span)
            .await?;
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
        Ok(assignment.partitions.into_iter().collect())
    }

    /// JoinGroup and SyncGroup wait for the other members: up to the rebalance timeout.
    fn round_timeout(&self) -> Duration {
        self.config.max_poll_interval + self.config.client.request_timeout
    }

    async fn assign_as_leader(
        &self,
        protocol: &str,
        members: &[JoinGroupResponseMember],
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
        let protocol_error = |reason| Error::Protocol {
            broker: "coordinator".into(),
            reason,
        };
        let mut subscriptions = Vec::new();
        for member in members {
            let s = decode_subscription(member.metadata.clone()).map_err(|reason| {
                protocol_error(format!(
                    "subscription of member {}: {reason}",
                    member.member_id
                ))
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
        // A subscribed topic that does not exist (yet) gets no partitions, without waiting
        // for it: the group's other members wait for this assignment.
        let partitions: BTreeMap<String, i32> = self
            .cluster
            .topics_now(&all_topics)
            .await
            .into_iter()
            .map(|(topic, info)| (topic, info.partitions.len() as i32))
            .collect();
        let assignment = assignor.assign(&subscriptions, &partitions);
        subscriptions
            .iter()
            .map(|m| {
                let partitions = assignment.get(&m.member_id).cloned().unwrap_or_default();
                let bytes = encode_assignment(&Assignment {
                    partitions,
                    user_data: None,
                })
                .map_err(protocol_error)?;
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(StrBytes::from_string(m.member_id.clone()))
                    .with_assignment(bytes))
            })
            .collect()
    }
}
