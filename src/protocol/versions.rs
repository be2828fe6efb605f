//! Which version of each API kafkit speaks, and the choice of version per broker.
//!
//! kafkit implements each request for a range of versions; a broker advertises its own range
//! in ApiVersions. The version used is the highest both sides support. Ranges here are capped
//! where a newer version changes semantics kafkit does not implement yet (Produce v13 and
//! Fetch v13+ address topics by id only).

use kafka_protocol::messages::ApiKey;
use std::collections::HashMap;

/// The versions kafkit implements for each API it uses.
pub(crate) fn ours(key: ApiKey) -> Option<(i16, i16)> {
    Some(match key {
        ApiKey::Produce => (3, 12),
        ApiKey::Fetch => (4, 12),
        ApiKey::ListOffsets => (1, 9),
        ApiKey::Metadata => (1, 12),
        ApiKey::OffsetCommit => (2, 9),
        // v8+ batches groups in another shape; one group per request is all we need.
        ApiKey::OffsetFetch => (1, 7),
        // v4+ batches keys in another shape; one key per request is all we need.
        ApiKey::FindCoordinator => (1, 3),
        ApiKey::JoinGroup => (2, 9),
        ApiKey::Heartbeat => (0, 4),
        ApiKey::LeaveGroup => (3, 5),
        ApiKey::SyncGroup => (0, 5),
        ApiKey::ApiVersions => (0, 3),
        ApiKey::CreateTopics => (2, 7),
        ApiKey::DeleteTopics => (1, 5),
        ApiKey::InitProducerId => (0, 5),
        _ => return None,
    })
}

/// A broker's advertised version ranges, keyed by API key.
#[derive(Clone, Debug, Default)]
pub(crate) struct BrokerVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

/// Why no version could be chosen: what kafkit speaks and what the broker offers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NoCommonVersion {
    pub ours: String,
    pub theirs: String,
}

impl BrokerVersions {
    pub(crate) fn new(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        Self {
            ranges: ranges
                .into_iter()
                .map(|(key, min, max)| (key, (min, max)))
                .collect(),
        }
    }

    /// The highest version both sides support.
    pub(crate) fn choose(&self, key: ApiKey) -> Result<i16, NoCommonVersion> {
        let ours = ours(key);
        let theirs = self.ranges.get(&(key as i16)).copied();
        let describe = |r: Option<(i16, i16)>| match r {
            Some((min, max)) => format!("{min}..={max}"),
            None => "none".to_string(),
        };
        match (ours, theirs) {
            (Some((our_min, our_max)), Some((their_min, their_max)))
                if our_min.max(their_min) <= our_max.min(their_max) =>
            {
                Ok(our_max.min(their_max))
            }
            _ => Err(NoCommonVersion {
                ours: describe(ours),
                theirs: describe(theirs),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        let broker = BrokerVersions::new([(0, 0, 11), (1, 4, 17)]);
        assert_eq!(broker.choose(ApiKey::Produce), Ok(11));
        assert_eq!(broker.choose(ApiKey::Fetch), Ok(12));
    }

    #[test]
    fn disjoint_or_missing_ranges_are_errors() {
        let broker = BrokerVersions::new([(0, 0, 2)]);
        let err = broker.choose(ApiKey::Produce).unwrap_err();
        assert_eq!(err.ours, "3..=12");
        assert_eq!(err.theirs, "0..=2");
        let err = broker.choose(ApiKey::Metadata).unwrap_err();
        assert_eq!(err.theirs, "none");
        assert!(broker.choose(ApiKey::DescribeAcls).is_err());
    }

    #[test]
    fn our_ranges_lie_within_what_the_message_crate_encodes() {
        for key in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::ListOffsets,
            ApiKey::Metadata,
            ApiKey::OffsetCommit,
            ApiKey::OffsetFetch,
            ApiKey::FindCoordinator,
            ApiKey::JoinGroup,
            ApiKey::Heartbeat,
            ApiKey::LeaveGroup,
            ApiKey::SyncGroup,
            ApiKey::ApiVersions,
            ApiKey::CreateTopics,
            ApiKey::DeleteTopics,
            ApiKey::InitProducerId,
        ] {
            let (min, max) = ours(key).unwrap();
            let valid = key.valid_versions();
            assert!(valid.min <= min && max <= valid.max, "{key:?}");
        }
    }
}
