//! The one task that owns a broker connection's socket.
//!
//! ```text
//! callers ──Outgoing──▶ [mpsc] ──▶ writer: register correlation id, write frame
//!                                   reader: read frame, match correlation id ──▶ caller's oneshot
//! ```
//! Frames are written whole by this task, so a caller that drops its future mid-request can
//! never leave half a frame on the wire; its response is still read and discarded, keeping the
//! stream in sync. Any read or write failure poisons the connection: every waiter, and every
//! later caller, gets the same error.

use super::transport::io_error;
use crate::error::Error;
use crate::protocol::versions::api_name;
use crate::sync::lock;
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

/// What a caller receives: the response frame (size prefix removed), or why there is none.
pub(crate) type Reply = oneshot::Sender<Result<Bytes, Error>>;

/// A request frame on its way to the socket.
pub(crate) struct Outgoing {
    pub frame: Bytes,
    pub correlation_id: i32,
    /// The request's API key, to name it in errors.
    pub api: i16,
    /// The largest response accepted for it (Fetch responses may be far larger than others).
    pub max_response: usize,
    /// Whether the broker answers; `acks=0` produce requests get no response, and their
    /// reply resolves with an empty frame once written.
    pub expects_response: bool,
    pub reply: Reply,
}

/// A caller waiting for its response.
struct Waiter {
    reply: Reply,
    api: i16,
    max_response: usize,
}

/// Whether the connection still carries requests, and who waits for which response. One
/// lock holds both, so a waiter is either registered on an open connection (and answered by
/// the reader or by the poisoning) or refused because it is broken: never lost between them.
enum State {
    Open { pending: HashMap<i32, Waiter> },
    Broken(Error),
}

/// State shared between the task and the connection's handles.
pub(crate) struct Shared {
    pub addr: String,
    state: Mutex<State>,
    /// Wakes the task so a connection poisoned by a caller (a timeout) is torn down.
    close: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn new(addr: String) -> Arc<Self> {
        Arc::new(Self {
            addr,
            state: Mutex::new(State::Open {
                pending: HashMap::new(),
            }),
            close: tokio::sync::Notify::new(),
        })
    }

    /// The error every caller sees once the connection is broken.
    pub(crate) fn error(&self) -> Error {
        match &*lock(&self.state) {
            State::Broken(e) => e.clone(),
            State::Open { .. } => Error::connection(&self.addr, "connection closed"),
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        matches!(*lock(&self.state), State::Broken(_))
    }

    /// Marks the connection broken (the first error wins) and fails every waiter with it.
    pub(crate) fn poison(&self, error: Error) {
        let waiters = {
            let mut state = lock(&self.state);
            match &mut *state {
                State::Broken(_) => Vec::new(),
                State::Open { pending } => {
                    tracing::debug!(broker = %self.addr, %error, "connection poisoned");
                    let waiters: Vec<Reply> = pending.drain().map(|(_, w)| w.reply).collect();
                    *state = State::Broken(error.clone());
                    waiters
                }
            }
        };
        self.close.notify_one();
        for reply in waiters {
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// Registers a waiter for `correlation_id`; a broken connection answers it at once.
    fn register(&self, correlation_id: i32, waiter: Waiter) {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Open { pending } => {
                pending.insert(correlation_id, waiter);
            }
            State::Broken(e) => {
                let _ = waiter.reply.send(Err(e.clone()));
            }
        }
    }

    /// The waiter for `correlation_id`, if one is registered.
    fn take(&self, correlation_id: i32) -> Option<Waiter> {
        match &mut *lock(&self.state) {
            State::Open { pending } => pending.remove(&correlation_id),
            State::Broken(_) => None,
        }
    }
}

/// Runs the connection until it breaks or every handle is dropped.
pub(crate) async fn run<S>(
    stream: S,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
    max_frame: usize,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let error = tokio::select! {
        error = write_loop(writer, &mut rx, &shared) => error,
        error = read_loop(reader, &shared, max_frame) => error,
        _ = shared.close.notified() => Error::connection(&shared.addr, "connection closed"),
    };
    shared.poison(error);
    rx.close();
    while let Some(out) = rx.recv().await {
        let _ = out.reply.send(Err(shared.error()));
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    rx: &mut mpsc::Receiver<Outgoing>,
    shared: &Shared,
) -> Error {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut written_without_response = Vec::new();
    while let Some(mut out) = rx.recv().await {
        // Gather what is already queued so one flush (one syscall) carries it all.
        loop {
            if out.reply.is_closed() && out.expects_response {
                // Nobody waits and nothing has been written: dropping it here is safe.
            } else {
                if out.expects_response {
                    let waiter = Waiter {
                        reply: out.reply,
                        api: out.api,
                        max_response: out.max_response,
                    };
                    shared.register(out.correlation_id, waiter);
                } else {
                    written_without_response.push(out.reply);
                }
                if let Err(e) = writer.write_all(&out.frame).await {
                    return io_error(&shared.addr, "write failed", e);
                }
            }
            match rx.try_recv() {
                Ok(next) => out = next,
                Err(_) => break,
            }
        }
        if let Err(e) = writer.flush().await {
            return io_error(&shared.addr, "write failed", e);
        }
        for reply in written_without_response.drain(..) {
            let _ = reply.send(Ok(Bytes::new()));
        }
    }
    Error::connection(&shared.addr, "connection closed by the client")
}

/// `max_frame` is the largest response any request may get; a longer frame is refused at
/// once, and a shorter one against its own request's limit.
async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: R,
    shared: &Shared,
    max_frame: usize,
) -> Error {
    let broken = |reason: String| Error::connection(&shared.addr, reason);
    loop {
        let size = match reader.read_i32().await {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return broken("the broker closed the connection".to_string())
            }
            Err(e) => return io_error(&shared.addr, "read failed", e),
        };
        // The frame is a correlation id, the rest of the header, and the body.
        if size < 4 || size as usize > max_frame {
            if looks_like_tls(size) {
                return Error::Tls {
                    broker: shared.addr.clone(),
                    reason: "the broker answered in TLS: the listener on this port is SSL or \
                             SASL_SSL; set security.protocol to match"
                        .to_string(),
                };
            }
            return broken(format!(
                "response frame of {size} bytes is outside 4..={max_frame}"
            ));
        }
        let correlation_id = match reader.read_i32().await {
            Ok(id) => id,
            Err(e) => return io_error(&shared.addr, "read failed mid-frame", e),
        };
        let Some(waiter) = shared.take(correlation_id) else {
            return broken(format!(
                "response with unknown correlation id {correlation_id}"
            ));
        };
        let size = size as usize;
        if size > waiter.max_response {
            // Not a stream to resynchronise on: whatever the peer is, its next frame cannot be
            // trusted either. The request it answers fails for good; the others were cut off.
            let reason = format!(
                "a {} response of {size} bytes is larger than the {} bytes kafkit accepts \
                 (kafkit.max.response.bytes for Fetch, kafkit.max.control.response.bytes \
                 for other requests)",
                api_name(waiter.api),
                waiter.max_response
            );
            let _ = waiter.reply.send(Err(Error::Protocol {
                broker: shared.addr.clone(),
                reason: reason.clone(),
            }));
            return broken(reason);
        }
        let mut frame = BytesMut::with_capacity(FIRST_READ.min(size));
        frame.put_i32(correlation_id);
        if let Err(e) = read_to(&mut reader, &mut frame, size).await {
            return io_error(&shared.addr, "read failed mid-frame", e);
        }
        // A dropped caller's response is read in full and discarded, keeping the stream
        // aligned on frame boundaries.
        let _ = waiter.reply.send(Ok(frame.freeze()));
    }
}

/// Whether a frame's size prefix is really the header of a TLS record (content type 20..=23,
/// version 3.x): a TLS listener's alert or handshake, read as if it were Kafka.
fn looks_like_tls(size: i32) -> bool {
    let [content_type, major, ..] = size.to_be_bytes();
    (20..=23).contains(&content_type) && major == 3
}

/// How much of a frame is allocated before any of its body has arrived.
const FIRST_READ: usize = 64 * 1024;

/// Reads until `buf` holds `len` bytes. The buffer grows with what has arrived (at most
/// doubling), never to `len` at once: a peer that announces 100 MB and sends 10 bytes gets
/// 64 KiB of memory, not 100 MB.
async fn read_to<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    len: usize,
) -> std::io::Result<()> {
    while buf.len() < len {
        if buf.len() == buf.capacity() {
            let grow = buf.len().max(FIRST_READ).min(len - buf.len());
            buf.reserve(grow);
        }
        let room = buf.capacity().min(len) - buf.len();
        let read = reader.read_buf(&mut (&mut *buf).limit(room)).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn waiter(reply: Reply) -> Waiter {
        Waiter {
            reply,
            api: 3,
            max_response: 1 << 20,
        }
    }

    #[tokio::test]
    async fn a_frame_grows_with_the_bytes_that_arrive() {
        let (mut peer, mut client) = tokio::io::duplex(1 << 16);
        peer.write_all(&[7; 10]).await.unwrap();
        let mut buf = BytesMut::new();
        let len = 10 + 1_000_000;
        // A 1 MB frame of which 10 bytes came: the read waits for more, holding little.
        let read = read_to(&mut client, &mut buf, len);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), read)
                .await
                .is_err()
        );
        assert_eq!(buf.len(), 10);
        assert!(buf.capacity() <= 2 * FIRST_READ, "{}", buf.capacity());
        // The rest arrives intact across many reads and growths.
        let body: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let writer = tokio::spawn(async move { peer.write_all(&body).await.map(|_| body) });
        read_to(&mut client, &mut buf, len).await.unwrap();
        let body = writer.await.unwrap().unwrap();
        assert_eq!(&buf[..10], &[7; 10]);
        assert_eq!(&buf[10..], &body[..]);
    }

    #[tokio::test]
    async fn a_tls_answer_to_a_plaintext_request_is_named() {
        let (mut peer, client) = tokio::io::duplex(1 << 10);
        let shared = Shared::new("b:9093".to_string());
        // A TLS alert record: content type 21, version 3.3, length 2, fatal, unexpected.
        peer.write_all(&[21, 3, 3, 0, 2, 2, 10]).await.unwrap();
        let error = read_loop(client, &shared, 1 << 20).await;
        assert!(
            matches!(&error, Error::Tls { reason, .. } if reason.contains("security.protocol")),
            "{error:?}"
        );
        assert!(!looks_like_tls(1 << 20) && looks_like_tls(0x1603_0100));
    }

    #[tokio::test]
    async fn a_waiter_registered_after_the_break_is_answered_at_once() {
        let shared = Shared::new("b:9092".to_string());
        let (early, early_rx) = oneshot::channel();
        shared.register(1, waiter(early));
        shared.poison(Error::connection("b:9092", "reset"));
        // The writer can register a request it took from the queue just before the break;
        // its caller must hear of the break, not wait out its timeout.
        let (late, late_rx) = oneshot::channel();
        shared.register(2, waiter(late));
        for rx in [early_rx, late_rx] {
            let answer = rx.await.expect("answered");
            assert!(
                matches!(&answer, Err(Error::Connection { reason, .. }) if reason == "reset"),
                "{answer:?}"
            );
        }
        assert!(shared.take(1).is_none() && shared.is_poisoned());
    }
}
