//! A TCP proxy that injects network faults between a client and a broker.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{tcp, TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod alarm;
use alarm::Alarm;

type Chaos = Option<(Duration, Duration)>;

/// The most a read takes from a socket at once: one chunk.
const CHUNK: usize = 64 * 1024;

/// How long one direction of a connection waits for bytes before it gives its read
/// buffer back.
const IDLE: Duration = Duration::from_secs(1);

/// Bytes one direction of a connection may hold between reading and writing
/// them with a delay: the bandwidth-delay product it can carry (64 MiB in
/// 10 ms is 6.4 GB/s), so the delay, not this bound, limits a stream. Without a
/// delay it holds one chunk, as before delays existed.
const IN_FLIGHT_BYTES: usize = 64 << 20;

struct Shared {
    upstream: String,
    accepted: AtomicU64,
    /// Connections accepted and not yet ended.
    open: AtomicU64,
    /// Bytes of read buffers the connections hold.
    buffered: AtomicU64,
    resets: AtomicU64,
    stalled: AtomicU64,
    chaos: watch::Sender<Chaos>,
    paused: watch::Sender<bool>,
    delay: watch::Sender<Option<Duration>>,
    /// Times the delayed chunks.
    alarm: Alarm,
    half_open: watch::Sender<bool>,
    /// Bumped by every change of `half_open`, so a timed lift only ends its own spell.
    half_open_spell: AtomicU64,
    cut: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
}

/// A TCP proxy on 127.0.0.1 forwarding to one upstream address, with
/// switches for faults: connection resets (now or at random), a black hole
/// that holds bytes, half-open connections that drop them, and a fixed delay
/// each way, as a link to another zone or region has.
///
/// Must be created inside a tokio runtime; stops (resetting its connections)
/// when dropped.
pub struct TcpProxy {
    local: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("local", &self.local)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every accepted
    /// connection to `upstream` (`host:port`), connecting to it only when a
    /// client connects, so the upstream need not exist yet.
    pub async fn start(upstream: impl Into<String>) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.into(),
            accepted: AtomicU64::new(0),
            open: AtomicU64::new(0),
            buffered: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            chaos: watch::channel(None).0,
            paused: watch::channel(false).0,
            delay: watch::channel(None).0,
            alarm: Alarm::start()?,
            half_open: watch::channel(false).0,
            half_open_spell: AtomicU64::new(0),
            cut: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(TcpProxy {
            local,
            shared,
            accept_task,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The upstream address given to [`TcpProxy::start`].
    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// `Some((min, max))`: every connection, current and future, is reset
    /// (RST both ways) after a random time in `[min, max]` from now or from
    /// its start. `None` turns this off.
    pub fn set_chaos(&self, range: Option<(Duration, Duration)>) {
        if let Some((min, max)) = range {
            assert!(min <= max, "chaos range {min:?} > {max:?}");
        }
        self.shared.chaos.send_replace(range);
    }

    /// `Some(d)`: every chunk read from either side, on current and future
    /// connections, is written to the other side `d` after it was read, so a
    /// round trip takes at least `2 × d`. A pipe, not a stop-and-wait: the
    /// proxy keeps reading while earlier chunks wait, chunks keep their order,
    /// and bandwidth is not throttled (up to 64 MiB in flight each way). A
    /// thread of the proxy's own times the chunks, to tens of microseconds
    /// (tokio's timers would add up to 2 ms), unless the machine is too busy to
    /// run it. `None` (the default) forwards at once; chunks already waiting
    /// keep their time.
    pub fn set_delay(&self, one_way: Option<Duration>) {
        self.shared
            .delay
            .send_replace(one_way.filter(|d| !d.is_zero()));
    }

    /// The delay each way set by [`TcpProxy::set_delay`].
    pub fn delay(&self) -> Option<Duration> {
        *self.shared.delay.borrow()
    }

    /// Resets every current connection now; later ones are not affected.
    pub fn cut_all(&self) {
        self.shared.cut.send_modify(|g| *g += 1);
    }

    /// Black hole: connections stay open and new ones are accepted, but no
    /// byte moves in either direction (and no upstream connection is made)
    /// until [`TcpProxy::resume`].
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Ends a [`TcpProxy::pause`]; held bytes flow again.
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
    }

    /// Half-open: the peer is gone without a word, as when a host loses power
    /// or a firewall drops a flow. Every connection, current and new, stays
    /// open but goes silent: the proxy stops reading and writing, sends no
    /// FIN and no RST, and drops what it had read but not passed on. New
    /// connections are accepted and never connected upstream. Chaos is
    /// suspended. When lifted ([`TcpProxy::end_half_open`]), every connection
    /// that went silent is reset, as the host would answer once back; new
    /// ones work.
    pub fn half_open(&self) {
        self.shared.half_open_spell.fetch_add(1, Ordering::Relaxed);
        self.shared.half_open.send_replace(true);
    }

    /// [`TcpProxy::half_open`] for `duration`, then lifted (unless lifted or
    /// entered again meanwhile).
    pub fn half_open_for(&self, duration: Duration) {
        self.half_open();
        let spell = self.shared.half_open_spell.load(Ordering::Relaxed);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            if shared.half_open_spell.load(Ordering::Relaxed) == spell {
                lift_half_open(&shared);
            }
        });
    }

    /// Ends [`TcpProxy::half_open`]: the silent connections are reset.
    pub fn end_half_open(&self) {
        lift_half_open(&self.shared);
    }

    /// Whether the proxy is half-open now.
    pub fn is_half_open(&self) -> bool {
        *self.shared.half_open.borrow()
    }

    /// Connections that went silent in a half-open spell so far.
    pub fn stalled(&self) -> u64 {
        self.shared.stalled.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections accepted and not yet ended: those still forwarding, and those a frozen
    /// or silent upstream keeps open after the client has gone.
    pub fn open_connections(&self) -> u64 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Bytes the open connections hold in read buffers: one chunk (64 KiB) per direction
    /// that read within the last second, none for one idle longer.
    pub fn buffered_bytes(&self) -> u64 {
        self.shared.buffered.load(Ordering::Relaxed)
    }

    /// Connections reset so far by chaos, [`TcpProxy::cut_all`] or drop.
    pub fn resets(&self) -> u64 {
        self.shared.resets.load(Ordering::Relaxed)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        self.accept_task.abort();
    }
}

fn lift_half_open(shared: &Shared) {
    shared.half_open_spell.fetch_add(1, Ordering::Relaxed);
    shared.half_open.send_replace(false);
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = until(&mut shutdown, true) => return,
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else {
                    // Out of descriptors and the like: back off, keep serving.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(client, shared.clone()));
            }
        }
    }
}

fn chaos_deadline(chaos: Chaos) -> Option<Instant> {
    chaos.map(|(min, max)| {
        let after = if min == max {
            min
        } else {
            rand::rng().random_range(min..=max)
        };
        Instant::now() + after
    })
}

enum End {
    Closed,
    Reset,
    /// Silent until the half-open spell is lifted, then reset.
    Stall,
}

async fn connection(mut client: TcpStream, shared: Arc<Shared>) {
    shared.open.fetch_add(1, Ordering::Relaxed);
    let _open = Open(&shared);
    let mut shutdown = shared.shutdown.subscribe();
    let mut cut = shared.cut.subscribe();
    cut.mark_unchanged();
    let mut chaos = shared.chaos.subscribe();
    let mut deadline = chaos_deadline(*chaos.borrow_and_update());
    let mut paused = shared.paused.subscribe();
    let mut half_open = shared.half_open.subscribe();

    // A black hole makes no upstream connection either.
    let connect = async {
        until(&mut paused, false).await;
        TcpStream::connect(&shared.upstream).await
    };
    let upstream = tokio::select! {
        _ = until(&mut shutdown, true) => None,
        _ = cut.changed() => None,
        _ = until(&mut half_open, true) => {
            stall(&shared, &mut shutdown).await;
            None
        }
        r = connect => r.ok(),
    };
    let Some(mut upstream) = upstream else {
        reset(client.as_raw_fd());
        shared.resets.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let fds = [client.as_raw_fd(), upstream.as_raw_fd()];

    let end = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let switches = || (shared.paused.subscribe(), shared.delay.subscribe());
        let alarm = |at: Instant| {
            let alarm = shared.alarm.clone();
            async move { alarm.until(at.into_std()).await }
        };
        let up = pump(&mut cr, &mut uw, switches(), alarm, &shared.buffered);
        let down = pump(&mut ur, &mut cw, switches(), alarm, &shared.buffered);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = &mut up, if !up_done => {
                    up_done = true;
                    if r.is_err() { break End::Closed; }
                }
                r = &mut down, if !down_done => {
                    down_done = true;
                    if r.is_err() { break End::Closed; }
                }
                _ = timer => break End::Reset,
                _ = until(&mut half_open, true) => break End::Stall,
                _ = cut.changed() => break End::Reset,
                _ = until(&mut shutdown, true) => break End::Reset,
                changed = chaos.changed() => {
                    if changed.is_ok() {
                        deadline = chaos_deadline(*chaos.borrow_and_update());
                    }
                }
            }
            if up_done && down_done {
                break End::Closed;
            }
        }
    };
    if let End::Stall = end {
        // The pumps are dropped with what they held; the sockets stay open, unread.
        stall(&shared, &mut shutdown).await;
    }
    if let End::Reset | End::Stall = end {
        for fd in fds {
            reset(fd);
        }
        shared.resets.fetch_add(1, Ordering::Relaxed);
    }
    // Dropping the streams closes them: with SO_LINGER 0 that sends RST.
}

/// Counts a connection as open until dropped, however `connection` ends.
struct Open<'a>(&'a Shared);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Holds a connection silent until the half-open spell is lifted (or the
/// proxy goes).
async fn stall(shared: &Shared, shutdown: &mut watch::Receiver<bool>) {
    shared.stalled.fetch_add(1, Ordering::Relaxed);
    let mut half_open = shared.half_open.subscribe();
    tokio::select! {
        _ = until(&mut half_open, false) => {}
        _ = until(shutdown, true) => {}
    }
}

/// Makes the next close of `fd` abort the connection with RST.
fn reset(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket descriptor that is still open.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// A reader that can wait for bytes before a buffer is set aside to take them.
trait Readable: AsyncReadExt + Unpin {
    /// Returns when a read would not wait (or fail).
    async fn readable(&self) -> io::Result<()>;
}

impl Readable for tcp::ReadHalf<'_> {
    async fn readable(&self) -> io::Result<()> {
        tcp::ReadHalf::readable(self).await
    }
}

#[cfg(test)]
impl Readable for tokio::io::DuplexStream {
    async fn readable(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies one direction until EOF (then half-closes the other side), holding
/// bytes while the proxy is paused and each chunk for the delay in force when
/// it was read.
///
/// A reader and a writer joined by a queue: the reader stamps each chunk with
/// the instant it is due and goes on reading, so chunks travel overlapped, as
/// on a long link; the writer sends them in order once due. Both stop at the
/// first error of either. `sleep_until` waits for a chunk's instant.
async fn pump<R, W, S, F>(
    from: &mut R,
    to: &mut W,
    (paused, delay): (watch::Receiver<bool>, watch::Receiver<Option<Duration>>),
    sleep_until: S,
    buffered: &AtomicU64,
) -> io::Result<()>
where
    R: Readable,
    W: AsyncWriteExt + Unpin,
    S: Fn(Instant) -> F,
    F: Future<Output = ()>,
{
    // `None` as the chunk: EOF, due like a chunk read then.
    let (queue, mut due) = mpsc::unbounded_channel::<(Option<Instant>, Option<Bytes>)>();
    let budget = Semaphore::new(IN_FLIGHT_BYTES);
    let (mut read_paused, mut write_paused) = (paused.clone(), paused);
    let read = async {
        let mut buf = ReadBuffer {
            buf: Vec::new(),
            counted: buffered,
        };
        loop {
            until(&mut read_paused, false).await;
            if delay.borrow().is_none() {
                // Undelayed, the proxy holds one chunk at a time, as a plain copy does, so a
                // peer that stops reading pushes back on the sender as it would directly.
                drop(
                    budget
                        .acquire_many(IN_FLIGHT_BYTES as u32)
                        .await
                        .expect("the budget is never closed"),
                );
            }
            let permit = budget
                .acquire_many(CHUNK as u32)
                .await
                .expect("the budget is never closed");
            // A side idle for a while gives its buffer back: a connection whose client has
            // gone stays open as long as a frozen upstream does not answer, and a client
            // that reconnects to it now and again would otherwise pile up a chunk per
            // connection (in the soak, memory whose amount depends on a fault's timing).
            if let Ok(ready) = tokio::time::timeout(IDLE, from.readable()).await {
                ready?;
            } else {
                buf.release();
                from.readable().await?;
            }
            let into = buf.get();
            let n = from.read(into).await?;
            permit.forget();
            budget.add_permits(CHUNK - n);
            let at = delay.borrow().map(|d| Instant::now() + d);
            let chunk = (n > 0).then(|| Bytes::copy_from_slice(&into[..n]));
            if queue.send((at, chunk)).is_err() || n == 0 {
                return Ok::<_, io::Error>(());
            }
        }
    };
    let write = async {
        while let Some((at, chunk)) = due.recv().await {
            if let Some(at) = at.filter(|at| *at > Instant::now()) {
                sleep_until(at).await;
            }
            until(&mut write_paused, false).await;
            let Some(chunk) = chunk else {
                return to.shutdown().await;
            };
            to.write_all(&chunk).await?;
            budget.add_permits(chunk.len());
        }
        Ok(())
    };
    tokio::try_join!(read, write).map(|_| ())
}

/// A pump's read buffer, allocated while in use and counted meanwhile.
struct ReadBuffer<'a> {
    buf: Vec<u8>,
    counted: &'a AtomicU64,
}

impl ReadBuffer<'_> {
    fn get(&mut self) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
            self.counted.fetch_add(CHUNK as u64, Ordering::Relaxed);
        }
        &mut self.buf
    }

    fn release(&mut self) {
        if !self.buf.is_empty() {
            self.buf = Vec::new();
            self.counted.fetch_sub(CHUNK as u64, Ordering::Relaxed);
        }
    }
}

impl Drop for ReadBuffer<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Waits until the flag equals `value` (forever if its sender is gone),
/// without holding the watch's read guard across an await.
async fn until(rx: &mut watch::Receiver<bool>, value: bool) {
    if rx.wait_for(|v| *v == value).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests;
