//! Background prefetch: one task per broker fetched from (a leader, or a preferred read
//! replica), each keeping one Fetch in flight for its partitions while the application works
//! through earlier results.
//!
//! ```text
//!  poll ──sync(positions)──▶ Book: per partition {epoch, taken_to, next_offset, leader}
//!   ▲                          │ route by the metadata snapshot (spawn a task per leader)
//!   │ take()                   ▼
//!  completed fetches ◀── broker task: plan (session) ─▶ Fetch ─▶ scan ─▶ accept if the
//!   (FIFO, bytes counted)                                     partition's epoch and offset
//!                                                             still match, else drop
//! ```
//!
//! **Positions stay exact.** Each partition carries an epoch, new on every position change
//! that the fetcher did not make itself (seek, pause, reset, revoke, reassignment: `sync`
//! sees the consumer's position differ from where the taken data ended, `taken_to`). A
//! fetch result is kept only if its partition still has the epoch it was requested under
//! and it starts exactly at the partition's next fetch offset; `take` hands a completed
//! fetch to `poll` only if its epoch is current and it starts at `taken_to`. So `poll` sees
//! each partition's records contiguously from its position, whatever raced.
//!
//! **Memory bound.** Fetched bytes not yet taken by `poll`, the bytes reserved for each
//! Fetch in flight, and the bytes `poll` holds (fetches taken but not handed out, and the
//! one batch per fetch it is decoding, counted decompressed: `Fetcher::hold`) stay within
//! 2 × `fetch.max.bytes` (the budget). Batches are decoded only as `poll` takes their
//! records, and none may decompress past the budget. Each leader with work may have one Fetch in flight, asking for (and reserving)
//! its share: min(`fetch.max.bytes`, budget / leaders with work), so every leader's request
//! fits at once; a task whose share does not fit waits until `poll` takes data or another
//! request ends. A broker may exceed a request's `max_bytes` by one record batch (KIP-74),
//! so the true ceiling is the budget plus one batch per broker. Well before the budget, no
//! request starts while the completed fetches waiting for `poll` add up to two rounds of
//! every fetched partition's share (`max.partition.fetch.bytes`, or more while its first
//! batch does not fit, or the bytes of its last fetch when the broker sent a whole batch
//! past the share), at most `fetch.max.bytes`: a broker that sends faster than `poll`
//! takes does not fill the budget, yet every request still asks for every partition, so
//! `poll` never waits on one partition's round trip.
//!
//! **Routes.** A partition goes to its leader's task, or to the task of the preferred read
//! replica the leader named (KIP-392) until that replica fails, answers
//! `OFFSET_OUT_OF_RANGE` (the leader decides), or the hint is `metadata.max.age.ms` old.
//!
//! **Errors.** Per partition: `OFFSET_OUT_OF_RANGE` from the leader, a diverged log
//! (KIP-320), corrupt data, a first batch larger than `fetch.max.bytes` and fatal codes are
//! queued for `poll` in order and the partition waits (parked) until `poll` restarts it;
//! stale leader codes unroute the partition, a single rerouting task refreshes metadata
//! after the backoff and moves it to its new leader's task; the broker's other partitions
//! carry on. A failure of the whole broker that retrying cannot mend parks its partitions
//! with the error, so they are tried once per `poll`, not in a loop meanwhile.
//!
//! The book (`fetcher/book.rs`) keeps these rules, pure and under one lock; this file runs
//! the tasks. Tasks hold only weak references to the shared state and are aborted when the
//! consumer (the [`Fetcher`]) is dropped.

mod book;

use super::fetch::{self, FetchParams, PartitionFetch, Records, Scan};
use super::fetch_session::{FetchSession, SESSION_MIN_VERSION, TOPIC_ID_MIN_VERSION};
use super::metrics::Counters;
use super::telemetry;
use crate::cluster::{Cluster, TrafficClass};
use crate::error::{Error, ErrorCode, RetryAction};
use crate::protocol::wire::topic_name;
use crate::record::TopicPartition;
use crate::sync::lock;
pub(crate) use book::Taken;
use book::{Answer, Book, Epochs, Outcome, Planned};
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::{ApiKey, FetchResponse};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

/// The consumer's handle on its fetchers; dropping it ends every task.
pub(crate) struct Fetcher {
    shared: Arc<Shared>,
}

struct Shared {
    cluster: Cluster,
    params: FetchParams,
    request_timeout: Duration,
    /// Counts each Fetch answered and how long it took.
    metrics: Arc<Counters>,
    state: Mutex<State>,
    /// Wakes `poll` when something was completed.
    ready: Notify,
}

/// The book and the tasks working for it, under one lock.
struct State {
    book: Book,
    brokers: HashMap<i32, BrokerTask>,
    rerouting: Option<JoinHandle<()>>,
    closed: bool,
}

struct BrokerTask {
    wake: Arc<Notify>,
    handle: JoinHandle<()>,
}

impl Fetcher {
    pub(crate) fn new(
        cluster: Cluster,
        params: FetchParams,
        request_timeout: Duration,
        metrics: Arc<Counters>,
    ) -> Self {
        let fetch_max_bytes = params.max_bytes.max(1) as usize;
        let book = Book::new(fetch_max_bytes, params.max_partition_bytes);
        Fetcher {
            shared: Arc::new(Shared {
                cluster,
                params,
                request_timeout,
                metrics,
                state: Mutex::new(State {
                    book,
                    brokers: HashMap::new(),
                    rerouting: None,
                    closed: false,
                }),
                ready: Notify::new(),
            }),
        }
    }

    /// Makes the fetched set exactly `active` (partition → consumer position): partitions
    /// gone are dropped with their buffered data; partitions whose position is not where
    /// their taken data ended (sought, reset, reassigned, resumed) restart there under a new
    /// epoch, their buffered and in-flight data discarded. `active` is called only when
    /// `changes` (the consumer's count of position changes) moved since the last sync, or
    /// the fetcher dropped a partition itself.
    pub(crate) fn sync(
        &self,
        changes: u64,
        active: impl FnOnce() -> BTreeMap<TopicPartition, (i64, i32)>,
    ) {
        let mut state = lock(&self.shared.state);
        if state.book.sync(changes, active) {
            self.shared.route(&mut state);
            state.wake_all();
        }
    }

    /// The next completed fetch (or error) in arrival order, skipping stale ones. A fetch
    /// of records moves the partition's `taken_to` to its end; an error parks nothing more
    /// and drops the partition, so the next `sync` restarts it at the consumer's position.
    pub(crate) fn take(&self) -> Option<Taken> {
        let mut state = lock(&self.shared.state);
        let (taken, unblocked) = state.book.take();
        if unblocked {
            state.wake_all();
        }
        taken
    }

    /// `poll` now holds `bytes` of taken data (fetched, or decoded from it) not handed out
    /// yet: they count against the memory budget until it lets go of them.
    pub(crate) fn hold(&self, bytes: usize) {
        let mut state = lock(&self.shared.state);
        if state.book.hold(bytes) {
            state.wake_all();
        }
    }

    /// Waits until something may have been completed.
    pub(crate) async fn ready(&self) {
        self.shared.ready.notified().await
    }

    /// The latest high watermark a fetch of `tp` saw.
    pub(crate) fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        lock(&self.shared.state).book.high_watermark(tp)
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.closed = true;
        for (_, task) in state.brokers.drain() {
            task.handle.abort();
        }
        if let Some(task) = state.rerouting.take() {
            task.abort();
        }
    }
}

impl State {
    fn wake_all(&self) {
        for task in self.brokers.values() {
            task.wake.notify_one();
        }
    }
}

impl Shared {
    /// Gives every fetchable partition the leader the metadata names, starting that broker's
    /// task if needed; schedules a metadata refresh for partitions without one.
    fn route(self: &Arc<Self>, state: &mut State) {
        if state.closed {
            return;
        }
        let routing = state.book.route(&self.cluster.snapshot(), Instant::now());
        for leader in routing.moved_to {
            self.broker_task(state, leader).notify_one();
        }
        if routing.waiting {
            self.cluster.request_refresh();
            self.schedule_reroute(state);
        }
    }

    fn broker_task(self: &Arc<Self>, state: &mut State, broker: i32) -> Arc<Notify> {
        if let Some(task) = state.brokers.get(&broker) {
            if !task.handle.is_finished() {
                return task.wake.clone();
            }
        }
        let wake = Arc::new(Notify::new());
        let handle = tokio::spawn(run_broker(Arc::downgrade(self), broker, wake.clone()));
        state.brokers.insert(
            broker,
            BrokerTask {
                wake: wake.clone(),
                handle,
            },
        );
        wake
    }

    /// One task at a time: waits out the backoff, refreshes metadata, routes again.
    fn schedule_reroute(self: &Arc<Self>, state: &mut State) {
        if state.rerouting.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(self);
        let backoff = self.cluster.backoff().initial;
        let cluster = self.cluster.clone();
        state.rerouting = Some(tokio::spawn(async move {
            tokio::time::sleep(backoff).await;
            if let Err(e) = cluster.refresh().await {
                tracing::debug!(error = %e, "metadata refresh for the fetcher failed");
            }
            let Some(shared) = weak.upgrade() else { return };
            let mut state = lock(&shared.state);
            state.rerouting = None;
            shared.route(&mut state);
        }));
    }

    /// The next request for `broker`, its bytes reserved; `None` when there is nothing to
    /// fetch or the memory bound is reached. Preferred read replicas older than
    /// `metadata.max.age.ms` are given up first.
    fn plan(self: &Arc<Self>, broker: i32) -> Option<Planned> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        for leader in state.book.expire_preferred(Instant::now()) {
            self.broker_task(&mut state, leader).notify_one();
        }
        state.book.plan(broker)
    }

    fn release(&self, reserved: usize) {
        let mut state = lock(&self.state);
        state.book.release(reserved);
        state.wake_all();
    }

    /// The broker failed as a whole (lost connection, retriable top-level error): its
    /// partitions wait out the backoff, then go wherever fresh metadata says they are led
    /// (the same broker again if nothing moved).
    fn unroute(self: &Arc<Self>, broker: i32) {
        let not_before = Instant::now() + self.cluster.backoff().initial;
        let mut state = lock(&self.state);
        state.book.unroute(broker, not_before);
        self.cluster.request_refresh();
        self.schedule_reroute(&mut state);
    }

    /// The broker failed in a way retrying will not mend: its partitions wait for `poll`,
    /// which returns `e`.
    fn fail(&self, broker: i32, e: Error) {
        lock(&self.state).book.fail(broker, e);
        self.ready.notify_one();
    }

    /// Takes in one response's decoded answers; wakes `poll` when something is new.
    fn accept(self: &Arc<Self>, broker: i32, epochs: &Epochs, answers: Vec<Answer>) {
        let now = Instant::now();
        let retry_at = now + self.cluster.backoff().initial;
        let preferred_until = now + self.cluster.metadata_max_age();
        let mut state = lock(&self.state);
        let accepted = state
            .book
            .accept(broker, epochs, answers, retry_at, preferred_until);
        if accepted.stale_leader {
            self.cluster.request_refresh();
            self.schedule_reroute(&mut state);
        }
        for source in accepted.moved_to {
            self.broker_task(&mut state, source).notify_one();
        }
        drop(state);
        if accepted.queued {
            self.ready.notify_one();
        }
    }
}

/// What one round trip did, for the task's loop.
enum Round {
    /// Go on at once.
    Again,
    /// Wait out the backoff first.
    Backoff,
}

async fn run_broker(weak: Weak<Shared>, broker: i32, wake: Arc<Notify>) {
    let mut session = FetchSession::default();
    loop {
        let round = {
            let Some(shared) = weak.upgrade() else { return };
            let Some(planned) = shared.plan(broker) else {
                drop(shared);
                wake.notified().await;
                continue;
            };
            let reserved = planned.max_bytes;
            let round = fetch_round(&shared, broker, &mut session, planned).await;
            shared.release(reserved);
            round
        };
        if let Round::Backoff = round {
            let backoff = match weak.upgrade() {
                Some(shared) => shared.cluster.backoff().initial,
                None => return,
            };
            tokio::time::sleep(backoff).await;
        }
    }
}

/// One Fetch to `broker`: send, decode outside the lock, take the answers in.
async fn fetch_round(
    shared: &Arc<Shared>,
    broker: i32,
    session: &mut FetchSession,
    planned: Planned,
) -> Round {
    let response = match send_fetch(shared, broker, session, &planned).await {
        Ok(response) => response,
        Err(round) => return round,
    };
    let answers = decode(response.responses, &planned, &shared.params);
    shared.accept(broker, &planned.epochs, answers);
    Round::Again
}

/// Sends the session's next Fetch and settles its top-level outcome; `Err` says how the
/// task goes on when there are no partition answers to take in.
async fn send_fetch(
    shared: &Arc<Shared>,
    broker: i32,
    session: &mut FetchSession,
    planned: &Planned,
) -> Result<FetchResponse, Round> {
    let params = &shared.params;
    let conn = match shared.cluster.broker(broker, TrafficClass::Fetch).await {
        Ok(conn) => conn,
        Err(e) => return Err(transport_failure(shared, broker, session, e)),
    };
    let version = conn.version(ApiKey::Fetch);
    let sessions = version.as_ref().is_ok_and(|&v| v >= SESSION_MIN_VERSION);
    // By id where the broker and the metadata allow (see fetch_session.rs), else by name.
    let ids = match version {
        Ok(v) if v >= TOPIC_ID_MIN_VERSION => shared
            .cluster
            .topic_ids(planned.wanted.keys().map(|tp| tp.topic.as_str())),
        _ => None,
    };
    let by_id = ids.is_some();
    session.name_topics(ids);
    let plan = session.plan(&planned.wanted, sessions);
    tracing::trace!(
        broker,
        session = session.id(),
        epoch = plan.epoch,
        named = plan.partitions.len(),
        forgotten = plan.forgotten.len(),
        by_id,
        "fetch"
    );
    let mut request = fetch::request(params, &plan, session.ids());
    request.max_bytes = planned.max_bytes.min(i32::MAX as usize) as i32;
    let names: HashMap<Uuid, String> = session
        .ids()
        .map(|ids| ids.iter().map(|(name, id)| (*id, name.clone())).collect())
        .unwrap_or_default();
    let timeout = shared.request_timeout + Duration::from_millis(params.max_wait_ms.max(0) as u64);
    let sent = Instant::now();
    let span = telemetry::fetch_span(&shared.metrics, conn.addr(), planned.wanted.len());
    let max_version = (!by_id).then_some(TOPIC_ID_MIN_VERSION - 1);
    let mut response = match conn
        .send_with_timeout_at_most(&request, timeout, max_version)
        .instrument(span)
        .await
    {
        Ok(response) => {
            shared.metrics.fetched(sent.elapsed());
            response
        }
        Err(e) => return Err(transport_failure(shared, broker, session, e)),
    };
    if by_id {
        // Answers by id carry no name: the request's ids say which topic each is.
        for topic in &mut response.responses {
            if let Some(name) = names.get(&topic.topic_id) {
                topic.topic = topic_name(name);
            }
        }
    }
    let top = ErrorCode(response.error_code);
    let full = plan.is_full();
    session.on_response(plan, top, response.session_id);
    if top == ErrorCode::NONE {
        return Ok(response);
    }
    if top == ErrorCode::FETCH_SESSION_ID_NOT_FOUND
        || top == ErrorCode::INVALID_FETCH_SESSION_EPOCH
        || top == ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR
    {
        tracing::debug!(broker, code = %top, full, "fetch session reset");
        return Err(Round::Again);
    }
    if top.retry_action() == RetryAction::NoRetry {
        shared.fail(
            broker,
            Error::broker(top, format!("fetch from broker {broker}")),
        );
    } else {
        shared.unroute(broker);
    }
    Err(Round::Backoff)
}

/// Each requested partition's answer, its batch headers read (on the task, outside the
/// lock; the batches themselves are decoded as `poll` takes them). The session's plan named
/// only changed partitions, but every partition of `planned` was fetched at its offset there.
fn decode(
    responses: Vec<FetchableTopicResponse>,
    planned: &Planned,
    params: &FetchParams,
) -> Vec<Answer> {
    let mut answers = Vec::new();
    for topic in responses {
        for p in topic.partitions {
            let tp = TopicPartition::new(topic.topic.0.to_string(), p.partition_index);
            let Some(asked) = planned.wanted.get(&tp) else {
                continue;
            };
            let data = p.records.unwrap_or_default();
            let bytes = data.len();
            let diverged = p.diverging_epoch.epoch >= 0 && p.diverging_epoch.end_offset >= 0;
            let outcome = if p.error_code != 0 {
                Outcome::Fetch(PartitionFetch::Error(ErrorCode(p.error_code)))
            } else if diverged {
                Outcome::Fetch(PartitionFetch::Diverged {
                    epoch: p.diverging_epoch.epoch,
                    end_offset: p.diverging_epoch.end_offset,
                })
            } else {
                let aborted = p.aborted_transactions.as_deref();
                match fetch::scan(&tp, asked.offset, data, aborted) {
                    Scan::Records(fetched) => Outcome::Fetch(PartitionFetch::Records(Box::new(
                        Records::new(&tp, fetched, params),
                    ))),
                    Scan::Partial { needed } => Outcome::Partial { needed },
                    Scan::Corrupt(e) => Outcome::Fetch(PartitionFetch::Failed(e)),
                }
            };
            answers.push(Answer {
                tp,
                fetch_offset: asked.offset,
                bytes,
                high_watermark: p.high_watermark,
                preferred_replica: Some(p.preferred_read_replica.0).filter(|&r| r >= 0),
                outcome,
            });
        }
    }
    answers
}

fn transport_failure(
    shared: &Arc<Shared>,
    broker: i32,
    session: &mut FetchSession,
    e: Error,
) -> Round {
    session.reset();
    if e.is_retriable() {
        tracing::debug!(broker, error = %e, "fetch failed; will retry");
        shared.unroute(broker);
    } else {
        shared.fail(broker, e);
    }
    Round::Backoff
}

#[cfg(test)]
mod tests;
