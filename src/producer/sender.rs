//! The sender: takes ready batches, groups them by leader into ProduceRequests, and hands
//! each batch's answer to `settle`.
//!
//! ```text
//! accumulator ──drain──▶ sequence (idempotence) ──▶ group by leader ──▶ request task per
//!      ▲                                                               ProduceRequest
//!      └──── requeue (retry, split) ◀──── settle: outcome::decide ◀───────────┘
//! ```
//! Sequences are assigned here, on one task, in drain order. Encoding and compression run in
//! the request tasks, spread over the runtime's threads. With several batches of a partition
//! in flight, the requests to one leader keep their order ([`Turn`]): each is queued on the
//! connection after the one before it, and settled after it, so the broker sees a
//! partition's batches in sequence order and their records' outcomes are told in order.

use super::batch::Batch;
use super::idempotence::{init_producer_id, Sequenced};
use super::outcome::{Answer, FailWith};
use super::{telemetry, Shared};
use crate::cluster::{Snapshot, TrafficClass};
use crate::error::{Error, ErrorCode, RetryAction};
use crate::protocol::wire::{self, topic_name};
use crate::record::TopicPartition;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

/// Also wake this often, so a metadata refresh or an epoch bump that became possible is
/// noticed without a dedicated signal.
const TICK: Duration = Duration::from_millis(100);

/// Runs until the producer is closed and drained, or dropped.
pub(crate) async fn run(shared: Weak<Shared>) {
    let mut swept = None;
    let mut lines = Lines::new();
    loop {
        let Some(s) = shared.upgrade() else { return };
        let next_wakeup = round(&s, &mut lines).await;
        if s.closed_and_empty() {
            return;
        }
        forget_unused_topics(&s, &mut swept);
        let wake = s.wake.clone();
        drop(s);
        let fallback = Instant::now() + TICK;
        let until = next_wakeup.map_or(fallback, |n| n.min(fallback));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

/// The cluster stops following a topic unused for `metadata.max.idle.ms` (see
/// `cluster::interest`; every record's metadata lookup counts as a use); the producer then
/// forgets its partitioning state and, once nothing of it waits or is in flight, its queues.
/// Checked when a metadata refresh changed the cache (`swept`: the view checked last), so
/// idle topics cost nothing per record and nothing per round.
fn forget_unused_topics(s: &Shared, swept: &mut Option<u64>) {
    let snapshot = s.cluster.snapshot();
    if *swept == Some(snapshot.generation) {
        return;
    }
    *swept = Some(snapshot.generation);
    let followed = |topic: &str| snapshot.topics.contains_key(topic);
    s.partitioner.forget_topics(followed);
    s.accumulator.forget_topics(followed);
}

/// One pass: bump the epoch if due, expire, send what is ready. Returns the earliest instant
/// a waiting batch becomes ready. Once the producer has given up, only fails what comes back.
async fn round(s: &Arc<Shared>, lines: &mut Lines) -> Option<Instant> {
    if s.abandoned.get().is_some() {
        s.give_up_waiting();
        return None;
    }
    // A transaction that cannot commit, or is being aborted, sends nothing more.
    if s.fail_waiting_of_txn() {
        return None;
    }
    s.add_partitions_to_txn().await;
    bump_epoch_if_due(s).await;
    let now = Instant::now();
    // A delivery.timeout.ms longer than the clock's past (a machine up for less than it) has
    // expired nothing yet.
    if let Some(cutoff) = now.checked_sub(s.config.delivery_timeout) {
        s.give_up(s.accumulator.expire(cutoff), FailWith::DeliveryTimeout);
    }
    let snapshot = s.cluster.snapshot();
    let (ready, next_wakeup) = drain(s, &snapshot, now);
    dispatch(s, &snapshot, ready, lines);
    next_wakeup
}

/// Bumps the epoch once nothing is in flight and no batch's outcome is unknown: those must be
/// resolved under the epoch they were sent with (or fail at `delivery.timeout.ms`), or a
/// retry could write them twice.
async fn bump_epoch_if_due(s: &Arc<Shared>) {
    let Some(id) = &s.idempotence else { return };
    // A transactional producer bumps its epoch when it aborts (see `transaction.rs`).
    if s.txn.is_some() {
        return;
    }
    if !id.bump_requested() || s.requests_in_flight() > 0 || s.accumulator.any_outcome_unknown() {
        return;
    }
    match init_producer_id(
        &s.cluster,
        Some(id.identity()),
        s.config.client.request_timeout,
    )
    .await
    {
        Ok((producer_id, epoch)) => {
            id.bumped(producer_id, epoch);
            s.accumulator.clear_sequences();
        }
        Err(e) if e.is_retriable() => tracing::debug!(error = %e, "epoch bump failed; retrying"),
        Err(e) => s.go_fatal(Error::Fatal(format!("cannot bump the producer epoch: {e}"))),
    }
}

/// Takes the batches that are ready and may go now: their leader is known and has room for
/// another request; a batch sent before goes again only as its partition's first unsettled
/// batch (so a retry is never overtaken); and while an epoch bump waits, only batches that
/// must be resolved under the old epoch go (see `Accumulator::drain`), each only after the
/// sequenced batches before it: an unknown outcome behind a batch that failed retriably would
/// otherwise wait for that batch, which waits for the bump, which waits for it.
fn drain(s: &Shared, snapshot: &Snapshot, now: Instant) -> (Vec<Batch>, Option<Instant>) {
    let bump_pending = s.idempotence.as_ref().is_some_and(|i| i.bump_requested());
    // In a transaction, only partitions the coordinator added may be written to.
    let added = s.txn_added();
    let in_flight = s.in_flight_snapshot();
    let max_in_flight = s.config.max_in_flight_requests_per_connection;
    let mut leaderless = false;
    // With buffer.memory nearly spent, lingering only keeps senders waiting: send now.
    let memory_short = s.memory.available_permits() < s.config.batch_size;
    let hurry = s.flushing() || memory_short;
    let drained = s
        .accumulator
        .drain(now, hurry, bump_pending, |tp, batch, taken| {
            if added
                .as_ref()
                .is_some_and(|a| !a.contains(&tp.topic, tp.partition))
            {
                return false;
            }
            let Some(leader) = leader_of(snapshot, tp) else {
                leaderless = true;
                return false;
            };
            if !in_turn(s, batch, taken) {
                return false;
            }
            // The partition's `taken`-th batch of this round goes in the round's
            // `taken`-th request to its leader (see `dispatch`).
            (!bump_pending || batch.sequence.is_some())
                && in_flight.get(&leader).copied().unwrap_or(0) + taken < max_in_flight
        });
    if leaderless {
        // An election (or a broker just back from a pause) left partitions without a
        // leader; nothing else would ask for fresh metadata while batches only wait.
        s.cluster.request_refresh();
    }
    drained
}

/// Whether the batch may go as far as its sequence goes, as its partition's `taken`-th of
/// this round: a batch that keeps its sequence from an earlier send goes again only as its
/// partition's first unsettled batch, so the batches sequenced after it, which the broker
/// refuses until it is written, go after it (Java likewise sends only the first in-flight
/// batch of a partition while it retries); and a partition where nothing of this producer id
/// is written yet has one batch on its way at a time (see `idempotence.rs`).
pub(super) fn in_turn(s: &Shared, batch: &Batch, taken: usize) -> bool {
    match &s.idempotence {
        Some(id) => id.may_take(&batch.tp, batch.sequence.as_ref(), taken),
        None => true,
    }
}

/// Sequences batches sent for the first time (in drain order), groups them by leader and
/// starts a request task per ProduceRequest. A request holds one batch per partition: a
/// partition's second batch of the round goes in the leader's second request, and so on
/// (`ready` has each partition's batches together, in order).
fn dispatch(s: &Arc<Shared>, snapshot: &Snapshot, ready: Vec<Batch>, lines: &mut Lines) {
    let mut by_leader: BTreeMap<i32, Vec<Vec<Batch>>> = BTreeMap::new();
    // The partition of the batch before (its topic shared, not copied).
    let mut previous: Option<(Arc<str>, i32)> = None;
    let mut layer = 0;
    for mut batch in ready {
        let Some(leader) = leader_of(snapshot, &batch.tp) else {
            s.accumulator.requeue(batch, Duration::ZERO);
            continue;
        };
        if let (Some(id), None) = (&s.idempotence, batch.sequence) {
            batch.sequence = Some(id.assign(&batch.tp, batch.record_count()));
        }
        let partition = (batch.topic.clone(), batch.tp.partition);
        layer = if previous.as_ref() == Some(&partition) {
            layer + 1
        } else {
            0
        };
        previous = Some(partition);
        let layers = by_leader.entry(leader).or_default();
        if layers.len() <= layer {
            layers.resize_with(layer + 1, Vec::new);
        }
        layers[layer].push(batch);
    }
    for (leader, layers) in by_leader {
        for layer in layers {
            for request in split_by_size(layer, s.config.max_request_size) {
                s.request_started(leader);
                let turn = lines.turn(leader);
                let span = telemetry::request_span(s, snapshot, leader, &request);
                tokio::spawn(send(s.clone(), leader, request, turn).instrument(span));
            }
        }
    }
}

/// How far a request task has got: its successor to the same leader waits for it to be
/// queued on the connection before queueing its own, and for it to be settled before
/// settling its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Started,
    Queued,
    Settled,
}

/// A request task's place in its leader's line: the stage of the request before it, and its
/// own to report. A task that ends early (or is dropped) lets its successor pass.
struct Turn {
    before: Option<watch::Receiver<Stage>>,
    mine: watch::Sender<Stage>,
}

impl Turn {
    /// Waits until the request before this one has reached `stage` (or its task ended).
    async fn after(&mut self, stage: Stage) {
        if let Some(before) = &mut self.before {
            let _ = before.wait_for(|reached| *reached >= stage).await;
        }
    }

    fn reached(&self, stage: Stage) {
        self.mine.send_replace(stage);
    }
}

/// The last request started to each leader, for the next one to follow.
struct Lines(HashMap<i32, watch::Receiver<Stage>>);

impl Lines {
    fn new() -> Self {
        Lines(HashMap::new())
    }

    /// The next request to `leader` takes its turn after the last one.
    fn turn(&mut self, leader: i32) -> Turn {
        let (mine, rx) = watch::channel(Stage::Started);
        let before = self.0.insert(leader, rx);
        Turn { before, mine }
    }
}

/// Groups batches into requests no larger than `max_request_size`, by their size estimates
/// (a batch larger than that still goes alone; the broker judges it).
fn split_by_size(batches: Vec<Batch>, max_request_size: usize) -> Vec<Vec<Batch>> {
    let mut requests: Vec<Vec<Batch>> = Vec::new();
    let mut size = 0;
    for batch in batches {
        let len = batch.size_estimate();
        match requests.last_mut() {
            Some(current) if size + len <= max_request_size => {
                size += len;
                current.push(batch);
            }
            _ => {
                size = len;
                requests.push(vec![batch]);
            }
        }
    }
    requests
}

/// The batches of a request under way. Should its task be dropped before they are settled
/// (the runtime shutting down), they may have been written, and they say so as they are
/// dropped (see `Batch`'s `Drop`).
struct InRequest(Vec<Batch>);

impl Drop for InRequest {
    fn drop(&mut self) {
        for batch in &mut self.0 {
            batch.outcome_unknown = true;
        }
    }
}

/// A request task: one ProduceRequest to `leader`, then every batch settled, each step in
/// its turn.
async fn send(s: Arc<Shared>, leader: i32, batches: Vec<Batch>, mut turn: Turn) {
    let mut in_request = InRequest(batches);
    let acks = wire::acks(s.config.acks);
    let request = produce_request(&s, acks, &mut in_request.0);
    let sequenced = sequenced(&s, &in_request.0);
    let outcome = attempt(&s, leader, acks, &request, &sequenced, &mut turn).await;
    drop(sequenced);
    turn.reached(Stage::Queued);
    turn.after(Stage::Settled).await;
    let batches = std::mem::take(&mut in_request.0);
    match outcome {
        // Never written: retrying cannot duplicate.
        Attempt::NotSent(e) => settle_all(&s, batches, &e, false),
        // Queued on the connection: whatever failed after (no answer in time, the
        // connection, an answer that does not decode), the broker may have written it.
        Attempt::Failed(e) => settle_all(&s, batches, &e, true),
        Attempt::Unacknowledged => {
            for batch in batches {
                s.settle(batch, Answer::Unacknowledged, &|| Error::Closed);
            }
        }
        Attempt::Answered(response, broker) => {
            telemetry::answered(&response);
            settle_response(&s, batches, &response, &broker);
        }
    }
    turn.reached(Stage::Settled);
    s.request_finished(leader);
    s.wake.notify_one();
    #[cfg(feature = "metrics")]
    s.metrics
        .exported
        .buffer_available(s.memory.available_permits());
}

/// How a request went.
enum Attempt {
    /// No connection to the leader: nothing was written.
    NotSent(Error),
    /// Queued on the connection, and the request failed as a whole: written or not.
    Failed(Error),
    /// Written with `acks=0`: no answer comes.
    Unacknowledged,
    /// The leader's answer, and its address.
    Answered(ProduceResponse, String),
}

/// Sends the request to `leader`, queueing it on the connection once the request before it
/// in `turn` is queued, and only if none of its batches would overtake an earlier one of
/// its partition (see `Idempotence::overtaken`). With `acks=0` the write itself is bounded by
/// `request.timeout.ms` (a peer that stops reading would hold it forever), as a request
/// awaiting its response is.
async fn attempt(
    s: &Shared,
    leader: i32,
    acks: i16,
    request: &ProduceRequest,
    batches: &[Sequenced<'_>],
    turn: &mut Turn,
) -> Attempt {
    let conn = match s.cluster.broker(leader, TrafficClass::Produce).await {
        Ok(conn) => conn,
        Err(e) => return Attempt::NotSent(e),
    };
    turn.after(Stage::Queued).await;
    let overtaken = s
        .idempotence
        .as_ref()
        .and_then(|id| id.overtaken(batches, conn.id()));
    if let Some(tp) = overtaken {
        return Attempt::NotSent(Error::connection(
            conn.addr(),
            format!(
                "not sent: an earlier batch of {tp} is not queued on this connection, and \
                 this request could be written before it"
            ),
        ));
    }
    if acks == 0 {
        return match conn.version(ApiKey::Produce) {
            Ok(version) => match conn.send_no_response(request, version).await {
                Ok(()) => Attempt::Unacknowledged,
                Err(e) => Attempt::Failed(e),
            },
            Err(e) => Attempt::NotSent(e),
        };
    }
    let started = Instant::now();
    let cap = s.txn.as_ref().map(|txn| txn.produce_version_cap());
    let submitted = match conn.submit(request, cap).await {
        Ok(submitted) => submitted,
        // Not queued (the connection broke, or no version fits): nothing was written.
        Err(e) => return Attempt::NotSent(e),
    };
    if let Some(id) = &s.idempotence {
        id.queued_on(batches, Some(conn.id()));
    }
    turn.reached(Stage::Queued);
    match submitted.response().await {
        Ok(response) => {
            s.metrics.request_done(started.elapsed());
            Attempt::Answered(response, conn.addr().to_string())
        }
        Err(e) => Attempt::Failed(e),
    }
}

/// The request's sequenced batches (none without idempotence), which the request task
/// keeps across its awaits (batches themselves are not `Sync`).
fn sequenced<'a>(s: &Shared, batches: &'a [Batch]) -> Vec<Sequenced<'a>> {
    if s.idempotence.is_none() {
        return Vec::new();
    }
    batches
        .iter()
        .filter_map(|b| Some((&b.tp, b.sequence?)))
        .collect()
}

/// Encodes (and compresses) each batch, once: retries resend the same bytes.
pub(super) fn produce_request(s: &Shared, acks: i16, batches: &mut [Batch]) -> ProduceRequest {
    let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for batch in batches {
        let records = batch.encoded();
        topics.entry(batch.tp.topic.clone()).or_default().push(
            PartitionProduceData::default()
                .with_index(batch.tp.partition)
                .with_records(Some(records)),
        );
    }
    ProduceRequest::default()
        .with_transactional_id(s.txn.as_ref().map(|t| t.transactional_id()))
        .with_acks(acks)
        .with_timeout_ms(wire::millis(s.config.client.request_timeout))
        .with_topic_data(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    TopicProduceData::default()
                        .with_name(topic_name(&name))
                        .with_partition_data(partitions)
                })
                .collect(),
        )
}

/// The request failed as a whole: every batch gets the same answer.
fn settle_all(s: &Shared, batches: Vec<Batch>, error: &Error, outcome_unknown: bool) {
    let answer = Answer::Failed {
        action: error.retry_action(),
        outcome_unknown,
    };
    for batch in batches {
        s.settle(batch, answer, &|| error.clone());
    }
}

pub(super) fn settle_response(
    s: &Shared,
    batches: Vec<Batch>,
    response: &ProduceResponse,
    broker: &str,
) {
    let mut answers = HashMap::new();
    for topic in &response.responses {
        for p in &topic.partition_responses {
            answers.insert((topic.name.0.as_str(), p.index), p);
        }
    }
    for batch in batches {
        let Some(p) = answers
            .get(&(batch.tp.topic.as_str(), batch.tp.partition))
            .copied()
        else {
            // The broker did not say: treat it like a lost response.
            let error = missing_partition(broker, &batch.tp);
            let answer = Answer::Failed {
                action: RetryAction::Reconnect,
                outcome_unknown: true,
            };
            s.settle(batch, answer, &|| error.clone());
            continue;
        };
        let code = ErrorCode(p.error_code);
        let error = Error::Broker {
            code,
            context: format!("{} on {broker}", batch.tp),
            message: p.error_message.as_ref().map(|m| m.to_string()),
        };
        let answer = Answer::Partition {
            code,
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
        };
        s.settle(batch, answer, &|| error.clone());
    }
}

fn missing_partition(broker: &str, tp: &TopicPartition) -> Error {
    Error::Protocol {
        broker: broker.to_string(),
        reason: format!("Produce response is missing {tp}"),
    }
}

fn leader_of(snapshot: &Snapshot, tp: &TopicPartition) -> Option<i32> {
    snapshot
        .topics
        .get(&tp.topic)
        .and_then(|t| t.partition(tp.partition))
        .and_then(|p| p.leader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::timeout;

    /// Whether `stage` of the request before `turn` is reached: waited for, briefly.
    async fn passes(turn: &mut Turn, stage: Stage) -> bool {
        timeout(Duration::from_millis(10), turn.after(stage))
            .await
            .is_ok()
    }

    /// A request to a leader is queued after, and settled after, the one started before it
    /// to that leader; one whose task ended lets the next pass; each leader has its own line.
    #[tokio::test(start_paused = true)]
    async fn requests_to_a_leader_take_their_turns_in_order() {
        let mut lines = Lines::new();
        let mut first = lines.turn(1);
        let mut second = lines.turn(1);
        let mut elsewhere = lines.turn(2);
        assert!(
            passes(&mut first, Stage::Settled).await,
            "first in its line"
        );
        assert!(
            passes(&mut elsewhere, Stage::Settled).await,
            "another leader's line"
        );
        assert!(!passes(&mut second, Stage::Queued).await);
        first.reached(Stage::Queued);
        assert!(passes(&mut second, Stage::Queued).await);
        assert!(
            !passes(&mut second, Stage::Settled).await,
            "queued, not settled"
        );
        first.reached(Stage::Settled);
        assert!(passes(&mut second, Stage::Settled).await);
        let mut third = lines.turn(1);
        assert!(
            !passes(&mut third, Stage::Queued).await,
            "behind the second"
        );
        drop(second);
        assert!(
            passes(&mut third, Stage::Settled).await,
            "the second's task ended"
        );
    }
}
