//! Brokers with secured listeners: certificates made at test time (rcgen), SCRAM users added
//! when the storage is formatted, PLAIN users and Kafka's unsecured OAUTHBEARER validator in
//! the listener's JAAS settings.
//!
//! One node serves, besides its PLAINTEXT listener (used by the launcher's readiness probe):
//!
//! | listener         | protocol        | what it tests                                 |
//! |------------------|-----------------|-----------------------------------------------|
//! | `SSL`            | SSL             | TLS with a CA-signed certificate              |
//! | `MTLS`           | SSL             | the same, with a client certificate required  |
//! | `WRONGHOST`      | SSL             | a certificate for another host name           |
//! | `EXPIRED`        | SSL             | an expired certificate                        |
//! | `SASL_SSL`       | SASL_SSL        | PLAIN, SCRAM-SHA-256/512, OAUTHBEARER         |
//! | `SASL_PLAINTEXT` | SASL_PLAINTEXT  | the same without TLS                          |
//!
//! [`SecureBrokerBuilder::authorizer`] turns on KRaft's ACL authorizer, with [`SASL_USER`]
//! a super user and [`SASL_OTHER_USER`] not: what the latter may do, ACLs say.
//!
//! [`SslListener`] adds only the `SSL` listener to any cluster (for `kafka-launcher --ssl`).

use crate::{free_port, KafkaCluster, KafkaClusterBuilder, LaunchError};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SASL user every mechanism knows (PLAIN and both SCRAMs).
pub const SASL_USER: &str = "alice";
/// Its password.
pub const SASL_PASSWORD: &str = "alice-secret";
/// A second SASL user (PLAIN and both SCRAMs), not a super user under
/// [`SecureBrokerBuilder::authorizer`].
pub const SASL_OTHER_USER: &str = "bob";
/// Its password.
pub const SASL_OTHER_PASSWORD: &str = "bob-secret";
/// The authorizer [`SecureBrokerBuilder::authorizer`] enables: KRaft's, ACLs in the metadata
/// log.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
/// The mechanisms the SASL listeners enable.
pub const SASL_MECHANISMS: &str = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER";

/// A certificate authority of the test's own.
pub struct TestCa(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct CertPem {
    /// The certificate.
    pub cert: String,
    /// Its unencrypted PKCS#8 private key.
    pub key: String,
}

impl TestCa {
    /// A fresh CA with a name of its own.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("kafkit test CA {:016x}", rand::random::<u64>()),
        );
        let key = KeyPair::generate().expect("CA key");
        Self(CertifiedIssuer::self_signed(params, key).expect("CA certificate"))
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.0.pem()
    }

    /// A certificate for `names` (host names or IP addresses), expired if `expired`.
    pub fn issue(&self, names: &[&str], expired: bool) -> CertPem {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("certificate params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.0).expect("certificate");
        CertPem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A single-node cluster with the secured listeners above.
pub struct SecureBroker {
    /// The cluster (its PLAINTEXT bootstrap is `cluster.bootstrap()`).
    pub cluster: KafkaCluster,
    /// The CA that signed the broker's certificates and the client certificate.
    pub ca: TestCa,
    /// A client certificate the `MTLS` listener accepts.
    pub client: CertPem,
    ports: Vec<(&'static str, u16)>,
    dir: PathBuf,
}

/// Options for a [`SecureBroker`].
#[derive(Default)]
pub struct SecureBrokerBuilder {
    reauth: Option<Duration>,
    authorizer: bool,
    advertised: Vec<(&'static str, u16)>,
    fixed: Vec<(&'static str, u16)>,
}

impl SecureBrokerBuilder {
    /// `connections.max.reauth.ms`: SASL sessions last this long (default: unlimited).
    pub fn reauth(mut self, every: Duration) -> Self {
        self.reauth = Some(every);
        self
    }

    /// Authorizes every request with [`STANDARD_AUTHORIZER`] (default: none, everyone may
    /// do anything). Super users, whom ACLs do not limit: [`SASL_USER`], and `ANONYMOUS`, the
    /// principal of the PLAINTEXT listeners (the broker's own and the launcher's probe). No
    /// ACL found means denied, so [`SASL_OTHER_USER`] may do only what ACLs allow.
    pub fn authorizer(mut self) -> Self {
        self.authorizer = true;
        self
    }

    /// Fixes `listener`'s port (default: a free one), e.g. to point a proxy at it first.
    pub fn port(mut self, listener: &'static str, port: u16) -> Self {
        self.fixed.push((listener, port));
        self
    }

    /// Makes `listener` advertise `port` (a proxy in front of it) instead of its own.
    pub fn advertise(mut self, listener: &'static str, port: u16) -> Self {
        self.advertised.push((listener, port));
        self
    }

    /// Writes the certificates and starts the broker (a blocking call, as
    /// [`KafkaClusterBuilder::start`] is).
    pub fn start(self) -> Result<SecureBroker, LaunchError> {
        let ca = TestCa::new();
        let dir = certificate_dir()?;
        let write = |name: &str, text: &str| write_pem(&dir, name, text);
        let good = ca.issue(&["localhost", "127.0.0.1"], false);
        let stores = [
            ("SSL", write("ssl.pem", &keystore(&good))?),
            ("MTLS", write("mtls.pem", &keystore(&good))?),
            (
                "WRONGHOST",
                write(
                    "wronghost.pem",
                    &keystore(&ca.issue(&["wrong.host.invalid"], false)),
                )?,
            ),
            (
                "EXPIRED",
                write(
                    "expired.pem",
                    &keystore(&ca.issue(&["localhost", "127.0.0.1"], true)),
                )?,
            ),
            ("SASL_SSL", write("sasl_ssl.pem", &keystore(&good))?),
        ];
        let truststore = write("ca.pem", &ca.pem())?;
        let protocols = [
            ("SSL", "SSL"),
            ("MTLS", "SSL"),
            ("WRONGHOST", "SSL"),
            ("EXPIRED", "SSL"),
            ("SASL_SSL", "SASL_SSL"),
            ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
        ];
        let mut builder = KafkaCluster::builder()
            .property("sasl.enabled.mechanisms", SASL_MECHANISMS)
            .format_arg("--add-scram")
            .format_arg(format!(
                "SCRAM-SHA-256=[name={SASL_USER},password={SASL_PASSWORD}]"
            ))
            .format_arg("--add-scram")
            .format_arg(format!(
                "SCRAM-SHA-512=[name={SASL_USER},password={SASL_PASSWORD}]"
            ))
            .format_arg("--add-scram")
            .format_arg(format!(
                "SCRAM-SHA-256=[name={SASL_OTHER_USER},password={SASL_OTHER_PASSWORD}]"
            ))
            .format_arg("--add-scram")
            .format_arg(format!(
                "SCRAM-SHA-512=[name={SASL_OTHER_USER},password={SASL_OTHER_PASSWORD}]"
            ));
        if self.authorizer {
            builder = builder
                .property("authorizer.class.name", STANDARD_AUTHORIZER)
                .property("super.users", format!("User:ANONYMOUS;User:{SASL_USER}"));
        }
        if let Some(every) = self.reauth {
            builder = builder.property("connections.max.reauth.ms", every.as_millis().to_string());
        }
        let mut ports = Vec::new();
        for (name, protocol) in protocols {
            let port = self
                .fixed
                .iter()
                .find(|(l, _)| *l == name)
                .map_or_else(free_port, |(_, p)| *p);
            ports.push((name, port));
            builder = builder.listener(0, name, protocol, port);
            if let Some((_, advertised)) = self.advertised.iter().find(|(l, _)| *l == name) {
                builder = builder.advertise_listener(0, name, *advertised);
            }
        }
        for (name, store) in &stores {
            builder = tls_listener(builder, name, store);
        }
        builder = builder
            .property("listener.name.mtls.ssl.client.auth", "required")
            .property("listener.name.mtls.ssl.truststore.type", "PEM")
            .property(
                "listener.name.mtls.ssl.truststore.location",
                truststore.display().to_string(),
            );
        for name in ["sasl_ssl", "sasl_plaintext"] {
            builder = sasl_listener(builder, name);
        }
        let cluster = builder.start()?;
        Ok(SecureBroker {
            cluster,
            client: ca.issue(&["kafkit-client"], false),
            ca,
            ports,
            dir,
        })
    }
}

/// A fresh folder for one broker's certificate files, under the build folder.
fn certificate_dir() -> Result<PathBuf, LaunchError> {
    let dir = crate::cache_dir().join("security").join(format!(
        "{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| LaunchError::io(format!("cannot create {}", dir.display()), e))?;
    Ok(dir)
}

fn write_pem(dir: &Path, name: &str, text: &str) -> Result<PathBuf, LaunchError> {
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|e| LaunchError::io(format!("cannot write {}", path.display()), e))?;
    Ok(path)
}

/// A broker's PEM key store: its private key, then its certificate.
fn keystore(c: &CertPem) -> String {
    format!("{}{}", c.key, c.cert)
}

fn tls_listener(builder: KafkaClusterBuilder, name: &str, keystore: &Path) -> KafkaClusterBuilder {
    let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
    builder
        .property(format!("{prefix}ssl.keystore.type"), "PEM")
        .property(
            format!("{prefix}ssl.keystore.location"),
            keystore.display().to_string(),
        )
}

fn sasl_listener(builder: KafkaClusterBuilder, name: &str) -> KafkaClusterBuilder {
    let prefix = format!("listener.name.{name}.");
    builder
        .property(format!("{prefix}sasl.enabled.mechanisms"), SASL_MECHANISMS)
        .property(
            format!("{prefix}plain.sasl.jaas.config"),
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 user_{SASL_USER}=\"{SASL_PASSWORD}\" \
                 user_{SASL_OTHER_USER}=\"{SASL_OTHER_PASSWORD}\";"
            ),
        )
        .property(
            format!("{prefix}scram-sha-256.sasl.jaas.config"),
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        )
        .property(
            format!("{prefix}scram-sha-512.sasl.jaas.config"),
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        )
        .property(
            format!("{prefix}oauthbearer.sasl.jaas.config"),
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"broker\";",
        )
}

impl SecureBroker {
    /// A builder for a broker with non-default options.
    pub fn builder() -> SecureBrokerBuilder {
        SecureBrokerBuilder::default()
    }

    /// Starts a broker with default options (blocking).
    pub fn start() -> Result<SecureBroker, LaunchError> {
        Self::builder().start()
    }

    /// `127.0.0.1:port` of `listener` (`SSL`, `MTLS`, `WRONGHOST`, `EXPIRED`, `SASL_SSL`,
    /// `SASL_PLAINTEXT`).
    pub fn bootstrap(&self, listener: &str) -> String {
        let port = self
            .ports
            .iter()
            .find(|(name, _)| *name == listener)
            .unwrap_or_else(|| panic!("no listener {listener}"))
            .1;
        format!("127.0.0.1:{port}")
    }
}

impl Drop for SecureBroker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `SSL` listener on every node of a cluster, its certificate (for `localhost` and
/// `127.0.0.1`) signed by a fresh [`TestCa`]: TLS without the [`SecureBroker`]'s other
/// listeners, for benchmarks and manual use (`kafka-launcher --ssl`).
pub struct SslListener {
    /// The CA certificate that clients trust, a PEM file (`ssl.truststore.location` with
    /// `ssl.truststore.type=PEM`, librdkafka's `ssl.ca.location`).
    pub ca_file: PathBuf,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl SslListener {
    /// Writes the certificates and adds the listener, named `SSL`, to nodes `0..nodes` of
    /// `builder`, each on a free port. The files live until the returned value is dropped.
    pub fn add(
        mut builder: KafkaClusterBuilder,
        nodes: usize,
    ) -> Result<(KafkaClusterBuilder, SslListener), LaunchError> {
        let ca = TestCa::new();
        let dir = certificate_dir()?;
        let store = write_pem(
            &dir,
            "ssl.pem",
            &keystore(&ca.issue(&["localhost", "127.0.0.1"], false)),
        )?;
        let ca_file = write_pem(&dir, "ca.pem", &ca.pem())?;
        let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        for (node, port) in ports.iter().enumerate() {
            builder = builder.listener(node, "SSL", "SSL", *port);
        }
        let listener = SslListener {
            ca_file,
            ports,
            dir,
        };
        Ok((tls_listener(builder, "SSL", &store), listener))
    }

    /// `127.0.0.1:port` of every node's `SSL` listener, comma-separated.
    pub fn bootstrap(&self) -> String {
        let addrs: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        addrs.join(",")
    }
}

impl Drop for SslListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
