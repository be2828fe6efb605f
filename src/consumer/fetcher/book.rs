//! The fetcher's book: per partition where it is fetched from (leader) and up to where
//! (epoch, offsets), the completed fetches waiting for `poll`, and the memory budget.
//! Pure: the fetcher's tasks do the I/O and call in here under one lock; time comes in as
//! `now`. See `fetcher.rs` for the rules this keeps.

use crate::cluster::Snapshot;
use crate::consumer::fetch::PartitionFetch;
use crate::consumer::fetch_session::PartitionParams;
use crate::error::{Error, ErrorCode, RetryAction};
use crate::record::TopicPartition;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use tokio::time::Instant;

pub(super) struct Book {
    parts: HashMap<TopicPartition, Part>,
    completed: VecDeque<Completed>,
    /// Errors not tied to a partition, for `poll`.
    errors: VecDeque<Error>,
    /// Bytes in `completed`.
    buffered: usize,
    /// Bytes reserved by Fetches in flight.
    reserved: usize,
    /// Buffered plus reserved bytes stay within this (2 × `fetch.max.bytes`).
    budget: usize,
    /// `fetch.max.bytes`: the most one request asks for.
    fetch_max_bytes: usize,
    max_partition_bytes: i32,
    /// The latest high watermark each partition's fetches saw (kept while it is paused).
    high_watermarks: HashMap<TopicPartition, i64>,
    next_epoch: u64,
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

/// One partition's decoded answer, before it is checked against the book.
pub(super) struct Answer {
    pub tp: TopicPartition,
    pub fetch_offset: i64,
    pub bytes: usize,
    pub high_watermark: i64,
    pub outcome: PartitionFetch,
}

/// What routing found: leaders whose tasks have new partitions, and whether some partition
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
}

impl Book {
    pub(super) fn new(fetch_max_bytes: usize, max_partition_bytes: i32) -> Book {
        Book {
            parts: HashMap::new(),
            completed: VecDeque::new(),
            errors: VecDeque::new(),
            buffered: 0,
            reserved: 0,
            budget: 2 * fetch_max_bytes,
            fetch_max_bytes,
            max_partition_bytes,
            high_watermarks: HashMap::new(),
            next_epoch: 0,
        }
    }

    /// Makes the fetched set exactly `active` (partition → consumer position); `true` when
    /// something changed (the tasks must be routed and woken). See `Fetcher::sync`.
    pub(super) fn sync(&mut self, active: &BTreeMap<TopicPartition, i64>) -> bool {
        let before = self.parts.len();
        self.parts.retain(|tp, _| active.contains_key(tp));
        let mut changed = self.parts.len() != before;
        for (tp, &position) in active {
            if self.parts.get(tp).is_some_and(|p| p.taken_to == position) {
                continue;
            }
            self.next_epoch += 1;
            self.parts.insert(
                tp.clone(),
                Part {
                    epoch: self.next_epoch,
                    taken_to: position,
                    next_offset: position,
                    leader: None,
                    leader_epoch: -1,
                    not_before: None,
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

    /// The next completed fetch (or error) in arrival order, skipping stale ones, and
    /// whether taking it unblocked the tasks (they must be woken). See `Fetcher::take`.
    pub(super) fn take(&mut self) -> (Option<Taken>, bool) {
        if let Some(e) = self.errors.pop_front() {
            return (Some(Taken::Error(e)), false);
        }
        let was_blocked = self.buffered + self.reserved >= self.fetch_max_bytes;
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
                PartitionFetch::Records { next_offset, .. } => part.taken_to = *next_offset,
                _ => {
                    self.parts.remove(&c.tp);
                }
            }
            found = Some(Taken::Fetch(c));
            break;
        }
        let unblocked = was_blocked && self.buffered + self.reserved < self.fetch_max_bytes;
        (found, unblocked)
    }

    pub(super) fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.high_watermarks.get(tp).copied()
    }

    /// Gives every fetchable partition the leader `snapshot` names.
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
            match leader {
                Some((leader, epoch)) => {
                    if part.leader != Some(leader) || part.leader_epoch != epoch {
                        part.leader = Some(leader);
                        part.leader_epoch = epoch;
                        routing.moved_to.push(leader);
                    }
                }
                None => {
                    part.leader = None;
                    routing.waiting = true;
                }
            }
        }
        routing
    }

    /// The next request's partitions for `broker`, with the bytes reserved for it; `None`
    /// when there is nothing to fetch or the memory bound is reached.
    pub(super) fn plan(&mut self, broker: i32) -> Option<Planned> {
        let mut wanted = BTreeMap::new();
        let mut epochs = HashMap::new();
        let mut leaders = HashSet::new();
        for (tp, part) in &self.parts {
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
                    max_bytes: self.max_partition_bytes,
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
        if self.buffered + self.reserved + share > self.budget {
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

    /// The broker failed as a whole: its partitions wait until `not_before`, then go
    /// wherever metadata says they are led.
    pub(super) fn unroute(&mut self, broker: i32, not_before: Instant) {
        for part in self.parts.values_mut() {
            if part.leader == Some(broker) {
                part.leader = None;
                part.not_before = Some(not_before);
            }
        }
    }

    /// Queues an error not tied to a partition for `poll`; one at a time, so a task that
    /// keeps failing while nobody polls does not pile them up.
    pub(super) fn report(&mut self, e: Error) {
        if self.errors.is_empty() {
            self.errors.push_back(e);
        }
    }

    /// Takes in `broker`'s answers to a request planned under `epochs`. An answer is kept
    /// only if its partition still has that epoch, is still led by `broker`, is not parked
    /// and still fetches from the answer's offset. Records move the next fetch offset;
    /// OFFSET_OUT_OF_RANGE, corrupt data and fatal codes are queued and park the partition;
    /// other (stale leader) codes unroute it until `retry_at`.
    pub(super) fn accept(
        &mut self,
        broker: i32,
        epochs: &Epochs,
        answers: Vec<Answer>,
        retry_at: Instant,
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
                || part.leader != Some(broker)
                || part.parked
                || part.next_offset != answer.fetch_offset
            {
                continue; // sought, moved or restarted meanwhile
            }
            let park = match &answer.outcome {
                PartitionFetch::Records { next_offset, .. } => {
                    match self.high_watermarks.get_mut(&answer.tp) {
                        Some(h) => *h = answer.high_watermark,
                        None => {
                            let tp = answer.tp.clone();
                            self.high_watermarks.insert(tp, answer.high_watermark);
                        }
                    }
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
                    part.not_before = Some(retry_at);
                    accepted.stale_leader = true;
                    continue;
                }
                PartitionFetch::Error(_) | PartitionFetch::Corrupt(_) => true,
            };
            part.parked = park;
            self.buffered += answer.bytes;
            self.completed.push_back(Completed {
                tp: answer.tp,
                epoch,
                fetch_offset: answer.fetch_offset,
                bytes: answer.bytes,
                outcome: answer.outcome,
            });
            accepted.queued = true;
        }
        accepted
    }
}
