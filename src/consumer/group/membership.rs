//! Where this member stands in its group: one state, changed only by [`Membership::apply`].
//!
//! ```text
//!              poll starts a join                  SyncGroup answered
//!  Unjoined ──────────────────────▶ Joining ──────────────────────────▶ Stable
//!   ▲  ▲  ▲   (from Stable too,     │  JoinGroup answered: generation   │ rebalance under way,
//!   │  │  │    when rejoin is       │  refused: member id / generation  │ subscription changed,
//!   │  │  │    asked)               │  forgotten, retried               │ cooperative follow-up
//!   │  │  └────── join abandoned ───┘                                   │ → rejoin asked
//!   │  └─ loss reported by poll ── Lost { reason } ◀── fenced, or no poll in time
//!   └──── subscribe ────────────── Left ◀── close (from any state)
//! ```
//! Pure: the group (`group.rs`) sends the requests and applies their outcomes here; the
//! heartbeat task beats only while `Stable`; `poll` reports a `Lost` membership and starts
//! joins. Answers about a generation that is no longer current change nothing, so a
//! heartbeat or commit that raced a rebalance cannot fence the new generation. The states
//! are the protocol's, not the classic protocol's alone: KIP-848's member epoch fits where
//! the generation is.

use crate::error::ErrorCode;

/// The member's id and phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Membership {
    /// What the coordinator calls this member; empty until it named one, and after it
    /// forgot the member (or the member left).
    member_id: String,
    phase: Phase,
}

/// The phases of a membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// In no generation: the next poll joins, when subscribed.
    Unjoined,
    /// A join round (JoinGroup, SyncGroup) is under way: no heartbeats. Commits carry
    /// `generation`: the one being replaced, then the one JoinGroup answered.
    /// `rejoin`: something asked for another round once this one is done.
    Joining { generation: i32, rejoin: bool },
    /// A member of `generation`: heartbeats run. `rejoin`: the next poll joins again
    /// (the partitions stay this member's until then).
    Stable { generation: i32, rejoin: bool },
    /// Fenced, or no poll within `max.poll.interval.ms`: the partitions already belong to
    /// other members. The next poll reports them lost, then joins afresh.
    Lost { reason: String },
    /// Closed: nothing happens until a new subscription.
    Left,
}

/// What happened to the membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// The application subscribed (again).
    Subscribed,
    /// `poll` starts a join round.
    JoinStarted,
    /// JoinGroup answered MEMBER_ID_REQUIRED with the id to join with.
    MemberIdRequired(String),
    /// JoinGroup made this member part of a generation.
    JoinedGeneration { member_id: String, generation: i32 },
    /// A join round's request was refused with `code`; the round is retried.
    JoinRefused(ErrorCode),
    /// SyncGroup delivered the assignment. `follow_up`: the cooperative protocol needs
    /// another round for the partitions given up (KIP-429).
    Synced { follow_up: bool },
    /// The join round failed for good; the next poll tries again.
    JoinAbandoned,
    /// The coordinator refused a heartbeat or commit of `generation` with `code`.
    Refused { generation: i32, code: ErrorCode },
    /// No poll within `max.poll.interval.ms`: the member leaves the group.
    PollTimedOut { reason: String },
    /// `poll` told the application its partitions were lost.
    LossReported,
    /// The consumer closed and left the group.
    Left,
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            member_id: String::new(),
            phase: Phase::Unjoined,
        }
    }
}

impl Membership {
    pub(super) fn member_id(&self) -> &str {
        &self.member_id
    }

    #[cfg(test)]
    pub(super) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The generation a commit or heartbeat carries: -1 outside one.
    pub(super) fn generation(&self) -> i32 {
        match self.phase {
            Phase::Joining { generation, .. } | Phase::Stable { generation, .. } => generation,
            _ => -1,
        }
    }

    /// Whether heartbeats run.
    pub(super) fn is_stable(&self) -> bool {
        matches!(self.phase, Phase::Stable { .. })
    }

    /// Whether the next poll starts a join round (after reporting a loss, if any).
    pub(super) fn wants_join(&self) -> bool {
        matches!(
            self.phase,
            Phase::Unjoined | Phase::Lost { .. } | Phase::Stable { rejoin: true, .. }
        )
    }

    /// Why the membership was lost, while the loss is not reported yet.
    pub(super) fn lost(&self) -> Option<&str> {
        match &self.phase {
            Phase::Lost { reason } => Some(reason),
            _ => None,
        }
    }

    /// Moves to the state after `event`. Events that do not apply to the current state
    /// (a stale generation's answer, a join result after a close) change nothing.
    pub(super) fn apply(&mut self, event: Event) {
        use Phase::*;
        let phase = std::mem::replace(&mut self.phase, Unjoined);
        self.phase = match (phase, event) {
            (Left, Event::Subscribed) => Unjoined,
            (Joining { generation, .. }, Event::Subscribed) => Joining {
                generation,
                rejoin: true,
            },
            (Stable { generation, .. }, Event::Subscribed) => Stable {
                generation,
                rejoin: true,
            },
            (Unjoined, Event::JoinStarted) => Joining {
                generation: -1,
                rejoin: false,
            },
            (Stable { generation, .. }, Event::JoinStarted) => Joining {
                generation,
                rejoin: false,
            },
            (phase @ Joining { .. }, Event::MemberIdRequired(member_id)) => {
                self.member_id = member_id;
                phase
            }
            (
                Joining { rejoin, .. },
                Event::JoinedGeneration {
                    member_id,
                    generation,
                },
            ) => {
                self.member_id = member_id;
                Joining { generation, rejoin }
            }
            (Joining { generation, rejoin }, Event::JoinRefused(code)) => {
                // Rejoining with the id or generation the coordinator refused would only be
                // refused again.
                if code == ErrorCode::UNKNOWN_MEMBER_ID {
                    self.member_id.clear();
                }
                let generation = match code {
                    ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => -1,
                    _ => generation,
                };
                Joining { generation, rejoin }
            }
            (Joining { generation, rejoin }, Event::Synced { follow_up }) => Stable {
                generation,
                rejoin: rejoin || follow_up,
            },
            (Joining { .. }, Event::JoinAbandoned) => Unjoined,
            (
                Stable { generation, rejoin },
                Event::Refused {
                    generation: g,
                    code,
                },
            ) if g == generation => match code {
                ErrorCode::REBALANCE_IN_PROGRESS => Stable {
                    generation,
                    rejoin: true,
                },
                ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::FENCED_INSTANCE_ID => {
                    if code == ErrorCode::UNKNOWN_MEMBER_ID {
                        self.member_id.clear();
                    }
                    Lost {
                        reason: format!("the coordinator fenced this member ({code})"),
                    }
                }
                _ => Stable { generation, rejoin },
            },
            (Stable { .. }, Event::PollTimedOut { reason }) => {
                self.member_id.clear();
                Lost { reason }
            }
            (Lost { .. }, Event::LossReported) => Unjoined,
            (_, Event::Left) => {
                self.member_id.clear();
                Left
            }
            (phase, _) => phase,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Phase::*;

    fn member(id: &str, phase: Phase) -> Membership {
        Membership {
            member_id: id.to_string(),
            phase,
        }
    }

    fn joining(generation: i32, rejoin: bool) -> Phase {
        Joining { generation, rejoin }
    }

    fn stable(generation: i32, rejoin: bool) -> Phase {
        Stable { generation, rejoin }
    }

    fn lost(reason: &str) -> Phase {
        Lost {
            reason: reason.to_string(),
        }
    }

    fn refused(generation: i32, code: ErrorCode) -> Event {
        Event::Refused { generation, code }
    }

    fn fenced(code: ErrorCode) -> Phase {
        lost(&format!("the coordinator fenced this member ({code})"))
    }

    #[test]
    fn every_transition() {
        use ErrorCode as E;
        let timed_out = || Event::PollTimedOut {
            reason: "no poll".into(),
        };
        #[rustfmt::skip]
        let table: Vec<(&str, Membership, Event, Membership)> = vec![
            ("a first join",
             member("", Unjoined), Event::JoinStarted, member("", joining(-1, false))),
            ("a rejoin keeps the generation for commits meanwhile",
             member("m", stable(3, true)), Event::JoinStarted, member("m", joining(3, false))),
            ("no join before the loss is reported",
             member("m", lost("x")), Event::JoinStarted, member("m", lost("x"))),
            ("no join after close",
             member("", Left), Event::JoinStarted, member("", Left)),
            ("no second join while one runs",
             member("m", joining(3, true)), Event::JoinStarted, member("m", joining(3, true))),
            ("MEMBER_ID_REQUIRED names the id to join with",
             member("", joining(-1, false)), Event::MemberIdRequired("m1".into()),
             member("m1", joining(-1, false))),
            ("JoinGroup answers the id and generation",
             member("m1", joining(-1, false)),
             Event::JoinedGeneration { member_id: "m1".into(), generation: 4 },
             member("m1", joining(4, false))),
            ("UNKNOWN_MEMBER_ID: join again as a new member",
             member("m1", joining(4, false)), Event::JoinRefused(E::UNKNOWN_MEMBER_ID),
             member("", joining(-1, false))),
            ("ILLEGAL_GENERATION: join again without the generation",
             member("m1", joining(4, false)), Event::JoinRefused(E::ILLEGAL_GENERATION),
             member("m1", joining(-1, false))),
            ("other refusals keep id and generation",
             member("m1", joining(4, true)), Event::JoinRefused(E::REBALANCE_IN_PROGRESS),
             member("m1", joining(4, true))),
            ("a refusal outside a join changes nothing",
             member("m1", stable(4, false)), Event::JoinRefused(E::UNKNOWN_MEMBER_ID),
             member("m1", stable(4, false))),
            ("SyncGroup makes the member stable",
             member("m1", joining(4, false)), Event::Synced { follow_up: false },
             member("m1", stable(4, false))),
            ("a cooperative follow-up round",
             member("m1", joining(4, false)), Event::Synced { follow_up: true },
             member("m1", stable(4, true))),
            ("a subscription changed during the join is not forgotten",
             member("m1", joining(4, false)), Event::Subscribed,
             member("m1", joining(4, true))),
            ("... and rejoins once the round is over",
             member("m1", joining(4, true)), Event::Synced { follow_up: false },
             member("m1", stable(4, true))),
            ("an abandoned join leaves the generation, not the id",
             member("m1", joining(4, false)), Event::JoinAbandoned, member("m1", Unjoined)),
            ("a join result after close changes nothing",
             member("", Left), Event::Synced { follow_up: false }, member("", Left)),
            ("a new subscription asks for a rejoin",
             member("m1", stable(4, false)), Event::Subscribed, member("m1", stable(4, true))),
            ("a subscription while unjoined: the next poll joins anyway",
             member("", Unjoined), Event::Subscribed, member("", Unjoined)),
            ("a subscription after close joins again",
             member("", Left), Event::Subscribed, member("", Unjoined)),
            ("REBALANCE_IN_PROGRESS asks for a rejoin",
             member("m1", stable(4, false)), refused(4, E::REBALANCE_IN_PROGRESS),
             member("m1", stable(4, true))),
            ("UNKNOWN_MEMBER_ID: lost, and the id forgotten",
             member("m1", stable(4, false)), refused(4, E::UNKNOWN_MEMBER_ID),
             member("", fenced(E::UNKNOWN_MEMBER_ID))),
            ("ILLEGAL_GENERATION: lost",
             member("m1", stable(4, true)), refused(4, E::ILLEGAL_GENERATION),
             member("m1", fenced(E::ILLEGAL_GENERATION))),
            ("FENCED_INSTANCE_ID: lost",
             member("m1", stable(4, false)), refused(4, E::FENCED_INSTANCE_ID),
             member("m1", fenced(E::FENCED_INSTANCE_ID))),
            ("an answer about an older generation is stale",
             member("m1", stable(5, false)), refused(4, E::ILLEGAL_GENERATION),
             member("m1", stable(5, false))),
            ("an answer that arrives during a join is stale",
             member("m1", joining(4, false)), refused(4, E::ILLEGAL_GENERATION),
             member("m1", joining(4, false))),
            ("a coordinator error is not a refusal of the member",
             member("m1", stable(4, false)), refused(4, E::COORDINATOR_NOT_AVAILABLE),
             member("m1", stable(4, false))),
            ("no poll in time: lost, and the id given up (LeaveGroup)",
             member("m1", stable(4, false)), timed_out(), member("", lost("no poll"))),
            ("the poll timeout counts only while stable",
             member("m1", joining(4, false)), timed_out(), member("m1", joining(4, false))),
            ("a reported loss leaves the member unjoined",
             member("m1", lost("x")), Event::LossReported, member("m1", Unjoined)),
            ("nothing to report otherwise",
             member("m1", stable(4, false)), Event::LossReported,
             member("m1", stable(4, false))),
            ("close from stable",
             member("m1", stable(4, false)), Event::Left, member("", Left)),
            ("close during a join",
             member("m1", joining(4, false)), Event::Left, member("", Left)),
            ("close after a loss",
             member("m1", lost("x")), Event::Left, member("", Left)),
        ];
        for (name, before, event, after) in table {
            let mut m = before.clone();
            m.apply(event.clone());
            assert_eq!(m, after, "{name}: {before:?} + {event:?}");
        }
    }

    #[test]
    fn what_the_heartbeat_task_and_poll_read() {
        let cases = [
            (member("", Unjoined), -1, false, true, None),
            (member("m", joining(4, false)), 4, false, false, None),
            (member("m", stable(4, false)), 4, true, false, None),
            (member("m", stable(4, true)), 4, true, true, None),
            (member("m", lost("gone")), -1, false, true, Some("gone")),
            (member("", Left), -1, false, false, None),
        ];
        for (m, generation, beats, joins, lost) in cases {
            assert_eq!(m.generation(), generation, "{m:?}");
            assert_eq!(m.is_stable(), beats, "{m:?}");
            assert_eq!(m.wants_join(), joins, "{m:?}");
            assert_eq!(m.lost(), lost, "{m:?}");
        }
    }

    #[test]
    fn a_member_joins_is_fenced_reports_the_loss_and_joins_again() {
        let mut m = Membership::default();
        assert!(m.wants_join());
        m.apply(Event::JoinStarted);
        m.apply(Event::MemberIdRequired("m1".into()));
        m.apply(Event::JoinedGeneration {
            member_id: "m1".into(),
            generation: 1,
        });
        m.apply(Event::Synced { follow_up: false });
        assert_eq!((m.member_id(), m.phase()), ("m1", &stable(1, false)));
        m.apply(refused(1, ErrorCode::ILLEGAL_GENERATION));
        assert!(m.lost().is_some() && m.wants_join());
        m.apply(Event::LossReported);
        m.apply(Event::JoinStarted);
        assert_eq!((m.member_id(), m.phase()), ("m1", &joining(-1, false)));
    }
}
