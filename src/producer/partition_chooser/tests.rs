use super::*;
use crate::partitioner::Partitioner;
use std::sync::Arc;

fn chooser(kind: PartitionerKind) -> PartitionChooser {
    PartitionChooser::new(kind, false, 16384)
}

#[test]
fn default_hashes_keys_over_all_partitions() {
    let c = chooser(PartitionerKind::Default);
    // Keys keep their partition even when its leader is unknown, like Java.
    assert_eq!(c.choose("t", Some(b"key"), None, 100, &[0], 1).unwrap(), 81);
}

#[test]
fn ignore_keys_makes_keyed_records_sticky() {
    let c = PartitionChooser::new(PartitionerKind::Default, true, 16384);
    let first = c.choose("t", Some(b"a"), None, 1000, &[], 1).unwrap();
    for key in [&b"b"[..], b"c", b"d"] {
        assert_eq!(c.choose("t", Some(key), None, 1000, &[], 1).unwrap(), first);
    }
}

#[test]
fn keyless_records_stick_per_topic_and_move_after_batch_size() {
    let c = PartitionChooser::new(PartitionerKind::Default, false, 100);
    let choose = |topic, bytes| c.choose(topic, None, None, 1_000_000, &[], bytes).unwrap();
    let a = choose("a", 50);
    // Bytes on topic b do not move topic a.
    choose("b", 1000);
    assert_eq!(choose("a", 49), a);
    assert_eq!(
        choose("a", 1),
        a,
        "the record that reaches batch.size still sticks"
    );
    assert_ne!(choose("a", 1), a, "the next one moves on");
}

#[test]
fn round_robin_cycles_through_available_partitions_ignoring_keys() {
    let c = chooser(PartitionerKind::RoundRobin);
    let picks: Vec<i32> = (0..6)
        .map(|_| c.choose("t", Some(b"k"), None, 5, &[0, 2, 3], 1).unwrap())
        .collect();
    assert_eq!(picks, [0, 2, 3, 0, 2, 3]);
    let picks: Vec<i32> = (0..5)
        .map(|_| c.choose("u", None, None, 3, &[], 1).unwrap())
        .collect();
    assert_eq!(picks, [0, 1, 2, 0, 1]);
}

struct ByFirstByte;

impl Partitioner for ByFirstByte {
    fn partition(&self, _: &str, key: Option<&[u8]>, _: Option<&[u8]>, _: i32) -> Option<i32> {
        key.map(|k| i32::from(k[0]))
    }
}

#[test]
fn custom_partitioner_is_checked_and_may_defer_to_sticky() {
    let c = chooser(PartitionerKind::Custom(Arc::new(ByFirstByte)));
    assert_eq!(c.choose("t", Some(&[2]), None, 3, &[], 1).unwrap(), 2);
    match c.choose("t", Some(&[3]), None, 3, &[], 1) {
        Err(Error::InvalidPartition {
            topic,
            partition: 3,
            count: 3,
        }) => assert_eq!(topic, "t"),
        other => panic!("{other:?}"),
    }
    // Deferring sticks: ten keyless records land together (a random spread would put them
    // on one partition with a chance of 3^-9).
    let first = c.choose("t", None, None, 3, &[], 1).unwrap();
    for _ in 0..9 {
        assert_eq!(c.choose("t", None, None, 3, &[], 1).unwrap(), first);
    }
}

#[test]
fn a_topic_without_partitions_is_an_error() {
    let c = chooser(PartitionerKind::Default);
    assert!(matches!(
        c.choose("t", Some(b"k"), None, 0, &[], 1),
        Err(Error::InvalidPartition { count: 0, .. })
    ));
}

#[test]
fn forgotten_topics_start_afresh() {
    let c = chooser(PartitionerKind::RoundRobin);
    let next = |topic| c.choose(topic, None, None, 3, &[], 1).unwrap();
    assert_eq!((next("a"), next("a"), next("b")), (0, 1, 0));
    c.forget_topics(|topic| topic == "b");
    assert_eq!(c.topic_count(), 1);
    assert_eq!((next("a"), next("b")), (0, 1), "a starts afresh, b goes on");
}
