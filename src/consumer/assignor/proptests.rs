//! Properties of every assignor over random groups: each partition to at most one member,
//! only to members subscribed to its topic; coverage, balance and stickiness where they
//! apply.

use super::cooperative_sticky::target;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

type Result = BTreeMap<String, Vec<TopicPartition>>;

const TOPICS: [&str; 4] = ["t0", "t1", "t2", "t3"];

/// Partition counts for the topics (a count of 0 included), and members with random
/// subscriptions (some to a topic that does not exist), some of them static.
fn group() -> impl Strategy<Value = (BTreeMap<String, i32>, Vec<MemberSubscription>)> {
    let partitions = proptest::collection::vec(0..10i32, TOPICS.len())
        .prop_map(|n| TOPICS.iter().map(|t| t.to_string()).zip(n).collect());
    let member = (
        proptest::collection::btree_set(0..5usize, 1..4),
        any::<bool>(),
    );
    let members = proptest::collection::vec(member, 1..7).prop_map(|ms| {
        ms.into_iter()
            .enumerate()
            .map(|(i, (topics, is_static))| MemberSubscription {
                member_id: format!("m{i}"),
                group_instance_id: is_static.then(|| format!("i{}", 9 - i)),
                // Sorted, as `MemberSubscription::new` leaves them.
                topics: topics
                    .iter()
                    .map(|&t| TOPICS.get(t).unwrap_or(&"t_none").to_string())
                    .collect(),
                owned: vec![],
                generation: -1,
                rack: None,
            })
            .collect()
    });
    (partitions, members)
}

/// The same group with every member subscribed to the topics of the first.
fn same_subscriptions(members: &[MemberSubscription]) -> Vec<MemberSubscription> {
    let topics = members[0].topics.clone();
    members
        .iter()
        .map(|m| MemberSubscription {
            topics: topics.clone(),
            ..m.clone()
        })
        .collect()
}

/// Partitions of topics someone subscribes to.
fn subscribed(
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, i32>,
) -> BTreeSet<TopicPartition> {
    partitions
        .iter()
        .filter(|(t, _)| members.iter().any(|m| m.topics.contains(t)))
        .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// Checks the invariants every assignor keeps; returns the partitions assigned.
fn check_valid(members: &[MemberSubscription], result: &Result) -> BTreeSet<TopicPartition> {
    let ids: BTreeSet<&String> = members.iter().map(|m| &m.member_id).collect();
    assert_eq!(
        result.keys().collect::<BTreeSet<_>>(),
        ids,
        "every member, and only members"
    );
    let mut seen = BTreeSet::new();
    for m in members {
        for tp in &result[&m.member_id] {
            assert!(
                m.topics.contains(&tp.topic),
                "{tp} to {} not subscribed",
                m.member_id
            );
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    seen
}

fn counts(result: &Result) -> (usize, usize) {
    let sizes = result.values().map(Vec::len);
    (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0))
}

/// Java's balance test: no member has two partitions more than another member that could
/// take one of them.
fn check_balanced(members: &[MemberSubscription], result: &Result) {
    for a in members {
        for b in members {
            let (ra, rb) = (&result[&a.member_id], &result[&b.member_id]);
            if ra.len() >= rb.len() + 2 {
                assert!(
                    !ra.iter().any(|tp| b.topics.contains(&tp.topic)),
                    "{} could give {} one of {ra:?}",
                    a.member_id,
                    b.member_id
                );
            }
        }
    }
}

/// The group after a round: each member owns what it was given, in `generation`.
fn next_round(
    members: &[MemberSubscription],
    result: &Result,
    generation: i32,
) -> Vec<MemberSubscription> {
    members
        .iter()
        .map(|m| MemberSubscription {
            owned: result[&m.member_id].clone(),
            generation,
            ..m.clone()
        })
        .collect()
}

/// Two rounds of cooperative-sticky from no owners: the second hands over what the first
/// left out.
fn settled(
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, i32>,
) -> (Vec<MemberSubscription>, Result) {
    let sticky = assignor(AssignorKind::CooperativeSticky);
    let first = sticky.assign(members, partitions);
    let members = next_round(members, &first, 1);
    let second = sticky.assign(&members, partitions);
    (next_round(&members, &second, 2), second)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn eager_assignors_assign_every_partition_once((partitions, members) in group()) {
        for kind in [AssignorKind::Range, AssignorKind::RoundRobin] {
            let result = assignor(kind).assign(&members, &partitions);
            prop_assert_eq!(check_valid(&members, &result), subscribed(&members, &partitions));
        }
    }

    #[test]
    fn roundrobin_and_sticky_balance_equal_subscriptions((partitions, members) in group()) {
        let members = same_subscriptions(&members);
        for kind in [AssignorKind::RoundRobin, AssignorKind::CooperativeSticky] {
            let result = assignor(kind).assign(&members, &partitions);
            let (min, max) = counts(&result);
            prop_assert!(max <= min + 1, "{kind:?}: {result:?}");
        }
    }

    #[test]
    fn sticky_covers_everything_after_the_follow_up_round((partitions, members) in group()) {
        let (members, second) = settled(&members, &partitions);
        prop_assert_eq!(check_valid(&members, &second), subscribed(&members, &partitions));
        check_balanced(&members, &second);
        // Settled: running again with what everyone owns changes nothing.
        let again = assignor(AssignorKind::CooperativeSticky).assign(&members, &partitions);
        prop_assert_eq!(again, second);
    }

    #[test]
    fn a_new_member_only_takes_from_the_others((partitions, members) in group()) {
        let members = same_subscriptions(&members);
        let (mut members, before) = settled(&members, &partitions);
        let mut newcomer = MemberSubscription { member_id: "new".into(), ..members[0].clone() };
        (newcomer.owned, newcomer.generation, newcomer.group_instance_id) = (vec![], -1, None);
        members.push(newcomer);
        // The target moves partitions to the newcomer only, and no more than balance needs.
        let ordered = ordered_members(&members);
        let goal = target(&ordered, &partitions);
        let mut moved = 0;
        for (m, set) in ordered.iter().zip(&goal) {
            if m.member_id != "new" {
                let owned: BTreeSet<_> = before[&m.member_id].iter().cloned().collect();
                prop_assert!(set.is_subset(&owned), "{} gained {:?}", m.member_id, set.difference(&owned));
            } else {
                moved = set.len();
            }
        }
        prop_assert_eq!(moved, subscribed(&members, &partitions).len() / members.len());
        // This round nobody gains a partition another member still owns.
        let first = assignor(AssignorKind::CooperativeSticky).assign(&members, &partitions);
        check_valid(&members, &first);
        for m in &members[..members.len() - 1] {
            prop_assert!(first[&m.member_id].iter().all(|tp| m.owned.contains(tp)));
        }
    }

    #[test]
    fn sticky_never_hands_over_a_claimed_partition(
        (partitions, members) in group(),
        claims in proptest::collection::vec((0..7usize, 0..5usize, 0..12i32, -1..3i32), 0..20),
    ) {
        // Random, overlapping, stale and impossible claims.
        let mut members = members;
        for (m, t, p, generation) in claims {
            if let Some(member) = members.get_mut(m) {
                member.owned.push(TopicPartition::new(TOPICS.get(t).unwrap_or(&"gone").to_string(), p));
                member.generation = generation;
            }
        }
        let result = assignor(AssignorKind::CooperativeSticky).assign(&members, &partitions);
        check_valid(&members, &result);
        for m in &members {
            for tp in &result[&m.member_id] {
                let other = members.iter().any(|o| o.member_id != m.member_id && o.owned.contains(tp));
                prop_assert!(!other || m.owned.contains(tp), "{tp} to {} while another owns it", m.member_id);
            }
        }
    }
}
