//! Golden bytes from the Java client (kafka-clients 4.4.0), made by this program
//! (`javac -cp kafka-clients-4.4.0.jar Golden.java && java -cp .:kafka-clients-4.4.0.jar Golden`):
//!
//! ```java
//! Subscription full = new Subscription(List.of("topic-b", "topic-a"),
//!     ByteBuffer.wrap(new byte[]{1, 2, 3}),
//!     List.of(tp("topic-b", 2), tp("topic-a", 1), tp("topic-a", 0)), 7, Optional.of("rack-1"));
//! hex(ConsumerProtocol.serializeSubscription(full));              // SUB_FULL_V3
//! hex(ConsumerProtocol.serializeSubscription(full, (short) 0));   // SUB_FULL_V0 (1, 2 alike)
//! hex(ConsumerProtocol.serializeSubscription(new Subscription(List.of("t"))));  // SUB_MIN_V3
//! Assignment asg = new Assignment(List.of(tp("topic-a", 0), tp("topic-b", 3), tp("topic-a", 2)),
//!     ByteBuffer.wrap(new byte[]{9}));
//! hex(ConsumerProtocol.serializeAssignment(asg));                 // ASG_FULL_V3
//! hex(ConsumerProtocol.serializeAssignment(asg, (short) 0));      // ASG_FULL_V0
//! hex(ConsumerProtocol.serializeAssignment(new Assignment(List.of())));  // ASG_EMPTY_V3
//! ```

use super::*;
use proptest::prelude::*;

const SUB_FULL_V3: &str = "0003000000020007746f7069632d610007746f7069632d6200000003010203000000020007746f7069632d610000000200000000000000010007746f7069632d6200000001000000020000000700067261636b2d31";
const SUB_FULL_V0: &str = "0000000000020007746f7069632d610007746f7069632d6200000003010203";
const SUB_FULL_V1: &str = "0001000000020007746f7069632d610007746f7069632d6200000003010203000000020007746f7069632d610000000200000000000000010007746f7069632d620000000100000002";
const SUB_FULL_V2: &str = "0002000000020007746f7069632d610007746f7069632d6200000003010203000000020007746f7069632d610000000200000000000000010007746f7069632d62000000010000000200000007";
const SUB_MIN_V3: &str = "000300000001000174ffffffff00000000ffffffffffff";
const ASG_FULL_V3: &str = "0003000000020007746f7069632d610000000200000000000000020007746f7069632d6200000001000000030000000109";
const ASG_FULL_V0: &str = "0000000000020007746f7069632d610000000200000000000000020007746f7069632d6200000001000000030000000109";
const ASG_EMPTY_V3: &str = "000300000000ffffffff";

fn unhex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn full_subscription() -> Subscription {
    Subscription {
        topics: vec!["topic-b".into(), "topic-a".into()],
        user_data: Some(Bytes::from_static(&[1, 2, 3])),
        owned: vec![tp("topic-b", 2), tp("topic-a", 1), tp("topic-a", 0)],
        generation: 7,
        rack: Some("rack-1".into()),
    }
}

fn full_assignment() -> Assignment {
    Assignment {
        partitions: vec![tp("topic-a", 0), tp("topic-b", 3), tp("topic-a", 2)],
        user_data: Some(Bytes::from_static(&[9])),
    }
}

#[test]
fn subscription_bytes_equal_java() {
    assert_eq!(
        encode_subscription(&full_subscription()).unwrap(),
        unhex(SUB_FULL_V3)
    );
    let min = Subscription {
        topics: vec!["t".into()],
        user_data: None,
        owned: vec![],
        generation: -1,
        rack: None,
    };
    assert_eq!(encode_subscription(&min).unwrap(), unhex(SUB_MIN_V3));
    assert_eq!(decode_subscription(unhex(SUB_MIN_V3)).unwrap(), min);
}

#[test]
fn decodes_every_java_subscription_version() {
    let sorted = |mut s: Subscription| {
        s.topics.sort();
        s.owned.sort();
        s
    };
    let full = sorted(full_subscription());
    let v3 = decode_subscription(unhex(SUB_FULL_V3)).unwrap();
    assert_eq!(v3, full);
    let v2 = decode_subscription(unhex(SUB_FULL_V2)).unwrap();
    assert_eq!(
        v2,
        Subscription {
            rack: None,
            ..full.clone()
        }
    );
    let v1 = decode_subscription(unhex(SUB_FULL_V1)).unwrap();
    assert_eq!(
        v1,
        Subscription {
            rack: None,
            generation: -1,
            ..full.clone()
        }
    );
    let v0 = decode_subscription(unhex(SUB_FULL_V0)).unwrap();
    assert_eq!(
        v0,
        Subscription {
            rack: None,
            generation: -1,
            owned: vec![],
            ..full
        }
    );
}

#[test]
fn newer_versions_read_with_ours_and_trailing_fields_ignored() {
    // A future writer appends fields after the rack; the version says 9.
    let mut b = unhex(SUB_FULL_V3).to_vec();
    b[1] = 9;
    b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0]);
    assert_eq!(
        decode_subscription(b.into()).unwrap(),
        decode_subscription(unhex(SUB_FULL_V3)).unwrap()
    );
    let mut a = unhex(ASG_FULL_V3).to_vec();
    a[0] = 0x7f;
    a.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        decode_assignment(a.into()).unwrap(),
        decode_assignment(unhex(ASG_FULL_V3)).unwrap()
    );
}

#[test]
fn empty_rack_reads_as_none() {
    let s = Subscription {
        rack: Some(String::new()),
        ..full_subscription()
    };
    assert_eq!(
        decode_subscription(encode_subscription(&s).unwrap())
            .unwrap()
            .rack,
        None
    );
}

#[test]
fn assignment_bytes_equal_java() {
    assert_eq!(
        encode_assignment(&full_assignment()).unwrap(),
        unhex(ASG_FULL_V3)
    );
    assert_eq!(
        encode_assignment(&Assignment::default()).unwrap(),
        unhex(ASG_EMPTY_V3)
    );
    // Java groups by topic in order of first appearance, so topic-a-2 joins topic-a-0.
    let decoded = decode_assignment(unhex(ASG_FULL_V3)).unwrap();
    assert_eq!(
        decoded.partitions,
        vec![tp("topic-a", 0), tp("topic-a", 2), tp("topic-b", 3)]
    );
    assert_eq!(decoded.user_data, Some(Bytes::from_static(&[9])));
    assert_eq!(decode_assignment(unhex(ASG_FULL_V0)).unwrap(), decoded);
    assert_eq!(
        decode_assignment(unhex(ASG_EMPTY_V3)).unwrap(),
        Assignment::default()
    );
}

#[test]
fn no_bytes_is_an_empty_assignment() {
    assert_eq!(
        decode_assignment(Bytes::new()).unwrap(),
        Assignment::default()
    );
}

#[test]
fn bad_bytes_are_typed_errors() {
    for (bytes, wanted) in [
        (vec![0u8], "too short for the version"),
        (vec![0xff, 0xff, 0, 0, 0, 0], "version -1"),
        // Version 3, then a topic array claiming 2^31 - 1 entries: rejected before any
        // allocation.
        (
            vec![0, 3, 0x7f, 0xff, 0xff, 0xff],
            "malformed consumer protocol subscription",
        ),
        (vec![0, 3, 0, 0, 0, 1, 0, 5, b'a'], "malformed"),
    ] {
        let err = decode_subscription(bytes.into()).unwrap_err();
        assert!(err.contains(wanted), "{err}");
    }
    let err = decode_assignment(Bytes::from_static(&[0, 3, 0x7f, 0xff, 0xff, 0xff])).unwrap_err();
    assert!(
        err.contains("malformed consumer protocol assignment"),
        "{err}"
    );
    // Every truncation of valid bytes fails cleanly (the last field is the one cut).
    let full = unhex(SUB_FULL_V3);
    for n in 1..full.len() {
        assert!(decode_subscription(full.slice(..n)).is_err(), "{n} bytes");
    }
    let full = unhex(ASG_FULL_V3);
    for n in 1..full.len() {
        assert!(decode_assignment(full.slice(..n)).is_err(), "{n} bytes");
    }
}

#[test]
fn oversized_strings_fail_to_encode_instead_of_truncating() {
    let s = Subscription {
        rack: Some("r".repeat(40_000)),
        ..full_subscription()
    };
    assert!(encode_subscription(&s).is_err());
}

fn topic_partitions() -> impl Strategy<Value = Vec<TopicPartition>> {
    proptest::collection::vec(("[a-c]{1,3}", 0..8i32), 0..10).prop_map(|v| {
        v.into_iter()
            .map(|(t, p)| TopicPartition::new(t, p))
            .collect()
    })
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_subscription(bytes.clone().into());
        let _ = decode_assignment(bytes.into());
    }

    #[test]
    fn decoders_never_panic_on_mutated_java_bytes(i in 0usize..96, byte: u8) {
        for golden in [SUB_FULL_V3, ASG_FULL_V3] {
            let mut b = unhex(golden).to_vec();
            let i = i % b.len();
            b[i] = byte;
            let _ = decode_subscription(b.clone().into());
            let _ = decode_assignment(b.into());
        }
    }

    #[test]
    fn subscriptions_round_trip(
        mut topics in proptest::collection::vec("[a-z]{1,5}", 0..5),
        mut owned in topic_partitions(),
        user_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        generation in -1..100i32,
        rack in proptest::option::of("[a-z]{1,4}"),
    ) {
        let s = Subscription {
            topics: topics.clone(),
            user_data: user_data.map(Bytes::from),
            owned: owned.clone(),
            generation,
            rack,
        };
        let back = decode_subscription(encode_subscription(&s).unwrap()).unwrap();
        topics.sort();
        owned.sort();
        prop_assert_eq!(back, Subscription { topics, owned, ..s });
    }

    #[test]
    fn assignments_round_trip(partitions in topic_partitions()) {
        let a = Assignment { partitions, user_data: None };
        let mut back = decode_assignment(encode_assignment(&a).unwrap()).unwrap();
        let mut want = a.partitions.clone();
        back.partitions.sort();
        want.sort();
        prop_assert_eq!(back.partitions, want);
    }
}
