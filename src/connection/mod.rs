//! One connection to one broker: a cheap handle over the I/O task in [`io_task`].
//!
//! Opening a connection dials TCP (and TLS, see [`transport`]), negotiates versions with
//! ApiVersions, and authenticates with SASL when configured (see [`sasl`]); every later
//! request is sent at the highest version both sides support, or fails with
//! [`Error::UnsupportedVersion`].

#[cfg(feature = "fuzzing")]
pub mod hooks;
mod io_task;
mod sasl;
mod security;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub(crate) use sasl::{scram_salted_password, SCRAM_MAX_ITERATIONS, SCRAM_MIN_ITERATIONS};
pub(crate) use security::ConnectionSecurity;

use crate::error::{Error, ErrorCode, Result};
use crate::protocol::frame::{decode_response, encode_request};
use crate::protocol::versions::api_name;
use crate::protocol::versions::{self, BrokerVersions};
use io_task::{Outgoing, Shared};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Request, StrBytes};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

/// How a connection is opened and how long it waits.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionParams {
    pub client_id: StrBytes,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The largest Fetch response accepted.
    pub max_response_size: usize,
    /// The largest response accepted to any other request.
    pub max_control_response_size: usize,
    /// TLS and SASL, when `security.protocol` asks for them.
    pub security: ConnectionSecurity,
}

/// A handle to a live connection. Clones share the connection.
#[derive(Clone)]
pub(crate) struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    /// Unique among the process's connections (see [`Connection::id`]).
    id: u64,
    tx: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
    versions: BrokerVersions,
    /// The cluster's finalized feature levels as this broker announced them in ApiVersions
    /// (v3+; none before): `transaction.version` picks the transaction protocol.
    features: Vec<(String, i16)>,
    next_correlation_id: AtomicI32,
    params: ConnectionParams,
    /// Set on SASL connections whose broker limits the session (KIP-368).
    reauth: Option<sasl::Reauth>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.inner.shared.addr)
            .finish()
    }
}

impl Connection {
    /// Opens a connection to `addr` (TCP, then TLS when configured), negotiates API versions
    /// and authenticates.
    pub(crate) async fn connect(addr: &str, params: &ConnectionParams) -> Result<Connection> {
        transport::connect(addr, params).await
    }

    /// Starts the I/O task over any byte stream, negotiates versions on it, and authenticates
    /// when SASL is configured.
    pub(crate) async fn handshake<S>(
        stream: S,
        addr: &str,
        params: &ConnectionParams,
    ) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(1024);
        let shared = Shared::new(addr.to_string());
        let max_frame = params
            .max_response_size
            .max(params.max_control_response_size);
        tokio::spawn(io_task::run(stream, rx, shared.clone(), max_frame));
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let mut conn = Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tx,
            shared,
            versions: BrokerVersions::default(),
            features: Vec::new(),
            next_correlation_id: AtomicI32::new(0),
            params: params.clone(),
            reauth: None,
        };
        let timeout = params.connect_timeout.max(params.request_timeout);
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafkit"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let (_, our_max) = versions::ours(ApiKey::ApiVersions).unwrap_or((0, 0));
        let mut response = conn.api_versions(&request, our_max, timeout).await?;
        if response.error_code == ErrorCode::UNSUPPORTED_VERSION.0 {
            // The broker answers an unsupported ApiVersions request in v0 and lists the
            // versions it does support; ask again at the highest of those we speak.
            let theirs = response
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version)
                .unwrap_or(0);
            response = conn
                .api_versions(&request, theirs.clamp(0, our_max), timeout)
                .await?;
        }
        if response.error_code != 0 {
            conn.shared
                .poison(Error::connection(addr, "ApiVersions was refused"));
            return Err(Error::broker(
                ErrorCode(response.error_code),
                format!("ApiVersions to {addr}"),
            ));
        }
        conn.features = response
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.max_version_level))
            .collect();
        conn.versions = BrokerVersions::new(
            response
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version)),
        );
        let mut session = None;
        if let Some(settings) = &params.security.sasl {
            session = sasl::authenticate(&conn, settings).await?;
            conn.reauth = session.map(|_| sasl::Reauth::new(settings.clone()));
        }
        let inner = Arc::new(conn);
        if let Some(lifetime) = session {
            sasl::keep_authenticated(Arc::downgrade(&inner), lifetime);
        }
        Ok(Connection { inner })
    }

    /// This connection's number, never another's in this process (unlike its address in
    /// memory, which a later connection may reuse): requests queued on one connection reach
    /// the broker in order, so the producer tells connections apart by it.
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The broker's address.
    pub(crate) fn addr(&self) -> &str {
        &self.inner.shared.addr
    }

    /// Whether the connection broke; a broken connection never recovers, open a new one.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.shared.is_poisoned() || self.inner.tx.is_closed()
    }

    /// The finalized level of a cluster feature (`transaction.version`, say) as the broker
    /// announced it when the connection opened; `None` if it announced none.
    pub(crate) fn feature_level(&self, name: &str) -> Option<i16> {
        self.inner
            .features
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, level)| level)
    }

    /// The version that would be used for `key`, or why none can be.
    pub(crate) fn version(&self, key: ApiKey) -> Result<i16> {
        self.inner.version(key)
    }

    /// The version `R` goes at: the negotiated one, at most `max` if given.
    fn version_at_most<R: Request>(&self, max: Option<i16>) -> Result<i16> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| Error::Protocol {
            broker: self.addr().to_string(),
            reason: format!("unknown API key {}", R::KEY),
        })?;
        let version = self.inner.version(key)?;
        Ok(max.map_or(version, |max| version.min(max)))
    }

    /// Sends `request` and waits for its response, up to `request.timeout.ms`.
    pub(crate) async fn send<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.send_with_timeout(request, self.inner.params.request_timeout)
            .await
    }

    /// Sends `request` and waits up to `timeout` (JoinGroup legitimately takes longer).
    pub(crate) async fn send_with_timeout<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Response> {
        self.send_with_timeout_at_most(request, timeout, None).await
    }

    /// Like [`send_with_timeout`](Self::send_with_timeout), at no version above `max` if
    /// given (Fetch by topic name where ids are unknown).
    pub(crate) async fn send_with_timeout_at_most<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
        max: Option<i16>,
    ) -> Result<R::Response> {
        let version = self.version_at_most::<R>(max)?;
        self.inner
            .send_at(request, version, timeout, true, Gate::Wait)
            .await
    }

    /// Like [`send`](Self::send), at no version above `max`: a newer version would change
    /// what the request means (transaction version 1 caps Produce, EndTxn, AddOffsetsToTxn
    /// and TxnOffsetCommit below the versions of transaction version 2).
    pub(crate) async fn send_at_most<R: Request>(
        &self,
        request: &R,
        max: i16,
    ) -> Result<R::Response> {
        let timeout = self.inner.params.request_timeout;
        self.send_with_timeout_at_most(request, timeout, Some(max))
            .await
    }

    /// Like [`send_at_most`](Self::send_at_most) (at no version above `max`, if given), in
    /// two steps: this resolves once the request is queued for writing, and the returned
    /// [`Submitted`] waits for its response (within `request.timeout.ms`). Requests queued on
    /// one connection are written in the order they were queued, so a caller that queues
    /// one after another has them reach the broker in that order (Produce with several
    /// batches of a partition in flight).
    pub(crate) async fn submit<R: Request>(
        &self,
        request: &R,
        max: Option<i16>,
    ) -> Result<Submitted<'_, R>> {
        let version = self.version_at_most::<R>(max)?;
        let (frame, correlation_id) = self.inner.encode(request, version)?;
        let rx = self
            .inner
            .enqueue(frame, correlation_id, R::KEY, true, Gate::Wait)
            .await?;
        Ok(Submitted {
            inner: &self.inner,
            rx,
            version,
            _request: std::marker::PhantomData,
        })
    }

    /// Sends a request the broker will not answer (Produce with `acks=0`); resolves once the
    /// frame is written, or fails after `request.timeout.ms`, closing the connection as a
    /// request awaiting its response does: a peer that stopped reading would otherwise hold
    /// the write, and its caller, forever.
    pub(crate) async fn send_no_response<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<()> {
        let timeout = self.inner.params.request_timeout;
        self.inner
            .round_trip(request, version, timeout, false, Gate::Wait)
            .await
            .map(drop)
    }
}

/// A request queued on a connection ([`Connection::submit`]), awaiting its response.
pub(crate) struct Submitted<'a, R> {
    inner: &'a Inner,
    rx: oneshot::Receiver<Result<bytes::Bytes>>,
    version: i16,
    _request: std::marker::PhantomData<fn(&R)>,
}

impl<R: Request> Submitted<'_, R> {
    /// The response, within `request.timeout.ms` (a timeout closes the connection, as for
    /// [`Connection::send`]).
    pub(crate) async fn response(self) -> Result<R::Response> {
        let timeout = self.inner.params.request_timeout;
        let frame = self.inner.reply::<R>(self.rx, timeout).await?;
        #[cfg(feature = "fuzzing")]
        hooks::capture(R::KEY, self.version, &frame);
        decode_response::<R>(frame, self.version).map_err(|reason| self.inner.malformed(reason))
    }
}

impl Inner {
    fn version(&self, key: ApiKey) -> Result<i16> {
        self.versions
            .choose(key)
            .map_err(|none| Error::UnsupportedVersion {
                api: api_name(key as i16),
                broker: self.shared.addr.clone(),
                ours: none.ours,
                theirs: none.theirs,
            })
    }

    fn encode<R: Request>(&self, request: &R, version: i16) -> Result<(bytes::Bytes, i32)> {
        // Correlation ids only need to be unique among requests in flight on this connection.
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let frame = encode_request(request, version, correlation_id, &self.params.client_id)
            .map_err(|reason| Error::Protocol {
                broker: self.shared.addr.clone(),
                reason,
            })?;
        Ok((frame, correlation_id))
    }

    async fn enqueue(
        &self,
        frame: bytes::Bytes,
        correlation_id: i32,
        api: i16,
        expects_response: bool,
        gate: Gate,
    ) -> Result<oneshot::Receiver<Result<bytes::Bytes>>> {
        // While a re-authentication runs, nothing else may be written between its SASL
        // requests; requests already written are answered as usual.
        let _pass = match (&self.reauth, gate) {
            (Some(reauth), Gate::Wait) => Some(reauth.pass().await),
            _ => None,
        };
        if self.shared.is_poisoned() {
            return Err(self.shared.error());
        }
        let max_response = if api == ApiKey::Fetch as i16 {
            self.params.max_response_size
        } else {
            self.params.max_control_response_size
        };
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Outgoing {
                frame,
                correlation_id,
                api,
                max_response,
                expects_response,
                reply,
            })
            .await
            .map_err(|_| self.shared.error())?;
        Ok(rx)
    }

    async fn send_at<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
        expects_response: bool,
        gate: Gate,
    ) -> Result<R::Response> {
        let frame = self
            .round_trip(request, version, timeout, expects_response, gate)
            .await?;
        #[cfg(feature = "fuzzing")]
        hooks::capture(R::KEY, version, &frame);
        decode_response::<R>(frame, version).map_err(|reason| self.malformed(reason))
    }

    /// Sends `request` and waits up to `timeout` for its response frame.
    async fn round_trip<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
        expects_response: bool,
        gate: Gate,
    ) -> Result<bytes::Bytes> {
        let (frame, correlation_id) = self.encode(request, version)?;
        let rx = self
            .enqueue(frame, correlation_id, R::KEY, expects_response, gate)
            .await?;
        self.reply::<R>(rx, timeout).await
    }

    /// Waits up to `timeout` for the response frame to a request already queued.
    async fn reply<R: Request>(
        &self,
        rx: oneshot::Receiver<Result<bytes::Bytes>>,
        timeout: Duration,
    ) -> Result<bytes::Bytes> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(self.shared.error()),
            Err(_) => {
                // Like the Java client, a timed-out request closes its connection: a late
                // response must not be mistaken for anything else, and for a write the
                // outcome is unknown from here on.
                self.shared.poison(Error::connection(
                    &self.shared.addr,
                    format!("closed after a {} request timed out", api_name(R::KEY)),
                ));
                Err(Error::RequestTimeout {
                    api: api_name(R::KEY),
                    broker: self.shared.addr.clone(),
                    timeout,
                })
            }
        }
    }

    /// The error for a response that does not decode. The stream itself may be fine, but a
    /// broker that sent this cannot be trusted to frame the next response either: the
    /// connection closes, and the other waiters' requests are simply cut off.
    fn malformed(&self, reason: String) -> Error {
        self.shared.poison(Error::connection(
            &self.shared.addr,
            format!("closed after a malformed response: {reason}"),
        ));
        Error::Protocol {
            broker: self.shared.addr.clone(),
            reason,
        }
    }

    /// ApiVersions at `version`. A broker that does not speak that version answers in v0 with
    /// `UNSUPPORTED_VERSION` and the versions it does speak, so a body that does not decode at
    /// `version` is read again at v0, as the Java client does.
    async fn api_versions(
        &self,
        request: &ApiVersionsRequest,
        version: i16,
        timeout: Duration,
    ) -> Result<ApiVersionsResponse> {
        let frame = self
            .round_trip(request, version, timeout, true, Gate::Pass)
            .await?;
        #[cfg(feature = "fuzzing")]
        hooks::capture(ApiKey::ApiVersions as i16, version, &frame);
        match decode_response::<ApiVersionsRequest>(frame.clone(), version) {
            Ok(response) => Ok(response),
            Err(reason) => match decode_response::<ApiVersionsRequest>(frame, 0) {
                Ok(v0) if v0.error_code == ErrorCode::UNSUPPORTED_VERSION.0 => Ok(v0),
                _ => Err(self.malformed(reason)),
            },
        }
    }
}

/// Whether a request waits for a running re-authentication to finish before it is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Ordinary requests.
    Wait,
    /// The handshake's own requests.
    Pass,
}

#[cfg(test)]
mod sasl_tests;
#[cfg(test)]
mod tests;
#[cfg(all(test, feature = "tls"))]
mod tls_tests;
