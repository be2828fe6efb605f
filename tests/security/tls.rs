//! TLS against the broker's SSL listeners: round trips with and without SASL and with a
//! client certificate, and a typed error, fast and not retried, for each way it goes wrong.

use crate::{broker, refused, round_trip, sasl, SASL_PASSWORD};
use kafkit::{ClientConfig, Error, SaslMechanism, Secret, SecurityConfig, SecurityProtocol};
use kafkit_testkit::{KafkaCluster, SslListener, TcpProxy, TestCa};
use std::time::Duration;

fn tls(ca_pem: String) -> SecurityConfig {
    let mut security = SecurityConfig::default();
    security.protocol = SecurityProtocol::Ssl;
    security.tls.ca_pem = Some(ca_pem);
    security
}

#[tokio::test]
async fn ssl_and_every_sasl_mechanism_over_tls_produce_and_consume() {
    let broker = broker().await;
    round_trip(&broker.bootstrap("SSL"), &tls(broker.ca.pem()), 200).await;
    for mechanism in [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
        SaslMechanism::OAuthBearer,
    ] {
        let mut security = sasl(SecurityProtocol::SaslSsl, mechanism, SASL_PASSWORD);
        security.tls = tls(broker.ca.pem()).tls;
        round_trip(&broker.bootstrap("SASL_SSL"), &security, 200).await;
    }
}

#[tokio::test]
async fn mtls_sends_the_client_certificate_and_names_its_absence() {
    let broker = broker().await;
    let bootstrap = broker.bootstrap("MTLS");
    let (err, _) = refused(&bootstrap, &tls(broker.ca.pem())).await;
    assert!(
        matches!(&err, Error::Tls { reason, .. } if reason.contains("requires a client certificate")),
        "{err}"
    );
    // The certificate from files, as librdkafka's keys name them.
    let dir = std::env::temp_dir().join(format!("kafkit-mtls-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    std::fs::write(&cert, &broker.client.cert).unwrap();
    std::fs::write(&key, &broker.client.key).unwrap();
    let mut security = tls(broker.ca.pem());
    security.tls.certificate_location = Some(cert);
    security.tls.key_location = Some(key);
    round_trip(&bootstrap, &security, 50).await;
    // And inline, as Java's PEM keys do.
    let mut security = tls(broker.ca.pem());
    security.tls.certificate_chain = Some(broker.client.cert.clone());
    security.tls.key = Some(Secret::new(broker.client.key.clone()));
    round_trip(&bootstrap, &security, 50).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// The benchmarks' broker (`kafka-launcher --ssl`): an `SslListener` on a plain cluster, its
/// CA file given as `bench/peers.py` gives it, under Java's keys.
#[tokio::test]
async fn an_ssl_listener_on_any_cluster_serves_clients_trusting_its_ca_file() {
    let (cluster, listener) = tokio::task::spawn_blocking(|| {
        let (builder, listener) =
            SslListener::add(KafkaCluster::builder(), 1).expect("write the certificates");
        (builder.start().expect("start the cluster"), listener)
    })
    .await
    .expect("the broker launcher panicked");
    let ca_file = listener.ca_file.display().to_string();
    let config = ClientConfig::from_properties([
        ("bootstrap.servers", listener.bootstrap().as_str()),
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", ca_file.as_str()),
    ])
    .expect("the bench's TLS settings");
    round_trip(&listener.bootstrap(), &config.security, 50).await;
    drop(cluster);
    drop(listener);
    assert!(
        !std::path::Path::new(&ca_file).exists(),
        "{ca_file} left behind"
    );
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Connects through a counting proxy; the error must be a TLS error saying `fix`, come
/// fast, and not be retried.
async fn tls_refused(upstream: String, security: &SecurityConfig, fix: &str) {
    let proxy = TcpProxy::start(upstream).await.unwrap();
    let (err, took) = refused(&proxy.local_addr().to_string(), security).await;
    assert!(
        matches!(&err, Error::Tls { reason, .. } if reason.contains(fix)),
        "wanted a TLS error saying {fix:?}: {err:?}"
    );
    assert!(!err.is_retriable(), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(proxy.connections(), 1, "a refused handshake was retried");
}

#[tokio::test]
async fn bad_certificates_are_typed_errors_without_retries() {
    let broker = broker().await;
    let good = tls(broker.ca.pem());
    tls_refused(
        broker.bootstrap("SSL"),
        &tls(TestCa::new().pem()),
        "not signed by a CA kafkit trusts",
    )
    .await;
    tls_refused(
        broker.bootstrap("WRONGHOST"),
        &good,
        "not valid for the host name",
    )
    .await;
    tls_refused(broker.bootstrap("EXPIRED"), &good, "has expired").await;
}

#[tokio::test]
async fn the_wrong_protocol_on_a_port_is_named_not_waited_on() {
    let broker = broker().await;
    // TLS dialled as PLAINTEXT.
    let (err, took) = refused(&broker.bootstrap("SSL"), &SecurityConfig::default()).await;
    assert!(
        matches!(&err, Error::Tls { reason, .. } if reason.contains("SSL or SASL_SSL")),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // PLAINTEXT dialled as TLS.
    let (err, took) = refused(&broker.cluster.bootstrap(), &tls(broker.ca.pem())).await;
    assert!(
        matches!(&err, Error::Tls { reason, .. } if reason.contains("not TLS")),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // SASL dialled on a plain TLS listener, and the reverse.
    let security = {
        let mut s = sasl(
            SecurityProtocol::SaslSsl,
            SaslMechanism::Plain,
            SASL_PASSWORD,
        );
        s.tls = tls(broker.ca.pem()).tls;
        s
    };
    let (err, _) = refused(&broker.bootstrap("SSL"), &security).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}
