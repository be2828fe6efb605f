//! KIP-368: with `connections.max.reauth.ms` low on the broker, a produce/consume run
//! spanning several re-authentications loses nothing and opens no new connection.

use crate::{
    group_consumer, poll_into, poll_until, producer, sasl, secure_topic, support, SASL_PASSWORD,
};
use kafkit::{ProducerRecord, SaslMechanism, SecurityProtocol};
use kafkit_testkit::{free_port, SecureBroker, TcpProxy};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn sessions_are_renewed_on_the_same_connections_without_losing_records() {
    let _heavy = support::HEAVY.lock().await;
    // The suite's shared broker starts first, and no other starts while this one picks its
    // ports: two brokers picking free ports at once can be handed the same one, and this
    // test fixes its listener's port.
    crate::broker().await;
    let starting = crate::STARTING.lock().await;
    // Clients reach the SASL_PLAINTEXT listener only through the proxy, which counts their
    // connections: the listener advertises the proxy's port.
    let port = free_port();
    let proxy = TcpProxy::start(format!("127.0.0.1:{port}"))
        .await
        .expect("proxy");
    let _broker = {
        let builder = SecureBroker::builder()
            .reauth(Duration::from_millis(5_000))
            .port("SASL_PLAINTEXT", port)
            .advertise("SASL_PLAINTEXT", proxy.local_addr().port());
        tokio::task::spawn_blocking(move || builder.start())
            .await
            .unwrap()
            .expect("start the secured broker")
    };
    drop(starting);
    let bootstrap = proxy.local_addr().to_string();
    let security = sasl(
        SecurityProtocol::SaslPlaintext,
        SaslMechanism::ScramSha256,
        SASL_PASSWORD,
    );
    let topic = secure_topic(&bootstrap, &security, 1).await;
    let producer = producer(&bootstrap, &security).await;
    let consumer = group_consumer(&bootstrap, &security, &topic).await;

    let mut sent = 0usize;
    let mut seen = BTreeSet::new();
    // Once the consumer has read a record, every connection the clients need is open.
    let mut settled: Option<(Instant, u64)> = None;
    // 16 s from then: five sessions of 5 s each per connection (each renewed after 3 s, 2 s
    // before its end; less margin fails on a loaded 2-core machine, where the broker may
    // read the handshake late).
    while settled.is_none_or(|(at, _)| at.elapsed() < Duration::from_secs(16)) {
        let delivery = producer
            .send(ProducerRecord::new(topic.as_str(), format!("v{sent}")))
            .await
            .expect("send");
        sent += 1;
        poll_into(&consumer, &mut seen).await;
        delivery.await.expect("delivered");
        if settled.is_none() && !seen.is_empty() {
            settled = Some((Instant::now(), proxy.connections()));
        }
        assert!(sent < 100_000, "the consumer never read a record");
    }
    poll_until(&consumer, &mut seen, sent).await;
    assert_eq!(
        proxy.connections(),
        settled.map(|(_, n)| n).unwrap(),
        "a connection was opened again: a session ended without re-authentication"
    );
    assert_eq!(proxy.resets(), 0);
}
