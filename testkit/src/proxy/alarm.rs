//! Wake-ups at given instants, to tens of microseconds, for the proxy's delay.
//!
//! Tokio's timers tick in whole milliseconds, and the reactor's wait rounds up
//! to one too: a 1 ms delay comes out at 1–3 ms, a 2 ms round trip at 4–6 ms.
//! A thread of its own sleeping on a futex timeout (nanoseconds) wakes close to
//! the instant and wakes the waiting task with it.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;
use tokio::sync::oneshot;

/// A handle on the alarm thread, which ends when every handle is gone.
#[derive(Clone)]
pub(super) struct Alarm(mpsc::Sender<Wake>);

impl Alarm {
    /// Starts the thread.
    pub(super) fn start() -> std::io::Result<Alarm> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tcp-proxy-alarm".into())
            .spawn(move || ring(rx))?;
        Ok(Alarm(tx))
    }

    /// Resolves at `at` (at once if it has passed).
    pub(super) async fn until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.0.send(Wake { at, tx }).is_ok() {
            let _ = rx.await;
        }
    }
}

struct Wake {
    at: Instant,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Wake {}

impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wake {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// The thread: wakes each waiter at its instant, the earliest first.
fn ring(rx: mpsc::Receiver<Wake>) {
    let mut waiting = BinaryHeap::<Reverse<Wake>>::new();
    loop {
        let now = Instant::now();
        while waiting.peek().is_some_and(|w| w.0.at <= now) {
            let _ = waiting.pop().expect("peeked").0.tx.send(());
        }
        let next = match waiting.peek() {
            Some(w) => rx.recv_timeout(w.0.at - now),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(wake) => waiting.push(Reverse(wake)),
            Err(RecvTimeoutError::Timeout) => {}
            // Every handle is gone, and with them every waiter.
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
