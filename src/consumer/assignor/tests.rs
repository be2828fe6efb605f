//! Assignor tests: Java's own results for range and roundrobin, and properties of all three.

use super::protocol::Subscription;
use super::*;

/// `assign` output of Java's `RangeAssignor` and `RoundRobinAssignor` (kafka-clients 4.4.0),
/// one scenario a line: `name [topic:count,...] member|group.instance.id|topic,... => member=tp,...`.
/// Printed by a Java program calling `assignor.assign(partitionsPerTopic, subscriptions)`
/// with `new Subscription(topics)` (plus `setGroupInstanceId` for static members).
const JAVA_RESULTS: &str = "\
range [t1:7,t2:3] m1||t1,t2 m2||t1,t2 m3||t1,t2 => m1=t1-0,t1-1,t1-2,t2-0 m2=t1-3,t1-4,t2-1 m3=t1-5,t1-6,t2-2\n\
range [t1:7,t2:3] m3||t1,t2 m1||t1 m2||t2 => m1=t1-0,t1-1,t1-2,t1-3 m2=t2-0,t2-1 m3=t1-4,t1-5,t1-6,t2-2\n\
range [t1:5,t2:5,t3:2] b|z|t1,t2,t3 a||t1,t2 c|y|t2,t3 d||t1,t3 => a=t1-2,t1-3,t2-4 b=t1-0,t1-1,t2-2,t2-3,t3-1 c=t2-0,t2-1,t3-0 d=t1-4\n\
range [t1:2] m1||t1 m2||t1 m3||t1 => m1=t1-0 m2=t1-1 m3=\n\
range [t1:4,t2:4] x|i2|t1,t2 y|i1|t1,t2 a||t1,t2 => a=t1-3,t2-3 x=t1-2,t2-2 y=t1-0,t1-1,t2-0,t2-1\n\
roundrobin [t1:7,t2:3] m1||t1,t2 m2||t1,t2 m3||t1,t2 => m1=t1-0,t1-3,t1-6,t2-2 m2=t1-1,t1-4,t2-0 m3=t1-2,t1-5,t2-1\n\
roundrobin [t1:7,t2:3] m3||t1,t2 m1||t1 m2||t2 => m1=t1-0,t1-2,t1-4,t1-6 m2=t2-0,t2-2 m3=t1-1,t1-3,t1-5,t2-1\n\
roundrobin [t1:5,t2:5,t3:2] b|z|t1,t2,t3 a||t1,t2 c|y|t2,t3 d||t1,t3 => a=t1-1,t1-4,t2-2 b=t1-0,t1-3,t2-1,t2-4 c=t2-0,t2-3,t3-1 d=t1-2,t3-0\n\
roundrobin [t1:2] m1||t1 m2||t1 m3||t1 => m1=t1-0 m2=t1-1 m3=\n\
roundrobin [t1:4,t2:4] x|i2|t1,t2 y|i1|t1,t2 a||t1,t2 => a=t1-2,t2-1 x=t1-1,t2-0,t2-3 y=t1-0,t1-3,t2-2\n\
";

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn member(id: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.into(),
        group_instance_id: None,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned: vec![],
        generation: -1,
        rack: None,
    }
}

fn render(result: &BTreeMap<String, Vec<TopicPartition>>) -> String {
    let members: Vec<String> = result
        .iter()
        .map(|(m, tps)| {
            let tps: Vec<String> = tps.iter().map(|tp| tp.to_string()).collect();
            format!("{m}={}", tps.join(","))
        })
        .collect();
    members.join(" ")
}

#[test]
fn range_and_roundrobin_match_java() {
    for line in JAVA_RESULTS.lines().filter(|l| !l.is_empty()) {
        let (input, want) = line.split_once(" => ").unwrap();
        let mut words = input.split(' ');
        let name = words.next().unwrap();
        let parts = words.next().unwrap().trim_matches(['[', ']']);
        let partitions: BTreeMap<String, i32> = parts
            .split(',')
            .map(|p| p.split_once(':').unwrap())
            .map(|(t, n)| (t.to_string(), n.parse().unwrap()))
            .collect();
        let members: Vec<MemberSubscription> = words
            .map(|w| {
                let f: Vec<&str> = w.split('|').collect();
                let mut m = member(f[0], &f[2].split(',').collect::<Vec<_>>());
                m.group_instance_id = Some(f[1].to_string()).filter(|s| !s.is_empty());
                m
            })
            .collect();
        let kind = name.parse::<AssignorKind>().unwrap();
        let got = assignor(kind).assign(&members, &partitions);
        assert_eq!(render(&got), want, "{line}");
    }
}

#[test]
fn names_and_protocols() {
    for kind in [
        AssignorKind::Range,
        AssignorKind::RoundRobin,
        AssignorKind::CooperativeSticky,
    ] {
        assert_eq!(assignor(kind).name(), kind.protocol_name());
    }
    assert_eq!(
        assignor(AssignorKind::Range).protocol(),
        RebalanceProtocol::Eager
    );
    assert_eq!(
        assignor(AssignorKind::RoundRobin).protocol(),
        RebalanceProtocol::Eager
    );
    let sticky = assignor(AssignorKind::CooperativeSticky);
    assert_eq!(sticky.protocol(), RebalanceProtocol::Cooperative);
    assert_eq!(
        sticky.subscription_user_data(5).unwrap().as_ref(),
        &[0, 0, 0, 5]
    );
}

#[test]
fn sticky_reads_the_generation_from_user_data_of_old_subscriptions() {
    let sticky = assignor(AssignorKind::CooperativeSticky);
    let sub = |generation, user_data: Option<&'static [u8]>| Subscription {
        topics: vec!["b".into(), "a".into(), "b".into()],
        user_data: user_data.map(Bytes::from_static),
        owned: vec![tp("a", 0)],
        generation,
        rack: None,
    };
    let m = sticky.member_subscription("m".into(), None, sub(-1, Some(&[0, 0, 0, 9])));
    assert_eq!(
        (m.generation, m.topics),
        (9, vec!["a".to_string(), "b".to_string()])
    );
    let m = sticky.member_subscription("m".into(), None, sub(4, Some(&[0, 0, 0, 9])));
    assert_eq!(m.generation, 4, "a v2+ generation wins over user data");
    let m = sticky.member_subscription("m".into(), None, sub(-1, Some(&[1])));
    assert_eq!(m.generation, -1);
    let range = assignor(AssignorKind::Range);
    let m = range.member_subscription("m".into(), None, sub(-1, Some(&[0, 0, 0, 9])));
    assert_eq!(
        m.generation, -1,
        "only cooperative-sticky user data carries a generation"
    );
}

#[test]
fn sticky_moves_a_partition_in_two_rounds() {
    let sticky = assignor(AssignorKind::CooperativeSticky);
    let partitions = BTreeMap::from([("t".to_string(), 4)]);
    let mut a = member("a", &["t"]);
    a.owned = (0..4).map(|p| tp("t", p)).collect();
    a.generation = 1;
    let b = member("b", &["t"]);
    // Round 1: b's share is left out while a still owns it; a is told to keep two.
    let first = sticky.assign(&[a.clone(), b.clone()], &partitions);
    assert_eq!(first["a"].len(), 2);
    assert!(first["b"].is_empty());
    // Round 2, after a revoked: b gets the two nobody owns.
    a.owned = first["a"].clone();
    a.generation = 2;
    let second = sticky.assign(&[a, b], &partitions);
    assert_eq!(second["a"], first["a"]);
    assert_eq!(second["b"].len(), 2);
}

#[test]
fn sticky_ignores_stale_and_contested_claims() {
    let sticky = assignor(AssignorKind::CooperativeSticky);
    let partitions = BTreeMap::from([("t".to_string(), 2)]);
    let mut a = member("a", &["t"]);
    let mut b = member("b", &["t"]);
    // b was fenced in generation 3 and still claims t-0, which a got in generation 4.
    (a.owned, a.generation) = (vec![tp("t", 0)], 4);
    (b.owned, b.generation) = (vec![tp("t", 0), tp("t", 1)], 3);
    let out = sticky.assign(&[a.clone(), b.clone()], &partitions);
    assert_eq!(out["a"], vec![tp("t", 0)]);
    assert_eq!(out["b"], vec![tp("t", 1)]);
    // Two claims in one generation cancel: t-0 has no sticky owner, and whichever claimant
    // gets it already holds it, so nothing is left out.
    b.generation = 4;
    let out = sticky.assign(&[a, b], &partitions);
    let total: usize = out.values().map(Vec::len).sum();
    assert_eq!(total, 2);
}

#[test]
fn sticky_scales_to_a_large_group() {
    // 100 members join one that owns all 2000 partitions: ~1980 moves.
    let topics: Vec<String> = (0..20).map(|t| format!("topic-{t:02}")).collect();
    let partitions: BTreeMap<String, i32> = topics.iter().map(|t| (t.clone(), 100)).collect();
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let mut members: Vec<MemberSubscription> = (0..100)
        .map(|i| member(&format!("m{i:03}"), &names))
        .collect();
    members[0].owned = partitions
        .iter()
        .flat_map(|(t, &n)| (0..n).map(move |p| tp(t, p)))
        .collect();
    members[0].generation = 1;
    let out = assignor(AssignorKind::CooperativeSticky).assign(&members, &partitions);
    assert_eq!(out["m000"].len(), 20, "the owner keeps its share");
    assert!(out
        .iter()
        .filter(|(m, _)| *m != "m000")
        .all(|(_, l)| l.is_empty()));
}
