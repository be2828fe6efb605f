//! Partition assignors for the classic consumer group protocol, run by the group leader.
//!
//! The leader decodes every member's subscription ([`protocol::decode_subscription`]), turns
//! each into a [`MemberSubscription`], asks the chosen [`Assignor`] for an assignment and
//! sends each member its share ([`protocol::encode_assignment`]). Names, bytes and results
//! follow the Java client's assignors so kafkit members can share a group with Java and
//! librdkafka members, whichever of them leads.

mod cooperative_sticky;
#[cfg(test)]
mod proptests;
pub(crate) mod protocol;
mod range;
mod round_robin;
#[cfg(test)]
mod tests;

use crate::config::AssignorKind;
use crate::record::TopicPartition;
use bytes::Bytes;
use protocol::Subscription;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

/// One member's subscription, as the group leader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MemberSubscription {
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// Sorted, deduped.
    pub topics: Vec<String>,
    /// Partitions it owns now (cooperative / sticky).
    pub owned: Vec<TopicPartition>,
    /// Generation of `owned`, -1 if unknown.
    pub generation: i32,
    pub rack: Option<String>,
}

impl MemberSubscription {
    /// The leader's view of a member from its decoded subscription. Topics are sorted and
    /// deduped here so assignors can rely on it.
    pub(crate) fn new(
        member_id: String,
        group_instance_id: Option<String>,
        subscription: Subscription,
    ) -> MemberSubscription {
        let mut topics = subscription.topics;
        topics.sort();
        topics.dedup();
        MemberSubscription {
            member_id,
            group_instance_id,
            topics,
            owned: subscription.owned,
            generation: subscription.generation,
            rack: subscription.rack,
        }
    }

    fn subscribes(&self, topic: &str) -> bool {
        self.topics
            .binary_search_by(|t| t.as_str().cmp(topic))
            .is_ok()
    }
}

/// How members give up partitions when the group rebalances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RebalanceProtocol {
    /// Every member revokes everything before joining (range, roundrobin).
    Eager,
    /// Members keep their partitions across the rebalance and revoke only those the new
    /// assignment leaves out (KIP-429).
    Cooperative,
}

/// A partition assignor, as named in JoinGroup's protocol list.
pub(crate) trait Assignor: Send + Sync {
    /// The protocol name: "range", "roundrobin", "cooperative-sticky".
    fn name(&self) -> &'static str;

    fn protocol(&self) -> RebalanceProtocol;

    /// `partitions`: topic -> partition count (only topics someone subscribed to and that
    /// exist). Returns member_id -> assigned partitions, every member present (possibly
    /// empty), each list sorted by topic then partition.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<TopicPartition>>;

    /// The `user_data` a member using this assignor puts in its subscription. Only
    /// cooperative-sticky has any: Java writes its generation there for leaders that read
    /// subscriptions older than version 2.
    fn subscription_user_data(&self, _generation: i32) -> Option<Bytes> {
        None
    }

    /// The leader's view of a member: [`MemberSubscription::new`], plus whatever this
    /// assignor reads from the member's `user_data`.
    fn member_subscription(
        &self,
        member_id: String,
        group_instance_id: Option<String>,
        subscription: Subscription,
    ) -> MemberSubscription {
        MemberSubscription::new(member_id, group_instance_id, subscription)
    }
}

/// The assignor for a configured kind.
pub(crate) fn assignor(kind: AssignorKind) -> Box<dyn Assignor> {
    match kind {
        AssignorKind::Range => Box::new(range::RangeAssignor),
        AssignorKind::RoundRobin => Box::new(round_robin::RoundRobinAssignor),
        AssignorKind::CooperativeSticky => Box::new(cooperative_sticky::CooperativeStickyAssignor),
    }
}

/// Java's member order (`AbstractPartitionAssignor.MemberInfo`): static members first, by
/// `group.instance.id`, then dynamic members by member id. Static members keep their place
/// across restarts (their member id changes, their instance id does not), so range and
/// roundrobin hand them the same partitions again.
fn java_member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// Members in Java's order, a member id that appears twice kept once (the first), so the
/// result map has exactly one entry per member.
fn ordered_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut seen = HashSet::new();
    let mut out: Vec<&MemberSubscription> = members
        .iter()
        .filter(|m| seen.insert(m.member_id.as_str()))
        .collect();
    out.sort_by(|a, b| java_member_order(a, b));
    out
}

/// Every member with an empty list: members nobody gives a partition still get an answer.
fn empty_assignment(members: &[&MemberSubscription]) -> BTreeMap<String, Vec<TopicPartition>> {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// Partition counts of topics at least one member subscribes to; a negative count (never
/// sent by a broker) counts as none.
fn subscribed_topics<'a>(
    members: &[&MemberSubscription],
    partitions: &'a BTreeMap<String, i32>,
) -> Vec<(&'a str, i32)> {
    partitions
        .iter()
        .filter(|(topic, _)| members.iter().any(|m| m.subscribes(topic)))
        .map(|(topic, &count)| (topic.as_str(), count.max(0)))
        .collect()
}
