//! Request and response framing: a 4-byte big-endian size, a header, a body.
//!
//! Encoding and decoding run on the caller's task, so the connection task only moves bytes;
//! a slow decode of a large fetch response never delays other requests on the connection.

use super::versions::api_name;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// Encodes `request` at `version` as one frame, size prefix included.
pub(crate) fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &StrBytes,
) -> Result<Bytes, String> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(client_id.clone()));
    let header_version = R::header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| Ok(h + request.compute_size(version)?))
        .map_err(|e| format!("cannot encode request: {e}"))?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, header_version)
        .and_then(|_| request.encode(&mut buf, version))
        .map_err(|e| format!("cannot encode request: {e}"))?;
    Ok(buf.freeze())
}

/// Decodes a response frame (size prefix removed) for request type `R` at `version`.
pub(crate) fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<R::Response, String> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| format!("bad response header: {e}"))?;
    let response = <R::Response as Decodable>::decode(&mut frame, version)
        .map_err(|e| format!("bad {} v{version} response: {e}", api_name(R::KEY)))?;
    Ok(response)
}

/// Hooks for `benches/codec.rs`, which is a separate crate; exported from the crate root only
/// with the `fuzzing` feature. Each builds or decodes a frame the way the client does, at the
/// highest version kafkit speaks (the one a current broker gets).
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::{decode_response, encode_request};
    use crate::protocol::versions;
    use crate::protocol::wire::topic_name;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        ApiKey, FetchRequest, FetchResponse, ProduceRequest, ResponseHeader,
    };
    use kafka_protocol::protocol::{Encodable, HeaderVersion, StrBytes};

    fn version(key: ApiKey) -> i16 {
        versions::ours(key).map_or(0, |(_, max)| max)
    }

    /// The whole frame of a ProduceRequest (acks=all) carrying `batch` for partition 0 of
    /// `topic`: the request built as the producer's request task builds it, then encoded as
    /// the connection encodes it (size, header, body).
    pub fn produce_request_frame(topic: &str, batch: Bytes) -> Result<Bytes, String> {
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch))])]);
        let client_id = StrBytes::from_static_str("kafkit");
        encode_request(&request, version(ApiKey::Produce), 1, &client_id)
    }

    /// A Fetch response frame (size prefix removed, as the connection hands it over) with
    /// `records` for partition 0 of `topic`, as a broker sends it.
    pub fn fetch_response_frame(topic: &str, records: Bytes) -> Result<Bytes, String> {
        let version = version(ApiKey::Fetch);
        let response =
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![PartitionData::default()
                    .with_partition_index(0)
                    .with_high_watermark(1_000_000)
                    .with_records(Some(records))])]);
        let mut frame = BytesMut::new();
        let header_version = <FetchResponse as HeaderVersion>::header_version(version);
        ResponseHeader::default()
            .with_correlation_id(1)
            .encode(&mut frame, header_version)
            .and_then(|_| response.encode(&mut frame, version))
            .map_err(|e| format!("cannot encode the fetch response: {e}"))?;
        Ok(frame.freeze())
    }

    /// Decodes `frame` (size prefix removed) as the response to one of the APIs kafkit speaks,
    /// at one of the versions it speaks, as the connection would: `api` and `version` pick
    /// them (modulo the choices). An error is fine; a panic, an abort or a huge allocation is
    /// a bug.
    pub fn fuzz_decode_response(api: u8, version: u8, frame: Bytes) {
        use kafka_protocol::messages::*;
        let apis: Vec<(ApiKey, i16, i16)> = versions::spoken().collect();
        let (key, min, max) = apis[usize::from(api) % apis.len()];
        let version = min + (i16::from(version) % (max - min + 1));
        macro_rules! decode {
            ($($key:ident => $request:ty),* $(,)?) => {
                match key {
                    $(ApiKey::$key => {
                        let _ = std::hint::black_box(decode_response::<$request>(frame, version));
                    })*
                    other => unreachable!("kafkit speaks {other:?} but the fuzz hook does not"),
                }
            };
        }
        decode!(
            Produce => ProduceRequest,
            Fetch => FetchRequest,
            ListOffsets => ListOffsetsRequest,
            Metadata => MetadataRequest,
            OffsetCommit => OffsetCommitRequest,
            OffsetFetch => OffsetFetchRequest,
            FindCoordinator => FindCoordinatorRequest,
            JoinGroup => JoinGroupRequest,
            Heartbeat => HeartbeatRequest,
            LeaveGroup => LeaveGroupRequest,
            SyncGroup => SyncGroupRequest,
            ApiVersions => ApiVersionsRequest,
            CreateTopics => CreateTopicsRequest,
            DeleteTopics => DeleteTopicsRequest,
            InitProducerId => InitProducerIdRequest,
            AddPartitionsToTxn => AddPartitionsToTxnRequest,
            AddOffsetsToTxn => AddOffsetsToTxnRequest,
            EndTxn => EndTxnRequest,
            TxnOffsetCommit => TxnOffsetCommitRequest,
            SaslHandshake => SaslHandshakeRequest,
            SaslAuthenticate => SaslAuthenticateRequest,
            DescribeCluster => DescribeClusterRequest,
            CreatePartitions => CreatePartitionsRequest,
            DescribeConfigs => DescribeConfigsRequest,
            IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
            DeleteRecords => DeleteRecordsRequest,
            DescribeLogDirs => DescribeLogDirsRequest,
            ElectLeaders => ElectLeadersRequest,
            ListGroups => ListGroupsRequest,
            DescribeGroups => DescribeGroupsRequest,
            DeleteGroups => DeleteGroupsRequest,
            OffsetDelete => OffsetDeleteRequest,
            ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
            ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
            DescribeAcls => DescribeAclsRequest,
            CreateAcls => CreateAclsRequest,
            DeleteAcls => DeleteAclsRequest,
            DescribeUserScramCredentials => DescribeUserScramCredentialsRequest,
            AlterUserScramCredentials => AlterUserScramCredentialsRequest,
        );
    }

    #[cfg(test)]
    #[test]
    fn every_api_kafkit_speaks_has_a_decoder_in_the_hook() {
        for api in 0..=u8::MAX {
            for version in 0..16 {
                fuzz_decode_response(api, version, Bytes::from_static(&[0, 0, 0, 1, 0, 0]));
            }
        }
    }

    /// Decodes a Fetch response frame as the consumer does; returns the record bytes it
    /// carries (a slice of the frame, not a copy).
    pub fn decode_fetch_response(frame: Bytes) -> Result<Bytes, String> {
        let response = decode_response::<FetchRequest>(frame, version(ApiKey::Fetch))?;
        response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find_map(|p| p.records)
            .ok_or_else(|| "no records in the fetch response".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, MetadataRequest};

    #[test]
    fn request_frames_carry_size_header_and_body() {
        let request = MetadataRequest::default().with_topics(None);
        let frame = encode_request(&request, 1, 7, &StrBytes::from_static_str("kafkit")).unwrap();
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(size, frame.len() - 4);
        // Header v1: api key 3, version 1, correlation id 7, client id "kafkit".
        assert_eq!(&frame[4..12], &[0, 3, 0, 1, 0, 0, 0, 7]);
        assert_eq!(&frame[12..20], b"\x00\x06kafkit");
        // Body v1: a null topic array (all topics).
        assert_eq!(&frame[20..], &[0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn flexible_request_headers_end_with_tagged_fields() {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafkit"))
            .with_client_software_version(StrBytes::from_static_str("0.1"));
        let frame = encode_request(&request, 3, 1, &StrBytes::from_static_str("c")).unwrap();
        // Header v2: key 18, version 3, correlation id 1, client id "c", no tagged fields.
        assert_eq!(&frame[4..16], &[0, 18, 0, 3, 0, 0, 0, 1, 0, 1, b'c', 0]);
    }

    #[test]
    fn responses_decode_and_garbage_is_an_error() {
        let response = ApiVersionsResponse::default().with_error_code(35);
        let mut buf = BytesMut::new();
        buf.put_i32(42);
        response.encode(&mut buf, 0).unwrap();
        let frame = buf.freeze();
        let decoded = decode_response::<ApiVersionsRequest>(frame.clone(), 0).unwrap();
        assert_eq!(decoded.error_code, 35);
        assert!(decode_response::<ApiVersionsRequest>(frame.slice(..5), 0).is_err());
    }
}
