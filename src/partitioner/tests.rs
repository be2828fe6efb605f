use super::*;
use proptest::prelude::*;

/// `(key, Utils.murmur2(key), [toPositive(murmur2(key)) % n for n in 1, 3, 6, 12, 100])`.
///
/// Produced by the Java client itself (kafka-clients 4.4.0 from Maven Central, OpenJDK 17):
///
/// ```java
/// import org.apache.kafka.common.utils.Utils;
/// public class Murmur {
///     public static void main(String[] args) {
///         byte[][] keys = { /* the keys below, as UTF-8 or raw bytes */ };
///         int[] counts = {1, 3, 6, 12, 100};
///         for (byte[] k : keys) {
///             System.out.print(Utils.murmur2(k));
///             for (int n : counts) System.out.print(" " + Utils.toPositive(Utils.murmur2(k)) % n);
///             System.out.println();
///         }
///     }
/// }
/// ```
///
/// run as `javac -cp kafka-clients-4.4.0.jar Murmur.java && java -cp
/// kafka-clients-4.4.0.jar:slf4j-api-1.7.36.jar:. Murmur`. The "21", "foobar" and
/// "a-little-bit-…" rows also appear in Kafka's own `UtilsTest.testMurmur2`.
const JAVA: &[(&[u8], i32, [i32; 5])] = &[
    (b"", 275646681, [0, 0, 3, 9, 81]),
    (b"a", -1563381124, [0, 1, 4, 4, 24]),
    (b"ab", 316155434, [0, 2, 2, 2, 34]),
    (b"abc", 479470107, [0, 0, 3, 3, 7]),
    (b"abcd", -1323649548, [0, 2, 2, 8, 0]),
    (b"key", -1079937367, [0, 1, 1, 1, 81]),
    (b"hello", 2132663229, [0, 0, 3, 9, 29]),
    (b"21", -973932308, [0, 0, 0, 0, 40]),
    (b"foobar", -790332482, [0, 0, 0, 6, 66]),
    (b"a-little-bit-long-string", -985981536, [0, 2, 2, 8, 12]),
    (
        b"a-little-bit-longer-string",
        -1486304829,
        [0, 2, 5, 11, 19],
    ),
    (
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        -58897971,
        [0, 2, 5, 5, 77],
    ),
    (b"user-12345", -243491053, [0, 1, 1, 7, 95]),
    // "héllo wörld ✓" in UTF-8.
    (
        &[
            104, 195, 169, 108, 108, 111, 32, 119, 195, 182, 114, 108, 100, 32, 226, 156, 147,
        ],
        -1290846696,
        [0, 2, 2, 8, 52],
    ),
    (&[255], -311467685, [0, 0, 3, 3, 63]),
    (&[128, 254], 1316928818, [0, 2, 2, 2, 18]),
    (&[255, 255, 255], 1548199422, [0, 0, 0, 6, 22]),
    (
        &[222, 173, 190, 239, 0, 1, 127],
        -540667379,
        [0, 0, 3, 9, 69],
    ),
];

const COUNTS: [i32; 5] = [1, 3, 6, 12, 100];

#[test]
fn murmur2_matches_java() {
    for &(key, hash, partitions) in JAVA {
        assert_eq!(murmur2(key), hash, "murmur2({key:?})");
        for (n, expected) in COUNTS.into_iter().zip(partitions) {
            assert_eq!(partition_for_key(key, n), expected, "{key:?} over {n}");
        }
    }
}

#[test]
fn murmur2_matches_java_for_a_long_key() {
    // Same program, key `byte[1000]` with `big[i] = (byte) i`.
    let key: Vec<u8> = (0..1000).map(|i| i as u8).collect();
    assert_eq!(murmur2(&key), 202982532);
    let partitions: Vec<i32> = COUNTS.iter().map(|&n| partition_for_key(&key, n)).collect();
    assert_eq!(partitions, [0, 0, 0, 0, 32]);
}

#[test]
fn to_positive_clears_the_sign_bit_like_java() {
    // Java: toPositive(MIN_VALUE) = 0, toPositive(-1) = 2147483647, toPositive(-123456) =
    // 2147360192.
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-1), i32::MAX);
    assert_eq!(to_positive(-123456), 2147360192);
    assert_eq!(to_positive(42), 42);
}

proptest! {
    #[test]
    fn keyed_partition_is_always_in_range(
        key in proptest::collection::vec(any::<u8>(), 0..256),
        count in 1..=i32::MAX,
    ) {
        let p = partition_for_key(&key, count);
        prop_assert!((0..count).contains(&p));
    }
}

#[test]
fn partitioner_class_names_parse() {
    for name in [
        "",
        "default",
        "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
    ] {
        assert!(
            matches!(name.parse(), Ok(PartitionerKind::Default)),
            "{name}"
        );
    }
    for name in [
        "round_robin",
        "org.apache.kafka.clients.producer.RoundRobinPartitioner",
    ] {
        assert!(
            matches!(name.parse(), Ok(PartitionerKind::RoundRobin)),
            "{name}"
        );
    }
    let err = "com.example.Mine".parse::<PartitionerKind>().unwrap_err();
    assert!(err.to_string().contains("com.example.Mine"), "{err}");
}
