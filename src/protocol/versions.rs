//! Which version of each API kafkit speaks, and the choice of version per broker.
//!
//! kafkit implements each request for a range of versions; a broker advertises its own range
//! in ApiVersions. The version used is the highest both sides support. Ranges here are capped
//! where a newer version changes semantics kafkit does not implement yet (Produce v13
//! addresses topics by id only; Fetch v13 does too, and kafkit sends it where the metadata
//! gives every topic's id, else v12).

use kafka_protocol::messages::ApiKey;
use std::collections::HashMap;

/// Every API kafkit speaks: its name (for errors and logs) and the versions implemented.
const SPOKEN: &[(ApiKey, &str, i16, i16)] = &[
    (ApiKey::Produce, "Produce", 3, 12),
    (ApiKey::Fetch, "Fetch", 4, 13),
    (ApiKey::ListOffsets, "ListOffsets", 1, 9),
    (ApiKey::Metadata, "Metadata", 1, 12),
    (ApiKey::OffsetCommit, "OffsetCommit", 2, 9),
    // v8+ batches groups in another shape: the admin client's offset listings use it; the
    // consumer's own fetch (one group) sends v7 at most.
    (ApiKey::OffsetFetch, "OffsetFetch", 1, 9),
    // v4+ batches keys in another shape: the admin client's group lookups use it; a single
    // key's lookup (consumer, producer, `cluster::Coordinator`) sends v3 at most.
    (ApiKey::FindCoordinator, "FindCoordinator", 1, 4),
    (ApiKey::JoinGroup, "JoinGroup", 2, 9),
    (ApiKey::Heartbeat, "Heartbeat", 0, 4),
    (ApiKey::LeaveGroup, "LeaveGroup", 3, 5),
    (ApiKey::SyncGroup, "SyncGroup", 0, 5),
    (ApiKey::ApiVersions, "ApiVersions", 0, 3),
    (ApiKey::CreateTopics, "CreateTopics", 2, 7),
    (ApiKey::DeleteTopics, "DeleteTopics", 1, 5),
    (ApiKey::InitProducerId, "InitProducerId", 0, 5),
    // v0 sends SASL tokens outside Kafka framing; kafkit speaks the framed form only.
    (ApiKey::SaslHandshake, "SaslHandshake", 1, 1),
    // v1 adds the session lifetime that re-authentication needs.
    (ApiKey::SaslAuthenticate, "SaslAuthenticate", 0, 2),
    // Transactions (appended, so the fuzz seeds' API indices stay put).
    // v4+ is the brokers' batched form (many transactional ids); clients send v3 at most.
    (ApiKey::AddPartitionsToTxn, "AddPartitionsToTxn", 0, 3),
    (ApiKey::AddOffsetsToTxn, "AddOffsetsToTxn", 0, 4),
    // v5 is transaction version 2 (KIP-890: the epoch bumped by every commit or abort);
    // a transactional producer of version 1 sends v4 at most.
    (ApiKey::EndTxn, "EndTxn", 0, 5),
    // v3 adds the member's generation and id (KIP-447); v5 is transaction version 2 (the
    // group joins the transaction implicitly), v4 at most for version 1.
    (ApiKey::TxnOffsetCommit, "TxnOffsetCommit", 0, 5),
    // Cluster, topic and config administration (appended, as above).
    // v2 can list fenced brokers, which the admin client does not ask for.
    (ApiKey::DescribeCluster, "DescribeCluster", 0, 2),
    (ApiKey::CreatePartitions, "CreatePartitions", 0, 3),
    // v1 adds each config's source and synonyms; v0 is gone from Kafka 4.
    (ApiKey::DescribeConfigs, "DescribeConfigs", 1, 4),
    (
        ApiKey::IncrementalAlterConfigs,
        "IncrementalAlterConfigs",
        0,
        1,
    ),
    (ApiKey::DeleteRecords, "DeleteRecords", 0, 2),
    // v4 adds each directory's total and usable bytes.
    (ApiKey::DescribeLogDirs, "DescribeLogDirs", 1, 4),
    // v1 adds the election type (v0 is preferred only) and a top-level error.
    (ApiKey::ElectLeaders, "ElectLeaders", 1, 2),
    // Consumer group administration (appended, as above).
    // v4 adds the state filter, v5 the type filter (KIP-848's classic and consumer groups).
    (ApiKey::ListGroups, "ListGroups", 1, 5),
    (ApiKey::DescribeGroups, "DescribeGroups", 1, 6),
    (ApiKey::DeleteGroups, "DeleteGroups", 0, 2),
    (ApiKey::OffsetDelete, "OffsetDelete", 0, 0),
    (ApiKey::ConsumerGroupDescribe, "ConsumerGroupDescribe", 0, 1),
    // KIP-848 (group.protocol=consumer). v1 (Kafka 4.0+): the member names its own id
    // (KIP-1082); v0 had the broker name it, which kafkit does not implement.
    (
        ApiKey::ConsumerGroupHeartbeat,
        "ConsumerGroupHeartbeat",
        1,
        1,
    ),
    // ACLs and SCRAM users (appended, as above). v0 of the ACL APIs is gone from Kafka 4;
    // v1 adds the resource pattern type (KIP-290).
    (ApiKey::DescribeAcls, "DescribeAcls", 1, 3),
    (ApiKey::CreateAcls, "CreateAcls", 1, 3),
    (ApiKey::DeleteAcls, "DeleteAcls", 1, 3),
    (
        ApiKey::DescribeUserScramCredentials,
        "DescribeUserScramCredentials",
        0,
        0,
    ),
    (
        ApiKey::AlterUserScramCredentials,
        "AlterUserScramCredentials",
        0,
        0,
    ),
];

/// The APIs kafkit speaks, in a fixed order (fuzz targets index into it).
#[cfg(feature = "fuzzing")]
pub(crate) fn spoken() -> impl Iterator<Item = (ApiKey, i16, i16)> {
    SPOKEN.iter().map(|&(key, _, min, max)| (key, min, max))
}

/// The versions kafkit implements for `key`, if it speaks it.
pub(crate) fn ours(key: ApiKey) -> Option<(i16, i16)> {
    SPOKEN
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|&(_, _, min, max)| (min, max))
}

/// The API's name, for errors and logs.
pub(crate) fn api_name(key: i16) -> &'static str {
    SPOKEN
        .iter()
        .find(|(k, ..)| *k as i16 == key)
        .map_or("request", |&(_, name, ..)| name)
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
        assert_eq!(broker.choose(ApiKey::Fetch), Ok(13));
    }

    #[test]
    fn disjoint_or_missing_ranges_are_errors() {
        let broker = BrokerVersions::new([(0, 0, 2)]);
        let err = broker.choose(ApiKey::Produce).unwrap_err();
        assert_eq!(err.ours, "3..=12");
        assert_eq!(err.theirs, "0..=2");
        let err = broker.choose(ApiKey::Metadata).unwrap_err();
        assert_eq!(err.theirs, "none");
        assert!(broker.choose(ApiKey::DescribeDelegationToken).is_err());
    }

    #[test]
    fn our_ranges_lie_within_what_the_message_crate_encodes() {
        for &(key, name, min, max) in SPOKEN {
            let valid = key.valid_versions();
            assert!(
                valid.min <= min && min <= max && max <= valid.max,
                "{key:?}"
            );
            assert_eq!(name, format!("{key:?}"));
            assert_eq!(api_name(key as i16), name);
        }
        assert_eq!(api_name(ApiKey::DescribeDelegationToken as i16), "request");
    }
}
