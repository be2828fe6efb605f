//! The fetcher's book: per partition where it is fetched from (its leader, or the preferred
//! read replica the leader named) and up to where (epoch, offsets, the last fetched leader
//! epoch), the completed fetches waiting for `poll`, and the memory budget. Pure: the
//! fetcher's tasks do the I/O and call in here under one lock; time comes in as `now`. See
//! `fetcher.rs` for the rules this keeps.

use crate::cluster::Snapshot;
use crate::consumer::fetch::PartitionFetch;
use crate::consumer::fetch_session::PartitionParams;
use crate::error::{Error, ErrorCode, RetryAction};
use crate::record::TopicPartition;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tokio::time::Instant;

/// How many rounds of every partition's share may wait for `poll` before the tasks stop
/// asking for more: enough that `poll` never waits on a round trip while it has work, and no
/// more, as the broker can send faster than `poll` takes (Java keeps one completed fetch per
/// partition; librdkafka stops at `queued.max.messages.kbytes`).
const PREFETCH_ROUNDS: usize = 2;

pub(super) struct Book {
    parts: HashMap<TopicPartition, Part>,
    completed: VecDeque<Completed>,
    /// Errors of whole brokers, with the partitions they parked, for `poll`.
    errors: VecDeque<(Error, Vec<TopicPartition>)>,
    /// Bytes in `completed`.
    buffered: usize,
    /// Bytes reserved by Fetches in flight.
    reserved: usize,
    /// Bytes `poll` holds: taken fetches not handed out yet, and the batch it is decoding.
    held: usize,
    /// Buffered, reserved and held bytes stay within this (2 × `fetch.max.bytes`).
    budget: usize,
    /// No request starts while `buffered` is at least this: [`PREFETCH_ROUNDS`] of every
    /// fetched partition's share, at most `fetch.max.bytes`. Set by each `plan`.
    ceiling: usize,
    /// `fetch.max.bytes`: the most one request asks for, and the most one partition's
    /// share may grow to when its first batch does not fit.
    fetch_max_bytes: usize,
    max_partition_bytes: i32,
    /// The latest high watermark each partition's fetches saw (kept while it is paused).
    high_watermarks: HashMap<TopicPartition, i64>,
    next_epoch: u64,
    /// The consumer's count of position changes (`Positions::changes`) the parts last
    /// matched; `None` after the book dropped a part itself, which the next sync restarts.
    synced: Option<u64>,
}

struct Part {
    epoch: u64,
    /// Where the next completed fetch handed to `poll` must start: the consumer's position.
    taken_to: i64,
    /// The next offset to fetch (ahead of `taken_to` by what is buffered or in flight).
    next_offset: i64,
    /// The leader epoch of the last batch fetched before `next_offset`, or -1.
    last_epoch: i32,
    /// The broker it is fetched from: its leader, or the preferred read replica.
    source: Option<i32>,
    /// Its leader and leader epoch as the metadata last said.
    leader: Option<i32>,
    leader_epoch: i32,
    /// The read replica the leader prefers (KIP-392), until when.
    preferred: Option<(i32, Instant)>,
    /// Its share of each request; grows while its first batch does not fit.
    max_bytes: i32,
    /// The bytes of its last fetch handed to `poll`: more than `max_bytes` when the broker
    /// sent a whole first batch past the share (KIP-74).
    last_bytes: usize,
    /// Not fetched until then (after a stale-leader error).
    not_before: Option<Instant>,
    /// An error was queued for `poll`; not fetched until `poll` restarts the partition.
    parked: bool,
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

/// Each partition's epoch when a request was planned.
pub(super) type Epochs = HashMap<TopicPartition, u64>;

/// One request's partitions, their epochs, and the bytes reserved for its answer.
pub(super) struct Planned {
    pub wanted: BTreeMap<TopicPartition, PartitionParams>,
    pub epochs: Epochs,
    pub max_bytes: usize,
}

/// One partition's answer, before it is checked against the book.
pub(super) struct Answer {
    pub tp: TopicPartition,
    pub fetch_offset: i64,
    pub bytes: usize,
    pub high_watermark: i64,
    /// The read replica the leader would rather serve this consumer from (KIP-392).
    pub preferred_replica: Option<i32>,
    pub outcome: Outcome,
}

/// What a partition's answer held.
pub(super) enum Outcome {
    /// Records, an error code, or a typed error, for `poll`.
    Fetch(PartitionFetch),
    /// Data that ends inside its first batch, which needs `needed` bytes (0: unknown).
    Partial { needed: usize },
}

/// What routing found: brokers whose tasks have new partitions, and whether some partition
/// waits for a leader (or for its backoff to end).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Routing {
    pub moved_to: Vec<i32>,
    pub waiting: bool,
}

/// What accepting a response did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Accepted {
    /// Something new waits for `poll`.
    pub queued: bool,
    /// A partition's leader moved: metadata must be refreshed and the partition rerouted.
    pub stale_leader: bool,
    /// Brokers that partitions now fetch from (a preferred replica, or back to the leader).
    pub moved_to: Vec<i32>,
}

impl Book {
    pub(super) fn new(fetch_max_bytes: usize, max_partition_bytes: i32) -> Book {
        Book {
            parts: HashMap::new(),
            completed: VecDeque::new(),
            errors: VecDeque::new(),
            buffered: 0,
            reserved: 0,
            held: 0,
            budget: 2 * fetch_max_bytes,
            ceiling: fetch_max_bytes,
            fetch_max_bytes,
            max_partition_bytes,
            high_watermarks: HashMap::new(),
            next_epoch: 0,
            synced: None,
        }
    }

    /// [`sync_to`](Self::sync_to) the consumer's fetchable partitions, `active()`, unless
    /// nothing changed since the last sync at `changes` (its count of position changes):
    /// comparing every partition on each poll cost most of a poll's time at 10,000 of them.
    pub(super) fn sync(
        &mut self,
        changes: u64,
        active: impl FnOnce() -> BTreeMap<TopicPartition, (i64, i32)>,
    ) -> bool {
        if self.synced == Some(changes) {
            debug_assert!(
                self.matches(&active()),
                "the consumer's positions moved without counting a change"
            );
            return false;
        }
        self.synced = Some(changes);
        self.sync_to(&active())
    }

    /// Whether the parts are exactly `active`, each taken up to its position.
    fn matches(&self, active: &BTreeMap<TopicPartition, (i64, i32)>) -> bool {
        self.parts.len() == active.len()
            && active.iter().all(|(tp, &(position, _))| {
                self.parts.get(tp).is_some_and(|p| p.taken_to == position)
            })
    }

    /// Makes the fetched set exactly `active` (partition → consumer position and the leader
    /// epoch of the record before it); `true` when something changed (the tasks must be
    /// routed and woken). See `Fetcher::sync`.
    pub(super) fn sync_to(&mut self, active: &BTreeMap<TopicPartition, (i64, i32)>) -> bool {
        let before = self.parts.len();
        self.parts.retain(|tp, _| active.contains_key(tp));
        let mut changed = self.parts.len() != before;
        for (tp, &(position, last_epoch)) in active {
            let old = self.parts.get(tp);
            if old.is_some_and(|p| p.taken_to == position) {
                continue;
            }
            // A restart keeps where the partition is fetched from: a seek is no reason to
            // ask the leader for its preferred replica again.
            let (source, leader, leader_epoch, preferred, not_before) = match old {
                Some(p) => (
                    p.source,
                    p.leader,
                    p.leader_epoch,
                    p.preferred,
                    p.not_before,
                ),
                None => (None, None, -1, None, None),
            };
            self.next_epoch += 1;
            self.parts.insert(
                tp.clone(),
                Part {
                    epoch: self.next_epoch,
                    taken_to: position,
                    next_offset: position,
                    last_epoch,
                    source,
                    leader,
                    leader_epoch,
                    preferred,
                    max_bytes: self.max_partition_bytes,
                    last_bytes: 0,
                    not_before,
                    parked: false,
                },
            );
            changed = true;
        }
        if changed {
            let parts = &self.parts;
            let mut freed = 0;
            self.completed.retain(|c| {
                let keep = parts.get(&c.tp).is_some_and(|p| p.epoch == c.epoch);
                if !keep {
                    freed += c.bytes;
                }
                keep
            });
            self.buffered -= freed;
        }
        changed
    }

    /// Bytes counted against the budget.
    fn used(&self) -> usize {
        self.buffered + self.reserved + self.held
    }

    /// Whether a request of a full share could not start now.
    fn blocked(&self) -> bool {
        self.used() >= self.fetch_max_bytes || self.buffered >= self.ceiling
    }

    /// The next completed fetch (or error) in arrival order, skipping stale ones, and
    /// whether taking it unblocked the tasks (they must be woken). See `Fetcher::take`.
    pub(super) fn take(&mut self) -> (Option<Taken>, bool) {
        if let Some((e, parked)) = self.errors.pop_front() {
            for tp in parked {
                if self.parts.get(&tp).is_some_and(|p| p.parked) {
                    self.parts.remove(&tp);
                    self.synced = None;
                }
            }
            return (Some(Taken::Error(e)), false);
        }
        let was_blocked = self.blocked();
        let mut found = None;
        while let Some(c) = self.completed.pop_front() {
            self.buffered -= c.bytes;
            let Some(part) = self.parts.get_mut(&c.tp) else {
                continue;
            };
            if part.epoch != c.epoch || part.taken_to != c.fetch_offset {
                continue;
            }
            match &c.outcome {
                PartitionFetch::Records(records) => part.taken_to = records.next_offset(),
                _ => {
                    self.parts.remove(&c.tp);
                    self.synced = None;
                }
            }
            found = Some(Taken::Fetch(c));
            break;
        }
        let unblocked = was_blocked && !self.blocked();
        (found, unblocked)
    }

    /// `poll` now holds `bytes` of fetched data outside the book; `true` when that unblocked
    /// the tasks.
    pub(super) fn hold(&mut self, bytes: usize) -> bool {
        let was_blocked = self.blocked();
        self.held = bytes;
        was_blocked && !self.blocked()
    }

    pub(super) fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.high_watermarks.get(tp).copied()
    }

    /// Gives every fetchable partition the broker to fetch it from: the preferred read
    /// replica while it is known and fresh, else the leader `snapshot` names.
    pub(super) fn route(&mut self, snapshot: &Snapshot, now: Instant) -> Routing {
        let mut routing = Routing::default();
        for (tp, part) in self.parts.iter_mut() {
            if part.parked {
                continue;
            }
            if part.not_before.is_some_and(|t| t > now) {
                routing.waiting = true;
                continue;
            }
            part.not_before = None;
            let leader = snapshot
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .and_then(|p| p.leader.map(|l| (l, p.leader_epoch)));
            let Some((leader, epoch)) = leader else {
                part.source = None;
                part.leader = None;
                routing.waiting = true;
                continue;
            };
            if part.leader_epoch != epoch {
                // A new leader names its own preferred replica.
                part.preferred = None;
            }
            part.leader = Some(leader);
            part.leader_epoch = epoch;
            part.preferred = part
                .preferred
                .filter(|&(id, until)| until > now && snapshot.brokers.contains_key(&id));
            let source = part.preferred.map_or(leader, |(id, _)| id);
            if part.source != Some(source) {
                part.source = Some(source);
                routing.moved_to.push(source);
            }
        }
        routing
    }

    /// Partitions whose preferred read replica is older than `metadata.max.age.ms` go back
    /// to their leader; returns the leaders that got partitions.
    pub(super) fn expire_preferred(&mut self, now: Instant) -> Vec<i32> {
        let mut moved = Vec::new();
        for part in self.parts.values_mut() {
            if part.preferred.is_some_and(|(_, until)| until <= now) {
                part.preferred = None;
                part.source = part.leader;
                moved.extend(part.leader);
            }
        }
        moved
    }

    /// The next request's partitions for `broker`, with the bytes reserved for it; `None`
    /// when there is nothing to fetch or the memory bound is reached.
    pub(super) fn plan(&mut self, broker: i32) -> Option<Planned> {
        let mut wanted = BTreeMap::new();
        let mut epochs = HashMap::new();
        let mut sources = HashSet::new();
        let mut round = 0usize;
        for (tp, part) in &self.parts {
            if part.parked || part.not_before.is_some() {
                continue;
            }
            let Some(source) = part.source else { continue };
            sources.insert(source);
            let share = usize::try_from(part.max_bytes).unwrap_or(0);
            round = round.saturating_add(share.max(part.last_bytes));
            if source != broker {
                continue;
            }
            wanted.insert(
                tp.clone(),
                PartitionParams {
                    offset: part.next_offset,
                    leader_epoch: part.leader_epoch,
                    last_fetched_epoch: part.last_epoch,
                    max_bytes: part.max_bytes,
                },
            );
            epochs.insert(tp.clone(), part.epoch);
        }
        self.ceiling = round
            .saturating_mul(PREFETCH_ROUNDS)
            .min(self.fetch_max_bytes);
        if wanted.is_empty() || self.buffered >= self.ceiling {
            return None;
        }
        // Each broker with work may have one request in flight at a time, sized so that all
        // of them fit the budget together.
        let share = (self.budget / sources.len().max(1)).clamp(1, self.fetch_max_bytes);
        if self.used() + share > self.budget {
            return None;
        }
        self.reserved += share;
        Some(Planned {
            wanted,
            epochs,
            max_bytes: share,
        })
    }

    /// A request ended: its reservation goes back to the budget.
    pub(super) fn release(&mut self, reserved: usize) {
        self.reserved -= reserved;
    }

    /// The broker failed as a whole: its partitions wait until `not_before`, then go to
    /// their leader, wherever metadata says it is (a preferred replica is forgotten).
    pub(super) fn unroute(&mut self, broker: i32, not_before: Instant) {
        for part in self.parts.values_mut() {
            if part.source == Some(broker) {
                part.source = None;
                part.preferred = None;
                part.not_before = Some(not_before);
            }
        }
    }

    /// The broker failed in a way retrying will not mend (a fatal error code, a response
    /// too large to read): its partitions are parked and `e` is queued for `poll`, which
    /// restarts them on its next call, so they are tried again once per `poll`, not in a
    /// loop meanwhile.
    pub(super) fn fail(&mut self, broker: i32, e: Error) {
        let mut parked = Vec::new();
        for (tp, part) in self.parts.iter_mut() {
            if part.source == Some(broker) && !part.parked {
                part.parked = true;
                parked.push(tp.clone());
            }
        }
        if !parked.is_empty() {
            self.errors.push_back((e, parked));
        }
    }

    /// Takes in `broker`'s answers to a request planned under `epochs`. An answer is kept
    /// only if its partition still has that epoch, is still fetched from `broker`, is not
    /// parked and still fetches from the answer's offset. Records move the next fetch
    /// offset; a preferred read replica named by the leader is followed (until
    /// `preferred_until`); a first batch cut short grows the partition's share up to
    /// `fetch.max.bytes`; OFFSET_OUT_OF_RANGE from a follower sends the partition back to
    /// its leader; OFFSET_OUT_OF_RANGE from the leader, typed errors and fatal codes are
    /// queued and park the partition; other (stale leader) codes unroute it until
    /// `retry_at`.
    pub(super) fn accept(
        &mut self,
        broker: i32,
        epochs: &Epochs,
        answers: Vec<Answer>,
        retry_at: Instant,
        preferred_until: Instant,
    ) -> Accepted {
        let mut accepted = Accepted::default();
        for answer in answers {
            let Some(&epoch) = epochs.get(&answer.tp) else {
                continue;
            };
            let Some(part) = self.parts.get_mut(&answer.tp) else {
                continue;
            };
            if part.epoch != epoch
                || part.source != Some(broker)
                || part.parked
                || part.next_offset != answer.fetch_offset
            {
                continue; // sought, moved or restarted meanwhile
            }
            let from_follower = part.leader != Some(broker);
            let outcome = match answer.outcome {
                Outcome::Fetch(outcome) => outcome,
                Outcome::Partial { needed } => {
                    let limit = i32::try_from(self.fetch_max_bytes).unwrap_or(i32::MAX);
                    if part.max_bytes < limit {
                        let grown = part.max_bytes.saturating_mul(2);
                        let needed = i32::try_from(needed).unwrap_or(i32::MAX);
                        part.max_bytes = grown.max(needed).min(limit);
                        continue;
                    }
                    PartitionFetch::Failed(Error::RecordTooLarge {
                        size: needed,
                        max: self.fetch_max_bytes,
                        setting: "fetch.max.bytes",
                    })
                }
            };
            let park = match &outcome {
                PartitionFetch::Records(records) => {
                    match self.high_watermarks.get_mut(&answer.tp) {
                        Some(h) => *h = answer.high_watermark,
                        None => {
                            let tp = answer.tp.clone();
                            self.high_watermarks.insert(tp, answer.high_watermark);
                        }
                    }
                    if let Some(replica) = answer.preferred_replica.filter(|&r| r != broker) {
                        tracing::debug!(tp = %answer.tp, replica, "fetch: preferred read replica");
                        part.preferred = Some((replica, preferred_until));
                        part.source = Some(replica);
                        accepted.moved_to.push(replica);
                    }
                    if records.next_offset() <= answer.fetch_offset {
                        continue; // nothing new
                    }
                    part.next_offset = records.next_offset();
                    part.last_epoch = records.last_epoch();
                    false
                }
                PartitionFetch::Error(ErrorCode::OFFSET_OUT_OF_RANGE) if from_follower => {
                    // The follower may lag behind the leader, which decides.
                    part.preferred = None;
                    part.source = part.leader;
                    accepted.moved_to.extend(part.leader);
                    continue;
                }
                PartitionFetch::Error(code)
                    if *code != ErrorCode::OFFSET_OUT_OF_RANGE
                        && code.retry_action() != RetryAction::NoRetry =>
                {
                    tracing::debug!(tp = %answer.tp, code = %code, "fetch: partition moves");
                    part.source = None;
                    part.preferred = None;
                    part.not_before = Some(retry_at);
                    accepted.stale_leader = true;
                    continue;
                }
                PartitionFetch::Error(_)
                | PartitionFetch::Failed(_)
                | PartitionFetch::Diverged { .. } => true,
            };
            part.parked = park;
            part.last_bytes = answer.bytes;
            self.buffered += answer.bytes;
            self.completed.push_back(Completed {
                tp: answer.tp,
                epoch,
                fetch_offset: answer.fetch_offset,
                bytes: answer.bytes,
                outcome,
            });
            accepted.queued = true;
        }
        accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{metadata::PartitionInfo, TopicInfo};
    use std::sync::Arc;
    use std::time::Duration;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("t", partition)
    }

    /// Topic "t" with partition i led by `leaders[i]` at leader epoch 1.
    fn snapshot(leaders: &[Option<i32>]) -> Snapshot {
        let partitions = leaders
            .iter()
            .enumerate()
            .map(|(i, &leader)| PartitionInfo {
                id: i as i32,
                leader,
                leader_epoch: 1,
                replicas: Vec::new(),
                isr: Vec::new(),
            })
            .collect();
        let mut snapshot = Snapshot::default();
        let info = TopicInfo::new(ErrorCode::NONE, partitions);
        snapshot.topics.insert("t".into(), Arc::new(info));
        snapshot
    }

    fn positions(items: &[(i32, i64)]) -> BTreeMap<TopicPartition, (i64, i32)> {
        items.iter().map(|&(p, o)| (tp(p), (o, -1))).collect()
    }

    /// Later than any test runs: preferred replicas do not expire.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    /// Records from `fetch_offset` up to `next_offset`, counted as `bytes` on the wire.
    fn answer(partition: i32, fetch_offset: i64, next_offset: i64, bytes: usize) -> Answer {
        let records =
            crate::consumer::fetch::tests::records("t", partition, fetch_offset..next_offset);
        outcome(
            partition,
            fetch_offset,
            bytes,
            PartitionFetch::Records(Box::new(records)),
        )
    }

    fn outcome(partition: i32, fetch_offset: i64, bytes: usize, outcome: PartitionFetch) -> Answer {
        Answer {
            tp: tp(partition),
            fetch_offset,
            bytes,
            high_watermark: 100,
            preferred_replica: None,
            outcome: Outcome::Fetch(outcome),
        }
    }

    /// `fetch.max.bytes` 100 (budget 200), partitions 0 and 1 at offset 0 led by broker 1,
    /// partition 2 at 0 led by broker 2.
    fn routed() -> Book {
        let mut book = Book::new(100, 50);
        assert!(book.sync(0, || positions(&[(0, 0), (1, 0), (2, 0)])));
        let routing = book.route(&snapshot(&[Some(1), Some(1), Some(2)]), Instant::now());
        assert!(!routing.waiting);
        book
    }

    fn partitions(plan: &Planned) -> Vec<TopicPartition> {
        plan.wanted.keys().cloned().collect()
    }

    /// Routing that moved partitions to `leaders` and left none waiting.
    fn moved_to(leaders: &[i32]) -> Routing {
        Routing {
            moved_to: leaders.to_vec(),
            waiting: false,
        }
    }

    /// (partition, fetch offset) of what `take` hands out, until nothing is left.
    fn take_all(book: &mut Book) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        while let (Some(taken), _) = book.take() {
            match taken {
                Taken::Fetch(c) => out.push((c.tp.partition, c.fetch_offset)),
                Taken::Error(e) => panic!("unexpected error {e}"),
            }
        }
        out
    }

    #[test]
    fn routing_follows_the_metadata_and_waits_for_missing_leaders() {
        let mut book = Book::new(100, 50);
        book.sync_to(&positions(&[(0, 0), (1, 0), (2, 0)]));
        let now = Instant::now();
        let mut routing = book.route(&snapshot(&[Some(1), None, Some(2)]), now);
        routing.moved_to.sort();
        assert_eq!(
            routing,
            Routing {
                moved_to: vec![1, 2],
                waiting: true
            }
        );
        // Routed partitions do not move again; the leaderless one gets its leader.
        let routing = book.route(&snapshot(&[Some(1), Some(2), Some(2)]), now);
        assert_eq!(routing, moved_to(&[2]));
        let plan = book.plan(2).unwrap();
        assert_eq!(partitions(&plan), vec![tp(1), tp(2)]);
        assert_eq!(plan.wanted[&tp(1)].leader_epoch, 1);
        assert_eq!(plan.wanted[&tp(1)].max_bytes, 50);
    }

    #[test]
    fn each_leader_reserves_its_share_of_the_budget() {
        let mut book = routed();
        // Two leaders with work: each may ask for min(fetch.max.bytes, 200 / 2) = 100.
        let one = book.plan(1).unwrap();
        assert_eq!((one.max_bytes, book.reserved), (100, 100));
        assert_eq!(one.wanted.len(), 2);
        let two = book.plan(2).unwrap();
        assert_eq!((two.max_bytes, book.reserved), (100, 200));
        // The budget is spent until requests end and poll takes data.
        book.accept(
            1,
            &one.epochs,
            vec![answer(0, 0, 10, 90)],
            Instant::now(),
            far(),
        );
        book.release(one.max_bytes);
        book.accept(
            2,
            &two.epochs,
            vec![answer(2, 0, 10, 100)],
            Instant::now(),
            far(),
        );
        assert!(
            book.plan(1).is_none(),
            "190 buffered + 100 reserved + 100 > 200"
        );
        book.release(two.max_bytes);
        assert!(book.plan(1).is_none(), "190 buffered + 100 > 200");
        let (taken, unblocked) = book.take();
        assert!(taken.is_some() && !unblocked, "100 buffered: still blocked");
        let (taken, unblocked) = book.take();
        assert!(
            taken.is_some() && unblocked,
            "under fetch.max.bytes: wake the tasks"
        );
        assert_eq!(book.plan(1).unwrap().max_bytes, 100);
        assert!(book.plan(3).is_none(), "broker 3 leads nothing");
    }

    #[test]
    fn answers_move_the_next_fetch_offset_and_wait_for_poll_in_order() {
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        let answers = vec![answer(1, 0, 4, 10), answer(0, 0, 3, 10)];
        book.accept(1, &plan.epochs, answers, Instant::now(), far());
        book.release(plan.max_bytes);
        let next = book.plan(1).unwrap();
        assert_eq!(next.wanted[&tp(0)].offset, 3);
        book.release(next.max_bytes);
        assert_eq!(book.buffered, 20);
        assert_eq!(take_all(&mut book), vec![(1, 0), (0, 0)]);
        assert_eq!(book.buffered, 0);
        assert_eq!(book.high_watermark(&tp(0)), Some(100));
        // Taken: poll's position is now the end of the taken data; syncing to it changes
        // nothing, so the prefetch goes on.
        assert!(!book.sync_to(&positions(&[(0, 3), (1, 4), (2, 0)])));
    }

    #[test]
    fn a_changed_position_restarts_the_partition_under_a_new_epoch() {
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        book.accept(
            1,
            &plan.epochs,
            vec![answer(0, 0, 3, 10)],
            Instant::now(),
            far(),
        );
        let epoch = book.parts[&tp(0)].epoch;
        // poll sought partition 0 to 50: its buffered data goes, its bytes are freed.
        assert!(book.sync_to(&positions(&[(0, 50), (1, 0), (2, 0)])));
        assert!(book.parts[&tp(0)].epoch > epoch);
        assert_eq!(book.buffered, 0);
        assert!(take_all(&mut book).is_empty());
        // An answer to a request planned under the old epoch is dropped.
        let late = book.accept(
            1,
            &plan.epochs,
            vec![answer(0, 50, 60, 10)],
            Instant::now(),
            far(),
        );
        assert_eq!(late, Accepted::default());
        // Removed partitions are gone with their data.
        assert!(book.sync_to(&positions(&[(1, 0)])));
        assert_eq!(book.parts.len(), 1);
    }

    #[test]
    fn answers_that_no_longer_match_the_partition_are_dropped() {
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        let now = Instant::now();
        // From another broker, at another offset, or with nothing new.
        assert_eq!(
            book.accept(2, &plan.epochs, vec![answer(0, 0, 3, 10)], now, far()),
            Accepted::default()
        );
        assert_eq!(
            book.accept(1, &plan.epochs, vec![answer(0, 7, 9, 10)], now, far()),
            Accepted::default()
        );
        assert_eq!(
            book.accept(1, &plan.epochs, vec![answer(0, 0, 0, 0)], now, far()),
            Accepted::default()
        );
        // Not part of the request.
        let mut epochs = plan.epochs.clone();
        epochs.remove(&tp(1));
        assert_eq!(
            book.accept(1, &epochs, vec![answer(1, 0, 3, 10)], now, far()),
            Accepted::default()
        );
        assert_eq!(book.buffered, 0);
    }

    #[test]
    fn a_sync_applies_positions_only_when_their_count_of_changes_moved() {
        let mut book = routed();
        assert!(!book.sync(0, || positions(&[(0, 0), (1, 0), (2, 0)])));
        assert!(book.sync(1, || positions(&[(0, 7), (1, 0), (2, 0)])));
        assert_eq!(book.parts[&tp(0)].taken_to, 7);
        assert!(!book.sync(1, || positions(&[(0, 7), (1, 0), (2, 0)])));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "without counting a change")]
    fn debug_builds_catch_a_position_moved_without_counting_a_change() {
        let mut book = routed();
        book.sync(0, || positions(&[(0, 7), (1, 0), (2, 0)]));
    }

    #[test]
    fn errors_park_the_partition_until_poll_restarts_it() {
        for code in [
            ErrorCode::OFFSET_OUT_OF_RANGE,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ] {
            let mut book = routed();
            let plan = book.plan(1).unwrap();
            let answers = vec![
                outcome(0, 0, 0, PartitionFetch::Error(code)),
                answer(1, 0, 5, 10),
            ];
            let accepted = book.accept(1, &plan.epochs, answers, Instant::now(), far());
            assert!(accepted.queued && !accepted.stale_leader, "{code}");
            book.release(plan.max_bytes);
            // Parked: not fetched; the broker's other partition carries on.
            let next = book.plan(1).unwrap();
            assert_eq!(partitions(&next), vec![tp(1)]);
            book.release(next.max_bytes);
            // poll gets the error in order, and the partition leaves the book...
            assert_eq!(take_all(&mut book), vec![(0, 0), (1, 0)]);
            assert!(!book.parts.contains_key(&tp(0)));
            // ...so the next sync restarts it at poll's position, though no position moved.
            assert!(book.sync(0, || positions(&[(0, 0), (1, 5), (2, 0)])));
            book.route(&snapshot(&[Some(1), Some(1), Some(2)]), Instant::now());
            assert!(book.plan(1).unwrap().wanted.contains_key(&tp(0)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_leader_unroutes_the_partition_for_the_backoff() {
        let backoff = Duration::from_millis(100);
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        let answers = vec![
            outcome(
                0,
                0,
                0,
                PartitionFetch::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
            ),
            answer(1, 0, 5, 10),
        ];
        let accepted = book.accept(1, &plan.epochs, answers, Instant::now() + backoff, far());
        assert!(accepted.queued && accepted.stale_leader);
        book.release(plan.max_bytes);
        // Nothing queued for poll about partition 0, and it is not fetched...
        assert_eq!(take_all(&mut book), vec![(1, 0)]);
        let next = book.plan(1).unwrap();
        assert!(!next.wanted.contains_key(&tp(0)));
        book.release(next.max_bytes);
        // ...not even when metadata says where it went, until the backoff is over.
        let moved = snapshot(&[Some(2), Some(1), Some(2)]);
        assert!(book.route(&moved, Instant::now()).waiting);
        tokio::time::advance(backoff).await;
        assert_eq!(book.route(&moved, Instant::now()), moved_to(&[2]));
        assert_eq!(partitions(&book.plan(2).unwrap()), vec![tp(0), tp(2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_broker_sends_its_partitions_elsewhere_after_the_backoff() {
        let mut book = routed();
        let until = Instant::now() + Duration::from_millis(100);
        book.unroute(1, until);
        assert!(book.plan(1).is_none());
        let same = snapshot(&[Some(1), Some(1), Some(2)]);
        assert!(book.route(&same, Instant::now()).waiting);
        tokio::time::advance(Duration::from_millis(100)).await;
        // The same leader again if nothing moved.
        assert_eq!(book.route(&same, Instant::now()).moved_to, vec![1, 1]);
        assert_eq!(book.plan(1).unwrap().wanted.len(), 2);
    }

    #[test]
    fn a_failed_broker_parks_its_partitions_until_poll_has_its_error() {
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        book.accept(
            1,
            &plan.epochs,
            vec![answer(0, 0, 3, 10)],
            Instant::now(),
            far(),
        );
        book.release(plan.max_bytes);
        book.fail(1, Error::config("fatal"));
        // Before the fix the broker's partitions were fetched again every backoff, forever.
        assert!(
            book.plan(1).is_none(),
            "parked: nothing to fetch from broker 1"
        );
        assert!(book.plan(2).is_some(), "broker 2 carries on");
        // A second failure with nothing left to park queues nothing.
        book.fail(1, Error::config("again"));
        assert!(matches!(book.take().0, Some(Taken::Error(Error::Config(m))) if m == "fatal"));
        assert!(
            book.take().0.is_none(),
            "the parked partition's data was dropped"
        );
        // poll's next sync restarts them at its positions, though none moved.
        assert!(book.sync(0, || positions(&[(0, 0), (1, 0), (2, 0)])));
        book.route(&snapshot(&[Some(1), Some(1), Some(2)]), Instant::now());
        assert_eq!(book.plan(1).unwrap().wanted.len(), 2);
    }

    #[test]
    fn a_first_batch_cut_short_grows_the_partitions_share_then_fails_typed() {
        let mut book = routed();
        let partial = |needed| Answer {
            outcome: Outcome::Partial { needed },
            ..outcome(0, 0, 40, PartitionFetch::Error(ErrorCode::NONE))
        };
        let mut sizes = Vec::new();
        let failed = loop {
            let plan = book.plan(1).unwrap();
            sizes.push(plan.wanted[&tp(0)].max_bytes);
            let accepted = book.accept(1, &plan.epochs, vec![partial(70)], Instant::now(), far());
            book.release(plan.max_bytes);
            if accepted.queued {
                break book.take().0;
            }
            assert!(sizes.len() < 10, "the share never stops growing");
        };
        // 50 (max.partition.fetch.bytes) → 100 (doubled, at least the 70 the batch needs;
        // at most fetch.max.bytes); before, the same 50 bytes were asked for again at once,
        // forever.
        assert_eq!(sizes, vec![50, 100]);
        match failed {
            Some(Taken::Fetch(Completed {
                outcome: PartitionFetch::Failed(Error::RecordTooLarge { size, max, setting }),
                ..
            })) => assert_eq!((size, max, setting), (70, 100, "fetch.max.bytes")),
            _ => panic!("expected RecordTooLarge"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_preferred_read_replica_is_followed_until_it_fails_or_expires() {
        let mut book = routed();
        let plan = book.plan(1).unwrap();
        let mut hint = answer(0, 0, 0, 0);
        hint.preferred_replica = Some(3);
        let until = Instant::now() + Duration::from_secs(300);
        let mut snapshot = snapshot(&[Some(1), Some(1), Some(2)]);
        for id in 1..=3 {
            let host = "h".to_string();
            let broker = crate::cluster::BrokerInfo {
                id,
                host,
                port: 9092,
            };
            snapshot.brokers.insert(id, broker);
        }
        let accepted = book.accept(1, &plan.epochs, vec![hint], Instant::now(), until);
        assert_eq!(accepted.moved_to, vec![3]);
        book.release(plan.max_bytes);
        assert_eq!(partitions(&book.plan(3).unwrap()), vec![tp(0)]);
        book.release(50);
        // Routing keeps it there while the hint is fresh, and so does a seek.
        assert!(book.route(&snapshot, Instant::now()).moved_to.is_empty());
        assert!(book.sync_to(&positions(&[(0, 40), (1, 0), (2, 0)])));
        assert!(book.route(&snapshot, Instant::now()).moved_to.is_empty());
        assert_eq!(book.plan(3).unwrap().wanted[&tp(0)].offset, 40);
        book.release(50);
        assert!(book.sync_to(&positions(&[(0, 0), (1, 0), (2, 0)])));
        assert_eq!(partitions(&book.plan(1).unwrap()), vec![tp(1)]);
        book.release(50);

        // OFFSET_OUT_OF_RANGE from the follower: back to the leader, nothing for poll.
        let plan = book.plan(3).unwrap();
        let oor = outcome(
            0,
            0,
            0,
            PartitionFetch::Error(ErrorCode::OFFSET_OUT_OF_RANGE),
        );
        let accepted = book.accept(3, &plan.epochs, vec![oor], Instant::now(), until);
        assert_eq!((accepted.queued, accepted.moved_to), (false, vec![1]));
        book.release(plan.max_bytes);
        assert!(book.plan(3).is_none());

        // Followed again; a lost connection to it sends the partition to the leader.
        let plan = book.plan(1).unwrap();
        let mut hint = answer(0, 0, 0, 0);
        hint.preferred_replica = Some(3);
        book.accept(1, &plan.epochs, vec![hint], Instant::now(), until);
        book.release(plan.max_bytes);
        book.unroute(3, Instant::now());
        assert_eq!(book.route(&snapshot, Instant::now()).moved_to, vec![1]);

        // And after metadata.max.age.ms the leader is asked again.
        let plan = book.plan(1).unwrap();
        let mut hint = answer(0, 0, 0, 0);
        hint.preferred_replica = Some(3);
        book.accept(1, &plan.epochs, vec![hint], Instant::now(), until);
        book.release(plan.max_bytes);
        assert!(book.expire_preferred(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(book.expire_preferred(Instant::now()), vec![1]);
        assert_eq!(partitions(&book.plan(1).unwrap()), vec![tp(0), tp(1)]);
    }

    #[test]
    fn two_rounds_waiting_for_poll_stop_the_prefetch_well_under_the_budget() {
        // fetch.max.bytes 1,000 (budget 2,000); three partitions of share 50 on one leader:
        // a round is 150, so at most 300 may wait for poll before requests stop.
        let mut book = Book::new(1_000, 50);
        book.sync_to(&positions(&[(0, 0), (1, 0), (2, 0)]));
        book.route(&snapshot(&[Some(1), Some(1), Some(1)]), Instant::now());
        for next in 0..2 {
            let plan = book.plan(1).expect("under two rounds waiting");
            assert_eq!(plan.wanted.len(), 3);
            let answers = (0..3).map(|p| answer(p, next, next + 1, 50)).collect();
            book.accept(1, &plan.epochs, answers, Instant::now(), far());
            book.release(plan.max_bytes);
        }
        assert_eq!(book.buffered, 300);
        assert!(book.plan(1).is_none(), "two rounds wait for poll");
        // Taking one partition's fetch wakes the tasks, and the next request still asks for
        // every partition: one emptied by poll is not fetched alone.
        let (taken, unblocked) = book.take();
        assert!(taken.is_some() && unblocked);
        let plan = book.plan(1).expect("under two rounds again");
        assert_eq!(plan.wanted.len(), 3);
    }

    #[test]
    fn a_round_counts_batches_the_broker_sent_past_the_share() {
        // max.partition.fetch.bytes 1: the broker still sends a whole first batch (KIP-74),
        // here 40 bytes. Counted in shares, one such fetch would stop the prefetch; counted
        // in what was sent, two fetches wait for poll before requests stop.
        let mut book = Book::new(1_000, 1);
        book.sync_to(&positions(&[(0, 0)]));
        book.route(&snapshot(&[Some(1)]), Instant::now());
        for next in 0..2 {
            let plan = book.plan(1).expect("under two rounds waiting");
            book.accept(
                1,
                &plan.epochs,
                vec![answer(0, next, next + 1, 40)],
                Instant::now(),
                far(),
            );
            book.release(plan.max_bytes);
        }
        assert_eq!(book.buffered, 80);
        assert!(
            book.plan(1).is_none(),
            "two rounds of what the broker sends wait for poll"
        );
    }

    #[test]
    fn held_bytes_count_against_the_budget() {
        let mut book = routed();
        assert!(!book.hold(150));
        // 150 held + a share of 100 > 200.
        assert!(book.plan(1).is_none());
        assert!(book.hold(0), "letting go unblocks the tasks");
        assert!(book.plan(1).is_some());
    }
}
