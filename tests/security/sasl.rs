//! SASL over SASL_PLAINTEXT: every mechanism round-trips; a wrong password is a typed error,
//! fast, with no retry storm and no password in the logs.

use crate::{broker, refused, round_trip, sasl, SASL_PASSWORD};
use kafkit::{Error, SaslMechanism, SecurityProtocol};
use kafkit_testkit::TcpProxy;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MECHANISMS: [SaslMechanism; 4] = [
    SaslMechanism::Plain,
    SaslMechanism::ScramSha256,
    SaslMechanism::ScramSha512,
    SaslMechanism::OAuthBearer,
];

#[tokio::test]
async fn every_mechanism_produces_and_consumes_over_sasl_plaintext() {
    let bootstrap = broker().await.bootstrap("SASL_PLAINTEXT");
    for mechanism in MECHANISMS {
        let security = sasl(SecurityProtocol::SaslPlaintext, mechanism, SASL_PASSWORD);
        round_trip(&bootstrap, &security, 200).await;
    }
}

/// A `tracing` subscriber that keeps every event's fields as text.
struct Capture(Arc<Mutex<String>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut Text(&mut self.0.lock().unwrap()));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut Text(&mut self.0.lock().unwrap()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?}\n", field.name()));
    }
}

#[tokio::test]
async fn a_wrong_password_fails_fast_typed_once_and_unlogged() {
    let broker = broker().await;
    let proxy = TcpProxy::start(broker.bootstrap("SASL_PLAINTEXT"))
        .await
        .unwrap();
    let wrong = "not-the-Password-4711";
    for mechanism in [SaslMechanism::Plain, SaslMechanism::ScramSha512] {
        let security = sasl(SecurityProtocol::SaslPlaintext, mechanism, wrong);
        let logs = Arc::new(Mutex::new(String::new()));
        let _capture = tracing::subscriber::set_default(Capture(logs.clone()));
        let before = proxy.connections();
        let (err, took) = refused(&proxy.local_addr().to_string(), &security).await;
        assert!(
            matches!(&err, Error::Authentication { mechanism: m, .. } if *m == mechanism.name()),
            "{err:?}"
        );
        assert!(
            !err.is_retriable() && err.is_authentication_failure(),
            "{err}"
        );
        assert!(
            took < Duration::from_secs(30),
            "took {took:?}, more than request.timeout.ms"
        );
        // Nothing keeps trying behind the caller's back.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            proxy.connections() - before,
            1,
            "connections for one refused login"
        );
        let text = format!("{err} {err:?} {}", logs.lock().unwrap());
        assert!(!text.contains(wrong), "the password leaked: {text}");
        assert!(
            logs.lock().unwrap().contains("SASL"),
            "nothing was logged: the check would be empty"
        );
    }
}
