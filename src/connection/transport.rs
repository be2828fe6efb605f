//! Dialling a broker: TCP, then TLS when `security.protocol` asks for it. The I/O task is
//! generic over the stream, so a plaintext connection runs exactly as it would without TLS
//! support compiled in.

use super::{Connection, ConnectionParams};
use crate::error::{Error, Result};
use tokio::net::TcpStream;

/// Opens a connection to `addr` and runs the handshake on it.
pub(super) async fn connect(addr: &str, params: &ConnectionParams) -> Result<Connection> {
    let started = tokio::time::Instant::now();
    let stream = match tokio::time::timeout(params.connect_timeout, TcpStream::connect(addr)).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(Error::io(addr, "connect failed", e)),
        Err(_) => return Err(timed_out(addr, params)),
    };
    // Kafka requests are small and latency-bound; Nagle's delay would only hurt.
    let _ = stream.set_nodelay(true);
    #[cfg(feature = "tls")]
    if let Some(tls) = &params.security.tls {
        // The TLS handshake shares socket.connection.setup.timeout.ms with the TCP connect.
        let left = params.connect_timeout.saturating_sub(started.elapsed());
        let stream = match tokio::time::timeout(left, tls.handshake(stream, addr)).await {
            Ok(stream) => stream?,
            Err(_) => return Err(timed_out(addr, params)),
        };
        return Connection::handshake(stream, addr, params).await;
    }
    let _ = started;
    Connection::handshake(stream, addr, params).await
}

fn timed_out(addr: &str, params: &ConnectionParams) -> Error {
    Error::connection(
        addr,
        format!("connect timed out after {:?}", params.connect_timeout),
    )
}

/// The host part of `host:port` (brackets removed from IPv6), for SNI and certificate checks.
pub(super) fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A read or write failure as an error: a TLS failure (a certificate the broker refused, an
/// alert) is an [`Error::Tls`] saying what to fix, anything else a connection error.
pub(super) fn io_error(addr: &str, context: &str, e: std::io::Error) -> Error {
    #[cfg(feature = "tls")]
    if let Some(error) = super::tls::classify(addr, &e) {
        return error;
    }
    Error::io(addr, context, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_port_and_brackets() {
        assert_eq!(host_of("broker.example.com:9094"), "broker.example.com");
        assert_eq!(host_of("[::1]:9094"), "::1");
        assert_eq!(host_of("10.0.0.1:9094"), "10.0.0.1");
    }
}
