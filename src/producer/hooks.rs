//! A hook for the fuzz targets (feature `fuzzing`): a Produce response of arbitrary bytes
//! settled against the batches of a request, as the request task settles it.

use super::batch::{Append, Reply};
use super::idempotence::Idempotence;
use super::{sender, Shared};
use crate::cluster::{cluster_settings, Cluster};
use crate::config::ProducerConfig;
use crate::error::{Error, Result};
use crate::protocol::record_batch::record_fixed_len;
use crate::protocol::versions;
use crate::record::RecordMetadata;
use crate::sync::lock;
use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ProduceResponse};
use kafka_protocol::protocol::Decodable;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// Each record's outcome as its callback heard it, by record number.
type Outcomes = Arc<Mutex<Vec<(usize, Result<RecordMetadata>)>>>;

/// The batches of the request: (topic, partition, records).
const BATCHES: [(&str, i32, usize); 3] = [("t", 0, 3), ("t", 1, 1), ("u", 0, 2)];

/// `data`: the Produce version (first byte, within kafkit's range), what is known of the
/// batches (second byte: bit 0 idempotence, bit 1 an earlier attempt's outcome unknown, bit 2
/// `retries=0`, bit 3 `delivery.timeout.ms` passed), then the response body. The batches of
/// `BATCHES` are sent (sealed, sequenced with idempotence) and the response settles them;
/// then the producer gives up on what was put back to be retried. Panics, as the fuzzer wants
/// to hear, unless every record was resolved exactly once, the offsets of a written batch
/// follow on from each other, and every record and byte of `buffer.memory` is accounted for.
pub fn fuzz_produce_settle(data: &[u8]) {
    let [version, known, body @ ..] = data else {
        return;
    };
    let Some((min, max)) = versions::ours(ApiKey::Produce) else {
        return;
    };
    let version = min + (*version as i16) % (max - min + 1);
    let Ok(response) = ProduceResponse::decode(&mut Bytes::copy_from_slice(body), version) else {
        return;
    };
    let mut config = ProducerConfig::new("fuzz:9092");
    config.enable_idempotence = known & 1 != 0;
    if known & 4 != 0 {
        config.retries = 0;
    }
    let Ok(settings) = cluster_settings(&config.client) else {
        return;
    };
    let idempotence = config
        .enable_idempotence
        .then(|| Idempotence::new(7, 0, false));
    let delivery_timeout = config.delivery_timeout;
    let shared = Shared::new(config, Cluster::unconnected(settings), idempotence);

    let outcomes = Outcomes::default();
    let mut record = 0;
    for (topic, partition, count) in BATCHES {
        let topic: Arc<str> = Arc::from(topic);
        for _ in 0..count {
            append(&shared, &topic, partition, record, &outcomes);
            record += 1;
        }
    }
    let (mut batches, _) = shared
        .accumulator
        .drain(Instant::now(), true, false, |_, _, _| true);
    for batch in &mut batches {
        batch.outcome_unknown = known & 2 != 0;
        if known & 8 != 0 {
            batch.created = Instant::now()
                .checked_sub(delivery_timeout)
                .unwrap_or(batch.created);
        }
        if let Some(id) = &shared.idempotence {
            batch.sequence = Some(id.assign(&batch.tp, batch.record_count()));
        }
    }
    let _request = sender::produce_request(&shared, -1, &mut batches);
    sender::settle_response(&shared, batches, &response, "fuzz:9092");
    shared.abandon(Error::Closed);

    let outcomes = lock(&outcomes);
    let mut resolved = vec![0; record];
    for (i, outcome) in outcomes.iter() {
        resolved[*i] += 1;
        if let Ok(m) = outcome {
            assert!(m.offset >= -1, "record {i} at offset {}", m.offset);
        }
    }
    assert!(
        resolved.iter().all(|&n| n == 1),
        "resolutions per record: {resolved:?}"
    );
    let mut first = 0;
    for (_, _, count) in BATCHES {
        let offsets: Vec<i64> = (first..first + count)
            .filter_map(|i| outcomes.iter().find(|(r, _)| *r == i))
            .filter_map(|(_, o)| o.as_ref().ok().map(|m| m.offset))
            .collect();
        if offsets.first().is_some_and(|&o| o >= 0) {
            assert!(
                offsets.windows(2).all(|w| w[1] == w[0] + 1),
                "offsets of one batch: {offsets:?}"
            );
        }
        first += count;
    }
    assert_eq!(shared.outstanding.load(Ordering::SeqCst), 0);
    assert_eq!(shared.memory.available_permits(), shared.memory_limit);
}

/// Appends record `i` as `send` does, its callback noting the outcome.
fn append(shared: &Shared, topic: &Arc<str>, partition: i32, i: usize, outcomes: &Outcomes) {
    let value = format!("record {i}");
    let record = Append {
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(value.as_bytes()),
        headers: &[],
        size: value.len() + 100,
        fixed_len: record_fixed_len(None, Some(value.as_bytes()), &[]),
    };
    let outcomes = outcomes.clone();
    let reply = Reply::Callback(Box::new(move |outcome| lock(&outcomes).push((i, outcome))));
    shared.outstanding.fetch_add(1, Ordering::SeqCst);
    let reply = match shared
        .accumulator
        .try_append(topic, partition, &record, reply)
    {
        super::accumulator::Appended::Yes { .. } => return,
        super::accumulator::Appended::NeedsBatch(reply) => reply,
    };
    let capacity = shared.accumulator.batch_capacity(record.size);
    let reservation = shared
        .memory
        .clone()
        .try_acquire_many_owned(capacity as u32)
        .expect("buffer.memory holds three batches");
    let _ = shared
        .accumulator
        .append_new(topic, partition, &record, reply, reservation);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::topic_name;
    use bytes::BytesMut;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::protocol::Encodable;

    /// The hook's input: every partition of the request answered with `code` at
    /// `base_offset`, in the highest version kafkit speaks, for batches of what `known` says.
    fn input(known: u8, code: i16, base_offset: i64) -> Vec<u8> {
        let (min, max) = versions::ours(ApiKey::Produce).unwrap();
        let topics = ["t", "u"].map(|topic| {
            TopicProduceResponse::default()
                .with_name(topic_name(topic))
                .with_partition_responses(
                    BATCHES
                        .iter()
                        .filter(|(t, ..)| *t == topic)
                        .map(|&(_, p, _)| {
                            PartitionProduceResponse::default()
                                .with_index(p)
                                .with_error_code(code)
                                .with_base_offset(base_offset)
                                .with_log_append_time_ms(i64::MIN)
                        })
                        .collect(),
                )
        });
        let mut body = BytesMut::new();
        ProduceResponse::default()
            .with_responses(topics.into())
            .encode(&mut body, max)
            .unwrap();
        let mut data = vec![(max - min) as u8, known];
        data.extend_from_slice(&body);
        data
    }

    #[test]
    fn any_bytes_settle_without_a_panic() {
        for data in [&[][..], &[0, 0], &[0, 1, 0, 0, 0, 0], &[255; 64]] {
            fuzz_produce_settle(data);
        }
    }

    /// Each answer, for batches of each kind: written (at a base offset so large that the
    /// records' offsets overflow), too large (split), retriable, refused, maybe written.
    #[test]
    fn every_answer_resolves_every_record_once() {
        for known in 0..16 {
            for (code, base_offset) in [
                (0, i64::MAX),
                (0, i64::MAX - 2),
                (0, -7),
                (10, 0),
                (6, 0),
                (7, 0),
                (45, 0),
                (46, 0),
                (29, 0),
            ] {
                fuzz_produce_settle(&input(known, code, base_offset));
            }
        }
    }
}
