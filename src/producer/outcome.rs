//! What becomes of a batch once an attempt has an answer: a pure function of the answer and
//! of what is known of the batch, so the produce flow's table (DESIGN.md) is tested row by
//! row here, and the sender only carries the decision out.
//!
//! The decision says what the broker did with the batch (wrote it, maybe wrote it, or did not)
//! and so what becomes of its sequence ([`Sequence`]); how a sequence is given back is the
//! caller's business. With one batch in flight per partition, giving it back rewinds the
//! partition's next sequence; with several in flight (a later change), the caller would
//! rewind or re-sequence the batches behind it, without a change to this table.

use crate::error::{ErrorCode, RetryAction};

/// What came back for one batch's attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The partition's part of a Produce response.
    Partition {
        code: ErrorCode,
        base_offset: i64,
        log_append_time: i64,
    },
    /// Sent with `acks=0`: no answer comes, so it counts as written at an unknown offset.
    Unacknowledged,
    /// No answer for the partition: the request could not be sent, or it was and the
    /// connection, the timeout or a response without the partition left no answer.
    /// `outcome_unknown` when the broker may have written it.
    Failed {
        action: RetryAction,
        outcome_unknown: bool,
    },
}

/// What is known of the batch when its answer comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    /// `enable.idempotence`: the batch carries a sequence the broker deduplicates by.
    pub idempotent: bool,
    /// An earlier attempt may have been written.
    pub outcome_unknown: bool,
    /// `delivery.timeout.ms` has passed since the batch was created.
    pub expired: bool,
    /// Fewer attempts were retried than `retries` allows.
    pub retries_left: bool,
    /// More than one record: a batch too large for the topic can be sent in halves.
    pub splittable: bool,
}

/// What becomes of the batch's sequence (with idempotence; without, there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sequence {
    /// The batch keeps it: it is retried as it was, or an attempt may have been written and
    /// only a retry under the same epoch and sequence lets the broker recognise it.
    Keep,
    /// The broker wrote none of the batch: its sequences are free again.
    Release,
    /// The producer's epoch is bumped before anything is sent again, and every partition
    /// restarts at sequence 0: the batch gets a new one if it is sent again.
    Forget,
}

/// The error a failed batch's records get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailWith {
    /// The answer's own error.
    Answer,
    /// `Error::DeliveryTimeout`: a retriable failure outlived `delivery.timeout.ms`.
    DeliveryTimeout,
}

/// What to do with the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Written: record `i` is at `base_offset + i` (`-1`: offset unknown), with the log
    /// append time as its timestamp when it is `>= 0`.
    Succeed {
        base_offset: i64,
        log_append_time: i64,
    },
    /// Sent again after the retry backoff. `outcome_unknown`: the batch's new knowledge.
    Retry {
        sequence: Sequence,
        outcome_unknown: bool,
    },
    /// Too large for the topic (Java's `splitAndReenqueue`): the batch's sequences are given
    /// back and it is sent again in two halves, each sequenced anew. A batch that turns out
    /// not to split fails with the answer's error.
    Split,
    /// Every record fails.
    Fail { error: FailWith, sequence: Sequence },
}

/// An [`Action`] and what the producer must do besides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub action: Action,
    /// The leader may have moved, or its connection is gone: ask for fresh metadata.
    pub refresh_metadata: bool,
    /// The broker lost or refused the producer's state: bump the epoch (KIP-360).
    pub bump_epoch: bool,
}

/// The produce flow's table: what to do with a batch given its answer.
pub(crate) fn decide(answer: Answer, batch: Known) -> Decision {
    let code = match answer {
        Answer::Unacknowledged => return succeed(-1, -1),
        Answer::Failed {
            action,
            outcome_unknown,
        } => return after_failure(action, batch.with_unknown(outcome_unknown), false),
        Answer::Partition {
            code: ErrorCode::NONE,
            base_offset,
            log_append_time,
        } => return succeed(base_offset, log_append_time),
        Answer::Partition { code, .. } => code,
    };
    match code {
        // An earlier attempt landed; the broker no longer knows its offset.
        ErrorCode::DUPLICATE_SEQUENCE_NUMBER if batch.idempotent => succeed(-1, -1),
        // Refused, so this attempt was not written, and neither was an earlier one (it would
        // make this one a duplicate): sent again under a new epoch and new sequences.
        ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        | ErrorCode::INVALID_PRODUCER_EPOCH
            if batch.idempotent =>
        {
            let known = Known {
                outcome_unknown: false,
                ..batch
            };
            Decision {
                bump_epoch: true,
                ..after_failure(RetryAction::Retry, known, true)
            }
        }
        // The topic's max.message.bytes is below this batch: halves until single records
        // remain, which then fail on their own.
        ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE if batch.splittable => {
            Decision {
                action: Action::Split,
                refresh_metadata: false,
                bump_epoch: false,
            }
        }
        // The leader appended the batch but replication did not confirm in time.
        ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => {
            after_failure(code.retry_action(), batch.with_unknown(true), false)
        }
        _ => after_failure(code.retry_action(), batch, false),
    }
}

/// The sequence of a batch that fails: given back unless the broker may have written it
/// (the partition's later batches then line up behind it, or an epoch bump resets them).
pub(crate) fn sequence_of_failed(outcome_unknown: bool) -> Sequence {
    if outcome_unknown {
        Sequence::Keep
    } else {
        Sequence::Release
    }
}

impl Known {
    /// Once an attempt may have been written, the batch stays of unknown outcome until the
    /// broker answers for it: a later attempt that fails before reaching the broker proves
    /// nothing about the earlier one.
    fn with_unknown(self, outcome_unknown: bool) -> Known {
        Known {
            outcome_unknown: self.outcome_unknown || outcome_unknown,
            ..self
        }
    }
}

fn succeed(base_offset: i64, log_append_time: i64) -> Decision {
    Decision {
        action: Action::Succeed {
            base_offset,
            log_append_time,
        },
        refresh_metadata: false,
        bump_epoch: false,
    }
}

/// Retry or fail after a failed attempt. With idempotence, a batch that may have been written
/// is retried until the broker answers, whatever the time or the retries: failing it could
/// report a written record as lost, and only a retry with the same sequence can tell.
/// `forget`: the batch's sequence is void (an epoch bump comes first).
fn after_failure(retry: RetryAction, batch: Known, forget: bool) -> Decision {
    let retriable = retry != RetryAction::NoRetry;
    let must_resolve = batch.idempotent && batch.outcome_unknown;
    let action = if retriable && (must_resolve || (batch.retries_left && !batch.expired)) {
        Action::Retry {
            sequence: if forget {
                Sequence::Forget
            } else {
                Sequence::Keep
            },
            outcome_unknown: batch.outcome_unknown,
        }
    } else {
        Action::Fail {
            error: if retriable && batch.expired {
                FailWith::DeliveryTimeout
            } else {
                FailWith::Answer
            },
            sequence: if forget {
                Sequence::Forget
            } else {
                sequence_of_failed(batch.outcome_unknown)
            },
        }
    };
    Decision {
        action,
        refresh_metadata: matches!(
            retry,
            RetryAction::RefreshMetadataAndRetry | RetryAction::Reconnect
        ),
        bump_epoch: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::{Fail, Retry, Split, Succeed};
    use FailWith::DeliveryTimeout as Timeout;
    use Sequence::{Forget, Keep, Release};

    /// An idempotent batch, of known outcome, within its time and retries, of several records.
    const IDEM: Known = Known {
        idempotent: true,
        outcome_unknown: false,
        expired: false,
        retries_left: true,
        splittable: true,
    };
    const PLAIN: Known = Known {
        idempotent: false,
        ..IDEM
    };

    fn unknown(k: Known) -> Known {
        Known {
            outcome_unknown: true,
            ..k
        }
    }
    fn expired(k: Known) -> Known {
        Known { expired: true, ..k }
    }
    fn no_retries(k: Known) -> Known {
        Known {
            retries_left: false,
            ..k
        }
    }
    fn single(k: Known) -> Known {
        Known {
            splittable: false,
            ..k
        }
    }

    fn code(code: ErrorCode) -> Answer {
        Answer::Partition {
            code,
            base_offset: -1,
            log_append_time: -1,
        }
    }
    fn failed(action: RetryAction, outcome_unknown: bool) -> Answer {
        Answer::Failed {
            action,
            outcome_unknown,
        }
    }
    const LOST: Answer = Answer::Failed {
        action: RetryAction::Reconnect,
        outcome_unknown: true,
    };

    fn retry(sequence: Sequence, outcome_unknown: bool) -> Action {
        Retry {
            sequence,
            outcome_unknown,
        }
    }
    fn fail(sequence: Sequence) -> Action {
        Fail {
            error: FailWith::Answer,
            sequence,
        }
    }
    fn time_out(sequence: Sequence) -> Action {
        Fail {
            error: Timeout,
            sequence,
        }
    }

    /// Besides the action: does the producer refresh metadata (R) and bump its epoch (B)?
    const NO: (bool, bool) = (false, false);
    const R: (bool, bool) = (true, false);
    const B: (bool, bool) = (false, true);

    /// A row: its name, the answer, what is known of the batch, the expected action, and
    /// whether metadata is refreshed and the epoch bumped.
    type Row = (&'static str, Answer, Known, Action, (bool, bool));

    /// DESIGN.md's produce flow, row by row.
    #[test]
    fn the_produce_flow_table() {
        use ErrorCode as E;
        let written = Answer::Partition {
            code: E::NONE,
            base_offset: 10,
            log_append_time: 5,
        };
        let written_at = |base_offset, log_append_time| Succeed {
            base_offset,
            log_append_time,
        };
        #[rustfmt::skip]
        let table: &[Row] = &[
            // NONE → written, whatever else is known.
            ("none", written, PLAIN, written_at(10, 5), NO),
            ("none, late", written, expired(no_retries(unknown(IDEM))), written_at(10, 5), NO),
            ("acks=0", Answer::Unacknowledged, PLAIN, written_at(-1, -1), NO),
            // DUPLICATE_SEQUENCE_NUMBER → an earlier attempt landed (idempotence only).
            ("duplicate", code(E::DUPLICATE_SEQUENCE_NUMBER), unknown(IDEM), written_at(-1, -1), NO),
            ("duplicate, plain", code(E::DUPLICATE_SEQUENCE_NUMBER), PLAIN, fail(Release), NO),
            // UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH → not
            // written: bump, retry under new sequences while time and retries remain.
            ("unknown producer", code(E::UNKNOWN_PRODUCER_ID), unknown(IDEM), retry(Forget, false), B),
            ("out of order", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), IDEM, retry(Forget, false), B),
            ("bad epoch", code(E::INVALID_PRODUCER_EPOCH), IDEM, retry(Forget, false), B),
            ("bad epoch, expired", code(E::INVALID_PRODUCER_EPOCH), expired(unknown(IDEM)), time_out(Forget), B),
            ("out of order, no retries", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), no_retries(IDEM), fail(Forget), B),
            ("unknown producer, plain", code(E::UNKNOWN_PRODUCER_ID), PLAIN, fail(Release), NO),
            ("out of order, plain", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), PLAIN, fail(Release), NO),
            // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE → split; a single record fails.
            ("too large", code(E::MESSAGE_TOO_LARGE), expired(unknown(IDEM)), Split, NO),
            ("list too large", code(E::RECORD_LIST_TOO_LARGE), PLAIN, Split, NO),
            ("too large, single", code(E::MESSAGE_TOO_LARGE), single(PLAIN), fail(Release), NO),
            ("too large, single, unknown", code(E::MESSAGE_TOO_LARGE), single(unknown(IDEM)), fail(Keep), NO),
            // REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND → outcome unknown: same
            // sequence; with idempotence until the broker answers.
            ("timed out", code(E::REQUEST_TIMED_OUT), IDEM, retry(Keep, true), NO),
            ("timed out, late", code(E::REQUEST_TIMED_OUT), expired(no_retries(IDEM)), retry(Keep, true), NO),
            ("after append", code(E::NOT_ENOUGH_REPLICAS_AFTER_APPEND), IDEM, retry(Keep, true), NO),
            ("timed out, plain", code(E::REQUEST_TIMED_OUT), PLAIN, retry(Keep, true), NO),
            ("timed out, plain, expired", code(E::REQUEST_TIMED_OUT), expired(PLAIN), time_out(Keep), NO),
            ("after append, plain, no retries", code(E::NOT_ENOUGH_REPLICAS_AFTER_APPEND), no_retries(PLAIN), fail(Keep), NO),
            // Connection lost or request timed out → outcome unknown, as above.
            ("lost", LOST, IDEM, retry(Keep, true), R),
            ("lost, late", LOST, expired(no_retries(IDEM)), retry(Keep, true), R),
            ("lost, plain", LOST, PLAIN, retry(Keep, true), R),
            ("lost, plain, expired", LOST, expired(PLAIN), time_out(Keep), R),
            ("lost, plain, no retries", LOST, no_retries(PLAIN), fail(Keep), R),
            ("missing from the response", failed(RetryAction::Reconnect, true), IDEM, retry(Keep, true), R),
            // Never sent (no connection): not written, but an earlier attempt may have been.
            ("not connected", failed(RetryAction::Reconnect, false), IDEM, retry(Keep, false), R),
            ("not connected, expired", failed(RetryAction::Retry, false), expired(IDEM), time_out(Release), NO),
            ("not connected after a loss", failed(RetryAction::Reconnect, false), expired(unknown(IDEM)), retry(Keep, true), R),
            // Other retriable → retry after backoff while retries and time remain.
            ("not leader", code(E::NOT_LEADER_OR_FOLLOWER), IDEM, retry(Keep, false), R),
            ("not leader, expired", code(E::NOT_LEADER_OR_FOLLOWER), expired(PLAIN), time_out(Release), R),
            ("not leader, expired, unknown", code(E::NOT_LEADER_OR_FOLLOWER), expired(unknown(IDEM)), retry(Keep, true), R),
            ("not leader, plain, unknown, expired", code(E::NOT_LEADER_OR_FOLLOWER), expired(unknown(PLAIN)), time_out(Keep), R),
            ("not enough replicas", code(E::NOT_ENOUGH_REPLICAS), PLAIN, retry(Keep, false), NO),
            ("not enough replicas, no retries", code(E::NOT_ENOUGH_REPLICAS), no_retries(IDEM), fail(Release), NO),
            // Otherwise → fail each record; give the sequences back.
            ("not authorized", code(E::TOPIC_AUTHORIZATION_FAILED), IDEM, fail(Release), NO),
            ("not authorized, unknown", code(E::TOPIC_AUTHORIZATION_FAILED), unknown(IDEM), fail(Keep), NO),
            ("unknown code", code(ErrorCode(-999)), expired(IDEM), fail(Release), NO),
            ("not retriable, no answer", failed(RetryAction::NoRetry, false), expired(IDEM), fail(Release), NO),
        ];
        for &(row, answer, known, action, (refresh_metadata, bump_epoch)) in table {
            let expected = Decision {
                action,
                refresh_metadata,
                bump_epoch,
            };
            assert_eq!(
                decide(answer, known),
                expected,
                "{row}: {answer:?}, {known:?}"
            );
        }
    }

    fn every_known() -> impl Iterator<Item = Known> {
        (0..32u8).map(|bits| Known {
            idempotent: bits & 1 != 0,
            outcome_unknown: bits & 2 != 0,
            expired: bits & 4 != 0,
            retries_left: bits & 8 != 0,
            splittable: bits & 16 != 0,
        })
    }

    fn every_answer() -> Vec<Answer> {
        let mut answers = vec![Answer::Unacknowledged];
        for action in [
            RetryAction::NoRetry,
            RetryAction::Retry,
            RetryAction::RefreshMetadataAndRetry,
            RetryAction::Reconnect,
        ] {
            answers.push(failed(action, false));
            answers.push(failed(action, true));
        }
        answers.extend((-1..=130).map(|c| code(ErrorCode(c))));
        answers
    }

    /// The promises the table keeps whatever the answer: with idempotence, running out of
    /// time or retries never fails a batch the broker may have written (only an answer that
    /// no retry can change does); a sequence given back was never written; a retry forgets
    /// its sequence exactly when the epoch is bumped.
    #[test]
    fn no_answer_loses_or_duplicates_silently() {
        for answer in every_answer() {
            for known in every_known() {
                let d = decide(answer, known);
                let context = format!("{answer:?}, {known:?} → {d:?}");
                let written_maybe = known.outcome_unknown
                    || matches!(
                        answer,
                        Answer::Failed {
                            outcome_unknown: true,
                            ..
                        }
                    )
                    || answer == code(ErrorCode::REQUEST_TIMED_OUT)
                    || answer == code(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
                match d.action {
                    Fail { sequence, error } => {
                        let retriable = match answer {
                            Answer::Failed { action, .. } => action != RetryAction::NoRetry,
                            Answer::Partition { code, .. } => {
                                code.retry_action() != RetryAction::NoRetry || d.bump_epoch
                            }
                            Answer::Unacknowledged => false,
                        };
                        if known.idempotent && written_maybe && !d.bump_epoch {
                            assert!(
                                !retriable,
                                "gave up on a batch that may be written: {context}"
                            );
                        }
                        if sequence == Release {
                            assert!(
                                !written_maybe,
                                "released a maybe-written sequence: {context}"
                            );
                        }
                        if error == Timeout {
                            assert!(known.expired, "{context}");
                        }
                    }
                    Retry {
                        outcome_unknown,
                        sequence,
                    } => {
                        assert_eq!(outcome_unknown, written_maybe && !d.bump_epoch, "{context}");
                        assert_eq!(sequence == Forget, d.bump_epoch, "{context}");
                        if !(known.idempotent && outcome_unknown) {
                            assert!(known.retries_left && !known.expired, "{context}");
                        }
                    }
                    Split => assert!(known.splittable, "{context}"),
                    Succeed { .. } => {}
                }
                assert!(!d.bump_epoch || known.idempotent, "{context}");
            }
        }
    }
}
