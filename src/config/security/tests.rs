use super::*;
use crate::config::{ClientConfig, ConsumerConfig, ProducerConfig};

fn client(extra: &[(&str, &str)]) -> Result<ClientConfig> {
    let mut props = vec![("bootstrap.servers", "b:9092")];
    props.extend_from_slice(extra);
    ClientConfig::from_properties(props)
}

fn err(extra: &[(&str, &str)]) -> String {
    client(extra).unwrap_err().to_string()
}

#[test]
fn plaintext_is_the_default() {
    let c = client(&[]).unwrap();
    assert_eq!(c.security, SecurityConfig::default());
    assert_eq!(c.security.protocol, SecurityProtocol::Plaintext);
    assert!(c.security.tls.endpoint_identification);
}

#[test]
fn sasl_from_librdkafka_keys_and_from_jaas() {
    let rdkafka = client(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("sasl.username", "alice"),
        ("sasl.password", "pw"),
    ])
    .unwrap();
    let java = client(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"alice\" password=\"pw\";",
        ),
    ])
    .unwrap();
    for c in [&rdkafka, &java] {
        assert_eq!(c.security.sasl.mechanism, Some(SaslMechanism::ScramSha256));
        let (user, password) = c.security.sasl.credentials().unwrap();
        assert_eq!((user.as_str(), password.expose()), ("alice", "pw"));
    }
}

#[test]
fn inconsistent_sasl_settings_are_named() {
    let plain_jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                      username=\"a\" password=\"b\";";
    for (props, why) in [
        (
            &[("security.protocol", "SASL_PLAINTEXT")][..],
            "needs sasl.mechanism",
        ),
        (
            &[("sasl.mechanism", "PLAIN")][..],
            "security.protocol is PLAINTEXT",
        ),
        (&[("sasl.username", "a")][..], "sasl settings are set"),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
            ][..],
            "needs a user name and password",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.jaas.config", plain_jaas),
            ][..],
            "needs org.apache.kafka.common.security.scram.ScramLoginModule",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.jaas.config", plain_jaas),
                ("sasl.username", "x"),
            ][..],
            "keep one",
        ),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "GSSAPI"),
            ][..],
            "Kerberos",
        ),
        (&[("sasl.mechanism", "DIGEST")][..], "SCRAM-SHA-256"),
        (&[("security.protocol", "TLS")][..], "SASL_SSL"),
        (
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "OAUTHBEARER"),
            ][..],
            "token provider",
        ),
        (
            &[("sasl.oauthbearer.token.endpoint.url", "https://idp/token")][..],
            "token_provider",
        ),
    ] {
        let text = err(props);
        assert!(text.contains(why), "{props:?}: {text}");
    }
}

#[test]
fn oauthbearer_takes_the_unsecured_login_or_a_provider() {
    let c = client(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"alice\";",
        ),
    ])
    .unwrap();
    assert_eq!(c.security.sasl.unsecured_login().unwrap().claims.len(), 1);

    struct Never;
    impl OAuthBearerTokenProvider for Never {
        fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken>> {
            Box::pin(async { Err(Error::config("no token")) })
        }
    }
    let mut c = ClientConfig::new("b:9092");
    c.security.protocol = SecurityProtocol::SaslPlaintext;
    c.security.sasl.mechanism = Some(SaslMechanism::OAuthBearer);
    c.security.sasl.token_provider = Some(SharedTokenProvider::new(Never));
    c.validate().unwrap();
    assert_eq!(c.clone(), c);
}

#[test]
fn secrets_never_show_in_debug() {
    let password = "pa55-w0rd-leak-check";
    let key = "-----BEGIN PRIVATE KEY-----leak-check";
    let jaas = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" \
         password=\"{password}\";"
    );
    let sasl = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", jaas.as_str()),
    ];
    let rdkafka = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", password),
    ];
    let mut dumps = Vec::new();
    for props in [&sasl[..], &rdkafka[..]] {
        let mut all = vec![("bootstrap.servers", "b:9092")];
        all.extend_from_slice(props);
        dumps.push(format!(
            "{:?}",
            ClientConfig::from_properties(all.clone()).unwrap()
        ));
        all.push(("group.id", "g"));
        dumps.push(format!(
            "{:?}",
            ConsumerConfig::from_properties(all.clone()).unwrap()
        ));
        all.pop();
        dumps.push(format!(
            "{:?}",
            ProducerConfig::from_properties(all).unwrap()
        ));
    }
    let mut tls = ClientConfig::new("b:9092");
    tls.security.tls.key = Some(Secret::new(key));
    dumps.push(format!("{tls:?} {:#?}", tls.security));
    for dump in dumps {
        assert!(!dump.contains(password) && !dump.contains(key), "{dump}");
        assert!(dump.contains("[redacted]"), "{dump}");
    }
}

#[test]
fn java_only_store_settings_are_refused_with_a_fix() {
    if cfg!(feature = "tls") {
        for (key, value, why) in [
            ("ssl.keystore.type", "JKS", "convert the store to PEM"),
            ("ssl.truststore.type", "PKCS12", "convert the store to PEM"),
            ("ssl.keystore.password", "x", "PEM keystores"),
            ("ssl.key.password", "x", "openssl pkcs8"),
            (
                "ssl.endpoint.identification.algorithm",
                "http",
                "https, or empty",
            ),
        ] {
            let text = err(&[("security.protocol", "SSL"), (key, value)]);
            assert!(text.contains(key) && text.contains(why), "{key}: {text}");
        }
        // Java's "unset" spelling of a refused key is accepted.
        client(&[("security.protocol", "SSL"), ("ssl.key.password", "")]).unwrap();
    }
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_without_the_feature_names_the_feature() {
    for props in [
        &[("security.protocol", "SSL")][..],
        &[("security.protocol", "SASL_SSL")][..],
        &[("ssl.truststore.location", "/ca.pem")][..],
        &[("ssl.key.password", "x")][..],
    ] {
        let text = err(props);
        assert!(text.contains("`tls` cargo feature"), "{props:?}: {text}");
    }
    let mut c = ClientConfig::new("b:9092");
    c.security.protocol = SecurityProtocol::Ssl;
    assert!(c.validate().unwrap_err().to_string().contains("`tls`"));
    // An unknown ssl.* key stays an unknown key, not a feature question.
    assert!(err(&[("ssl.cipher.suites", "x")]).contains("unknown"));
}

#[cfg(feature = "tls")]
#[test]
fn tls_settings_from_java_and_librdkafka_keys() {
    let java = client(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", "/etc/ca.pem"),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.certificate.chain", "CHAIN"),
        ("ssl.keystore.key", "KEY"),
        ("ssl.endpoint.identification.algorithm", ""),
    ])
    .unwrap();
    assert_eq!(java.security.tls.ca_location, Some("/etc/ca.pem".into()));
    assert_eq!(
        java.security.tls.certificate_chain.as_deref(),
        Some("CHAIN")
    );
    assert_eq!(
        java.security.tls.key.as_ref().map(Secret::expose),
        Some("KEY")
    );
    assert!(!java.security.tls.endpoint_identification);
    let rdkafka = client(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
        ("ssl.ca.location", "/etc/ca.pem"),
        ("ssl.certificate.location", "/c.pem"),
        ("ssl.key.location", "/k.pem"),
    ])
    .unwrap();
    assert_eq!(
        rdkafka.security.tls.ca_location,
        java.security.tls.ca_location
    );
    assert_eq!(rdkafka.security.tls.key_location, Some("/k.pem".into()));
    for (props, why) in [
        (
            &[("ssl.ca.location", "/ca.pem")][..],
            "security.protocol is PLAINTEXT",
        ),
        (
            &[
                ("security.protocol", "SSL"),
                ("ssl.certificate.location", "/c.pem"),
            ][..],
            "both its chain and its private key",
        ),
        (
            &[
                ("security.protocol", "SSL"),
                ("ssl.keystore.location", "/ks.pem"),
                ("ssl.key.location", "/k.pem"),
            ][..],
            "more than one way",
        ),
        (
            &[
                ("security.protocol", "SSL"),
                ("ssl.ca.location", "/ca.pem"),
                ("ssl.truststore.certificates", "PEM"),
            ][..],
            "keep one",
        ),
    ] {
        let text = err(props);
        assert!(text.contains(why), "{props:?}: {text}");
    }
}
