//! The sender: takes ready batches, groups them by leader into ProduceRequests, and settles
//! each batch from the response.
//!
//! ```text
//! accumulator ──drain──▶ sequence (idempotence) ──▶ group by leader ──▶ request task per
//!      ▲                                                               ProduceRequest
//!      └──── requeue (retriable) ◀──── settle each partition ◀────────────────┘
//! ```
//! Sequences are assigned here, on one task, in drain order. Encoding and compression run in
//! the request tasks, spread over the runtime's threads.

use super::batch::Batch;
use super::idempotence::init_producer_id;
use super::Shared;
use crate::cluster::TrafficClass;
use crate::error::{Error, ErrorCode, RetryAction};
use crate::protocol::wire::{self, topic_name};
use crate::record::RecordMetadata;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// Runs until the producer is closed and drained, or dropped.
pub(crate) async fn run(shared: Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        bump_epoch_if_due(&s).await;
        let now = Instant::now();
        let timeout = s.config.delivery_timeout;
        for batch in s.accumulator.expire(now - timeout) {
            s.fail(batch, &|| Error::DeliveryTimeout(timeout));
        }
        let snapshot = s.cluster.snapshot();
        let leader_of = |tp: &crate::record::TopicPartition| {
            snapshot
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .and_then(|p| p.leader)
        };
        let bump_pending = s.idempotence.as_ref().is_some_and(|i| i.bump_requested());
        let in_flight = s.in_flight_snapshot();
        let max_in_flight = s.config.max_in_flight_requests_per_connection;
        let mut leaderless = false;
        // With buffer.memory nearly spent, lingering only keeps senders waiting: send now.
        let memory_short = s.memory.available_permits() < s.config.batch_size;
        let hurry = s.flushing() || memory_short;
        let (ready, next_wakeup) = s.accumulator.drain(now, hurry, |tp, batch| {
            let Some(leader) = leader_of(tp) else {
                leaderless = true;
                return false;
            };
            // While an epoch bump waits, only batches that must be resolved under the old
            // epoch go out.
            (!bump_pending || batch.outcome_unknown)
                && in_flight.get(&leader).copied().unwrap_or(0) < max_in_flight
        });
        if leaderless {
            // An election (or a broker just back from a pause) left partitions without a
            // leader; nothing else would ask for fresh metadata while batches only wait.
            s.cluster.request_refresh();
        }
        let mut by_leader: BTreeMap<i32, Vec<Batch>> = BTreeMap::new();
        for mut batch in ready {
            if let (Some(id), None) = (&s.idempotence, batch.sequence) {
                batch.sequence = Some(id.assign(&batch.tp, batch.record_count()));
            }
            match leader_of(&batch.tp) {
                Some(leader) => by_leader.entry(leader).or_default().push(batch),
                None => s.accumulator.requeue(batch, Duration::ZERO),
            }
        }
        for (leader, batches) in by_leader {
            for request in split_by_size(batches, s.config.max_request_size) {
                s.request_started(leader);
                tokio::spawn(send(s.clone(), leader, request));
            }
        }
        if s.closed_and_empty() {
            return;
        }
        let wake = s.wake.clone();
        drop(s);
        // Also wake at the retry backoff, so a metadata refresh or an epoch bump that became
        // possible is noticed without a dedicated signal.
        let fallback = Instant::now() + Duration::from_millis(100);
        let until = next_wakeup.map_or(fallback, |n| n.min(fallback));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

/// Bumps the epoch once nothing is in flight and no batch's outcome is unknown: those must be
/// resolved under the epoch they were sent with, or a retry could write them twice.
async fn bump_epoch_if_due(s: &Arc<Shared>) {
    let Some(id) = &s.idempotence else { return };
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
        Err(e) => s.go_fatal(format!("cannot bump the producer epoch: {e}")),
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

async fn send(s: Arc<Shared>, leader: i32, mut batches: Vec<Batch>) {
    let acks = wire::acks(s.config.acks);
    let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for batch in &mut batches {
        let records = batch.encoded();
        topics.entry(batch.tp.topic.clone()).or_default().push(
            PartitionProduceData::default()
                .with_index(batch.tp.partition)
                .with_records(Some(records)),
        );
    }
    let request = ProduceRequest::default()
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
        );
    match s.cluster.broker(leader, TrafficClass::Produce).await {
        // Never written: retrying cannot duplicate.
        Err(e) => {
            for batch in batches {
                s.retry_or_fail(batch, e.retry_action(), false, &|| e.clone());
            }
        }
        Ok(conn) => {
            let started = Instant::now();
            let outcome = if acks == 0 {
                match conn.version(ApiKey::Produce) {
                    Ok(version) => conn.send_no_response(&request, version).await.map(|_| None),
                    Err(e) => Err(e),
                }
            } else {
                conn.send(&request).await.map(Some)
            };
            match outcome {
                Ok(None) => {
                    for batch in batches {
                        s.succeed(batch, -1, -1);
                    }
                }
                Ok(Some(response)) => {
                    s.metrics.request_done(started.elapsed());
                    settle_response(&s, batches, &response, conn.addr());
                }
                Err(e) => {
                    let unknown = e.is_outcome_unknown();
                    for batch in batches {
                        s.retry_or_fail(batch, e.retry_action(), unknown, &|| e.clone());
                    }
                }
            }
        }
    }
    s.request_finished(leader);
    s.wake.notify_one();
}

fn settle_response(s: &Shared, batches: Vec<Batch>, response: &ProduceResponse, broker: &str) {
    let mut answers = HashMap::new();
    for topic in &response.responses {
        for p in &topic.partition_responses {
            answers.insert((topic.name.0.as_str(), p.index), p);
        }
    }
    let idempotent = s.idempotence.is_some();
    for mut batch in batches {
        let Some(p) = answers
            .get(&(batch.tp.topic.as_str(), batch.tp.partition))
            .copied()
        else {
            // The broker did not say: treat it like a lost response.
            let reason = format!("Produce response is missing {}", batch.tp);
            s.retry_or_fail(batch, RetryAction::Reconnect, true, &|| Error::Protocol {
                broker: broker.to_string(),
                reason: reason.clone(),
            });
            continue;
        };
        let code = ErrorCode(p.error_code);
        let context = format!("{} on {broker}", batch.tp);
        let error = || Error::Broker {
            code,
            context: context.clone(),
            message: p.error_message.as_ref().map(|m| m.to_string()),
        };
        match code {
            ErrorCode::NONE => s.succeed(batch, p.base_offset, p.log_append_time_ms),
            // The broker wrote this batch before (an earlier attempt landed) and no longer
            // knows its offset.
            ErrorCode::DUPLICATE_SEQUENCE_NUMBER if idempotent => s.succeed(batch, -1, -1),
            ErrorCode::UNKNOWN_PRODUCER_ID
            | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
            | ErrorCode::INVALID_PRODUCER_EPOCH
                if idempotent =>
            {
                // Rejected, so not written: safe to send again under a new epoch and fresh
                // sequences once the bump is done.
                if let Some(id) = &s.idempotence {
                    id.request_bump();
                }
                batch.sequence = None;
                // These answers mean no attempt of this batch was written (a written one
                // would make this attempt a duplicate), so its outcome is known again.
                batch.outcome_unknown = false;
                s.retry_or_fail(batch, RetryAction::Retry, false, &error);
            }
            // The topic's max.message.bytes is below this batch: resend it in halves, as
            // Java does, until single records remain (which then fail on their own).
            ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE
                if batch.record_count() > 1 =>
            {
                if let (Some(id), Some(fields)) = (&s.idempotence, batch.sequence) {
                    id.release(&batch.tp, fields);
                }
                batch.outcome_unknown = false;
                match batch.split(s.accumulator.settings()) {
                    Ok((first, second)) => {
                        tracing::debug!(tp = %first.tp, "batch too large for the topic; split");
                        s.accumulator.requeue_split(first, second);
                    }
                    Err(batch) => s.retry_or_fail(*batch, RetryAction::NoRetry, false, &error),
                }
            }
            // The leader appended the batch but replication did not confirm in time.
            ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => {
                s.retry_or_fail(batch, code.retry_action(), true, &error)
            }
            _ => {
                if code.retry_action() == RetryAction::RefreshMetadataAndRetry {
                    s.cluster.request_refresh();
                }
                s.retry_or_fail(batch, code.retry_action(), false, &error)
            }
        }
    }
}

impl Shared {
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

    /// Fails a batch that was waiting in its queue (expired, abandoned at close, fatal).
    /// Its partition's in-flight batch, if any, is another one and stays in flight.
    pub(crate) fn fail(&self, batch: Batch, error: &dyn Fn() -> Error) {
        let tp = batch.tp.clone();
        let count = batch.record_count();
        if let (Some(id), Some(fields)) = (&self.idempotence, batch.sequence) {
            if !batch.outcome_unknown {
                id.release(&tp, fields);
            }
        }
        self.metrics.failed(count);
        batch.fail(error);
        self.records_settled(count);
    }

    /// Fails the partition's in-flight batch, letting its next batch go.
    fn fail_in_flight(&self, batch: Batch, error: &dyn Fn() -> Error) {
        let tp = batch.tp.clone();
        self.fail(batch, error);
        self.accumulator.done(&tp);
    }

    fn retry_or_fail(
        &self,
        mut batch: Batch,
        action: RetryAction,
        outcome_unknown: bool,
        error: &dyn Fn() -> Error,
    ) {
        // Once an attempt may have been written, the batch stays of unknown outcome until the
        // broker acknowledges it or says it never wrote it: a later attempt that fails before
        // reaching the broker proves nothing about the earlier one.
        batch.outcome_unknown |= outcome_unknown;
        if matches!(
            action,
            RetryAction::RefreshMetadataAndRetry | RetryAction::Reconnect
        ) {
            self.cluster.request_refresh();
        }
        let idempotent = self.idempotence.is_some();
        let expired = batch.created + self.config.delivery_timeout <= Instant::now();
        let retries_left = batch.attempts < self.config.retries;
        // With idempotence, a batch that may have been written is retried until the broker
        // answers: failing it could report a written record as lost, and only a retry with
        // the same sequence can tell.
        let must_resolve = idempotent && batch.outcome_unknown;
        let retry = action != RetryAction::NoRetry && (must_resolve || (retries_left && !expired));
        if retry {
            batch.attempts = batch.attempts.saturating_add(1);
            let backoff = crate::retry::Backoff {
                initial: self.config.retry_backoff,
                max: self.config.retry_backoff_max,
            }
            .delay(batch.attempts);
            tracing::debug!(tp = %batch.tp, error = %error(), attempt = batch.attempts, "retrying batch");
            self.metrics.retried();
            self.accumulator.requeue(batch, backoff);
        } else if expired && action != RetryAction::NoRetry {
            let timeout = self.config.delivery_timeout;
            self.fail_in_flight(batch, &|| Error::DeliveryTimeout(timeout));
        } else {
            self.fail_in_flight(batch, error);
        }
    }
}
