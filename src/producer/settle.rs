//! Carrying out what `outcome::decide` (or `outcome::give_up`) said about a batch: resolve its
//! records, send it again (whole or in halves), or fail it; and give its sequence back, keep
//! it, or forget it behind an epoch bump.

use super::batch::Batch;
use super::outcome::{self, decide, Action, Answer, Decision, FailWith, Known, Sequence};
use super::Shared;
use crate::error::Error;
use crate::record::RecordMetadata;
use tokio::time::Instant;

impl Shared {
    /// Settles an in-flight batch from its attempt's answer. `error` is the answer's error,
    /// for a batch that fails with it.
    pub(crate) fn settle(&self, batch: Batch, answer: Answer, error: &dyn Fn() -> Error) {
        // Its request is over: a batch sent again must be queued anew before the partition's
        // later batches may follow it (see `Idempotence::overtaken`).
        if let (Some(id), Some(fields)) = (&self.idempotence, batch.sequence) {
            id.queued_on(&[(&batch.tp, fields)], None);
        }
        let decision = decide(answer, self.known(&batch));
        self.carry_out(batch, decision, error, true);
    }

    /// Fails batches that were waiting in their queues (expired, or abandoned: closed past
    /// the timeout, dropped, fatal, or their transaction aborting), given in send order per
    /// partition. Their partitions' in-flight batches, if any, are other ones and stay in
    /// flight. The sequences go back newest first, so that a run of batches failed together
    /// rewinds its partition's sequences rather than leaving gaps that need an epoch bump;
    /// the records fail in send order.
    pub(crate) fn give_up(&self, batches: Vec<Batch>, why: FailWith) {
        let mut decided: Vec<(Batch, Decision)> = batches
            .into_iter()
            .map(|batch| {
                let decision = outcome::give_up(self.known(&batch), why);
                (batch, decision)
            })
            .collect();
        for (batch, decision) in decided.iter_mut().rev() {
            if let Action::Fail { sequence, .. } = decision.action {
                // Carried out again below, where the batch has no sequence left to apply.
                self.apply(batch, sequence);
            }
        }
        for (batch, decision) in decided {
            self.carry_out(batch, decision, &|| self.abandoned_error(), false);
        }
    }

    /// What is known of the batch now, for the decision table.
    fn known(&self, batch: &Batch) -> Known {
        // While a bump waits, every batch of known outcome is sent again under the new
        // epoch, with new sequences: an earlier batch then no longer explains a refusal.
        let earlier_unsettled = match (&self.idempotence, &batch.sequence) {
            (Some(id), Some(fields)) => {
                !id.bump_requested() && id.earlier_unsettled(&batch.tp, fields)
            }
            _ => false,
        };
        Known {
            idempotent: self.idempotence.is_some(),
            earlier_unsettled,
            outcome_unknown: batch.outcome_unknown,
            expired: Instant::now().saturating_duration_since(batch.created)
                >= self.config.delivery_timeout,
            retries_left: batch.attempts < self.config.retries,
            splittable: batch.record_count() > 1,
            transactional: self.txn.is_some(),
            acks_all: self.config.acks == crate::config::Acks::All,
        }
    }

    /// The error records get once the producer gave up on what it holds.
    fn abandoned_error(&self) -> Error {
        self.abandoned.get().cloned().unwrap_or(Error::Closed)
    }

    fn carry_out(
        &self,
        batch: Batch,
        decision: Decision,
        error: &dyn Fn() -> Error,
        in_flight: bool,
    ) {
        if decision.refresh_metadata {
            self.cluster.request_refresh();
        }
        if decision.bump_epoch {
            if let Some(id) = &self.idempotence {
                id.request_bump();
            }
        }
        match decision.action {
            Action::Succeed {
                base_offset,
                log_append_time,
            } => self.succeed(batch, base_offset, log_append_time),
            Action::Retry {
                sequence,
                outcome_unknown,
            } => self.retry(batch, sequence, outcome_unknown, error),
            Action::Split => self.split(batch, error),
            Action::Fail {
                error: with,
                sequence,
                outcome_unknown,
            } => {
                let timeout = self.config.delivery_timeout;
                let base: &dyn Fn() -> Error = match with {
                    FailWith::Answer => error,
                    FailWith::DeliveryTimeout => &|| Error::DeliveryTimeout(timeout),
                    FailWith::Abandoned => &|| self.abandoned_error(),
                    FailWith::Transaction => &|| self.txn_waiting_error(),
                };
                let tp = batch.tp.clone();
                // A record of the transaction failed: it cannot commit, or (fenced, not
                // authorized) the producer cannot go on, and the records say so.
                let fatal = match with {
                    FailWith::Answer | FailWith::DeliveryTimeout => {
                        self.transaction_failed(&base())
                    }
                    FailWith::Abandoned | FailWith::Transaction => None,
                };
                let base: &dyn Fn() -> Error = match &fatal {
                    Some(fatal) => &|| fatal.clone(),
                    None => base,
                };
                self.fail_with(batch, sequence, &|| maybe_written(base(), outcome_unknown));
                if in_flight {
                    self.accumulator.done(&tp);
                }
            }
        }
    }

    /// Resolves a written batch: record `i` is at `base_offset + i`.
    fn succeed(&self, batch: Batch, base_offset: i64, log_append_time: i64) {
        if let (Some(id), Some(fields)) = (&self.idempotence, &batch.sequence) {
            id.written(&batch.tp, fields);
        }
        let tp = batch.tp.clone();
        let topic = batch.topic.clone();
        let count = batch.record_count();
        let base_offset = known_base_offset(base_offset, count);
        self.metrics.batch_sent(
            &topic,
            count,
            batch.size_estimate(),
            batch.uncompressed_size(),
        );
        batch.complete(|i, timestamp| {
            Ok(RecordMetadata {
                topic: topic.clone(),
                partition: tp.partition,
                offset: if base_offset >= 0 {
                    base_offset + i as i64
                } else {
                    -1
                },
                timestamp: if log_append_time >= 0 {
                    log_append_time
                } else {
                    timestamp
                },
            })
        });
        self.accumulator.done(&tp);
        self.records_settled(count);
    }

    fn retry(
        &self,
        mut batch: Batch,
        sequence: Sequence,
        outcome_unknown: bool,
        error: &dyn Fn() -> Error,
    ) {
        self.apply(&mut batch, sequence);
        batch.outcome_unknown = outcome_unknown;
        batch.attempts = batch.attempts.saturating_add(1);
        let backoff = crate::retry::Backoff {
            initial: self.config.retry_backoff,
            max: self.config.retry_backoff_max,
        }
        .delay(batch.attempts);
        tracing::debug!(tp = %batch.tp, error = %error(), attempt = batch.attempts, "retrying batch");
        self.metrics.retried();
        self.accumulator.requeue(batch, backoff);
    }

    /// Sends the batch again in halves. Sequenced, they take its sequences, so the
    /// partition's later batches still follow on.
    fn split(&self, batch: Batch, error: &dyn Fn() -> Error) {
        let sequence = batch.sequence;
        match batch.split(self.accumulator.settings()) {
            Ok((mut first, mut second)) => {
                tracing::debug!(tp = %first.tp, "batch too large for the topic; split");
                if let (Some(id), Some(fields)) = (&self.idempotence, sequence) {
                    let (a, b) = id.split(&first.tp, fields, first.record_count());
                    first.sequence = Some(a);
                    second.sequence = Some(b);
                }
                self.accumulator.requeue_split(first, second);
            }
            Err(batch) => {
                let decision = outcome::give_up(self.known(&batch), FailWith::Answer);
                self.carry_out(*batch, decision, error, true);
            }
        }
    }

    fn fail_with(&self, mut batch: Batch, sequence: Sequence, error: &dyn Fn() -> Error) {
        self.apply(&mut batch, sequence);
        if let (Some(id), Some(fields)) = (&self.idempotence, &batch.sequence) {
            id.settled(&batch.tp, fields);
        }
        let count = batch.record_count();
        self.metrics.failed(&batch.topic, count);
        batch.fail(error);
        self.records_settled(count);
    }

    /// What becomes of the batch's sequence. Given back, it rewinds its partition's next
    /// sequence if no batch was sequenced after it, and bumps the epoch otherwise (see
    /// `Idempotence::release`).
    fn apply(&self, batch: &mut Batch, sequence: Sequence) {
        let Some(id) = &self.idempotence else { return };
        match (sequence, batch.sequence) {
            (Sequence::Keep, _) | (_, None) => {}
            (Sequence::Release, Some(fields)) => {
                id.release(&batch.tp, fields, batch.record_count());
                batch.sequence = None;
            }
            (Sequence::Forget, Some(fields)) => {
                id.settled(&batch.tp, &fields);
                batch.sequence = None;
            }
        }
    }
}

/// The error of a record that fails, saying so if the broker may have written it.
pub(crate) fn maybe_written(error: Error, outcome_unknown: bool) -> Error {
    if outcome_unknown && !error.is_outcome_unknown() {
        Error::OutcomeUnknown {
            reason: Box::new(error),
        }
    } else {
        error
    }
}

/// The base offset of a written batch of `count` records, or -1 (unknown) when the broker
/// gave none, or one its last record's offset would overflow (a hostile broker's): then
/// `base_offset + i` holds for every record.
fn known_base_offset(base_offset: i64, count: usize) -> i64 {
    let last = i64::try_from(count.saturating_sub(1))
        .ok()
        .and_then(|n| base_offset.checked_add(n));
    match last {
        Some(_) if base_offset >= 0 => base_offset,
        _ => -1,
    }
}

#[cfg(test)]
mod tests;
