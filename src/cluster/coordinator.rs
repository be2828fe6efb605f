//! A coordinator found with FindCoordinator, kept until an answer says it moved: a
//! transactional id's transaction coordinator, or a group's coordinator (for a
//! transaction's offsets).
//!
//! ```text
//! request(f) ──▶ known address? ──no──▶ FindCoordinator(key, key_type) on any broker
//!                    │                          (retried: COORDINATOR_NOT_AVAILABLE, ...)
//!                    ▼
//!                f(connection) ──NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / lost──▶
//!                    forget the address, back off, look it up again
//! ```

use super::{Cluster, TrafficClass};
use crate::connection::Connection;
use crate::error::{Error, ErrorCode, Result, RetryAction};
use crate::retry::Retry;
use crate::sync::lock;
use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::protocol::StrBytes;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// What a coordinator coordinates: FindCoordinator's `key_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CoordinatorKind {
    /// A consumer group's coordinator (`key_type` 0).
    Group,
    /// A transactional id's transaction coordinator (`key_type` 1).
    Transaction,
}

impl CoordinatorKind {
    fn key_type(self) -> i8 {
        match self {
            CoordinatorKind::Group => 0,
            CoordinatorKind::Transaction => 1,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transactional id",
        }
    }
}

/// The coordinator of one key, looked up on first use and again after it moved.
#[derive(Debug)]
pub(crate) struct Coordinator {
    cluster: Cluster,
    kind: CoordinatorKind,
    key: String,
    class: TrafficClass,
    addr: Mutex<Option<String>>,
}

impl Coordinator {
    /// The coordinator of `key`; requests to it go on connections of `class`.
    pub(crate) fn new(
        cluster: Cluster,
        kind: CoordinatorKind,
        key: impl Into<String>,
        class: TrafficClass,
    ) -> Self {
        Self {
            cluster,
            kind,
            key: key.into(),
            class,
            addr: Mutex::new(None),
        }
    }

    /// Runs `attempt` against the coordinator until it succeeds, fails for good, or
    /// `timeout` has passed. An error that says the coordinator moved (or a lost connection)
    /// makes the next attempt look it up again; `verdict` decides what else is retried
    /// (the caller knows which codes its request may retry).
    pub(crate) async fn request<T, F, Fut>(
        &self,
        timeout: Duration,
        verdict: impl Fn(&Error) -> RetryAction,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut retry = Retry::new(timeout, self.cluster.backoff());
        loop {
            let result = match self.connection(&mut retry).await {
                Ok(conn) => attempt(conn).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(e) => {
                    if moved(&e) {
                        self.forget();
                    }
                    let action = verdict(&e);
                    retry.wait_for(e, action).await?;
                }
            }
        }
    }

    /// Forgets the address, so the next request looks the coordinator up again.
    pub(crate) fn forget(&self) {
        lock(&self.addr).take();
    }

    /// A connection to the coordinator, looking it up (with `retry`'s deadline) if unknown.
    async fn connection(&self, retry: &mut Retry) -> Result<Connection> {
        let known = lock(&self.addr).clone();
        let addr = match known {
            Some(addr) => addr,
            None => {
                let addr = self.find(retry).await?;
                *lock(&self.addr) = Some(addr.clone());
                addr
            }
        };
        self.cluster.connection_to(&addr, self.class).await
    }

    /// Whether a broker other than the coordinator that answered last now names another one,
    /// which is then remembered. A coordinator frozen (SIGSTOP, a long pause) past its
    /// replacement answers from its stale state when it wakes, before it learns it was
    /// replaced; an answer the request cannot otherwise explain deserves this second opinion.
    pub(crate) async fn replaced(&self) -> bool {
        let Some(answered) = lock(&self.addr).clone() else {
            return false;
        };
        match self.lookup(Some(&answered)).await {
            Ok(addr) if addr != answered => {
                tracing::warn!(
                    key = %self.key,
                    stale = %answered,
                    coordinator = %addr,
                    "a replaced {} coordinator answered; asking its successor",
                    self.kind.describe()
                );
                *lock(&self.addr) = Some(addr);
                true
            }
            _ => false,
        }
    }

    async fn find(&self, retry: &mut Retry) -> Result<String> {
        loop {
            match self.lookup(None).await {
                Ok(addr) => return Ok(addr),
                Err(e) => {
                    if e.retry_action() == RetryAction::RefreshMetadataAndRetry {
                        self.cluster.request_refresh();
                    }
                    retry.wait(e).await?;
                }
            }
        }
    }

    /// One FindCoordinator, on any broker but `skip` (while another is known).
    async fn lookup(&self, skip: Option<&str>) -> Result<String> {
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.key.clone()))
            .with_key_type(self.kind.key_type());
        let conn = self.cluster.any_connection_but(skip).await?;
        // One key: the v0-3 shape (v4 carries keys in a list).
        let response = conn.send_at_most(&request, 3).await?;
        match ErrorCode(response.error_code) {
            ErrorCode::NONE => Ok(format!("{}:{}", response.host, response.port)),
            code => Err(Error::Broker {
                code,
                context: format!("coordinator of {} {}", self.kind.describe(), self.key),
                message: response.error_message.as_ref().map(|m| m.to_string()),
            }),
        }
    }
}

/// Whether an error says the coordinator is elsewhere now (or the connection to it broke).
pub(crate) fn moved(error: &Error) -> bool {
    matches!(
        error.code(),
        Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE)
    ) || matches!(
        error,
        Error::Connection { .. } | Error::RequestTimeout { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_moves_and_lost_connections_ask_for_a_new_lookup() {
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ] {
            assert!(moved(&Error::broker(code, "x")), "{code}");
        }
        assert!(moved(&Error::connection("b:9092", "reset")));
        for code in [
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            ErrorCode::PRODUCER_FENCED,
        ] {
            assert!(!moved(&Error::broker(code, "x")), "{code}");
        }
        assert_eq!(CoordinatorKind::Transaction.key_type(), 1);
        assert_eq!(CoordinatorKind::Group.key_type(), 0);
    }
}
