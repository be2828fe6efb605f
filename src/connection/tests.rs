//! The connection task against a scripted peer over an in-memory duplex stream.

use super::*;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, RequestHeader};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Encodable, HeaderVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub(super) fn params() -> ConnectionParams {
    ConnectionParams {
        client_id: StrBytes::from_static_str("test"),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        max_response_size: 1 << 20,
        max_control_response_size: 1 << 20,
        security: ConnectionSecurity::default(),
    }
}

/// The broker side of the duplex: reads request frames, writes response frames.
pub(super) struct Peer {
    pub(super) stream: DuplexStream,
}

impl Peer {
    pub(super) async fn read_request(&mut self) -> (RequestHeader, Bytes) {
        let size = self.stream.read_i32().await.unwrap();
        let mut buf = BytesMut::zeroed(size as usize);
        self.stream.read_exact(&mut buf).await.unwrap();
        let header = decode_request_header_from_buffer(&mut buf).unwrap();
        (header, buf.freeze())
    }

    pub(super) async fn respond<M: Encodable + HeaderVersion>(
        &mut self,
        correlation_id: i32,
        version: i16,
        body: &M,
    ) {
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        buf.put_i32(correlation_id);
        if M::header_version(version) >= 1 {
            buf.put_u8(0); // no tagged fields
        }
        body.encode(&mut buf, version).unwrap();
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buf).await.unwrap();
    }

    /// Answers the ApiVersions handshake, advertising Metadata 0..=12 and SASL only.
    pub(super) async fn handshake(&mut self) {
        let (header, _) = self.read_request().await;
        assert_eq!(header.request_api_key, ApiKey::ApiVersions as i16);
        let response = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(4),
            ApiVersion::default()
                .with_api_key(3)
                .with_min_version(0)
                .with_max_version(12),
            ApiVersion::default()
                .with_api_key(ApiKey::SaslHandshake as i16)
                .with_min_version(0)
                .with_max_version(1),
            ApiVersion::default()
                .with_api_key(ApiKey::SaslAuthenticate as i16)
                .with_min_version(0)
                .with_max_version(2),
        ]);
        self.respond(header.correlation_id, header.request_api_version, &response)
            .await;
    }
}

async fn connected() -> (Connection, Peer) {
    connected_with(params()).await
}

async fn connected_with(params: ConnectionParams) -> (Connection, Peer) {
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { stream: server };
    let (conn, ()) = tokio::join!(
        async {
            Connection::handshake(client, "fake:9092", &params)
                .await
                .unwrap()
        },
        peer.handshake()
    );
    (conn, peer)
}

/// A Metadata request sent in the background, as a caller on another task would.
fn send_metadata(conn: &Connection) -> tokio::task::JoinHandle<Result<MetadataResponse>> {
    let conn = conn.clone();
    tokio::spawn(async move { conn.send(&MetadataRequest::default()).await })
}

pub(super) fn metadata_with_cluster(id: &str) -> MetadataResponse {
    MetadataResponse::default().with_cluster_id(Some(StrBytes::from_string(id.to_string())))
}

#[tokio::test]
async fn negotiates_the_highest_common_version() {
    let (conn, _peer) = connected().await;
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 12);
    let err = conn.version(ApiKey::Produce).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { api: "Produce", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn responses_out_of_order_reach_their_own_callers() {
    let (conn, mut peer) = connected().await;
    let first = send_metadata(&conn);
    let (h1, _) = peer.read_request().await;
    let second = send_metadata(&conn);
    let (h2, _) = peer.read_request().await;
    assert_ne!(h1.correlation_id, h2.correlation_id);
    peer.respond(h2.correlation_id, 12, &metadata_with_cluster("second"))
        .await;
    peer.respond(h1.correlation_id, 12, &metadata_with_cluster("first"))
        .await;
    let first = first.await.unwrap().unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(first.cluster_id.as_deref(), Some("first"));
    assert_eq!(second.cluster_id.as_deref(), Some("second"));
}

#[tokio::test]
async fn a_dropped_caller_does_not_corrupt_the_connection() {
    let (conn, mut peer) = connected().await;
    let abandoned = send_metadata(&conn);
    let (h1, _) = peer.read_request().await;
    abandoned.abort();
    let _ = abandoned.await;
    // The abandoned response still arrives and must be consumed, not handed to the next caller.
    peer.respond(h1.correlation_id, 12, &metadata_with_cluster("abandoned"))
        .await;
    let next = send_metadata(&conn);
    let (h2, _) = peer.read_request().await;
    peer.respond(h2.correlation_id, 12, &metadata_with_cluster("next"))
        .await;
    let next = next.await.unwrap().unwrap();
    assert_eq!(next.cluster_id.as_deref(), Some("next"));
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn a_broken_connection_fails_every_waiter_and_every_later_call() {
    let (conn, mut peer) = connected().await;
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.send(&MetadataRequest::default()).await })
        })
        .collect();
    for _ in 0..3 {
        peer.read_request().await;
    }
    drop(peer);
    for waiter in waiters {
        let err = waiter.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Connection { .. }), "{err}");
        assert!(err.is_outcome_unknown());
    }
    assert!(conn.is_closed());
    let err = conn.send(&MetadataRequest::default()).await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err}");
}

#[tokio::test]
async fn an_oversized_frame_poisons_the_connection() {
    let (conn, mut peer) = connected().await;
    let waiter = send_metadata(&conn);
    peer.read_request().await;
    peer.stream.write_i32(i32::MAX).await.unwrap();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("outside 4..="), "{err}");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn an_unknown_correlation_id_poisons_the_connection() {
    let (conn, mut peer) = connected().await;
    let waiter = send_metadata(&conn);
    let (header, _) = peer.read_request().await;
    peer.respond(
        header.correlation_id + 1000,
        12,
        &metadata_with_cluster("x"),
    )
    .await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("unknown correlation id"), "{err}");
}

#[tokio::test]
async fn a_response_that_does_not_decode_is_a_protocol_error() {
    let (conn, mut peer) = connected().await;
    let waiter = send_metadata(&conn);
    let (header, _) = peer.read_request().await;
    let mut frame = BytesMut::new();
    frame.put_i32(7);
    frame.put_i32(header.correlation_id);
    frame.put_slice(&[0, 0xff, 0xff]);
    peer.stream.write_all(&frame).await.unwrap();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_request_timeout_closes_the_connection() {
    let (conn, mut peer) = connected().await;
    let waiter = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.send_with_timeout(&MetadataRequest::default(), Duration::from_secs(2))
                .await
        }
    });
    peer.read_request().await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::RequestTimeout {
                api: "Metadata",
                ..
            }
        ),
        "{err}"
    );
    assert!(conn.is_closed());
}

#[tokio::test]
async fn requests_without_responses_resolve_once_written() {
    let (conn, mut peer) = connected().await;
    conn.send_no_response(&MetadataRequest::default(), 12)
        .await
        .unwrap();
    let (header, mut body) = peer.read_request().await;
    assert_eq!(header.request_api_key, 3);
    assert!(body.has_remaining());
    body.advance(body.remaining());
}

impl Peer {
    /// Writes a response frame with a hand-made body, for hostile-input tests.
    async fn respond_raw(&mut self, correlation_id: i32, flexible_header: bool, body: &[u8]) {
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        buf.put_i32(correlation_id);
        if flexible_header {
            buf.put_u8(0);
        }
        buf.put_slice(body);
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buf).await.unwrap();
    }
}

/// An unsigned varint as compact arrays prefix their length (count + 1).
fn uvarint(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

#[tokio::test]
async fn an_api_versions_array_count_of_i32_max_is_a_protocol_error() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { stream: server };
    let hostile = async {
        let (header, _) = peer.read_request().await;
        // ApiVersions v3: error_code 0, then api_keys claiming 2^31 - 1 entries in 5 bytes.
        let mut body = vec![0, 0];
        body.extend(uvarint(0x7fff_ffff + 1));
        peer.respond_raw(header.correlation_id, false, &body).await;
    };
    let params = params();
    let (result, ()) = tokio::join!(
        Connection::handshake(client, "hostile:9092", &params),
        hostile
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn a_metadata_array_count_of_i32_max_is_a_protocol_error() {
    let (conn, mut peer) = connected().await;
    let waiter = send_metadata(&conn);
    let (header, _) = peer.read_request().await;
    // Metadata v12: throttle_time_ms, then brokers claiming 2^31 - 1 entries.
    let mut body = vec![0, 0, 0, 0];
    body.extend(uvarint(0x7fff_ffff + 1));
    peer.respond_raw(header.correlation_id, true, &body).await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    // A legacy (non-flexible) array: an i32 count of i32::MAX.
    let (conn, mut peer) = connected().await;
    let waiter = tokio::spawn({
        let conn = conn.clone();
        async move {
            let version = 8;
            conn.inner
                .send_at(
                    &MetadataRequest::default(),
                    version,
                    Duration::from_secs(5),
                    true,
                    Gate::Wait,
                )
                .await
        }
    });
    let (header, _) = peer.read_request().await;
    let mut body = vec![0, 0, 0, 0];
    body.extend(i32::MAX.to_be_bytes());
    peer.respond_raw(header.correlation_id, false, &body).await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn a_string_length_beyond_the_frame_is_a_protocol_error() {
    let (conn, mut peer) = connected().await;
    let waiter = send_metadata(&conn);
    let (header, _) = peer.read_request().await;
    // Metadata v12: throttle_time_ms, one broker (node id 1), then a host name of 2^32 - 2
    // bytes in a frame of a dozen.
    let mut body = vec![0, 0, 0, 0];
    body.extend(uvarint(2));
    body.extend(1i32.to_be_bytes());
    body.extend(uvarint(u32::MAX));
    peer.respond_raw(header.correlation_id, true, &body).await;
    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[tokio::test]
async fn a_response_over_its_requests_limit_fails_that_request_for_good() {
    let (conn, mut peer) = connected_with(ConnectionParams {
        max_control_response_size: 4096,
        ..params()
    })
    .await;
    let big = send_metadata(&conn);
    let (h1, _) = peer.read_request().await;
    let other = send_metadata(&conn);
    peer.read_request().await;
    // 8 KiB for a Metadata response: within the Fetch limit (1 MiB), over the 4 KiB one.
    let mut frame = BytesMut::new();
    frame.put_i32(8192);
    frame.put_i32(h1.correlation_id);
    peer.stream.write_all(&frame).await.unwrap();
    let err = big.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(!err.is_retriable(), "{err}");
    assert!(
        err.to_string()
            .contains("kafkit.max.control.response.bytes"),
        "{err}"
    );
    // The other request was only cut off: its outcome is unknown, and it may be retried.
    let err = other.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err}");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn an_old_broker_answering_api_versions_in_v0_gets_asked_again_at_its_version() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { stream: server };
    let old_broker = async {
        let (first, _) = peer.read_request().await;
        assert_eq!(first.request_api_version, 3);
        // What a broker that speaks ApiVersions 0..=2 sends: a v0 body, UNSUPPORTED_VERSION,
        // and the versions it speaks.
        let v0 = ApiVersionsResponse::default()
            .with_error_code(crate::error::ErrorCode::UNSUPPORTED_VERSION.0)
            .with_api_keys(vec![ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(2)]);
        peer.respond(first.correlation_id, 0, &v0).await;
        let (second, _) = peer.read_request().await;
        assert_eq!(second.request_api_version, 2);
        let v2 = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(2),
            ApiVersion::default()
                .with_api_key(3)
                .with_min_version(0)
                .with_max_version(9),
        ]);
        peer.respond(second.correlation_id, 2, &v2).await;
    };
    let params = params();
    let (conn, ()) = tokio::join!(
        Connection::handshake(client, "old:9092", &params),
        old_broker
    );
    let conn = conn.expect("connected after the v0 fallback");
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 9);
}

/// A broker's finalized features are kept (`transaction.version` picks the transaction
/// protocol), and `send_at_most` keeps below the versions that would change a request's
/// meaning.
#[tokio::test]
async fn finalized_features_are_kept_and_send_at_most_caps_the_version() {
    use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
    use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut peer = Peer { stream: server };
    let params = params();
    let (conn, ()) = tokio::join!(
        async {
            Connection::handshake(client, "fake:9092", &params)
                .await
                .unwrap()
        },
        async {
            let (header, _) = peer.read_request().await;
            let response = ApiVersionsResponse::default()
                .with_api_keys(vec![ApiVersion::default()
                    .with_api_key(ApiKey::EndTxn as i16)
                    .with_min_version(0)
                    .with_max_version(5)])
                .with_finalized_features(vec![FinalizedFeatureKey::default()
                    .with_name(StrBytes::from_static_str("transaction.version"))
                    .with_min_version_level(2)
                    .with_max_version_level(2)]);
            peer.respond(header.correlation_id, header.request_api_version, &response)
                .await;
        }
    );
    assert_eq!(conn.feature_level("transaction.version"), Some(2));
    assert_eq!(conn.feature_level("metadata.version"), None);
    for (cap, expected) in [(4, 4), (9, 5)] {
        let sent = tokio::spawn({
            let conn = conn.clone();
            async move { conn.send_at_most(&EndTxnRequest::default(), cap).await }
        });
        let (header, _) = peer.read_request().await;
        assert_eq!(header.request_api_key, ApiKey::EndTxn as i16);
        assert_eq!(header.request_api_version, expected, "capped at {cap}");
        peer.respond(header.correlation_id, expected, &EndTxnResponse::default())
            .await;
        sent.await.unwrap().unwrap();
    }
}
