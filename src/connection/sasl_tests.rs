//! SASL exchanges and re-authentication against a scripted broker.

use super::sasl::SaslSettings;
use super::tests::{metadata_with_cluster, params, Peer};
use super::*;
use crate::config::{BoxFuture, OAuthBearerToken, OAuthBearerTokenProvider, Secret};
use bytes::Bytes;
use kafka_protocol::messages::{
    MetadataRequest, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::Decodable;
use tokio::task::JoinHandle;

/// Starts a connection with `sasl` against a scripted broker that has answered ApiVersions.
async fn start(sasl: SaslSettings) -> (JoinHandle<Result<Connection>>, Peer) {
    let mut params = params();
    params.security.sasl = Some(sasl);
    let (client, server) = tokio::io::duplex(1 << 16);
    let connecting =
        tokio::spawn(async move { Connection::handshake(client, "fake:9092", &params).await });
    let mut peer = Peer { stream: server };
    peer.handshake().await;
    (connecting, peer)
}

fn plain(password: &str) -> SaslSettings {
    SaslSettings::Plain {
        user: "alice".into(),
        password: Secret::new(password),
    }
}

fn lifetime(ms: i64) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default().with_session_lifetime_ms(ms)
}

impl Peer {
    async fn expect_handshake(&mut self, mechanism: &str) {
        self.answer_handshake(mechanism, SaslHandshakeResponse::default())
            .await
    }

    async fn answer_handshake(&mut self, mechanism: &str, response: SaslHandshakeResponse) {
        let (header, mut body) = self.read_request().await;
        assert_eq!(header.request_api_key, ApiKey::SaslHandshake as i16);
        let request = SaslHandshakeRequest::decode(&mut body, header.request_api_version).unwrap();
        assert_eq!(request.mechanism.as_str(), mechanism);
        self.respond(header.correlation_id, header.request_api_version, &response)
            .await;
    }

    async fn read_authenticate(&mut self) -> (RequestHeader, Bytes) {
        let (header, mut body) = self.read_request().await;
        assert_eq!(header.request_api_key, ApiKey::SaslAuthenticate as i16);
        let request =
            SaslAuthenticateRequest::decode(&mut body, header.request_api_version).unwrap();
        (header, request.auth_bytes)
    }

    async fn answer(&mut self, header: &RequestHeader, response: &SaslAuthenticateResponse) {
        self.respond(header.correlation_id, header.request_api_version, response)
            .await;
    }

    /// A PLAIN login for alice/pw, granting `session_ms`.
    async fn plain_login(&mut self, session_ms: i64) {
        self.expect_handshake("PLAIN").await;
        let (header, bytes) = self.read_authenticate().await;
        assert_eq!(&bytes[..], b"\0alice\0pw");
        self.answer(&header, &lifetime(session_ms)).await;
    }
}

#[tokio::test]
async fn plain_logs_in_after_api_versions() {
    let (connecting, mut peer) = start(plain("pw")).await;
    peer.plain_login(0).await;
    let conn = connecting.await.unwrap().unwrap();
    let metadata = tokio::spawn({
        let conn = conn.clone();
        async move { conn.send(&MetadataRequest::default()).await }
    });
    let (header, _) = peer.read_request().await;
    assert_eq!(header.request_api_key, ApiKey::Metadata as i16);
    peer.respond(header.correlation_id, 12, &metadata_with_cluster("c"))
        .await;
    metadata.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_refused_login_is_an_authentication_error_with_the_brokers_reason() {
    let (connecting, mut peer) = start(plain("wrong")).await;
    peer.expect_handshake("PLAIN").await;
    let (header, _) = peer.read_authenticate().await;
    let refusal = SaslAuthenticateResponse::default()
        .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
        .with_error_message(Some(StrBytes::from_static_str(
            "Authentication failed: Invalid username or password",
        )));
    peer.answer(&header, &refusal).await;
    let err = connecting.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::Authentication { mechanism: "PLAIN", reason, .. }
            if reason.contains("Invalid username or password")),
        "{err:?}"
    );
    assert_eq!(err.retry_action(), crate::error::RetryAction::NoRetry);
    assert!(!err.to_string().contains("wrong"), "{err}");
}

#[tokio::test]
async fn a_mechanism_the_broker_lacks_is_named_with_the_ones_it_has() {
    let (connecting, mut peer) = start(plain("pw")).await;
    let response = SaslHandshakeResponse::default()
        .with_error_code(ErrorCode::UNSUPPORTED_SASL_MECHANISM.0)
        .with_mechanisms(vec![StrBytes::from_static_str("SCRAM-SHA-512")]);
    peer.answer_handshake("PLAIN", response).await;
    let err = connecting.await.unwrap().unwrap_err().to_string();
    assert!(
        err.contains("does not enable PLAIN; it offers SCRAM-SHA-512"),
        "{err}"
    );
}

#[tokio::test]
async fn scram_proves_the_password_and_checks_the_servers_signature() {
    let sasl = SaslSettings::ScramSha256 {
        user: "alice".into(),
        password: Secret::new("pencil"),
    };
    for forged in [false, true] {
        let (connecting, mut peer) = start(sasl.clone()).await;
        peer.expect_handshake("SCRAM-SHA-256").await;
        let (header, first) = peer.read_authenticate().await;
        let first = String::from_utf8(first.to_vec()).unwrap();
        let bare = first.strip_prefix("n,,").unwrap().to_string();
        let nonce = bare.split("r=").nth(1).unwrap().to_string();
        let server_first = format!("r={nonce}SERVER,s=c2FsdHNhbHQ=,i=4096");
        peer.answer(
            &header,
            &SaslAuthenticateResponse::default().with_auth_bytes(server_first.clone().into()),
        )
        .await;
        let (header, last) = peer.read_authenticate().await;
        let last = String::from_utf8(last.to_vec()).unwrap();
        let (without_proof, proof) = last.rsplit_once(",p=").unwrap();
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let (expected_proof, signature) =
            sasl::scram_server_view("pencil", b"saltsalt", 4096, &auth_message);
        assert_eq!(proof, expected_proof);
        let signature = if forged {
            "AAAA".to_string()
        } else {
            signature
        };
        peer.answer(
            &header,
            &SaslAuthenticateResponse::default().with_auth_bytes(format!("v={signature}").into()),
        )
        .await;
        let result = connecting.await.unwrap();
        if forged {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("signature is wrong"), "{err}");
        } else {
            result.unwrap();
        }
    }
}

struct Fixed;
impl OAuthBearerTokenProvider for Fixed {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
        Box::pin(async {
            Ok(OAuthBearerToken {
                value: Secret::new("tok.en."),
                extensions: vec![("traceId".into(), "t1".into())],
            })
        })
    }
}

#[tokio::test]
async fn oauthbearer_acknowledges_an_error_challenge_and_reports_the_broker() {
    let (connecting, mut peer) = start(SaslSettings::OAuthBearer(Arc::new(Fixed))).await;
    peer.expect_handshake("OAUTHBEARER").await;
    let (header, first) = peer.read_authenticate().await;
    assert_eq!(
        &first[..],
        b"n,,\x01auth=Bearer tok.en.\x01traceId=t1\x01\x01"
    );
    let challenge = br#"{"status":"invalid_token"}"#;
    peer.answer(
        &header,
        &SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from_static(challenge)),
    )
    .await;
    let (header, ack) = peer.read_authenticate().await;
    assert_eq!(&ack[..], b"\x01");
    let refusal = SaslAuthenticateResponse::default()
        .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
        .with_error_message(Some(StrBytes::from_static_str("invalid_token")));
    peer.answer(&header, &refusal).await;
    let err = connecting.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}

/// KIP-368: before the session ends the client logs in again on the same connection. A
/// request written before that is answered normally in the middle of it; one made during
/// it waits, so the broker sees nothing between the SASL requests.
#[tokio::test(start_paused = true)]
async fn reauthentication_keeps_the_connection_and_its_requests() {
    let (connecting, mut peer) = start(plain("pw")).await;
    peer.plain_login(3_000).await;
    let conn = connecting.await.unwrap().unwrap();
    let send = |conn: &Connection| {
        let conn = conn.clone();
        tokio::spawn(async move { conn.send(&MetadataRequest::default()).await })
    };
    let before = send(&conn);
    let (in_flight, _) = peer.read_request().await;
    assert_eq!(in_flight.request_api_key, ApiKey::Metadata as i16);
    // Nothing else to do: paused time runs to the re-authentication, at 85-95% of 3 s
    // (before the request times out, at 5 s).
    let (header, mut body) = peer.read_request().await;
    assert_eq!(header.request_api_key, ApiKey::SaslHandshake as i16);
    let during = send(&conn);
    // The in-flight request's answer arrives mid-re-authentication and reaches its caller.
    peer.respond(
        in_flight.correlation_id,
        12,
        &metadata_with_cluster("before"),
    )
    .await;
    let before = before.await.unwrap().unwrap();
    assert_eq!(before.cluster_id.as_deref(), Some("before"));
    SaslHandshakeRequest::decode(&mut body, header.request_api_version).unwrap();
    peer.respond(
        header.correlation_id,
        header.request_api_version,
        &SaslHandshakeResponse::default(),
    )
    .await;
    let (header, bytes) = peer.read_authenticate().await;
    assert_eq!(&bytes[..], b"\0alice\0pw");
    peer.answer(&header, &lifetime(3_000)).await;
    // Only now is the request made during the re-authentication written.
    let (after, _) = peer.read_request().await;
    assert_eq!(after.request_api_key, ApiKey::Metadata as i16);
    peer.respond(after.correlation_id, 12, &metadata_with_cluster("during"))
        .await;
    assert_eq!(
        during.await.unwrap().unwrap().cluster_id.as_deref(),
        Some("during")
    );
    // And again before the next session ends.
    peer.plain_login(0).await;
    assert!(!conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn a_failed_reauthentication_closes_the_connection() {
    let (connecting, mut peer) = start(plain("pw")).await;
    peer.plain_login(1_000).await;
    let conn = connecting.await.unwrap().unwrap();
    peer.expect_handshake("PLAIN").await;
    let (header, _) = peer.read_authenticate().await;
    let refusal = SaslAuthenticateResponse::default()
        .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0);
    peer.answer(&header, &refusal).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(conn.is_closed());
    let err = conn.send(&MetadataRequest::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("re-authentication failed") && err.is_outcome_unknown(),
        "{err}"
    );
}
