//! Java's `RangeAssignor` ("range"), without its rack-aware variant (it needs partition
//! racks, which the assignor interface does not carry).

use super::{
    empty_assignment, ordered_members, subscribed_topics, Assignor, MemberSubscription,
    RebalanceProtocol,
};
use crate::record::TopicPartition;
use std::collections::BTreeMap;

pub(crate) struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// Per topic, the partitions are cut into contiguous ranges, one per member subscribed
    /// to it, in Java's member order; the first `count % members` ranges are one longer.
    /// Topics are independent, so the first members get the extra partition of every topic.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let members = ordered_members(members);
        let mut result = empty_assignment(&members);
        for (topic, count) in subscribed_topics(&members, partitions) {
            let subscribers: Vec<_> = members.iter().filter(|m| m.subscribes(topic)).collect();
            // `subscribed_topics` keeps only topics someone subscribes to, so `n` > 0; the
            // checked forms just keep a broken invariant from being a panic.
            let n = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
            let (Some(per_member), Some(extra)) = (count.checked_div(n), count.checked_rem(n))
            else {
                continue;
            };
            let mut next = 0;
            for (i, member) in (0..).zip(subscribers) {
                let len = per_member + i32::from(i < extra);
                if let Some(list) = result.get_mut(&member.member_id) {
                    list.extend((next..next + len).map(|p| TopicPartition::new(topic, p)));
                }
                next += len;
            }
        }
        result
    }
}
