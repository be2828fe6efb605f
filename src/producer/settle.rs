//! Carrying out what `outcome::decide` said about a batch: resolve its records, send it again
//! (whole or in halves), or fail it; and give its sequence back or keep it.

use super::batch::{Batch, ProducerFields};
use super::outcome::{self, decide, Action, Answer, FailWith, Known, Sequence};
use super::Shared;
use crate::error::Error;
use crate::record::{RecordMetadata, TopicPartition};
use tokio::time::Instant;

impl Shared {
    /// Settles an in-flight batch from its attempt's answer. `error` is the answer's error,
    /// for a batch that fails with it.
    pub(crate) fn settle(&self, batch: Batch, answer: Answer, error: &dyn Fn() -> Error) {
        let known = Known {
            idempotent: self.idempotence.is_some(),
            outcome_unknown: batch.outcome_unknown,
            expired: batch.created + self.config.delivery_timeout <= Instant::now(),
            retries_left: batch.attempts < self.config.retries,
            splittable: batch.record_count() > 1,
        };
        let decision = decide(answer, known);
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
            } => {
                let timeout = self.config.delivery_timeout;
                let error: &dyn Fn() -> Error = match with {
                    FailWith::Answer => error,
                    FailWith::DeliveryTimeout => &|| Error::DeliveryTimeout(timeout),
                };
                self.fail_in_flight(batch, sequence, error);
            }
        }
    }

    /// Resolves a written batch: record `i` is at `base_offset + i`.
    fn succeed(&self, batch: Batch, base_offset: i64, log_append_time: i64) {
        let tp = batch.tp.clone();
        let topic = batch.topic.clone();
        let count = batch.record_count();
        self.metrics
            .batch_sent(count, batch.size_estimate(), batch.uncompressed_size());
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

    fn split(&self, batch: Batch, error: &dyn Fn() -> Error) {
        let sequence = batch.sequence;
        match batch.split(self.accumulator.settings()) {
            Ok((first, second)) => {
                tracing::debug!(tp = %first.tp, "batch too large for the topic; split");
                self.release(&first.tp, sequence);
                self.accumulator.requeue_split(first, second);
            }
            Err(batch) => self.fail_in_flight(*batch, Sequence::Release, error),
        }
    }

    /// Fails a batch that was waiting in its queue (expired, abandoned at close, fatal).
    /// Its partition's in-flight batch, if any, is another one and stays in flight.
    pub(crate) fn fail(&self, batch: Batch, error: &dyn Fn() -> Error) {
        let sequence = outcome::sequence_of_failed(batch.outcome_unknown);
        self.fail_with(batch, sequence, error);
    }

    /// Fails the partition's in-flight batch, letting its next batch go.
    fn fail_in_flight(&self, batch: Batch, sequence: Sequence, error: &dyn Fn() -> Error) {
        let tp = batch.tp.clone();
        self.fail_with(batch, sequence, error);
        self.accumulator.done(&tp);
    }

    fn fail_with(&self, mut batch: Batch, sequence: Sequence, error: &dyn Fn() -> Error) {
        self.apply(&mut batch, sequence);
        let count = batch.record_count();
        self.metrics.failed(count);
        batch.fail(error);
        self.records_settled(count);
    }

    /// What becomes of the batch's sequence.
    fn apply(&self, batch: &mut Batch, sequence: Sequence) {
        match sequence {
            Sequence::Keep => {}
            Sequence::Release => self.release(&batch.tp, batch.sequence.take()),
            Sequence::Forget => batch.sequence = None,
        }
    }

    /// Gives a batch's sequences back. Exact because the batch is its partition's newest
    /// sequenced one (one batch per partition is in flight).
    fn release(&self, tp: &TopicPartition, fields: Option<ProducerFields>) {
        if let (Some(id), Some(fields)) = (&self.idempotence, fields) {
            id.release(tp, fields);
        }
    }
}
