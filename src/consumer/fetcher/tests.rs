//! The consumer's fetch path against the testkit's fake broker answering what no real broker
//! sends: data that never holds a whole batch, a response too large to read, fatal codes,
//! a decompression bomb. Each must end in a typed error from `poll`, not a loop.

use crate::config::{Compression, ConsumerConfig};
use crate::consumer::Consumer;
use crate::error::Error;
use crate::protocol::record_batch::{BatchBuilder, BatchParams};
use crate::record::TopicPartition;
use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafkit_testkit::{FakeBroker, Received, Reply};
use std::time::Duration;

/// A consumer of the fake broker's topic "t" partition 0, from offset 0.
async fn consumer(broker: &FakeBroker, config: impl FnOnce(&mut ConsumerConfig)) -> Consumer {
    let mut c = ConsumerConfig::new(broker.bootstrap());
    c.client.reconnect_backoff = Duration::from_millis(10);
    config(&mut c);
    let consumer = Consumer::new(c).await.unwrap();
    let tp = TopicPartition::new("t", 0);
    consumer.assign([tp.clone()]).await.unwrap();
    consumer.seek(&tp, 0).await.unwrap();
    consumer
}

/// A Fetch answer to `request` for "t"-0 holding `records` as they are.
fn answer(request: &Received, records: Bytes) -> Reply {
    answer_with(request, records, 100)
}

/// The answer names the topic as the request did: by id from Fetch v13.
fn answer_with(request: &Received, records: Bytes, high_watermark: i64) -> Reply {
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_high_watermark(high_watermark)
        .with_records(Some(records));
    let topic = FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_topic_id(request.decode::<FetchRequest>().topics[0].topic_id)
        .with_partitions(vec![partition]);
    Reply::response(FetchResponse::default().with_responses(vec![topic]))
}

/// One batch at offset 0 of `n` records whose values are `value`.
fn batch(codec: Compression, value: &[u8], n: usize) -> Bytes {
    let mut builder = BatchBuilder::new(codec, value.len() * n + 64);
    for _ in 0..n {
        builder.append(1_700_000_000_000, None, Some(value), &[]);
    }
    builder.finish(BatchParams::default())
}

/// The `partition_max_bytes` of each Fetch the broker received, in order.
fn fetch_sizes(broker: &FakeBroker) -> Vec<i32> {
    broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::Fetch)
        .map(|r| r.decode::<FetchRequest>().topics[0].partitions[0].partition_max_bytes)
        .collect()
}

fn fetches(broker: &FakeBroker) -> usize {
    broker
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::Fetch)
        .count()
}

#[tokio::test]
async fn data_without_a_whole_batch_grows_the_fetch_then_fails_typed() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let whole = batch(Compression::Uncompressed, b"value", 10);
    let cut = whole.slice(..whole.len() - 1);
    broker.script(ApiKey::Fetch, move |request| answer(request, cut.clone()));
    let consumer = consumer(&broker, |c| {
        c.max_partition_fetch_bytes = 1024;
        c.fetch_max_bytes = 4096;
    })
    .await;
    // Before, the same fetch went out again at once, forever, and poll saw nothing.
    match consumer.poll(Duration::from_secs(5)).await {
        Err(Error::RecordTooLarge { size, max, setting }) => {
            assert_eq!((size, max, setting), (whole.len(), 4096, "fetch.max.bytes"))
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(fetch_sizes(&broker), vec![1024, 2048, 4096]);
}

#[tokio::test]
async fn a_response_too_large_to_read_is_returned_once_not_refetched_in_a_loop() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    // A frame declaring 2 MiB, over kafkit.max.response.bytes.
    broker.script(ApiKey::Fetch, |request| {
        let mut frame = (2i32 << 20).to_be_bytes().to_vec();
        frame.extend(request.correlation_id.to_be_bytes());
        Reply::Raw(Bytes::from(frame))
    });
    let consumer = consumer(&broker, |c| {
        c.client.max_response_size = 1 << 20;
        c.fetch_max_bytes = 1 << 19;
        c.max_partition_fetch_bytes = 1 << 19;
    })
    .await;
    match consumer.poll(Duration::from_secs(5)).await {
        Err(Error::Protocol { reason, .. }) => {
            assert!(reason.contains("kafkit.max.response.bytes"), "{reason}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    // Not fetched again until the application polls again; before, every 50 ms forever.
    let after_error = fetches(&broker);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fetches(&broker), after_error);
    // The next poll tries once more, and says so again.
    assert!(matches!(
        consumer.poll(Duration::from_secs(5)).await,
        Err(Error::Protocol { .. })
    ));
}

#[tokio::test]
async fn a_fatal_fetch_error_is_returned_by_poll_and_not_retried_meanwhile() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    broker.script(ApiKey::Fetch, |_| {
        // CLUSTER_AUTHORIZATION_FAILED for the whole request.
        Reply::response(FetchResponse::default().with_error_code(31))
    });
    let consumer = consumer(&broker, |_| {}).await;
    let e = consumer.poll(Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.0), Some(31), "{e}");
    let after_error = fetches(&broker);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        fetches(&broker),
        after_error,
        "retried every backoff meanwhile"
    );
}

#[tokio::test]
async fn a_batch_decompressing_past_the_fetch_budget_is_a_bomb_not_records() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    // 8 MiB of zeros, a few KiB compressed: within the old cap (64 × fetch.max.bytes), far
    // over the budget (2 × fetch.max.bytes).
    let bomb = batch(Compression::Zstd, &vec![0u8; 1 << 20], 8);
    assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
    broker.script(ApiKey::Fetch, move |request| answer(request, bomb.clone()));
    let consumer = consumer(&broker, |c| {
        c.fetch_max_bytes = 1 << 20;
        c.max_partition_fetch_bytes = 1 << 20;
    })
    .await;
    match consumer.poll(Duration::from_secs(5)).await {
        Err(Error::CorruptBatch { reason, offset, .. }) => {
            assert_eq!(offset, 0);
            assert!(reason.contains("limit"), "{reason}");
        }
        Ok(records) => panic!("the bomb was decoded: {} records", records.len()),
        Err(e) => panic!("expected a corrupt batch, got {e}"),
    }
}

#[tokio::test]
async fn lag_from_a_hostile_high_watermark_does_not_overflow() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    broker.script(ApiKey::Fetch, |request| {
        answer_with(request, Bytes::new(), i64::MIN)
    });
    let consumer = consumer(&broker, |_| {}).await;
    let tp = TopicPartition::new("t", 0);
    consumer.seek(&tp, 5).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while consumer.current_lag(&tp).await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no fetch answered");
        consumer.poll(Duration::from_millis(100)).await.unwrap();
    }
    // Before: i64::MIN - 5 overflowed (a panic with overflow checks).
    assert_eq!(consumer.current_lag(&tp).await, Some(0));
}
