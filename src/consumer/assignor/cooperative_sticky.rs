//! "cooperative-sticky": balanced, sticky, and safe for KIP-429's incremental rebalances.
//!
//! Same goals as Java's `CooperativeStickyAssignor`, by a simpler route:
//! 1. each partition stays with its valid previous owner: the member claiming it in the
//!    highest generation, subscribed to its topic (two claims in that generation cancel);
//! 2. partitions nobody validly owns go to the least-loaded subscribed member, those with
//!    the fewest possible members first;
//! 3. while a member has at least two partitions more than another member that could take
//!    one of them, one moves from the most loaded to the least loaded (Java's balance test);
//! 4. cooperative step: a partition going to a member that does not own it while another
//!    member still claims it is left out of this round. The old owner's assignment lacks it,
//!    so it revokes it and rejoins; the follow-up rebalance hands it over. No partition is
//!    ever owned by two members at once.
//!
//! Step 3 moves a partition only between a pair that is out of balance and always from the
//! fullest member, so with equal subscriptions the number moved is the minimum, and a new
//! member only takes from the others, never causing moves among them.

use super::{
    empty_assignment, ordered_members, subscribed_topics, Assignor, MemberSubscription,
    RebalanceProtocol,
};
use crate::consumer::assignor::protocol::Subscription;
use crate::record::TopicPartition;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub(crate) struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let members = ordered_members(members);
        let target = target(&members, partitions);
        // Who claims each partition, whatever their generation or subscription: any of
        // them may still be consuming it until it sees an assignment without it.
        let mut claimants: HashMap<&TopicPartition, HashSet<usize>> = HashMap::new();
        for (i, m) in members.iter().enumerate() {
            for tp in &m.owned {
                claimants.entry(tp).or_default().insert(i);
            }
        }
        let mut result = empty_assignment(&members);
        for (i, (member, assigned)) in members.iter().zip(target).enumerate() {
            let list = assigned
                .into_iter()
                .filter(|tp| claimants.get(tp).is_none_or(|c| c.contains(&i)));
            if let Some(out) = result.get_mut(&member.member_id) {
                out.extend(list);
            }
        }
        result
    }

    /// Java's cooperative-sticky members put their generation in `user_data` (a big-endian
    /// `i32`) for leaders that only read subscription versions below 2.
    fn subscription_user_data(&self, generation: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    /// Subscriptions older than version 2 carry no generation; Java's leader then reads it
    /// from the user data, and so does this (too short reads as unknown, as a failed read
    /// does in Java).
    fn member_subscription(
        &self,
        member_id: String,
        group_instance_id: Option<String>,
        subscription: Subscription,
    ) -> MemberSubscription {
        let from_user_data = subscription
            .user_data
            .as_ref()
            .and_then(|b| b.get(..4))
            .and_then(|b| b.try_into().ok())
            .map(i32::from_be_bytes);
        let mut member = MemberSubscription::new(member_id, group_instance_id, subscription);
        if member.generation < 0 {
            member.generation = from_user_data.unwrap_or(-1);
        }
        member
    }
}

/// The balanced, sticky assignment the group converges to, before the cooperative step:
/// one set per member, in `members` order.
pub(super) fn target(
    members: &[&MemberSubscription],
    partitions: &BTreeMap<String, i32>,
) -> Vec<BTreeSet<TopicPartition>> {
    let topics = subscribed_topics(members, partitions);
    let count_of: HashMap<&str, i32> = topics.iter().copied().collect();
    let eligible: HashMap<&str, Vec<usize>> = topics
        .iter()
        .map(|&(t, _)| {
            let subscribers = (0..members.len()).filter(|&i| members[i].subscribes(t));
            (t, subscribers.collect())
        })
        .collect();
    let mut loads: Vec<Load> = vec![Load::default(); members.len()];

    // 1. Valid previous owners: the highest generation's claim wins; a tie leaves the
    //    partition unowned rather than guessing.
    let mut claims: HashMap<&TopicPartition, (i32, Option<usize>)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        let owned: BTreeSet<&TopicPartition> = m.owned.iter().collect();
        for tp in owned {
            let exists = count_of
                .get(tp.topic.as_str())
                .is_some_and(|&n| (0..n).contains(&tp.partition));
            if !exists || !m.subscribes(&tp.topic) {
                continue;
            }
            let claim = claims.entry(tp).or_insert((m.generation, Some(i)));
            if m.generation > claim.0 {
                *claim = (m.generation, Some(i));
            } else if m.generation == claim.0 && claim.1 != Some(i) {
                claim.1 = None;
            }
        }
    }
    let mut previous: HashMap<TopicPartition, usize> = HashMap::new();
    for (tp, (_, owner)) in claims {
        if let Some(i) = owner {
            loads[i].kept.insert(tp.clone());
            previous.insert(tp.clone(), i);
        }
    }

    // 2. The rest, most constrained first, each to the least-loaded member that may take it.
    let mut unowned: Vec<(usize, TopicPartition)> = topics
        .iter()
        .flat_map(|&(t, n)| (0..n).map(move |p| TopicPartition::new(t, p)))
        .filter(|tp| !previous.contains_key(tp))
        .map(|tp| (eligible.get(tp.topic.as_str()).map_or(0, Vec::len), tp))
        .collect();
    unowned.sort();
    for (_, tp) in unowned {
        let candidates = eligible
            .get(tp.topic.as_str())
            .map_or(&[][..], Vec::as_slice);
        if let Some(&i) = candidates.iter().min_by_key(|&&i| (loads[i].len(), i)) {
            loads[i].fresh.insert(tp);
        }
    }

    // 3. Balance. Each move lowers the sum of squared counts, so this ends.
    while let Some((from, to, tp)) = next_move(members, &loads) {
        loads[from].kept.remove(&tp);
        loads[from].fresh.remove(&tp);
        if previous.get(&tp) == Some(&to) {
            loads[to].kept.insert(tp);
        } else {
            loads[to].fresh.insert(tp);
        }
    }
    loads
        .into_iter()
        .map(|mut l| {
            l.kept.append(&mut l.fresh);
            l.kept
        })
        .collect()
}

/// One member's partitions in the making: those it owned before and keeps, and those new
/// to it (moving these costs no revocation, so balancing takes them first).
#[derive(Clone, Default)]
struct Load {
    kept: BTreeSet<TopicPartition>,
    fresh: BTreeSet<TopicPartition>,
}

impl Load {
    fn len(&self) -> usize {
        self.kept.len() + self.fresh.len()
    }
}

/// A partition to move from the most loaded member to the least loaded one that is at
/// least two behind and subscribed to its topic; `None` once balanced.
fn next_move(
    members: &[&MemberSubscription],
    loads: &[Load],
) -> Option<(usize, usize, TopicPartition)> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| (loads[i].len(), i));
    for &from in order.iter().rev() {
        for &to in &order {
            if loads[from].len() < loads[to].len() + 2 {
                break;
            }
            let movable = |tp: &&TopicPartition| members[to].subscribes(&tp.topic);
            let (fresh, kept) = (&loads[from].fresh, &loads[from].kept);
            if let Some(tp) = fresh
                .iter()
                .find(movable)
                .or_else(|| kept.iter().rev().find(movable))
            {
                return Some((from, to, tp.clone()));
            }
        }
    }
    None
}
