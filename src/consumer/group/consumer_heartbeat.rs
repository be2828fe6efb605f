//! KIP-848 (`group.protocol=consumer`): the ConsumerGroupHeartbeat task, the leave
//! heartbeat, and the reconciliation `poll` runs (see `consumer_member.rs` for the states).
//!
//! ```text
//! heartbeat task ── ConsumerGroupHeartbeat (epoch 0 to join; every interval the broker
//!   │               names; at once for news) ──▶ answer: epoch, interval, assignment (ids)
//!   │                                            FENCED_MEMBER_EPOCH/UNKNOWN_MEMBER_ID → Fenced
//!   │   no poll for max.poll.interval.ms → leave (epoch -1/-2), Fenced
//! poll ── assignment ≠ owned? ids → names (metadata) ── Revoke (auto-commit, hook) ──▶
//!         Assign (OffsetFetch, hook) ──▶ Acknowledge: owned now, the next heartbeat says so
//! close ── leave heartbeat: epoch -1 (dynamic) or -2 (static: keeps its place)
//! ```

use super::consumer_member::{Due, Event, IdPartition, Phase, Subscription};
use super::{Group, GroupState};
use crate::cluster::Cluster;
use crate::config::ConsumerConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::wire::{group_id, millis, topic_name};
use crate::record::TopicPartition;
use crate::sync::lock;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, MetadataRequest,
};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;
use uuid::Uuid;

/// The shortest heartbeat interval honoured: a broker naming 0 must not make the task spin.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// How long the task sleeps with nothing to send before looking again.
const IDLE: Duration = Duration::from_secs(1);

/// What `poll` does to reconcile: revoke, then assign, then acknowledge.
pub(crate) struct Reconciliation {
    pub revoke: Vec<TopicPartition>,
    pub assign: Vec<TopicPartition>,
    pub ack: Acknowledgement,
}

/// The partitions owned once a reconciliation is done, as the next heartbeat names them.
pub(crate) struct Acknowledgement(BTreeSet<IdPartition>);

/// Runs until the group is dropped; holds it only while acting.
pub(super) async fn run(group: Weak<Group>) {
    let mut failures = 0u32;
    loop {
        let (due, wake) = {
            let Some(g) = group.upgrade() else { return };
            if g.poll_timed_out() {
                g.leave_for_poll_timeout_848().await;
                continue;
            }
            let due = g.consumer(|m| m.due()).unwrap_or(Due::Idle);
            (due, g.wake_heartbeat.clone())
        };
        match due {
            Due::Idle => {
                let _ = tokio::time::timeout(IDLE, wake.notified()).await;
            }
            Due::At(at) => {
                let _ = tokio::time::timeout_at(at, wake.notified()).await;
            }
            Due::Now => {
                let Some(g) = group.upgrade() else { return };
                failures = if g.beat_848(failures).await {
                    0
                } else {
                    failures.saturating_add(1)
                };
            }
        }
    }
}

impl Group {
    /// Runs `f` on the KIP-848 member (`None` with the classic protocol).
    fn consumer<T>(&self, f: impl FnOnce(&mut super::ConsumerMember) -> T) -> Option<T> {
        let mut s = lock(&self.state);
        s.membership.consumer().map(f)
    }

    fn poll_timed_out(&self) -> bool {
        let mut s = lock(&self.state);
        let GroupState {
            membership,
            last_poll,
            ..
        } = &mut *s;
        let elapsed = last_poll.elapsed();
        membership
            .consumer()
            .is_some_and(|m| m.is_member() && elapsed > self.config.max_poll_interval)
    }

    /// The error that ended the membership (a setting must change), for `poll`.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.consumer(|m| m.failure().cloned()).flatten()
    }

    /// Sends one heartbeat and applies the answer; `false` when it failed.
    async fn beat_848(&self, failures: u32) -> bool {
        let Some(beat) = self.consumer(|m| m.beat()) else {
            return true;
        };
        let request = with_subscription(
            self.heartbeat_request(&beat.member_id, beat.epoch, beat.full),
            beat.subscription.as_ref(),
        )
        .with_topic_partitions(beat.owned.clone().map(|owned| by_topic(&owned)));
        let outcome = match self.coordinator().await {
            Ok(conn) => conn.send(&request).await.and_then(|r| self.answer_error(r)),
            Err(e) => Err(e),
        };
        let event = match outcome {
            Ok(response) => Event::Answered {
                seq: beat.seq,
                member_id: response.member_id.map(|id| id.to_string()),
                epoch: response.member_epoch,
                interval: Duration::from_millis(response.heartbeat_interval_ms.max(0) as u64)
                    .max(MIN_INTERVAL),
                assignment: response.assignment.map(|a| {
                    a.topic_partitions
                        .iter()
                        .flat_map(|t| {
                            t.partitions
                                .iter()
                                .filter(|&&p| p >= 0)
                                .map(move |&p| (t.topic_id, p))
                        })
                        .collect()
                }),
            },
            Err(e) => {
                tracing::debug!(group = %self.group_id, error = %e, "heartbeat failed");
                self.coordinator_error(e.code().unwrap_or(ErrorCode::NONE));
                Event::Failed {
                    seq: beat.seq,
                    error: self.explain(e),
                    retry_in: self.cluster.backoff().delay(failures),
                }
            }
        };
        let ok = matches!(event, Event::Answered { .. });
        self.consumer(|m| {
            let was = std::mem::discriminant(m.phase());
            m.apply(event);
            if std::mem::discriminant(m.phase()) != was {
                match m.phase() {
                    Phase::Fenced { reason } => {
                        tracing::info!(group = %self.group_id, %reason, "group membership lost")
                    }
                    Phase::Failed { error } => {
                        tracing::warn!(group = %self.group_id, %error, "group membership failed")
                    }
                    _ => {}
                }
            }
        });
        ok
    }

    fn heartbeat_request(
        &self,
        member_id: &str,
        epoch: i32,
        full: bool,
    ) -> ConsumerGroupHeartbeatRequest {
        heartbeat_request(&self.group_id, &self.config, member_id, epoch, full)
    }

    fn answer_error(
        &self,
        response: ConsumerGroupHeartbeatResponse,
    ) -> Result<ConsumerGroupHeartbeatResponse> {
        let code = ErrorCode(response.error_code);
        if code.is_ok() {
            return Ok(response);
        }
        Err(Error::Broker {
            code,
            context: format!("heartbeat of group {}", self.group_id),
            message: response.error_message.map(|m| m.to_string()),
        })
    }

    /// The errors a setting fixes, with the setting named.
    fn explain(&self, e: Error) -> Error {
        let group = &self.group_id;
        let (code, context) = match &e {
            Error::UnsupportedVersion { broker, theirs, .. } => (
                ErrorCode::UNSUPPORTED_VERSION,
                format!(
                    "group {group}: group.protocol=consumer needs ConsumerGroupHeartbeat v1 \
                     (KIP-848, Kafka 4.0+), and the coordinator {broker} offers {theirs}; set \
                     group.protocol=classic"
                ),
            ),
            Error::Broker {
                code: ErrorCode::GROUP_MAX_SIZE_REACHED,
                ..
            } => (
                ErrorCode::GROUP_MAX_SIZE_REACHED,
                format!(
                    "group {group} is full (the broker's group.consumer.max.size); raise it, or \
                     run fewer members"
                ),
            ),
            Error::Broker {
                code: ErrorCode::UNSUPPORTED_ASSIGNOR,
                ..
            } => (
                ErrorCode::UNSUPPORTED_ASSIGNOR,
                format!(
                    "group {group}: the broker does not enable group.remote.assignor={:?} (its \
                     group.consumer.assignors); set one it enables, or unset it",
                    self.config.group_remote_assignor.as_deref().unwrap_or("")
                ),
            ),
            Error::Broker {
                code: ErrorCode::INVALID_REGULAR_EXPRESSION,
                ..
            } => (
                ErrorCode::INVALID_REGULAR_EXPRESSION,
                format!(
                    "group {group}: the group coordinator cannot compile the pattern {:?} of \
                     subscribe_broker_pattern (RE2J syntax); subscribe again with a valid one",
                    match &lock(&self.state).subscription {
                        Subscription::Pattern(pattern) => pattern.as_str(),
                        Subscription::Topics(_) => "",
                    }
                ),
            ),
            Error::Broker {
                code: ErrorCode::UNSUPPORTED_VERSION,
                ..
            } => (
                ErrorCode::UNSUPPORTED_VERSION,
                format!(
                    "group {group}: the broker does not enable the consumer group protocol \
                     (group.coordinator.rebalance.protocols); set group.protocol=classic"
                ),
            ),
            _ => return e,
        };
        let message = match e {
            Error::Broker { message, .. } => message,
            other => Some(other.to_string()),
        };
        Error::Broker {
            code,
            context,
            message,
        }
    }

    /// No poll within `max.poll.interval.ms`: leave the group (the partitions go to the
    /// others at once) and report them lost at the next poll, as Java does.
    async fn leave_for_poll_timeout_848(&self) {
        let reason = format!(
            "no poll within max.poll.interval.ms ({:?}): left the group",
            self.config.max_poll_interval
        );
        let leave = self.consumer(|m| {
            let leave = (m.member_id().to_string(), m.leave_epoch());
            m.apply(Event::PollTimedOut {
                reason: reason.clone(),
            });
            leave
        });
        tracing::info!(group = %self.group_id, %reason, "group membership lost");
        if let Some((member_id, epoch)) = leave {
            self.send_leave_848(&member_id, epoch).await;
        }
    }

    /// `close` or drop: the leave heartbeat from a task, bounded like LeaveGroup.
    pub(super) fn leave_consumer_group(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let (member_id, epoch) = self.consumer(|m| m.leave()).flatten()?;
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let group = self.clone();
        let bound = self.config.client.request_timeout.saturating_mul(2);
        Some(runtime.spawn(async move {
            if tokio::time::timeout(bound, group.send_leave_848(&member_id, epoch))
                .await
                .is_err()
            {
                tracing::debug!(group = %group.group_id, "leave heartbeat timed out");
            }
            group.consumer(|m| m.apply(Event::Left));
        }))
    }

    async fn send_leave_848(&self, member_id: &str, epoch: i32) {
        let request = self.heartbeat_request(member_id, epoch, false);
        let sent = match self.coordinator().await {
            Ok(conn) => conn
                .send(&request)
                .await
                .and_then(|r| self.answer_error(r))
                .map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::debug!(group = %self.group_id, error = %e, "leave heartbeat failed");
        }
    }

    /// What `poll` must do to own what the broker assigned, against `owned`; `None` when
    /// nothing (or the reconciliation is under way). Topic ids are named through the
    /// metadata; ids it does not know yet wait for a lookup (`name_topic_ids`).
    pub(crate) fn reconciliation(&self, owned: &[TopicPartition]) -> Option<Reconciliation> {
        let names = self.cluster.topic_names_by_id();
        let mut s = lock(&self.state);
        let m = s.membership.consumer()?;
        let target = m.reconciliation()?;
        let mut resolved: BTreeMap<TopicPartition, IdPartition> = BTreeMap::new();
        let mut unresolved = false;
        for &(id, partition) in target {
            match names.get(&id) {
                Some(name) => {
                    resolved.insert(
                        TopicPartition::new(name.clone(), partition),
                        (id, partition),
                    );
                }
                None => unresolved = true,
            }
        }
        let owned: BTreeSet<TopicPartition> = owned.iter().cloned().collect();
        if unresolved {
            let unknown = target
                .iter()
                .map(|&(id, _)| id)
                .filter(|id| !names.contains_key(id))
                .collect();
            self.name_topic_ids(unknown);
            if resolved.keys().eq(owned.iter()) {
                return None;
            }
        }
        m.apply(Event::ReconcileStarted);
        Some(Reconciliation {
            revoke: owned
                .iter()
                .filter(|tp| !resolved.contains_key(tp))
                .cloned()
                .collect(),
            assign: resolved
                .keys()
                .filter(|tp| !owned.contains(tp))
                .cloned()
                .collect(),
            ack: Acknowledgement(resolved.into_values().collect()),
        })
    }

    /// Looks up the names of assigned topic ids the metadata does not know: the topics a
    /// broker pattern matched, which nothing else follows, or a subscribed topic the cache
    /// has not seen yet. One Metadata request for every topic, from a task, one at a time
    /// and not again within a backoff (a topic just created may not have reached the broker
    /// asked); the topics found are followed from then on, so a later poll names them.
    fn name_topic_ids(&self, ids: BTreeSet<Uuid>) {
        if self.naming_ids.swap(true, Ordering::SeqCst) {
            return;
        }
        let cluster = self.cluster.clone();
        let naming = self.naming_ids.clone();
        tokio::spawn(async move {
            match topics_with_ids(&cluster, &ids).await {
                Ok(names) if !names.is_empty() => {
                    for name in &names {
                        cluster.track(name);
                    }
                    if let Err(e) = cluster.refresh().await {
                        tracing::debug!(error = %e, "metadata refresh failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "looking up assigned topic ids failed"),
            }
            tokio::time::sleep(cluster.backoff().delay(0)).await;
            naming.store(false, Ordering::SeqCst);
        });
    }

    /// `poll` reconciled: the next heartbeat (at once) acknowledges what is owned now.
    pub(crate) fn reconciled(&self, ack: Acknowledgement) {
        self.consumer(|m| m.apply(Event::Reconciled(ack.0)));
        self.wake_heartbeat.notify_one();
    }
}

/// The names of the topics with these ids, as one Metadata request for every topic finds
/// them.
async fn topics_with_ids(cluster: &Cluster, ids: &BTreeSet<Uuid>) -> Result<Vec<String>> {
    let request = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let response = cluster.any_connection().await?.send(&request).await?;
    Ok(response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && ids.contains(&t.topic_id))
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect())
}

/// A heartbeat's fixed part: full ones carry every field, incremental ones null for what
/// has not changed (rack, rebalance timeout, assignor).
fn heartbeat_request(
    group: &str,
    config: &ConsumerConfig,
    member_id: &str,
    epoch: i32,
    full: bool,
) -> ConsumerGroupHeartbeatRequest {
    let text = |s: &Option<String>| s.as_ref().map(|s| StrBytes::from_string(s.clone()));
    let full_only = |value: Option<StrBytes>| if full { value } else { None };
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_member_id(StrBytes::from_string(member_id.to_string()))
        .with_member_epoch(epoch)
        .with_instance_id(text(&config.group_instance_id))
        .with_rack_id(full_only(text(&config.client_rack)))
        .with_rebalance_timeout_ms(if full {
            millis(config.max_poll_interval)
        } else {
            -1
        })
        .with_server_assignor(full_only(text(&config.group_remote_assignor)))
}

/// The subscription fields (`None`: unchanged, both null). A heartbeat that says the
/// subscription says both halves, so names replace a pattern and a pattern replaces names:
/// an empty regex clears a pattern (as Java's client sends it), an empty list of names
/// leaves the pattern alone to decide.
fn with_subscription(
    request: ConsumerGroupHeartbeatRequest,
    subscription: Option<&Subscription>,
) -> ConsumerGroupHeartbeatRequest {
    let (names, regex) = match subscription {
        None => (None, None),
        Some(Subscription::Topics(topics)) => (
            Some(topics.iter().map(|t| topic_name(t)).collect()),
            Some(StrBytes::default()),
        ),
        Some(Subscription::Pattern(pattern)) => (
            Some(Vec::new()),
            Some(StrBytes::from_string(pattern.clone())),
        ),
    };
    request
        .with_subscribed_topic_names(names)
        .with_subscribed_topic_regex(regex)
}

/// Owned partitions grouped by topic id, as the request carries them.
fn by_topic(owned: &[IdPartition]) -> Vec<TopicPartitions> {
    let mut topics: BTreeMap<uuid::Uuid, Vec<i32>> = BTreeMap::new();
    for &(id, partition) in owned {
        topics.entry(id).or_default().push(partition);
    }
    topics
        .into_iter()
        .map(|(id, partitions)| {
            TopicPartitions::default()
                .with_topic_id(id)
                .with_partitions(partitions)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::{Decodable, Encodable};

    fn config() -> ConsumerConfig {
        let mut config = ConsumerConfig::new("localhost:9092");
        config.group_instance_id = Some("i1".into());
        config.client_rack = Some("r2".into());
        config.group_remote_assignor = Some("range".into());
        config.max_poll_interval = Duration::from_secs(300);
        config
    }

    /// The request as the broker reads it: encoded at v1, the one version kafkit speaks.
    fn on_the_wire(request: &ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatRequest {
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, 1).unwrap();
        ConsumerGroupHeartbeatRequest::decode(&mut buf.freeze(), 1).unwrap()
    }

    fn text(s: &str) -> Option<StrBytes> {
        Some(StrBytes::from_string(s.to_string()))
    }

    #[test]
    fn a_full_heartbeat_carries_rack_assignor_timeout_and_instance() {
        let r = on_the_wire(&heartbeat_request("g", &config(), "m1", 0, true));
        assert_eq!(r.group_id.0.as_str(), "g");
        assert_eq!((r.member_id.as_str(), r.member_epoch), ("m1", 0));
        assert_eq!(r.instance_id, text("i1"));
        assert_eq!(r.rack_id, text("r2"), "client.rack as RackId");
        assert_eq!(r.server_assignor, text("range"));
        assert_eq!(r.rebalance_timeout_ms, 300_000);
        // Incremental: unchanged fields null, the instance id always (KIP-848).
        let r = on_the_wire(&heartbeat_request("g", &config(), "m1", 3, false));
        assert_eq!((r.rack_id, r.server_assignor), (None, None));
        assert_eq!((r.rebalance_timeout_ms, r.instance_id), (-1, text("i1")));
        // Without client.rack, no RackId (the broker refuses an empty one).
        let r = heartbeat_request("g", &ConsumerConfig::new("b:1"), "m1", 0, true);
        assert_eq!((r.rack_id, r.instance_id), (None, None));
    }

    #[test]
    fn the_subscription_goes_as_names_or_as_a_regex_and_clears_the_other() {
        let base = || heartbeat_request("g", &config(), "m1", 0, true);
        let topics = Subscription::Topics(vec!["a".into(), "b".into()]);
        let r = on_the_wire(&with_subscription(base(), Some(&topics)));
        let names: Vec<&str> = r
            .subscribed_topic_names
            .iter()
            .flatten()
            .map(|t| t.0.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            r.subscribed_topic_regex,
            text(""),
            "no pattern (any earlier one cleared)"
        );

        let pattern = Subscription::Pattern("orders-.*".into());
        let r = on_the_wire(&with_subscription(base(), Some(&pattern)));
        assert_eq!(
            r.subscribed_topic_names,
            Some(vec![]),
            "no names besides the pattern"
        );
        assert_eq!(r.subscribed_topic_regex, text("orders-.*"));

        let r = on_the_wire(&with_subscription(base(), None));
        assert_eq!(
            (r.subscribed_topic_names, r.subscribed_topic_regex),
            (None, None),
            "unchanged: both null"
        );
    }

    #[test]
    fn the_regex_needs_version_one() {
        let pattern = Subscription::Pattern("t-.*".into());
        let request = with_subscription(
            heartbeat_request("g", &config(), "m1", 0, true),
            Some(&pattern),
        );
        let mut buf = bytes::BytesMut::new();
        assert!(
            request.encode(&mut buf, 0).is_err(),
            "v0 has no SubscribedTopicRegex"
        );
        assert_eq!(
            crate::protocol::versions::ours(
                kafka_protocol::messages::ApiKey::ConsumerGroupHeartbeat
            ),
            Some((1, 1)),
            "kafkit sends v1 or nothing"
        );
    }
}
