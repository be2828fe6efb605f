//! Connections per broker and traffic class, re-opened with exponential backoff and jitter.
//!
//! Produce, fetch and control traffic each get their own connection to a broker, so a fetch
//! that waits `fetch.max.wait.ms` never sits in front of a produce request.

use crate::connection::{Connection, ConnectionParams};
use crate::error::{Error, Result};
use crate::retry::Backoff;
use crate::sync::lock;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

/// Which connection to a broker a request travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TrafficClass {
    /// Metadata, admin and offset lookups.
    Control,
    /// Produce requests.
    Produce,
    /// Fetch requests.
    Fetch,
    /// Group coordination: heartbeats, offset commits and lookups, LeaveGroup.
    Group,
    /// JoinGroup and SyncGroup, which may wait a whole rebalance: a broker answers one request
    /// per connection at a time, so on the `Group` connection they would hold up the
    /// heartbeats, commits and LeaveGroup queued behind them.
    Join,
}

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    failures: u32,
    next_attempt: Option<Instant>,
    /// Serialises connection attempts so concurrent callers share one.
    opening: Arc<tokio::sync::Mutex<()>>,
    /// Attempts finished, and the last one's error if it failed: a caller that waited its
    /// turn while an attempt failed returns that error rather than trying again itself (a
    /// frozen broker would cost each queued caller a whole handshake timeout in turn).
    attempts: u64,
    failed: Option<Error>,
}

/// The open connections of a client, keyed by address and traffic class.
pub(crate) struct Pool {
    params: ConnectionParams,
    backoff: Backoff,
    slots: Mutex<HashMap<(String, TrafficClass), Slot>>,
}

impl Pool {
    pub(crate) fn new(params: ConnectionParams, backoff: Backoff) -> Self {
        Self {
            params,
            backoff,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets the slots of addresses that are not `known` and hold no live connection: a
    /// broker that left the cluster (or moved) must not keep its slot, and its backoff, for
    /// the life of the client.
    pub(crate) fn prune(&self, known: &HashSet<String>) {
        lock(&self.slots).retain(|(addr, _), slot| {
            known.contains(addr) || slot.conn.as_ref().is_some_and(|c| !c.is_closed())
        });
    }

    /// A live connection if one is open, without connecting.
    pub(crate) fn existing(&self, addr: &str, class: TrafficClass) -> Option<Connection> {
        lock(&self.slots)
            .get(&(addr.to_string(), class))
            .and_then(|s| s.conn.clone())
            .filter(|c| !c.is_closed())
    }

    /// A live connection to `addr` for `class`, opening one (after any backoff) if needed.
    pub(crate) async fn get(&self, addr: &str, class: TrafficClass) -> Result<Connection> {
        let key = (addr.to_string(), class);
        let (opening, attempts_seen) = {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(key.clone()).or_default();
            if let Some(conn) = slot.conn.as_ref().filter(|c| !c.is_closed()) {
                return Ok(conn.clone());
            }
            (slot.opening.clone(), slot.attempts)
        };
        let _guard = opening.lock().await;
        let wait_until = {
            let slots = lock(&self.slots);
            let slot = slots.get(&key);
            if let Some(conn) = slot
                .and_then(|s| s.conn.as_ref())
                .filter(|c| !c.is_closed())
            {
                return Ok(conn.clone());
            }
            if let Some(failed) = slot
                .filter(|s| s.attempts != attempts_seen)
                .and_then(|s| s.failed.clone())
            {
                return Err(failed);
            }
            slot.and_then(|s| s.next_attempt)
        };
        if let Some(deadline) = wait_until {
            tokio::time::sleep_until(deadline).await;
        }
        let result = Connection::connect(addr, &self.params).await;
        let mut slots = lock(&self.slots);
        let slot = slots.entry(key).or_default();
        slot.attempts = slot.attempts.wrapping_add(1);
        slot.failed = result.as_ref().err().cloned();
        match &result {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.failures = 0;
                slot.next_attempt = None;
            }
            Err(e) => {
                slot.conn = None;
                slot.failures = slot.failures.saturating_add(1);
                let delay = self.backoff.delay(slot.failures);
                tracing::debug!(%addr, ?class, error = %e, ?delay, "connect failed");
                slot.next_attempt = Some(crate::retry::deadline_after(delay));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pool(backoff: Duration) -> Pool {
        Pool::new(
            ConnectionParams {
                client_id: kafka_protocol::protocol::StrBytes::from_static_str("t"),
                connect_timeout: Duration::from_millis(100),
                request_timeout: Duration::from_millis(100),
                max_response_size: 1 << 20,
                max_control_response_size: 1 << 20,
                security: Default::default(),
            },
            Backoff {
                initial: backoff,
                max: backoff,
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn slots_of_unknown_addresses_without_a_connection_are_pruned() {
        let pool = pool(Duration::from_millis(1));
        for port in [1, 2] {
            let _ = pool
                .get(&format!("127.0.0.1:{port}"), TrafficClass::Control)
                .await;
        }
        assert_eq!(lock(&pool.slots).len(), 2);
        pool.prune(&HashSet::from(["127.0.0.1:2".to_string()]));
        let slots = lock(&pool.slots);
        assert_eq!(slots.len(), 1);
        assert!(slots.contains_key(&("127.0.0.1:2".to_string(), TrafficClass::Control)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_reconnect_backoff_saturates_instead_of_panicking() {
        let pool = pool(Duration::MAX);
        // Port 1 on loopback refuses at once; the backoff after it is "forever", not a panic.
        assert!(pool
            .get("127.0.0.1:1", TrafficClass::Control)
            .await
            .is_err());
    }

    /// A frozen broker (SIGSTOP): the kernel accepts the TCP connection, nothing answers.
    /// Callers that queued behind one attempt share its failure; before, each made an
    /// attempt of its own in turn, so the last of k requests to a frozen leader waited k
    /// handshake timeouts before it could follow the new leader.
    #[tokio::test]
    async fn callers_waiting_on_one_attempt_share_its_failure() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        let frozen = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        let pool = pool(Duration::from_millis(1));
        let started = Instant::now();
        let (a, b, c) = tokio::join!(
            pool.get(&addr, TrafficClass::Produce),
            pool.get(&addr, TrafficClass::Produce),
            pool.get(&addr, TrafficClass::Produce),
        );
        assert!(a.is_err() && b.is_err() && c.is_err());
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        // One handshake timeout (100 ms), not three.
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        // A caller that comes after the failure tries again.
        assert!(pool.get(&addr, TrafficClass::Produce).await.is_err());
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
        frozen.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn failed_connects_back_off_before_the_next_attempt() {
        let pool = pool(Duration::from_secs(10));
        // Port 1 on loopback refuses at once.
        assert!(pool
            .get("127.0.0.1:1", TrafficClass::Control)
            .await
            .is_err());
        let before = Instant::now();
        assert!(pool
            .get("127.0.0.1:1", TrafficClass::Control)
            .await
            .is_err());
        assert!(
            before.elapsed() >= Duration::from_secs(8),
            "{:?}",
            before.elapsed()
        );
    }
}
