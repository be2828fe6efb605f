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
pub(crate) use crate::protocol::consumer_protocol as protocol;
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

/// A hook for the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::protocol::{decode_assignment, decode_subscription, encode_assignment, Assignment};
    use super::{assignor, MemberSubscription};
    use crate::config::AssignorKind;
    use crate::record::TopicPartition;
    use bytes::Bytes;
    use std::collections::{BTreeMap, BTreeSet};

    /// Bytes as the member metadata of a group's members, decoded and handed to an assignor
    /// as the group leader does. Byte 0 picks the assignor (and which members are static);
    /// then members, each a big-endian `u16` length and that many bytes, also decoded as an
    /// assignment. Every topic subscribed to exists with 1 to 8 partitions (from its name).
    /// The assignment must give every member a sorted share of partitions that exist and it
    /// subscribed to, each partition to one member, and encode and decode back unchanged.
    pub fn fuzz_consumer_protocol(data: &[u8]) {
        let Some((&choice, mut rest)) = data.split_first() else {
            return;
        };
        let kind = match choice % 3 {
            0 => AssignorKind::Range,
            1 => AssignorKind::RoundRobin,
            _ => AssignorKind::CooperativeSticky,
        };
        let assignor = assignor(kind);
        let mut members: Vec<MemberSubscription> = Vec::new();
        while let Some((len, more)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len)).min(more.len());
            let (bytes, more) = more.split_at(len);
            rest = more;
            let bytes = Bytes::copy_from_slice(bytes);
            let _ = decode_assignment(bytes.clone());
            let Ok(subscription) = decode_subscription(bytes) else {
                continue;
            };
            let i = members.len();
            let instance = (choice >> (2 + i % 6) & 1 == 1).then(|| format!("static-{i}"));
            members.push(assignor.member_subscription(format!("m{i}"), instance, subscription));
        }
        let partitions: BTreeMap<String, i32> = members
            .iter()
            .flat_map(|m| m.topics.iter())
            .map(|t| (t.clone(), 1 + (t.len() % 8) as i32))
            .collect();
        let assignment = assignor.assign(&members, &partitions);
        let mut given = BTreeSet::new();
        for member in &members {
            let share = &assignment[&member.member_id];
            assert!(share.windows(2).all(|w| w[0] < w[1]), "unsorted share");
            for tp in share {
                assert!(member.topics.contains(&tp.topic), "not subscribed: {tp:?}");
                assert!(
                    (0..partitions[&tp.topic]).contains(&tp.partition),
                    "no such partition"
                );
                assert!(given.insert(tp.clone()), "{tp:?} given twice");
            }
            let bytes = encode_assignment(&Assignment {
                partitions: share.clone(),
                user_data: None,
            })
            .expect("topic names came from decoded i16-length strings");
            let decoded: Vec<TopicPartition> = decode_assignment(bytes)
                .expect("an encoded assignment decodes")
                .partitions;
            assert_eq!(&decoded, share);
        }
        assert_eq!(assignment.len(), members.len(), "a member missing or added");
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::consumer::assignor::protocol::{encode_subscription, Subscription};

        fn member(topics: &[&str], owned: &[(&str, i32)]) -> Vec<u8> {
            let bytes = encode_subscription(&Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                user_data: None,
                owned: owned
                    .iter()
                    .map(|(t, p)| TopicPartition::new(*t, *p))
                    .collect(),
                generation: 1,
                rack: None,
            })
            .unwrap();
            let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&bytes);
            out
        }

        #[test]
        fn the_consumer_protocol_hook_survives_garbage_and_checks_real_groups() {
            for data in [&[][..], &[0, 0], &[2, 0, 3, 0xff, 0xff, 0xff], &[0xff; 64]] {
                fuzz_consumer_protocol(data);
            }
            // Owned partitions that no longer exist, owned twice, or of topics no longer
            // subscribed to, under every assignor and mix of static members.
            for choice in [0u8, 1, 2, 0x1e, 0x7d, 0xfe] {
                let mut data = vec![choice];
                data.extend(member(&["a", "bb"], &[("a", 0), ("bb", 7), ("zz", 0)]));
                data.extend(member(&["bb"], &[("bb", 0), ("a", 0)]));
                data.extend(member(&[], &[]));
                fuzz_consumer_protocol(&data);
            }
        }
    }
}
