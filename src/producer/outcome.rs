//! What becomes of a batch once an attempt has an answer: a pure function of the answer and
//! of what is known of the batch, so the produce flow's table (DESIGN.md) is tested row by
//! row here, and the sender only carries the decision out. Likewise for a batch the producer
//! gives up on while it waits ([`give_up`]).
//!
//! The decision says what the broker did with the batch (wrote it, maybe wrote it, or did not)
//! and so what becomes of its sequence ([`Sequence`]); how a sequence is given back is the
//! caller's business: it rewinds the partition's next sequence if no batch was sequenced
//! after it, and bumps the epoch otherwise (the later batches are then resequenced). With
//! several batches of a partition in flight, one more thing matters: whether an earlier
//! batch is still unsettled, which makes `OUT_OF_ORDER_SEQUENCE_NUMBER` a plain retriable
//! answer ([`Known::earlier_unsettled`]).

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
    /// A batch of the partition sequenced before this one (in this epoch, with no bump
    /// waiting) is not settled yet: on its way, or waiting to be sent again. The broker
    /// refuses this one as out of order until that one is written.
    pub earlier_unsettled: bool,
    /// An earlier attempt may have been written.
    pub outcome_unknown: bool,
    /// `delivery.timeout.ms` has passed since the batch was created.
    pub expired: bool,
    /// Fewer attempts were retried than `retries` allows.
    pub retries_left: bool,
    /// More than one record: a batch too large for the topic can be sent in halves.
    pub splittable: bool,
    /// The batch belongs to a transaction (`transactional.id`; idempotent too).
    pub transactional: bool,
    /// Sent with `acks=all`: the leader answers once it appended the batch and its followers
    /// caught up, so some refusals can come after the append.
    pub acks_all: bool,
}

/// What becomes of the batch's sequence (with idempotence; without, there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sequence {
    /// The batch keeps it: it is retried as it was (an attempt may have been written, and
    /// only a retry under the same epoch and sequence lets the broker recognise it).
    /// Without idempotence there is none, and a failed batch of unknown outcome "keeps" it.
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
    /// Why the producer gave up on every batch it holds: `close` ran out of time, the last
    /// handle was dropped, or the producer went fatal.
    Abandoned,
    /// The batch's transaction cannot commit (`Error::TransactionAbortable`), or is being
    /// aborted (`Error::TransactionAborted`): it is not sent.
    Transaction,
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
    /// Every record fails. `outcome_unknown`: the broker may have written the batch, so the
    /// error must say so (`Error::is_outcome_unknown`).
    Fail {
        error: FailWith,
        sequence: Sequence,
        outcome_unknown: bool,
    },
}

/// An [`Action`] and what the producer must do besides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub action: Action,
    /// The leader may have moved, or its connection is gone: ask for fresh metadata.
    pub refresh_metadata: bool,
    /// The broker lost or refused the producer's state, or a batch that may have been written
    /// failed: bump the epoch (KIP-360) before new sequences are given out.
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
        // Not written because an earlier batch is not written yet (it failed retriably, or its
        // answer is still to come): sent again after it, with its sequence, as any retriable
        // answer (Java's `canRetry`), in a transaction too. An earlier attempt that may have
        // been written still may have been.
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if batch.idempotent && batch.earlier_unsettled => {
            after_failure(RetryAction::Retry, batch, false)
        }
        // Refused, and in a transaction: the transaction cannot commit (Java's abortable
        // error, or fatal for a fenced epoch: the caller tells them apart). This attempt was
        // not written (see `refusal_settles` for an earlier one); the abort bumps the epoch
        // before anything is sequenced again.
        ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        | ErrorCode::INVALID_PRODUCER_EPOCH
            if batch.transactional =>
        {
            let known = Known {
                outcome_unknown: batch.outcome_unknown && !refusal_settles(code),
                ..batch
            };
            fail(known, FailWith::Answer, true)
        }
        // Refused, so this attempt was not written, and no earlier one was before it (it would
        // make this one a duplicate): sent again under a new epoch and new sequences. But an
        // earlier attempt that got no answer may still be on its way, in a connection the
        // producer gave up on (a broker that stalled reads it late), and be written after this
        // refusal: such a batch fails, saying it may have been written, rather than being
        // sent again under new sequences, which could write it twice.
        ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        | ErrorCode::INVALID_PRODUCER_EPOCH
            if batch.idempotent =>
        {
            if batch.outcome_unknown && !refusal_settles(code) {
                return fail(batch, FailWith::Answer, true);
            }
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
        // With acks=all the leader may have appended the batch and then, while it waited for
        // its followers, lost the leadership or the log's directory: the broker answers so
        // (Kafka's DelayedProduce) for a batch that is in its log, where it stays unless a new
        // leader truncates it (on a one-node cluster, nothing does). With acks=1 the answer
        // comes from the append itself, which wrote nothing.
        ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::KAFKA_STORAGE_ERROR if batch.acks_all => {
            after_failure(code.retry_action(), batch.with_unknown(true), false)
        }
        _ => after_failure(code.retry_action(), batch, false),
    }
}

/// Whether a refusal of the producer's sequence or epoch also refuses every earlier attempt
/// of the batch still on its way: only a fenced epoch does (the broker has moved past the
/// epoch they all carry). After `OUT_OF_ORDER_SEQUENCE_NUMBER` or `UNKNOWN_PRODUCER_ID` an
/// earlier attempt may still be written, once what was missing before it arrives.
fn refusal_settles(code: ErrorCode) -> bool {
    code == ErrorCode::INVALID_PRODUCER_EPOCH
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
/// is retried whatever `retries` says, until `delivery.timeout.ms` (KIP-91): only a retry with
/// the same sequence can tell whether it was. `forget`: the batch's sequence is void (an epoch
/// bump comes first).
fn after_failure(retry: RetryAction, batch: Known, forget: bool) -> Decision {
    let retriable = retry != RetryAction::NoRetry;
    let retries_left = batch.retries_left || (batch.idempotent && batch.outcome_unknown);
    let refresh_metadata = matches!(
        retry,
        RetryAction::RefreshMetadataAndRetry | RetryAction::Reconnect
    );
    if retriable && retries_left && !batch.expired {
        let sequence = if forget {
            Sequence::Forget
        } else {
            Sequence::Keep
        };
        return Decision {
            action: Action::Retry {
                sequence,
                outcome_unknown: batch.outcome_unknown,
            },
            refresh_metadata,
            bump_epoch: forget,
        };
    }
    let error = if retriable && batch.expired {
        FailWith::DeliveryTimeout
    } else {
        FailWith::Answer
    };
    Decision {
        refresh_metadata,
        ..fail(batch, error, forget)
    }
}

/// A batch the producer gives up on while it waits in its queue: expired, or abandoned
/// (closed past the timeout, dropped, fatal).
pub(crate) fn give_up(batch: Known, why: FailWith) -> Decision {
    fail(batch, why, false)
}

/// Fails a batch. Its sequences are given back only if the broker wrote none of it. One that
/// may have been written must not be reused, nor may the partition's later batches follow
/// on from it (a gap if it was not written, and its late arrival after them would be out of
/// order): with idempotence the epoch is bumped, which fences any attempt of it still on the
/// way and restarts every partition at sequence 0.
fn fail(batch: Known, error: FailWith, forget: bool) -> Decision {
    let maybe_written = batch.outcome_unknown;
    let bump_epoch = forget || (batch.idempotent && maybe_written);
    let sequence = if bump_epoch {
        Sequence::Forget
    } else if maybe_written {
        Sequence::Keep
    } else {
        Sequence::Release
    };
    Decision {
        action: Action::Fail {
            error,
            sequence,
            outcome_unknown: maybe_written,
        },
        refresh_metadata: false,
        bump_epoch,
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
        earlier_unsettled: false,
        outcome_unknown: false,
        expired: false,
        retries_left: true,
        splittable: true,
        transactional: false,
        acks_all: true,
    };
    /// A batch of a transaction.
    const TXN: Known = Known {
        transactional: true,
        ..IDEM
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
    /// Sent with acks=1 (no idempotence).
    fn leader_acks(k: Known) -> Known {
        Known {
            acks_all: false,
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
    /// Behind an earlier batch of its partition that is not settled yet.
    fn behind(k: Known) -> Known {
        Known {
            earlier_unsettled: true,
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
    fn failing(error: FailWith, sequence: Sequence, outcome_unknown: bool) -> Action {
        Fail {
            error,
            sequence,
            outcome_unknown,
        }
    }
    /// Fails with the answer's error; not written.
    fn fail(sequence: Sequence) -> Action {
        failing(FailWith::Answer, sequence, false)
    }
    /// Fails with the answer's error, saying the batch may have been written.
    fn fail_unknown(sequence: Sequence) -> Action {
        failing(FailWith::Answer, sequence, true)
    }
    fn time_out(sequence: Sequence) -> Action {
        failing(Timeout, sequence, false)
    }
    fn time_out_unknown(sequence: Sequence) -> Action {
        failing(Timeout, sequence, true)
    }

    /// Besides the action: does the producer refresh metadata (R) and bump its epoch (B)?
    const NO: (bool, bool) = (false, false);
    const R: (bool, bool) = (true, false);
    const B: (bool, bool) = (false, true);
    const RB: (bool, bool) = (true, true);

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
            ("unknown producer", code(E::UNKNOWN_PRODUCER_ID), IDEM, retry(Forget, false), B),
            // ... but an earlier attempt that got no answer may still land (only a fenced
            // epoch refuses it too): failed as maybe written, not sent again.
            ("unknown producer, unknown", code(E::UNKNOWN_PRODUCER_ID), unknown(IDEM), fail_unknown(Forget), B),
            ("out of order, unknown", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), unknown(IDEM), fail_unknown(Forget), B),
            ("bad epoch, unknown", code(E::INVALID_PRODUCER_EPOCH), unknown(IDEM), retry(Forget, false), B),
            ("out of order", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), IDEM, retry(Forget, false), B),
            ("bad epoch", code(E::INVALID_PRODUCER_EPOCH), IDEM, retry(Forget, false), B),
            ("bad epoch, expired", code(E::INVALID_PRODUCER_EPOCH), expired(unknown(IDEM)), time_out(Forget), B),
            ("out of order, no retries", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), no_retries(IDEM), fail(Forget), B),
            ("unknown producer, plain", code(E::UNKNOWN_PRODUCER_ID), PLAIN, fail(Release), NO),
            ("out of order, plain", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), PLAIN, fail(Release), NO),
            // OUT_OF_ORDER_SEQUENCE_NUMBER behind an earlier batch that is not settled (several
            // in flight): that one is not written yet, so neither is this one; retriable, with
            // its sequence, in a transaction too. A maybe-written batch stays maybe written.
            ("out of order, behind", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(IDEM), retry(Keep, false), NO),
            ("out of order, behind, transaction", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(TXN), retry(Keep, false), NO),
            ("out of order, behind, unknown", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(no_retries(unknown(IDEM))), retry(Keep, true), NO),
            ("out of order, behind, no retries", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(no_retries(IDEM)), fail(Release), NO),
            ("out of order, behind, expired", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(expired(IDEM)), time_out(Release), NO),
            ("out of order, behind, expired, unknown", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), behind(expired(unknown(TXN))), time_out_unknown(Forget), B),
            // Behind an unsettled batch, the other answers mean what they mean alone.
            ("not leader, behind", code(E::NOT_LEADER_OR_FOLLOWER), behind(IDEM), retry(Keep, true), R),
            ("unknown producer, behind", code(E::UNKNOWN_PRODUCER_ID), behind(IDEM), retry(Forget, false), B),
            ("duplicate, behind", code(E::DUPLICATE_SEQUENCE_NUMBER), behind(IDEM), written_at(-1, -1), NO),
            ("lost, behind", LOST, behind(IDEM), retry(Keep, true), R),
            // The same in a transaction: not written, the transaction must abort (or the
            // producer was fenced), and the abort bumps the epoch.
            ("unknown producer, transaction", code(E::UNKNOWN_PRODUCER_ID), TXN, fail(Forget), B),
            ("unknown producer, transaction, unknown", code(E::UNKNOWN_PRODUCER_ID), unknown(TXN), fail_unknown(Forget), B),
            ("bad epoch, transaction, unknown", code(E::INVALID_PRODUCER_EPOCH), unknown(TXN), fail(Forget), B),
            ("out of order, transaction", code(E::OUT_OF_ORDER_SEQUENCE_NUMBER), TXN, fail(Forget), B),
            ("bad epoch, transaction", code(E::INVALID_PRODUCER_EPOCH), TXN, fail(Forget), B),
            ("fenced, transaction", code(E::PRODUCER_FENCED), TXN, fail(Release), NO),
            ("timed out, transaction", code(E::REQUEST_TIMED_OUT), TXN, retry(Keep, true), NO),
            ("lost, transaction, late", LOST, expired(TXN), time_out_unknown(Forget), RB),
            // MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE → split; a single record fails.
            ("too large", code(E::MESSAGE_TOO_LARGE), expired(unknown(IDEM)), Split, NO),
            ("list too large", code(E::RECORD_LIST_TOO_LARGE), PLAIN, Split, NO),
            ("too large, single", code(E::MESSAGE_TOO_LARGE), single(PLAIN), fail(Release), NO),
            ("too large, single, unknown", code(E::MESSAGE_TOO_LARGE), single(unknown(IDEM)), fail_unknown(Forget), B),
            // REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND → outcome unknown: same
            // sequence; with idempotence whatever the retries, until delivery.timeout.ms, then
            // failed as maybe written, and the epoch bumped.
            ("timed out", code(E::REQUEST_TIMED_OUT), IDEM, retry(Keep, true), NO),
            ("timed out, no retries", code(E::REQUEST_TIMED_OUT), no_retries(IDEM), retry(Keep, true), NO),
            ("timed out, late", code(E::REQUEST_TIMED_OUT), expired(no_retries(IDEM)), time_out_unknown(Forget), B),
            ("after append", code(E::NOT_ENOUGH_REPLICAS_AFTER_APPEND), IDEM, retry(Keep, true), NO),
            ("timed out, plain", code(E::REQUEST_TIMED_OUT), PLAIN, retry(Keep, true), NO),
            ("timed out, plain, expired", code(E::REQUEST_TIMED_OUT), expired(PLAIN), time_out_unknown(Keep), NO),
            ("after append, plain, no retries", code(E::NOT_ENOUGH_REPLICAS_AFTER_APPEND), no_retries(PLAIN), fail_unknown(Keep), NO),
            // Connection lost or request timed out → outcome unknown, as above.
            ("lost", LOST, IDEM, retry(Keep, true), R),
            ("lost, no retries", LOST, no_retries(IDEM), retry(Keep, true), R),
            ("lost, late", LOST, expired(IDEM), time_out_unknown(Forget), RB),
            ("lost, plain", LOST, PLAIN, retry(Keep, true), R),
            ("lost, plain, expired", LOST, expired(PLAIN), time_out_unknown(Keep), R),
            ("lost, plain, no retries", LOST, no_retries(PLAIN), fail_unknown(Keep), R),
            ("missing from the response", failed(RetryAction::Reconnect, true), IDEM, retry(Keep, true), R),
            // Never sent (no connection): not written, but an earlier attempt may have been.
            ("not connected", failed(RetryAction::Reconnect, false), IDEM, retry(Keep, false), R),
            ("not connected, expired", failed(RetryAction::Retry, false), expired(IDEM), time_out(Release), NO),
            ("not connected after a loss", failed(RetryAction::Reconnect, false), unknown(IDEM), retry(Keep, true), R),
            ("not connected after a loss, late", failed(RetryAction::Reconnect, false), expired(unknown(IDEM)), time_out_unknown(Forget), RB),
            // Other retriable → retry after backoff while retries and time remain.
            // NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR with acks=all: the leader may have
            // appended the batch before it lost the leadership or its log directory, so the
            // outcome is unknown (once expired: failed as maybe written, never given back).
            // With acks=1 the append itself refused it: as "other retriable".
            ("not leader", code(E::NOT_LEADER_OR_FOLLOWER), IDEM, retry(Keep, true), R),
            ("not leader, expired, idempotent", code(E::NOT_LEADER_OR_FOLLOWER), expired(IDEM), time_out_unknown(Forget), RB),
            ("storage error", code(E::KAFKA_STORAGE_ERROR), no_retries(IDEM), retry(Keep, true), R),
            ("not leader, expired, acks=all", code(E::NOT_LEADER_OR_FOLLOWER), expired(PLAIN), time_out_unknown(Keep), R),
            ("not leader, acks=1", code(E::NOT_LEADER_OR_FOLLOWER), leader_acks(PLAIN), retry(Keep, false), R),
            ("not leader, expired, acks=1", code(E::NOT_LEADER_OR_FOLLOWER), expired(leader_acks(PLAIN)), time_out(Release), R),
            ("not leader, expired, unknown", code(E::NOT_LEADER_OR_FOLLOWER), expired(unknown(IDEM)), time_out_unknown(Forget), RB),
            ("not leader, plain, unknown, expired", code(E::NOT_LEADER_OR_FOLLOWER), expired(unknown(PLAIN)), time_out_unknown(Keep), R),
            ("not enough replicas", code(E::NOT_ENOUGH_REPLICAS), PLAIN, retry(Keep, false), NO),
            ("not enough replicas, no retries", code(E::NOT_ENOUGH_REPLICAS), no_retries(IDEM), fail(Release), NO),
            // Otherwise → fail each record; give the sequences back unless maybe written.
            ("not authorized", code(E::TOPIC_AUTHORIZATION_FAILED), IDEM, fail(Release), NO),
            ("not authorized, unknown", code(E::TOPIC_AUTHORIZATION_FAILED), unknown(IDEM), fail_unknown(Forget), B),
            ("not authorized, plain, unknown", code(E::TOPIC_AUTHORIZATION_FAILED), unknown(PLAIN), fail_unknown(Keep), NO),
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

    /// A batch given up on while it waits in its queue: the error says whether it may have
    /// been written, and with idempotence such a batch's sequence is forgotten behind a bump.
    #[test]
    fn giving_up_on_a_waiting_batch() {
        use FailWith::Abandoned;
        #[rustfmt::skip]
        let table: &[(Known, FailWith, Action, (bool, bool))] = &[
            (IDEM, Timeout, time_out(Release), NO),
            (unknown(IDEM), Timeout, time_out_unknown(Forget), B),
            (PLAIN, Abandoned, failing(Abandoned, Release, false), NO),
            (unknown(PLAIN), Abandoned, failing(Abandoned, Keep, true), NO),
            (unknown(IDEM), Abandoned, failing(Abandoned, Forget, true), B),
        ];
        for &(known, why, action, (refresh_metadata, bump_epoch)) in table {
            let expected = Decision {
                action,
                refresh_metadata,
                bump_epoch,
            };
            assert_eq!(give_up(known, why), expected, "{known:?}, {why:?}");
        }
    }

    fn every_known() -> impl Iterator<Item = Known> {
        (0..=255u8)
            .map(|bits| Known {
                idempotent: bits & 1 != 0,
                outcome_unknown: bits & 2 != 0,
                expired: bits & 4 != 0,
                retries_left: bits & 8 != 0,
                splittable: bits & 16 != 0,
                transactional: bits & 32 != 0,
                earlier_unsettled: bits & 64 != 0,
                acks_all: bits & 128 != 0,
            })
            // A transactional producer is idempotent, and only sequenced batches have an
            // earlier one.
            .filter(|k| k.idempotent || !(k.transactional || k.earlier_unsettled))
            // Idempotence requires acks=all.
            .filter(|k| k.acks_all || !k.idempotent)
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
    /// retries never fails a batch the broker may have written (only an answer that no retry
    /// can change, or `delivery.timeout.ms`, does); a failed batch that may have been written
    /// says so, and with idempotence forgets its sequence behind an epoch bump; a sequence
    /// given back was never written; a retry forgets its sequence exactly when the epoch is
    /// bumped; nothing is retried past `delivery.timeout.ms`.
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
                    || answer == code(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
                    || (known.acks_all
                        && (answer == code(ErrorCode::NOT_LEADER_OR_FOLLOWER)
                            || answer == code(ErrorCode::KAFKA_STORAGE_ERROR)));
                // The broker refused the producer's state: this attempt was not written, nor
                // was an earlier one before it. One still on its way is refused too only if its
                // epoch is fenced; after the other refusals it may still be written, so they
                // settle only a batch no attempt of which is unanswered. (Out of order behind an
                // unsettled batch is no refusal: only this attempt was not written.)
                let behind_out_of_order = known.earlier_unsettled
                    && answer == code(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                let refused = known.idempotent
                    && !behind_out_of_order
                    && (answer == code(ErrorCode::INVALID_PRODUCER_EPOCH)
                        || (!known.outcome_unknown
                            && [
                                ErrorCode::UNKNOWN_PRODUCER_ID,
                                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                            ]
                            .iter()
                            .any(|&c| answer == code(c))));
                let written_maybe = written_maybe && !refused;
                match d.action {
                    Fail {
                        sequence,
                        error,
                        outcome_unknown,
                    } => {
                        let retriable = match answer {
                            Answer::Failed { action, .. } => action != RetryAction::NoRetry,
                            Answer::Partition { code, .. } => {
                                code.retry_action() != RetryAction::NoRetry || refused
                            }
                            Answer::Unacknowledged => false,
                        };
                        assert_eq!(outcome_unknown, written_maybe, "{context}");
                        if known.idempotent && written_maybe && retriable {
                            assert!(known.expired, "gave up on a maybe-written batch: {context}");
                        }
                        if known.idempotent && written_maybe {
                            assert!(sequence == Forget && d.bump_epoch, "{context}");
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
                        assert_eq!(outcome_unknown, written_maybe, "{context}");
                        assert_eq!(sequence == Forget, d.bump_epoch, "{context}");
                        assert!(!known.expired, "{context}");
                        if !(known.idempotent && outcome_unknown) {
                            assert!(known.retries_left, "{context}");
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
