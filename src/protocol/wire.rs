//! How kafkit's own types and settings are spelled on the wire: the one place that knows the
//! protocol's numbers for `acks`, isolation levels and codecs, and that builds the
//! `kafka-protocol` name wrappers.

use crate::config::{Acks, Compression, IsolationLevel};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use std::time::Duration;

/// A topic name as requests carry it.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A group id as requests carry it.
pub(crate) fn group_id(id: &str) -> GroupId {
    GroupId(StrBytes::from_string(id.to_string()))
}

/// A duration as the protocol's `int32` of milliseconds, saturating at `i32::MAX` (about 24
/// days; configs are validated to fit, so this only caps sums of them).
pub(crate) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The `acks` field of a ProduceRequest.
pub(crate) fn acks(acks: Acks) -> i16 {
    match acks {
        Acks::Zero => 0,
        Acks::Leader => 1,
        Acks::All => -1,
    }
}

/// The `isolation_level` field of Fetch and ListOffsets requests.
pub(crate) fn isolation_level(level: IsolationLevel) -> i8 {
    match level {
        IsolationLevel::ReadUncommitted => 0,
        IsolationLevel::ReadCommitted => 1,
    }
}

/// The codec id in the low three bits of a record batch's attributes.
pub(crate) fn codec_bits(codec: Compression) -> i16 {
    match codec {
        Compression::Uncompressed => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    }
}

/// The codec a batch's attributes name, if kafkit knows it.
pub(crate) fn codec_from_bits(attributes: i16) -> Option<Compression> {
    match attributes & 0x07 {
        0 => Some(Compression::Uncompressed),
        1 => Some(Compression::Gzip),
        2 => Some(Compression::Snappy),
        3 => Some(Compression::Lz4),
        4 => Some(Compression::Zstd),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_the_protocol_numbers() {
        assert_eq!(
            [acks(Acks::Zero), acks(Acks::Leader), acks(Acks::All)],
            [0, 1, -1]
        );
        assert_eq!(isolation_level(IsolationLevel::ReadUncommitted), 0);
        assert_eq!(isolation_level(IsolationLevel::ReadCommitted), 1);
        for codec in [
            Compression::Uncompressed,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            // The other attribute bits (timestamp type, transactional, control) are ignored.
            assert_eq!(codec_from_bits(codec_bits(codec) | 0x30), Some(codec));
        }
        assert_eq!(codec_from_bits(5), None);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), i32::MAX);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
    }
}
