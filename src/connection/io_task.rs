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

/// State shared between the task and the connection's handles.
pub(crate) struct Shared {
    pub addr: String,
    pending: Mutex<HashMap<i32, Reply>>,
    poisoned: Mutex<Option<String>>,
    /// Wakes the task so a connection poisoned by a caller (a timeout) is torn down.
    close: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn new(addr: String) -> Arc<Self> {
        Arc::new(Self {
            addr,
            pending: Mutex::new(HashMap::new()),
            poisoned: Mutex::new(None),
            close: tokio::sync::Notify::new(),
        })
    }

    /// The error every caller sees once the connection is broken.
    pub(crate) fn error(&self) -> Error {
        let reason = lock(&self.poisoned)
            .clone()
            .unwrap_or_else(|| "connection closed".to_string());
        Error::Connection {
            broker: self.addr.clone(),
            reason,
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        lock(&self.poisoned).is_some()
    }

    /// Marks the connection broken (first reason wins) and fails every waiter.
    pub(crate) fn poison(&self, reason: String) {
        {
            let mut poisoned = lock(&self.poisoned);
            if poisoned.is_none() {
                tracing::debug!(broker = %self.addr, %reason, "connection poisoned");
                *poisoned = Some(reason);
            }
        }
        self.close.notify_one();
        let waiters: Vec<Reply> = lock(&self.pending).drain().map(|(_, r)| r).collect();
        for reply in waiters {
            let _ = reply.send(Err(self.error()));
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
    let reason = tokio::select! {
        reason = write_loop(writer, &mut rx, &shared) => reason,
        reason = read_loop(reader, &shared, max_frame) => reason,
        _ = shared.close.notified() => "connection closed".to_string(),
    };
    shared.poison(reason);
    rx.close();
    while let Some(out) = rx.recv().await {
        let _ = out.reply.send(Err(shared.error()));
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    rx: &mut mpsc::Receiver<Outgoing>,
    shared: &Shared,
) -> String {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut written_without_response = Vec::new();
    while let Some(mut out) = rx.recv().await {
        // Gather what is already queued so one flush (one syscall) carries it all.
        loop {
            if out.reply.is_closed() && out.expects_response {
                // Nobody waits and nothing has been written: dropping it here is safe.
            } else {
                if out.expects_response {
                    lock(&shared.pending).insert(out.correlation_id, out.reply);
                } else {
                    written_without_response.push(out.reply);
                }
                if let Err(e) = writer.write_all(&out.frame).await {
                    return format!("write failed: {e}");
                }
            }
            match rx.try_recv() {
                Ok(next) => out = next,
                Err(_) => break,
            }
        }
        if let Err(e) = writer.flush().await {
            return format!("write failed: {e}");
        }
        for reply in written_without_response.drain(..) {
            let _ = reply.send(Ok(Bytes::new()));
        }
    }
    "connection closed by the client".to_string()
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: R,
    shared: &Shared,
    max_frame: usize,
) -> String {
    loop {
        let size = match reader.read_i32().await {
            Ok(size) => size,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return "the broker closed the connection".to_string()
            }
            Err(e) => return format!("read failed: {e}"),
        };
        if size < 4 || size as usize > max_frame {
            return format!("response frame of {size} bytes is outside 4..={max_frame}");
        }
        let mut buf = BytesMut::zeroed(size as usize);
        if let Err(e) = reader.read_exact(&mut buf).await {
            return format!("read failed mid-frame: {e}");
        }
        let buf = buf.freeze();
        let Some(correlation_id) = frame::correlation_id(&buf) else {
            return "response frame without a correlation id".to_string();
        };
        let reply = lock(&shared.pending).remove(&correlation_id);
        match reply {
            // A dropped caller's response is read in full and discarded, keeping the stream
            // aligned on frame boundaries.
            Some(reply) => {
                let _ = reply.send(Ok(buf));
            }
            None => {
                return format!("response with unknown correlation id {correlation_id}");
            }
        }
    }
}
