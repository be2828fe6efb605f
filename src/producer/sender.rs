//! The sender: takes ready batches, groups them by leader into one ProduceRequest per
//! broker, and settles each batch from the response.
//!
//! ```text
//! accumulator ──drain──▶ group by leader ──▶ ProduceRequest (Produce connection of the leader)
//!      ▲                                              │
//!      └──── requeue (retriable, before deadline) ◀───┴──▶ complete / fail each record
//! ```

use super::accumulator::Batch;
use super::Shared;
use crate::admin::{duration_ms, topic_name};
use crate::cluster::TrafficClass;
use crate::error::{Error, ErrorCode, RetryAction};
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
        let now = Instant::now();
        for batch in s.accumulator.expire(now - s.config.delivery_timeout) {
            let timeout = s.config.delivery_timeout;
            s.settle(batch, |_| Err(Error::DeliveryTimeout(timeout)));
        }
        let flushing = s.flushing();
        let snapshot = s.cluster.snapshot();
        let leader_of = |tp: &crate::TopicPartition| {
            snapshot
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .and_then(|p| p.leader)
        };
        let drain = s
            .accumulator
            .drain(now, flushing, |tp| leader_of(tp).is_some());
        let mut by_leader: BTreeMap<i32, Vec<Batch>> = BTreeMap::new();
        for batch in drain.ready {
            match leader_of(&batch.tp) {
                Some(leader) => by_leader.entry(leader).or_default().push(batch),
                None => s.accumulator.requeue(batch, Duration::ZERO),
            }
        }
        for (leader, batches) in by_leader {
            for request in split_by_size(batches, s.config.max_request_size) {
                tokio::spawn(send(s.clone(), leader, request));
            }
        }
        if s.closed_and_empty() {
            return;
        }
        let wake = s.wake.clone();
        let next = drain.next_wakeup;
        drop(s);
        // While something lingers without a known leader, poll at the retry backoff so a
        // metadata refresh is noticed.
        let fallback = Instant::now() + Duration::from_millis(100);
        let until = next.map_or(fallback, |n| n.min(fallback));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

/// Groups batches into requests no larger than `max_request_size` (a single oversized batch
/// still goes alone; the broker judges it).
fn split_by_size(batches: Vec<Batch>, max_request_size: usize) -> Vec<Vec<Batch>> {
    let mut requests: Vec<Vec<Batch>> = Vec::new();
    let mut size = 0;
    for mut batch in batches {
        let len = batch.close().len();
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
    let acks = s.config.acks.as_i16();
    let mut topics: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
    for batch in &mut batches {
        let records = batch.close();
        topics.entry(batch.tp.topic.clone()).or_default().push(
            PartitionProduceData::default()
                .with_index(batch.tp.partition)
                .with_records(Some(records)),
        );
    }
    let request = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(duration_ms(s.config.client.request_timeout))
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
    let outcome = async {
        let conn = s.cluster.broker(leader, TrafficClass::Produce).await?;
        if acks == 0 {
            let version = conn.version(ApiKey::Produce)?;
            conn.send_no_response(&request, version).await?;
            Ok(None)
        } else {
            conn.send(&request).await.map(Some)
        }
    }
    .await;
    match outcome {
        Ok(None) => {
            for batch in batches {
                s.settle(batch, |b| Ok(b.records.iter().map(|_| (-1, -1)).collect()));
            }
        }
        Ok(Some(response)) => settle_response(&s, batches, &response),
        Err(e) => {
            for batch in batches {
                s.retry_or_fail(batch, e.retry_action(), || clone_error(&e));
            }
        }
    }
    s.wake.notify_one();
}

fn settle_response(s: &Shared, batches: Vec<Batch>, response: &ProduceResponse) {
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
            let tp = batch.tp.to_string();
            s.retry_or_fail(batch, RetryAction::NoRetry, || Error::Protocol {
                broker: "leader".to_string(),
                reason: format!("Produce response is missing {tp}"),
            });
            continue;
        };
        let code = ErrorCode(p.error_code);
        if code.is_ok() {
            let base = p.base_offset;
            let append_time = p.log_append_time_ms;
            s.settle(batch, |b| {
                Ok(b.records
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ts))| {
                        (
                            base + i as i64,
                            if append_time >= 0 { append_time } else { *ts },
                        )
                    })
                    .collect())
            });
        } else {
            let context = batch.tp.to_string();
            let message = p.error_message.as_ref().map(|m| m.to_string());
            s.retry_or_fail(batch, code.retry_action(), || Error::Broker {
                code,
                context: context.clone(),
                message: message.clone(),
            });
        }
    }
}

/// `Error` is not `Clone` (it may grow non-clonable sources); rebuild the variants that reach
/// several records at once.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Connection { broker, reason } => Error::Connection {
            broker: broker.clone(),
            reason: reason.clone(),
        },
        Error::RequestTimeout {
            api,
            broker,
            timeout,
        } => Error::RequestTimeout {
            api,
            broker: broker.clone(),
            timeout: *timeout,
        },
        Error::Broker {
            code,
            context,
            message,
        } => Error::Broker {
            code: *code,
            context: context.clone(),
            message: message.clone(),
        },
        other => Error::Protocol {
            broker: String::new(),
            reason: other.to_string(),
        },
    }
}

impl Shared {
    /// Resolves a batch's records with `(offset, timestamp)` pairs, or fails them all.
    pub(crate) fn settle(
        &self,
        batch: Batch,
        outcome: impl FnOnce(&Batch) -> Result<Vec<(i64, i64)>, Error>,
    ) {
        let tp = batch.tp.clone();
        let count = batch.records.len();
        match outcome(&batch) {
            Ok(offsets) => batch.complete(|i, ts| {
                let (offset, timestamp) = offsets.get(i).copied().unwrap_or((-1, ts));
                Ok(RecordMetadata {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset,
                    timestamp: if timestamp >= 0 { timestamp } else { ts },
                })
            }),
            Err(e) => batch.fail(|| clone_error(&e)),
        }
        self.accumulator.done(&tp);
        self.records_settled(count);
    }

    fn retry_or_fail(&self, batch: Batch, action: RetryAction, error: impl Fn() -> Error) {
        let expired = batch.created + self.config.delivery_timeout <= Instant::now();
        let retries_left = batch.attempts < self.config.retries;
        let retriable = action != RetryAction::NoRetry;
        if retriable && retries_left && !expired {
            if matches!(
                action,
                RetryAction::RefreshMetadataAndRetry | RetryAction::Reconnect
            ) {
                self.cluster.request_refresh();
            }
            let backoff = self.cluster_backoff(batch.attempts + 1);
            tracing::debug!(tp = %batch.tp, error = %error(), attempt = batch.attempts + 1, "retrying batch");
            self.accumulator.requeue(batch, backoff);
        } else {
            let tp = batch.tp.clone();
            let count = batch.records.len();
            batch.fail(&error);
            self.accumulator.done(&tp);
            self.records_settled(count);
        }
    }

    fn cluster_backoff(&self, attempt: u32) -> Duration {
        crate::cluster::Backoff {
            initial: self.config.retry_backoff,
            max: self.config.retry_backoff_max,
        }
        .delay(attempt)
    }
}
