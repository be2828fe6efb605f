//! A member of a KIP-848 group (`group.protocol=consumer`): one state, changed only by
//! [`ConsumerMember::apply`], and the heartbeat it sends next.
//!
//! ```text
//!               subscribe                first answer (epoch, assignment)
//!  Unsubscribed ─────────▶ Joining ──────────────────────────────────────▶ Stable
//!       ▲                    ▲  ▲                                     ▲     │ assignment
//!       │ leave answered     │  │ loss reported by poll   acknowledged│     ▼ differs
//!    Leaving ◀── close ──────┼──┼── (any member phase)         Reconciling { handed }
//!                            │  Fenced { reason } ◀── FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID,
//!                            │                        no poll for max.poll.interval.ms
//!                  subscribe └─ Failed { error } ◀── GROUP_MAX_SIZE_REACHED,
//!                                                   UNSUPPORTED_ASSIGNOR,
//!                                                   INVALID_REGULAR_EXPRESSION, no KIP-848 broker …
//! ```
//! The broker assigns; the member reconciles: `poll` revokes what it no longer owns (commit,
//! revoked hook), takes what is new (offsets, assigned hook), and reports the result here
//! (`Reconciled`), which the next heartbeat acknowledges at once. Heartbeats go every
//! interval the broker names, and at once when there is news (a join, a subscription
//! change, an acknowledgement). A full heartbeat (every field) goes on joining and after
//! any failure; otherwise unchanged fields are sent as null, as Java does. One heartbeat is
//! in flight at a time, and an answer to one sent before the member was fenced, timed out
//! or left is ignored. Pure: the group (`consumer_heartbeat.rs`) sends and applies.

use crate::error::{Error, ErrorCode};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// A partition as KIP-848 names it: by topic id.
pub(crate) type IdPartition = (Uuid, i32);

/// The member epoch a dynamic member leaves with.
const LEAVE_EPOCH: i32 = -1;
/// The member epoch a static member (`group.instance.id`) leaves with: it keeps its place
/// for a restart within the session timeout.
const LEAVE_STATIC_EPOCH: i32 = -2;

/// A new member id, as Java names its own (KIP-1082): 16 random bytes in Kafka's URL-safe
/// base64, like `Uuid.randomUuid().toString()`.
pub(crate) fn new_member_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// What the member subscribes to, as its heartbeats say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subscription {
    /// Topic names, sorted: `subscribe`, or the matches of a pattern the client matched
    /// (`subscribe_pattern`).
    Topics(Vec<String>),
    /// A regular expression (RE2J) the broker matches against every topic, those created
    /// later included (`subscribe_broker_pattern`).
    Pattern(String),
}

impl Subscription {
    /// Nothing to join a group for: no topic, no pattern.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Subscription::Topics(topics) if topics.is_empty())
    }
}

/// The phases of a KIP-848 membership.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// Not in the group: nothing is sent.
    Unsubscribed,
    /// Heartbeating with epoch 0 until the first answer.
    Joining,
    /// What this member owns is what the broker assigned.
    Stable,
    /// The broker assigned something else: `poll` reconciles (`handed`: it has taken the
    /// work), heartbeats go on meanwhile.
    Reconciling { handed: bool },
    /// The broker dropped this member, or it stopped polling: its partitions belong to
    /// others. The next poll reports them lost, and the member joins again with epoch 0.
    Fenced { reason: String },
    /// Leaving (close): the leave heartbeat is on its way.
    Leaving,
    /// The group refused this member for good (a setting must change): every poll returns
    /// the error until a new subscription.
    Failed { error: Error },
}

/// What happened to the membership.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// The application subscribed.
    Subscribed(Subscription),
    /// Heartbeat `seq` was answered without error.
    Answered {
        seq: u64,
        member_id: Option<String>,
        epoch: i32,
        interval: Duration,
        /// Present when the assignment changed.
        assignment: Option<BTreeSet<IdPartition>>,
    },
    /// Heartbeat `seq` failed with `error`; a retriable failure tries again in `retry_in`.
    Failed {
        seq: u64,
        error: Error,
        retry_in: Duration,
    },
    /// `poll` took the reconciliation work.
    ReconcileStarted,
    /// `poll` finished reconciling: these partitions are now owned.
    Reconciled(BTreeSet<IdPartition>),
    /// No poll within `max.poll.interval.ms`: the member left the group.
    PollTimedOut { reason: String },
    /// `poll` reported the lost partitions.
    LossReported,
    /// The leave heartbeat was answered (or given up on).
    Left,
}

/// What the next heartbeat is, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing to send (not a member, or a heartbeat in flight).
    Idle,
    /// Send at this instant (or when woken with news).
    At(Instant),
    /// Send now.
    Now,
}

/// One heartbeat's contents; `None` fields go as null (unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Beat {
    pub seq: u64,
    pub member_id: String,
    pub epoch: i32,
    /// Every field is sent: rebalance timeout, rack, assignor.
    pub full: bool,
    pub subscription: Option<Subscription>,
    pub owned: Option<Vec<IdPartition>>,
}

/// A heartbeat in flight: its sequence number, and the subscription and owned partitions it
/// said (`None`: sent as null).
type InFlight = (u64, Option<Subscription>, Option<BTreeSet<IdPartition>>);

/// The member's id, epoch, phase and what its heartbeats have said.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerMember {
    /// Named by the member (KIP-1082), kept for the consumer's life.
    member_id: String,
    epoch: i32,
    phase: Phase,
    /// Static membership (`group.instance.id`): it leaves with epoch -2.
    is_static: bool,
    /// The broker's heartbeat interval (`group.consumer.heartbeat.interval.ms`).
    interval: Duration,
    /// When the next heartbeat is due, news aside.
    next_beat: Instant,
    /// A failure: the next heartbeat waits for `next_beat` even with news.
    backing_off: bool,
    /// The heartbeat in flight, and what it said.
    in_flight: Option<InFlight>,
    seq: u64,
    /// Every field goes in the next heartbeat.
    full: bool,
    subscription: Subscription,
    /// What the broker was last told, when it surely knows.
    sent_subscription: Option<Subscription>,
    sent_owned: Option<BTreeSet<IdPartition>>,
    /// The broker's latest assignment.
    target: BTreeSet<IdPartition>,
    /// What `poll` has reconciled: the partitions this member owns.
    owned: BTreeSet<IdPartition>,
}

impl ConsumerMember {
    pub(crate) fn new(member_id: String, is_static: bool) -> ConsumerMember {
        ConsumerMember {
            member_id,
            epoch: 0,
            phase: Phase::Unsubscribed,
            is_static,
            interval: Duration::from_secs(5),
            next_beat: Instant::now(),
            backing_off: false,
            in_flight: None,
            seq: 0,
            full: true,
            subscription: Subscription::Topics(Vec::new()),
            sent_subscription: None,
            sent_owned: None,
            target: BTreeSet::new(),
            owned: BTreeSet::new(),
        }
    }

    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch commits carry (OffsetCommit v9+).
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Why the membership was lost, while the loss is not reported yet.
    pub(crate) fn lost(&self) -> Option<&str> {
        match &self.phase {
            Phase::Fenced { reason } => Some(reason),
            _ => None,
        }
    }

    /// The error that ended the membership, for `poll` to return.
    pub(crate) fn failure(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Failed { error } => Some(error),
            _ => None,
        }
    }

    /// Whether the member is in the group and owes it polls (`max.poll.interval.ms`).
    pub(crate) fn is_member(&self) -> bool {
        matches!(self.phase, Phase::Stable | Phase::Reconciling { .. })
    }

    /// The assignment to reconcile to, while `poll` has not taken the work.
    pub(crate) fn reconciliation(&self) -> Option<&BTreeSet<IdPartition>> {
        match self.phase {
            Phase::Reconciling { handed: false } => Some(&self.target),
            _ => None,
        }
    }

    /// When the next heartbeat goes.
    pub(crate) fn due(&self) -> Due {
        let beating = matches!(
            self.phase,
            Phase::Joining | Phase::Stable | Phase::Reconciling { .. }
        );
        if !beating || self.in_flight.is_some() {
            return Due::Idle;
        }
        let news = self.full
            || self.sent_subscription.as_ref() != Some(&self.subscription)
            || self.sent_owned.as_ref() != Some(&self.owned);
        if (news && !self.backing_off) || self.next_beat <= Instant::now() {
            Due::Now
        } else {
            Due::At(self.next_beat)
        }
    }

    /// The heartbeat to send now; it counts as in flight until answered.
    pub(crate) fn beat(&mut self) -> Beat {
        self.seq += 1;
        let subscription = (self.full
            || self.sent_subscription.as_ref() != Some(&self.subscription))
        .then(|| self.subscription.clone());
        let owned = (self.full || self.sent_owned.as_ref() != Some(&self.owned))
            .then(|| self.owned.clone());
        self.in_flight = Some((self.seq, subscription.clone(), owned.clone()));
        Beat {
            seq: self.seq,
            member_id: self.member_id.clone(),
            epoch: self.epoch,
            full: self.full,
            subscription,
            owned: owned.map(|o| o.into_iter().collect()),
        }
    }

    /// Starts leaving (close): the member id and epoch of the leave heartbeat, when the
    /// broker may know this member.
    pub(crate) fn leave(&mut self) -> Option<(String, i32)> {
        let known = matches!(self.phase, Phase::Stable | Phase::Reconciling { .. })
            || (matches!(self.phase, Phase::Joining)
                && (self.in_flight.is_some() || self.epoch > 0));
        self.forget_assignment();
        self.phase = if known {
            Phase::Leaving
        } else {
            Phase::Unsubscribed
        };
        known.then(|| (self.member_id.clone(), self.leave_epoch()))
    }

    /// The epoch a member leaves with: -2 keeps a static member's place.
    pub(crate) fn leave_epoch(&self) -> i32 {
        if self.is_static {
            LEAVE_STATIC_EPOCH
        } else {
            LEAVE_EPOCH
        }
    }

    /// Back to epoch 0 with nothing owned; every field goes in the next heartbeat.
    fn forget_assignment(&mut self) {
        self.epoch = 0;
        self.target.clear();
        self.owned.clear();
        self.in_flight = None;
        self.full = true;
        self.sent_subscription = None;
        self.sent_owned = None;
        self.backing_off = false;
    }

    /// Joining (again) from scratch, at once.
    fn join(&mut self) {
        self.forget_assignment();
        self.next_beat = Instant::now();
        self.phase = Phase::Joining;
    }

    /// Stable when what is owned is what was assigned, else reconciling (unless `poll` is
    /// at it already).
    fn settle(&mut self, handed: bool) {
        self.phase = if handed {
            Phase::Reconciling { handed: true }
        } else if self.target == self.owned {
            Phase::Stable
        } else {
            Phase::Reconciling { handed: false }
        };
    }

    /// Moves to the state after `event`. Events that do not apply (a stale answer, a
    /// reconciliation result after a loss) change nothing.
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::Subscribed(subscription) => {
                self.subscription = subscription;
                if matches!(
                    self.phase,
                    Phase::Unsubscribed | Phase::Leaving | Phase::Failed { .. }
                ) && !self.subscription.is_empty()
                {
                    self.join();
                }
            }
            Event::Answered {
                seq,
                member_id,
                epoch,
                interval,
                assignment,
            } => {
                let Some((sent_seq, subscription, owned)) = self.in_flight.take() else {
                    return;
                };
                if sent_seq != seq {
                    self.in_flight = Some((sent_seq, subscription, owned));
                    return;
                }
                if let Some(id) = member_id.filter(|id| !id.is_empty()) {
                    self.member_id = id;
                }
                self.epoch = epoch;
                self.interval = interval;
                self.next_beat = Instant::now() + interval;
                self.backing_off = false;
                self.full = false;
                if subscription.is_some() {
                    self.sent_subscription = subscription;
                }
                if owned.is_some() {
                    self.sent_owned = owned;
                }
                if let Some(assignment) = assignment {
                    self.target = assignment;
                }
                let handed = matches!(self.phase, Phase::Reconciling { handed: true });
                self.settle(handed);
            }
            Event::Failed {
                seq,
                error,
                retry_in,
            } => {
                if self.in_flight.as_ref().map(|f| f.0) != Some(seq) {
                    return;
                }
                self.in_flight = None;
                match classify(&error) {
                    Failure::Fenced(code) => {
                        self.forget_assignment();
                        self.phase = Phase::Fenced {
                            reason: format!("the group coordinator fenced this member ({code})"),
                        };
                    }
                    Failure::Fatal => {
                        self.forget_assignment();
                        self.phase = Phase::Failed { error };
                    }
                    Failure::Retry => {
                        // The broker may not have seen what this heartbeat said: say it all.
                        self.full = true;
                        self.sent_subscription = None;
                        self.sent_owned = None;
                        self.backing_off = true;
                        self.next_beat = Instant::now() + retry_in;
                    }
                }
            }
            Event::ReconcileStarted => {
                if matches!(self.phase, Phase::Reconciling { handed: false }) {
                    self.phase = Phase::Reconciling { handed: true };
                }
            }
            Event::Reconciled(owned) => {
                if matches!(self.phase, Phase::Reconciling { handed: true }) {
                    self.owned = owned;
                    self.settle(false);
                }
            }
            Event::PollTimedOut { reason } => {
                if matches!(
                    self.phase,
                    Phase::Joining | Phase::Stable | Phase::Reconciling { .. }
                ) {
                    self.forget_assignment();
                    self.phase = Phase::Fenced { reason };
                }
            }
            Event::LossReported => {
                if matches!(self.phase, Phase::Fenced { .. }) {
                    self.join();
                }
            }
            Event::Left => {
                if matches!(self.phase, Phase::Leaving) {
                    self.phase = Phase::Unsubscribed;
                }
            }
        }
    }
}

/// What a failed heartbeat means for the member.
enum Failure {
    /// The broker no longer knows this member at this epoch: rejoin with epoch 0.
    Fenced(ErrorCode),
    /// A setting must change: the member stops.
    Fatal,
    /// Try again after a backoff (coordinator moved, connection lost, ...).
    Retry,
}

fn classify(error: &Error) -> Failure {
    if matches!(error, Error::UnsupportedVersion { .. }) {
        return Failure::Fatal;
    }
    match error.code() {
        Some(code @ (ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID)) => {
            Failure::Fenced(code)
        }
        Some(
            ErrorCode::GROUP_MAX_SIZE_REACHED
            | ErrorCode::UNSUPPORTED_ASSIGNOR
            | ErrorCode::INVALID_REGULAR_EXPRESSION
            | ErrorCode::UNRELEASED_INSTANCE_ID
            | ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::TOPIC_AUTHORIZATION_FAILED
            | ErrorCode::INVALID_REQUEST
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::GROUP_ID_NOT_FOUND
            | ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
        ) => Failure::Fatal,
        _ => Failure::Retry,
    }
}

#[cfg(test)]
mod tests;
