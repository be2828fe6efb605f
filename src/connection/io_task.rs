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

use crate::error::Error;
use crate::protocol::frame;
use crate::sync::lock;
use bytes::{Bytes, BytesMut};
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
    /// Whether the broker answers; `acks=0` produce requests get no response, and their
    /// reply resolves with an empty frame once written.
    pub expects_response: bool,
    pub reply: Reply,
}

/// Whether the connection still carries requests, and who waits for which response. One
/// lock holds both, so a waiter is either registered on an open connection (and answered by
/// the reader or by the poisoning) or refused because it is broken: never lost between them.
enum State {
    Open { pending: HashMap<i32, Reply> },
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
                    let waiters: Vec<Reply> = pending.drain().map(|(_, r)| r).collect();
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
    fn register(&self, correlation_id: i32, reply: Reply) {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Open { pending } => {
                pending.insert(correlation_id, reply);
            }
            State::Broken(e) => {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }

    /// The waiter for `correlation_id`, if one is registered.
    fn take(&self, correlation_id: i32) -> Option<Reply> {
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
                    shared.register(out.correlation_id, out.reply);
                } else {
                    written_without_response.push(out.reply);
                }
                if let Err(e) = writer.write_all(&out.frame).await {
                    return Error::io(&shared.addr, "write failed", e);
                }
            }
            match rx.try_recv() {
                Ok(next) => out = next,
                Err(_) => break,
            }
        }
        if let Err(e) = writer.flush().await {
            return Error::io(&shared.addr, "write failed", e);
        }
        for reply in written_without_response.drain(..) {
            let _ = reply.send(Ok(Bytes::new()));
        }
    }
    Error::connection(&shared.addr, "connection closed by the client")
}

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
            Err(e) => return Error::io(&shared.addr, "read failed", e),
        };
        if size < 4 || size as usize > max_frame {
            return broken(format!(
                "response frame of {size} bytes is outside 4..={max_frame}"
            ));
        }
        let mut buf = BytesMut::zeroed(size as usize);
        if let Err(e) = reader.read_exact(&mut buf).await {
            return Error::io(&shared.addr, "read failed mid-frame", e);
        }
        let buf = buf.freeze();
        let Some(correlation_id) = frame::correlation_id(&buf) else {
            return broken("response frame without a correlation id".to_string());
        };
        match shared.take(correlation_id) {
            // A dropped caller's response is read in full and discarded, keeping the stream
            // aligned on frame boundaries.
            Some(reply) => {
                let _ = reply.send(Ok(buf));
            }
            None => {
                return broken(format!(
                    "response with unknown correlation id {correlation_id}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_registered_after_the_break_is_answered_at_once() {
        let shared = Shared::new("b:9092".to_string());
        let (early, early_rx) = oneshot::channel();
        shared.register(1, early);
        shared.poison(Error::connection("b:9092", "reset"));
        // The writer can register a request it took from the queue just before the break;
        // its caller must hear of the break, not wait out its timeout.
        let (late, late_rx) = oneshot::channel();
        shared.register(2, late);
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
