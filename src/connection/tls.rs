//! TLS with rustls (ring provider): the trust store and client certificate, loaded once per
//! client, the handshake with SNI and host name verification, and TLS failures turned into
//! [`Error::Tls`] messages that say what to fix.

use super::transport::host_of;
use crate::config::TlsConfig;
use crate::error::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, RootCertStore};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A client's TLS setup, shared by all its connections.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSettings")
    }
}

impl TlsSettings {
    /// Loads the trust store and client certificate named by `config`.
    pub(crate) fn from_config(config: &TlsConfig) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let cas = match (&config.ca_location, &config.ca_pem) {
            (Some(path), _) => Some((
                certificates(&read(path, "ssl.truststore.location")?, path_name(path))?,
                "ssl.truststore.location",
            )),
            (None, Some(pem)) => Some((
                certificates(pem.as_bytes(), "ssl.truststore.certificates")?,
                "ssl.truststore.certificates",
            )),
            (None, None) => None,
        };
        match cas {
            Some((cas, setting)) => {
                for ca in cas {
                    roots.add(ca).map_err(|e| {
                        Error::config(format!("{setting}: a CA certificate is not usable: {e}"))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
        let builder = if config.endpoint_identification {
            builder.with_root_certificates(roots)
        } else {
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
        };
        let client = match client_certificate(config)? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::config(format!(
                    "the client certificate and private key do not fit together: {e}"
                ))
            })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Self {
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The TLS handshake over an open TCP stream, with SNI for host names.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        addr: &str,
    ) -> Result<TlsStream<TcpStream>> {
        let host = host_of(addr);
        let name = ServerName::try_from(host.to_string()).map_err(|_| Error::Tls {
            broker: addr.to_string(),
            reason: format!("{host:?} is not a valid host name or IP address for TLS"),
        })?;
        self.connector
            .connect(name, tcp)
            .await
            .map_err(|e| classify(addr, &e).unwrap_or_else(|| handshake_io_error(addr, e)))
    }
}

fn path_name(path: &Path) -> &str {
    path.to_str().unwrap_or("the file")
}

fn read(path: &Path, setting: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::config(format!("{setting}: cannot read {}: {e}", path.display())))
}

/// Every certificate in a PEM text; none is an error naming where it was looked for.
fn certificates(pem: &[u8], source: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(format!("{source}: not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{source}: no PEM certificate (-----BEGIN CERTIFICATE-----) found; JKS and PKCS#12 \
             stores must be converted to PEM"
        )));
    }
    Ok(certs)
}

fn private_key(pem: &[u8], source: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
        Error::config(format!(
            "{source}: no unencrypted PEM private key found (PKCS#8, PKCS#1 or SEC1); an \
             encrypted key must be decrypted first (openssl pkcs8 -topk8 -nocrypt)"
        ))
    })
}

type ClientCertificate = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_certificate(config: &TlsConfig) -> Result<Option<ClientCertificate>> {
    if let Some(path) = &config.keystore_location {
        let pem = read(path, "ssl.keystore.location")?;
        let source = format!("ssl.keystore.location {}", path.display());
        return Ok(Some((
            certificates(&pem, &source)?,
            private_key(&pem, &source)?,
        )));
    }
    let chain = match (&config.certificate_location, &config.certificate_chain) {
        (Some(path), _) => certificates(
            &read(path, "ssl.certificate.location")?,
            &format!("ssl.certificate.location {}", path.display()),
        )?,
        (None, Some(pem)) => certificates(pem.as_bytes(), "ssl.keystore.certificate.chain")?,
        (None, None) => return Ok(None),
    };
    let key = match (&config.key_location, &config.key) {
        (Some(path), _) => private_key(
            &read(path, "ssl.key.location")?,
            &format!("ssl.key.location {}", path.display()),
        )?,
        (None, Some(pem)) => private_key(pem.expose().as_bytes(), "ssl.keystore.key")?,
        (None, None) => {
            return Err(Error::config(
                "a client certificate needs its private key (ssl.key.location or \
                 ssl.keystore.key)",
            ))
        }
    };
    Ok(Some((chain, key)))
}

/// A TLS failure inside an I/O error, as an [`Error::Tls`] that says what to fix; `None`
/// when the error is not about TLS.
pub(super) fn classify(addr: &str, e: &std::io::Error) -> Option<Error> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let host = host_of(addr);
    let reason = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            // A bad signature: a CA of the same name as a trusted one, but another key.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "the broker's certificate is not signed by a CA \
                kafkit trusts: set ssl.truststore.location (librdkafka: ssl.ca.location) to the \
                PEM file of the CA that signed it"
                    .to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                "the broker's certificate is not valid for the host name {host:?}: dial a name \
                 the certificate lists (in bootstrap.servers and the brokers' advertised \
                 listeners) or add it to the certificate's subject alternative names \
                 (ssl.endpoint.identification.algorithm= turns this check off, which is unsafe)"
            )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the broker's certificate has expired: renew it (or check this machine's \
                 clock)"
                    .to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the broker's certificate is not valid yet: check the clocks".to_string()
            }
            other => format!("the broker's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown,
        ) => format!(
            "the broker refused the handshake ({}): it requires a client certificate it \
             trusts; set ssl.keystore.location (or ssl.certificate.location and \
             ssl.key.location) to one signed by a CA in the broker's truststore",
            alert_name(tls)
        ),
        rustls::Error::AlertReceived(_) => format!(
            "the broker refused the handshake ({}): check ssl settings against the listener's",
            alert_name(tls)
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the broker did not answer in TLS: the listener on this port is probably PLAINTEXT \
             or SASL_PLAINTEXT; check the port and security.protocol"
                .to_string()
        }
        other => format!("{other}"),
    };
    Some(Error::Tls {
        broker: addr.to_string(),
        reason,
    })
}

fn alert_name(e: &rustls::Error) -> String {
    match e {
        rustls::Error::AlertReceived(alert) => format!("alert {alert:?}"),
        other => other.to_string(),
    }
}

/// A handshake that failed below TLS: a closed connection means the listener is not TLS.
fn handshake_io_error(addr: &str, e: std::io::Error) -> Error {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    if matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe) {
        return Error::Tls {
            broker: addr.to_string(),
            reason: "the broker closed the connection during the TLS handshake: the listener \
                     on this port is probably not TLS (PLAINTEXT or SASL_PLAINTEXT); check the \
                     port and security.protocol"
                .to_string(),
        };
    }
    Error::io(addr, "TLS handshake failed", e)
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain is verified, the host name
/// is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first and the name last, so a name error means the chain
        // itself is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
