//! Background prefetch: one task per leader broker, each keeping one Fetch in flight for the
//! partitions it leads while the application works through earlier results.
//!
//! ```text
//!  poll ──sync(positions)──▶ Book: per partition {epoch, taken_to, next_offset, leader}
//!   ▲                          │ route by the metadata snapshot (spawn a task per leader)
//!   │ take()                   ▼
//!  completed fetches ◀── broker task: plan (session) ─▶ Fetch ─▶ decode ─▶ accept if the
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
//! **Memory bound.** Fetched bytes (the records' wire size) not yet taken by `poll`, plus
//! the bytes reserved for each Fetch in flight, stay within 2 × `fetch.max.bytes` (the
//! budget). Each leader with work may have one Fetch in flight, asking for (and reserving)
//! its share: min(`fetch.max.bytes`, budget / leaders with work), so every leader's request
//! fits at once; a task whose share does not fit waits until `poll` takes data or another
//! request ends. A broker may exceed a request's `max_bytes` by one record batch (KIP-74),
//! so the true ceiling is the budget plus one batch per broker.
//!
//! **Errors.** Per partition: `OFFSET_OUT_OF_RANGE`, corrupt data and fatal codes are queued
//! for `poll` in order and the partition waits (parked) until `poll` restarts it; stale
//! leader codes unroute the partition, a single rerouting task refreshes metadata after the
//! backoff and moves it to its new leader's task; the broker's other partitions carry on.
//!
//! Tasks hold only weak references to the shared state and are aborted when the consumer
//! (the [`Fetcher`]) is dropped.

use super::fetch::{self, FetchParams, PartitionFetch};
use super::fetch_session::{FetchSession, PartitionParams, SESSION_MIN_VERSION};
use crate::cluster::{Cluster, TrafficClass};
use crate::error::{Error, ErrorCode, RetryAction};
use crate::record::TopicPartition;
use crate::sync::lock;
use kafka_protocol::messages::ApiKey;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The consumer's handle on its fetchers; dropping it ends every task.
pub(crate) struct Fetcher {
    shared: Arc<Shared>,
}

struct Shared {
    cluster: Cluster,
    params: FetchParams,
    request_timeout: Duration,
    /// Fetched bytes waiting for `poll` plus bytes reserved by Fetches in flight stay
    /// within this: 2 × `fetch.max.bytes` (see the module docs).
    budget: usize,
    fetch_max_bytes: usize,
    book: Mutex<Book>,
    /// Wakes `poll` when something was completed.
    ready: Notify,
}

#[derive(Default)]
struct Book {
    parts: HashMap<TopicPartition, Part>,
    completed: VecDeque<Completed>,
    /// Errors not tied to a partition, for `poll`.
    errors: VecDeque<Error>,
    /// Bytes in `completed`.
    buffered: usize,
    /// Bytes reserved by Fetches in flight.
    reserved: usize,
    brokers: HashMap<i32, BrokerTask>,
    rerouting: Option<JoinHandle<()>>,
    next_epoch: u64,
    closed: bool,
}

struct BrokerTask {
    wake: Arc<Notify>,
    handle: JoinHandle<()>,
}

struct Part {
    epoch: u64,
    /// Where the next completed fetch handed to `poll` must start: the consumer's position.
    taken_to: i64,
    /// The next offset to fetch (ahead of `taken_to` by what is buffered or in flight).
    next_offset: i64,
    leader: Option<i32>,
    leader_epoch: i32,
    /// Not fetched until then (after a stale-leader error).
    not_before: Option<Instant>,
    /// An error was queued for `poll`; not fetched until `poll` restarts the partition.
    parked: bool,
    high_watermark: Option<i64>,
}

/// One partition's share of a Fetch, ready for `poll`.
pub(crate) struct Completed {
    pub tp: TopicPartition,
    epoch: u64,
    /// The offset it was fetched at.
    pub fetch_offset: i64,
    bytes: usize,
    pub outcome: PartitionFetch,
}

/// What `take` hands to `poll`.
pub(crate) enum Taken {
    Fetch(Completed),
    Error(Error),
}

impl Fetcher {
    pub(crate) fn new(cluster: Cluster, params: FetchParams, request_timeout: Duration) -> Self {
        let fetch_max_bytes = params.max_bytes.max(1) as usize;
        Fetcher {
            shared: Arc::new(Shared {
                cluster,
                params,
                request_timeout,
                budget: 2 * fetch_max_bytes,
                fetch_max_bytes,
                book: Mutex::new(Book::default()),
                ready: Notify::new(),
            }),
        }
    }

    /// Makes the fetched set exactly `active` (partition → consumer position): partitions
    /// gone are dropped with their buffered data; partitions whose position is not where
    /// their taken data ended (sought, reset, reassigned, resumed) restart there under a new
    /// epoch, their buffered and in-flight data discarded.
    pub(crate) fn sync(&self, active: &BTreeMap<TopicPartition, i64>) {
        let shared = &self.shared;
        let mut book = lock(&shared.book);
        let mut changed = false;
        let before = book.parts.len();
        book.parts.retain(|tp, _| active.contains_key(tp));
        if book.parts.len() != before {
            changed = true;
        }
        for (tp, &position) in active {
            if book.parts.get(tp).is_some_and(|p| p.taken_to == position) {
                continue;
            }
            book.next_epoch += 1;
            let epoch = book.next_epoch;
            let high_watermark = book.parts.get(tp).and_then(|p| p.high_watermark);
            book.parts.insert(
                tp.clone(),
                Part {
                    epoch,
                    taken_to: position,
                    next_offset: position,
                    leader: None,
                    leader_epoch: -1,
                    not_before: None,
                    parked: false,
                    high_watermark,
                },
            );
            changed = true;
        }
        if changed {
            let book = &mut *book;
            let parts = &book.parts;
            let mut freed = 0;
            book.completed.retain(|c| {
                let keep = parts.get(&c.tp).is_some_and(|p| p.epoch == c.epoch);
                if !keep {
                    freed += c.bytes;
                }
                keep
            });
            book.buffered -= freed;
            shared.route(book);
            shared.wake_all(book);
        }
    }

    /// The next completed fetch (or error) in arrival order, skipping stale ones. A fetch
    /// of records moves the partition's `taken_to` to its end; an error parks nothing more
    /// and drops the partition, so the next `sync` restarts it at the consumer's position.
    pub(crate) fn take(&self) -> Option<Taken> {
        let mut book = lock(&self.shared.book);
        if let Some(e) = book.errors.pop_front() {
            return Some(Taken::Error(e));
        }
        let was_blocked = book.buffered + book.reserved >= self.shared.fetch_max_bytes;
        let mut found = None;
        while let Some(c) = book.completed.pop_front() {
            book.buffered -= c.bytes;
            let Some(part) = book.parts.get_mut(&c.tp) else {
                continue;
            };
            if part.epoch != c.epoch || part.taken_to != c.fetch_offset {
                continue;
            }
            match &c.outcome {
                PartitionFetch::Records { next_offset, .. } => part.taken_to = *next_offset,
                _ => {
                    book.parts.remove(&c.tp);
                }
            }
            found = Some(Taken::Fetch(c));
            break;
        }
        if was_blocked && book.buffered + book.reserved < self.shared.fetch_max_bytes {
            self.shared.wake_all(&book);
        }
        found
    }

    /// Waits until something may have been completed.
    pub(crate) async fn ready(&self) {
        self.shared.ready.notified().await
    }

    /// The latest high watermark seen per partition.
    pub(crate) fn high_watermarks(&self) -> Vec<(TopicPartition, i64)> {
        let book = lock(&self.shared.book);
        book.parts
            .iter()
            .filter_map(|(tp, p)| p.high_watermark.map(|h| (tp.clone(), h)))
            .collect()
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        let mut book = lock(&self.shared.book);
        book.closed = true;
        for (_, task) in book.brokers.drain() {
            task.handle.abort();
        }
        if let Some(task) = book.rerouting.take() {
            task.abort();
        }
    }
}

impl Shared {
    fn wake_all(&self, book: &Book) {
        for task in book.brokers.values() {
            task.wake.notify_one();
        }
    }

    /// Gives every fetchable partition the leader the metadata names, starting that broker's
    /// task if needed; schedules a metadata refresh for partitions without one.
    fn route(self: &Arc<Self>, book: &mut Book) {
        if book.closed {
            return;
        }
        let snapshot = self.cluster.snapshot();
        let now = Instant::now();
        let mut waiting = false;
        let mut moved = Vec::new();
        for (tp, part) in book.parts.iter_mut() {
            if part.parked {
                continue;
            }
            if part.not_before.is_some_and(|t| t > now) {
                waiting = true;
                continue;
            }
            part.not_before = None;
            let leader = snapshot
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .and_then(|p| p.leader.map(|l| (l, p.leader_epoch)));
            match leader {
                Some((leader, epoch)) => {
                    if part.leader != Some(leader) || part.leader_epoch != epoch {
                        part.leader = Some(leader);
                        part.leader_epoch = epoch;
                        moved.push(leader);
                    }
                }
                None => {
                    part.leader = None;
                    waiting = true;
                }
            }
        }
        for leader in moved {
            self.broker_task(book, leader).notify_one();
        }
        if waiting {
            self.cluster.request_refresh();
            self.schedule_reroute(book);
        }
    }

    fn broker_task(self: &Arc<Self>, book: &mut Book, broker: i32) -> Arc<Notify> {
        if let Some(task) = book.brokers.get(&broker) {
            if !task.handle.is_finished() {
                return task.wake.clone();
            }
        }
        let wake = Arc::new(Notify::new());
        let handle = tokio::spawn(run_broker(Arc::downgrade(self), broker, wake.clone()));
        book.brokers.insert(
            broker,
            BrokerTask {
                wake: wake.clone(),
                handle,
            },
        );
        wake
    }

    /// One task at a time: waits out the backoff, refreshes metadata, routes again.
    fn schedule_reroute(self: &Arc<Self>, book: &mut Book) {
        if book.rerouting.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(self);
        let backoff = self.cluster.backoff().initial;
        let cluster = self.cluster.clone();
        book.rerouting = Some(tokio::spawn(async move {
            tokio::time::sleep(backoff).await;
            if let Err(e) = cluster.refresh().await {
                tracing::debug!(error = %e, "metadata refresh for the fetcher failed");
            }
            let Some(shared) = weak.upgrade() else { return };
            let mut book = lock(&shared.book);
            book.rerouting = None;
            shared.route(&mut book);
        }));
    }

    /// The next request's partitions for `broker`, with the bytes reserved for it; `None`
    /// when there is nothing to fetch or the memory bound is reached.
    fn plan(&self, broker: i32) -> Option<Planned> {
        let mut book = lock(&self.book);
        if book.closed {
            return None;
        }
        let mut wanted = BTreeMap::new();
        let mut epochs = HashMap::new();
        let mut leaders = HashSet::new();
        for (tp, part) in &book.parts {
            if part.parked || part.not_before.is_some() {
                continue;
            }
            let Some(leader) = part.leader else { continue };
            leaders.insert(leader);
            if leader != broker {
                continue;
            }
            wanted.insert(
                tp.clone(),
                PartitionParams {
                    offset: part.next_offset,
                    leader_epoch: part.leader_epoch,
                    max_bytes: self.params.max_partition_bytes,
                },
            );
            epochs.insert(tp.clone(), part.epoch);
        }
        if wanted.is_empty() {
            return None;
        }
        // Each leader with work may have one request in flight at a time, sized so that all
        // of them fit the budget together.
        let share = (self.budget / leaders.len().max(1)).clamp(1, self.fetch_max_bytes);
        if book.buffered + book.reserved + share > self.budget {
            return None;
        }
        book.reserved += share;
        Some(Planned {
            wanted,
            epochs,
            max_bytes: share,
        })
    }

    fn release(&self, reserved: usize) {
        let mut book = lock(&self.book);
        book.reserved -= reserved;
        self.wake_all(&book);
    }

    /// The broker failed as a whole (lost connection, retriable top-level error): its
    /// partitions wait out the backoff, then go wherever fresh metadata says they are led
    /// (the same broker again if nothing moved).
    fn unroute(self: &Arc<Self>, broker: i32) {
        let not_before = Instant::now() + self.cluster.backoff().initial;
        let mut book = lock(&self.book);
        for part in book.parts.values_mut() {
            if part.leader == Some(broker) {
                part.leader = None;
                part.not_before = Some(not_before);
            }
        }
        self.cluster.request_refresh();
        self.schedule_reroute(&mut book);
    }

    /// Queues an error not tied to a partition for `poll`; one at a time, so a task that
    /// keeps failing while nobody polls does not pile them up.
    fn report(&self, e: Error) {
        let mut book = lock(&self.book);
        if book.errors.is_empty() {
            book.errors.push_back(e);
        }
        drop(book);
        self.ready.notify_one();
    }
}

type Epochs = HashMap<TopicPartition, u64>;

/// One request's partitions, their epochs, and the bytes reserved for its answer.
struct Planned {
    wanted: BTreeMap<TopicPartition, PartitionParams>,
    epochs: Epochs,
    max_bytes: usize,
}

/// One partition's decoded answer, before it is checked against the book.
struct Answer {
    tp: TopicPartition,
    fetch_offset: i64,
    bytes: usize,
    high_watermark: i64,
    outcome: PartitionFetch,
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

async fn fetch_round(
    shared: &Arc<Shared>,
    broker: i32,
    session: &mut FetchSession,
    planned: Planned,
) -> Round {
    let Planned {
        wanted,
        epochs,
        max_bytes,
    } = planned;
    let params = &shared.params;
    let conn = match shared.cluster.broker(broker, TrafficClass::Fetch).await {
        Ok(conn) => conn,
        Err(e) => return transport_failure(shared, broker, session, e),
    };
    let sessions = conn
        .version(ApiKey::Fetch)
        .is_ok_and(|v| v >= SESSION_MIN_VERSION);
    let plan = session.plan(&wanted, sessions);
    tracing::trace!(
        broker,
        session = session.id(),
        epoch = plan.epoch,
        named = plan.partitions.len(),
        forgotten = plan.forgotten.len(),
        "fetch"
    );
    let mut request = fetch::request(params, &plan);
    request.max_bytes = max_bytes.min(i32::MAX as usize) as i32;
    let timeout = shared.request_timeout + Duration::from_millis(params.max_wait_ms.max(0) as u64);
    let response = match conn.send_with_timeout(&request, timeout).await {
        Ok(response) => response,
        Err(e) => return transport_failure(shared, broker, session, e),
    };
    let top = ErrorCode(response.error_code);
    let requested = plan.wanted.clone();
    let full = plan.is_full();
    session.on_response(plan, top, response.session_id);
    if top != ErrorCode::NONE {
        if top == ErrorCode::FETCH_SESSION_ID_NOT_FOUND
            || top == ErrorCode::INVALID_FETCH_SESSION_EPOCH
        {
            tracing::debug!(broker, code = %top, full, "fetch session reset");
            return Round::Again;
        }
        if top.retry_action() == RetryAction::NoRetry {
            shared.report(Error::broker(top, "fetch"));
        } else {
            shared.unroute(broker);
        }
        return Round::Backoff;
    }
    // Decode outside the lock.
    let mut answers = Vec::new();
    for topic in response.responses {
        for p in topic.partitions {
            let tp = TopicPartition::new(topic.topic.0.to_string(), p.partition_index);
            let Some(asked) = requested.get(&tp) else {
                continue;
            };
            let data = p.records.unwrap_or_default();
            let bytes = data.len();
            let outcome = if p.error_code != 0 {
                PartitionFetch::Error(ErrorCode(p.error_code))
            } else {
                fetch::records(
                    &tp,
                    asked.offset,
                    data,
                    p.high_watermark,
                    p.aborted_transactions.as_deref(),
                    params,
                )
            };
            answers.push(Answer {
                tp,
                fetch_offset: asked.offset,
                bytes,
                high_watermark: p.high_watermark,
                outcome,
            });
        }
    }
    let mut book = lock(&shared.book);
    let mut queued = false;
    let mut stale_leader = false;
    for answer in answers {
        let Some(epoch) = epochs.get(&answer.tp).copied() else {
            continue;
        };
        let Some(part) = book.parts.get_mut(&answer.tp) else {
            continue;
        };
        if part.epoch != epoch
            || part.leader != Some(broker)
            || part.parked
            || part.next_offset != answer.fetch_offset
        {
            continue; // sought, moved or restarted meanwhile
        }
        let park = match &answer.outcome {
            PartitionFetch::Records { next_offset, .. } => {
                part.high_watermark = Some(answer.high_watermark);
                if *next_offset <= answer.fetch_offset {
                    continue; // nothing new
                }
                part.next_offset = *next_offset;
                false
            }
            PartitionFetch::Error(code)
                if *code != ErrorCode::OFFSET_OUT_OF_RANGE
                    && code.retry_action() != RetryAction::NoRetry =>
            {
                tracing::debug!(tp = %answer.tp, code = %code, "fetch: partition moves");
                part.leader = None;
                part.not_before = Some(Instant::now() + shared.cluster.backoff().initial);
                stale_leader = true;
                continue;
            }
            PartitionFetch::Error(_) | PartitionFetch::Corrupt(_) => true,
        };
        part.parked = park;
        book.buffered += answer.bytes;
        book.completed.push_back(Completed {
            tp: answer.tp,
            epoch,
            fetch_offset: answer.fetch_offset,
            bytes: answer.bytes,
            outcome: answer.outcome,
        });
        queued = true;
    }
    if stale_leader {
        shared.cluster.request_refresh();
        shared.schedule_reroute(&mut book);
    }
    drop(book);
    if queued {
        shared.ready.notify_one();
    }
    Round::Again
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
        shared.report(e);
    }
    Round::Backoff
}
