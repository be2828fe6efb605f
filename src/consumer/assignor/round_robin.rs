//! Java's `RoundRobinAssignor` ("roundrobin").

use super::{
    empty_assignment, ordered_members, subscribed_topics, Assignor, MemberSubscription,
    RebalanceProtocol,
};
use crate::record::TopicPartition;
use std::collections::BTreeMap;

pub(crate) struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// All partitions, sorted by topic then partition, are dealt to the members in Java's
    /// order, one each in turn. A member not subscribed to a partition's topic is passed
    /// over for it; the turn goes on from the member that took it, as Java's circular
    /// iterator does, so with different subscriptions the results still match Java's.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        let members = ordered_members(members);
        let mut result = empty_assignment(&members);
        let mut turn = 0;
        for (topic, count) in subscribed_topics(&members, partitions) {
            for partition in 0..count {
                // Someone subscribes to `topic` (see `subscribed_topics`), so this ends
                // within one lap.
                let Some(offset) = (0..members.len())
                    .find(|k| members[(turn + k) % members.len()].subscribes(topic))
                else {
                    break;
                };
                let member = members[(turn + offset) % members.len()];
                if let Some(list) = result.get_mut(&member.member_id) {
                    list.push(TopicPartition::new(topic, partition));
                }
                turn = (turn + offset + 1) % members.len();
            }
        }
        result
    }
}
