//! TLS against an in-process rustls server with certificates made at test time: the good
//! handshake, and each failure's message.

use super::tests::{params, Peer};
use super::tls::TlsSettings;
use super::*;
use crate::config::{Secret, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own, as real CAs have: webpki matches issuers by name.
        let name = format!("kafkit test CA {}", rand::random::<u64>());
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Self(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// A certificate and key (PEM) for `names`, expired when `expired`.
    fn issue(&self, names: &[&str], expired: bool) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }
}

fn server_config(cert: &(String, String), client_ca: Option<&Ca>) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.0.der().clone()).unwrap();
            builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap(),
            )
        }
        None => builder.with_no_client_auth(),
    };
    let chain = CertificateDer::pem_slice_iter(cert.0.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(cert.1.as_bytes()).unwrap();
    builder.with_single_cert(chain, key).unwrap()
}

/// A one-connection TLS broker on loopback that answers ApiVersions; returns its address and
/// the SNI name it saw.
async fn tls_broker(config: rustls::ServerConfig) -> (String, JoinHandle<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.ok()?;
        let sni = tls.get_ref().1.server_name().map(str::to_string);
        let (client_end, server_end) = tokio::io::duplex(1 << 16);
        let bridge = tokio::spawn(async move {
            let mut client_end = client_end;
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut client_end).await;
        });
        let mut peer = Peer { stream: server_end };
        peer.handshake().await;
        // Hold the connection until the client is done with it.
        let _ = bridge.await;
        sni
    });
    (format!("localhost:{port}"), task)
}

use tokio::task::JoinHandle;

async fn connect_tls(addr: &str, tls: TlsConfig) -> Result<Connection> {
    let mut params = params();
    params.security.tls = Some(TlsSettings::from_config(&tls)?);
    Connection::connect(addr, &params).await
}

fn trusting(ca: &Ca) -> TlsConfig {
    TlsConfig {
        ca_pem: Some(ca.pem()),
        ..TlsConfig::default()
    }
}

fn tls_reason(result: Result<Connection>) -> String {
    match result {
        Err(Error::Tls { reason, .. }) => reason,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_verified_handshake_sends_sni_and_carries_kafka() {
    let ca = Ca::new();
    let (addr, broker) = tls_broker(server_config(&ca.issue(&["localhost"], false), None)).await;
    let conn = connect_tls(&addr, trusting(&ca)).await.unwrap();
    assert_eq!(conn.version(ApiKey::Metadata).unwrap(), 12);
    drop(conn);
    assert_eq!(broker.await.unwrap().as_deref(), Some("localhost"));
}

#[tokio::test]
async fn an_unknown_ca_is_named_with_the_setting_to_fix() {
    let (ca, other) = (Ca::new(), Ca::new());
    let (addr, _broker) = tls_broker(server_config(&ca.issue(&["localhost"], false), None)).await;
    let reason = tls_reason(connect_tls(&addr, trusting(&other)).await);
    assert!(
        reason.contains("not signed by a CA") && reason.contains("ssl.truststore.location"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_unless_the_check_is_off() {
    let ca = Ca::new();
    let cert = ca.issue(&["broker.other.example"], false);
    let (addr, _broker) = tls_broker(server_config(&cert, None)).await;
    let reason = tls_reason(connect_tls(&addr, trusting(&ca)).await);
    assert!(
        reason.contains("not valid for the host name \"localhost\""),
        "{reason}"
    );
    let (addr, _broker) = tls_broker(server_config(&cert, None)).await;
    let unchecked = TlsConfig {
        endpoint_identification: false,
        ..trusting(&ca)
    };
    connect_tls(&addr, unchecked).await.unwrap();
    // Without the name check, the chain is still checked.
    let (addr, _broker) = tls_broker(server_config(&cert, None)).await;
    let unchecked = TlsConfig {
        endpoint_identification: false,
        ..trusting(&Ca::new())
    };
    let reason = tls_reason(connect_tls(&addr, unchecked).await);
    assert!(reason.contains("not signed by a CA"), "{reason}");
}

#[tokio::test]
async fn an_expired_certificate_is_named() {
    let ca = Ca::new();
    let (addr, _broker) = tls_broker(server_config(&ca.issue(&["localhost"], true), None)).await;
    let reason = tls_reason(connect_tls(&addr, trusting(&ca)).await);
    assert!(reason.contains("expired"), "{reason}");
}

#[tokio::test]
async fn a_required_client_certificate_is_sent_or_its_absence_named() {
    let ca = Ca::new();
    let server = ca.issue(&["localhost"], false);
    let (addr, _broker) = tls_broker(server_config(&server, Some(&ca))).await;
    let reason = tls_reason(connect_tls(&addr, trusting(&ca)).await);
    assert!(reason.contains("requires a client certificate"), "{reason}");

    let (chain, key) = ca.issue(&["client"], false);
    let (addr, _broker) = tls_broker(server_config(&server, Some(&ca))).await;
    let with_cert = TlsConfig {
        certificate_chain: Some(chain),
        key: Some(Secret::new(key)),
        ..trusting(&ca)
    };
    connect_tls(&addr, with_cert).await.unwrap();
}

#[tokio::test]
async fn a_plaintext_listener_is_named_not_waited_on() {
    // What a Kafka PLAINTEXT listener does with a ClientHello: reads a size far over its
    // limit and closes the connection.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut size = [0; 4];
        let _ = tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut size).await;
    });
    let reason = tls_reason(connect_tls(&addr, trusting(&Ca::new())).await);
    assert!(reason.contains("probably not TLS"), "{reason}");
}

#[test]
fn unreadable_or_wrong_files_are_config_errors() {
    let missing = TlsConfig {
        ca_location: Some("/nonexistent/ca.pem".into()),
        ..TlsConfig::default()
    };
    let err = TlsSettings::from_config(&missing).unwrap_err().to_string();
    assert!(
        err.contains("ssl.truststore.location: cannot read /nonexistent/ca.pem"),
        "{err}"
    );
    let not_pem = TlsConfig {
        ca_pem: Some("not a certificate".into()),
        ..TlsConfig::default()
    };
    let err = TlsSettings::from_config(&not_pem).unwrap_err().to_string();
    assert!(err.contains("no PEM certificate"), "{err}");
    let ca = Ca::new();
    let (chain, _) = ca.issue(&["client"], false);
    let encrypted = TlsConfig {
        certificate_chain: Some(chain),
        key: Some(Secret::new(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )),
        ..TlsConfig::default()
    };
    let err = TlsSettings::from_config(&encrypted)
        .unwrap_err()
        .to_string();
    assert!(err.contains("openssl pkcs8"), "{err}");
}
