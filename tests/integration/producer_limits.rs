//! Sizes, durations and wire integers at their limits: typed errors or saturated deadlines,
//! never a panic (`Instant + Duration` overflow, `i32` lengths, overflowing offsets).

use crate::support::*;
use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use kafkit::{Error, Producer, ProducerRecord};
use kafkit_testkit::{FakeBroker, Reply};
use std::time::Duration;

/// A record of 2 GiB or more is too large for any setting; the encoder's `i32` lengths must
/// not be asked to measure it. Before, `send` panicked.
#[tokio::test]
async fn a_record_of_2_gib_is_refused_as_too_large() {
    let (bootstrap, topic) = fresh_topic("huge", 1).await;
    let mut config = producer_config(&bootstrap);
    config.buffer_memory = usize::MAX;
    config.max_request_size = i32::MAX as usize;
    let producer = Producer::new(config).await.unwrap();
    // Zeroed pages the kernel maps lazily: 2 GiB of address space, next to no memory.
    let huge = Bytes::from(vec![0u8; 1 << 31]);
    for record in [
        ProducerRecord::new(topic.as_str(), huge.clone()),
        ProducerRecord::new(topic.as_str(), huge.slice(..1 << 30)).key(huge.slice(..1 << 30)),
        ProducerRecord::new(topic.as_str(), "v").header("h", huge.clone()),
    ] {
        let err = producer.send(record).await.expect_err("too large");
        assert!(
            matches!(
                err,
                Error::RecordTooLarge { size, max, setting: "max.request.size" }
                    if size > max && max == i32::MAX as usize
            ),
            "{err}"
        );
    }
    let ok = send_all(&producer, [ProducerRecord::new(topic.as_str(), "small")]).await;
    assert_eq!(ok[0].offset, 0, "nothing of the refused records was queued");
}

/// Durations at the edge of what is accepted: `max.block.ms` of `Duration::MAX` (waiting
/// for metadata and memory), `delivery.timeout.ms` of `i32::MAX` ms (longer than the
/// machine has been up, so "now less the delivery timeout" does not exist). Before, the
/// first panicked in `send` and the second in the sender task, after which nothing was ever
/// sent.
#[tokio::test]
async fn the_longest_durations_are_deadlines_far_away() {
    let (bootstrap, topic) = fresh_topic("forever", 1).await;
    let mut config = producer_config(&bootstrap);
    config.max_block = Duration::MAX;
    config.delivery_timeout = Duration::from_millis(i32::MAX as u64);
    config.retry_backoff_max = Duration::from_millis(i32::MAX as u64);
    config.linger = Duration::from_millis(1);
    let producer = Producer::new(config).await.unwrap();
    let written = tokio::time::timeout(
        Duration::from_secs(30),
        send_all(&producer, [ProducerRecord::new(topic.as_str(), "v")]),
    )
    .await
    .expect("delivered");
    assert_eq!(written[0].offset, 0);

    for (setting, apply) in [
        (
            "linger.ms",
            (|c: &mut kafkit::ProducerConfig| c.linger = Duration::MAX) as fn(&mut _),
        ),
        ("delivery.timeout.ms", |c| {
            c.delivery_timeout = Duration::MAX
        }),
        ("retry.backoff.max.ms", |c| {
            c.retry_backoff_max = Duration::MAX
        }),
    ] {
        let mut config = producer_config(&bootstrap);
        apply(&mut config);
        let err = Producer::new(config).await.expect_err(setting);
        assert!(
            matches!(&err, Error::Config(m) if m.contains(setting)),
            "{setting}: {err}"
        );
    }
}

/// A broker that acknowledges a batch at a base offset so large that its records' offsets
/// overflow: the records are written, at offsets kafkit cannot tell (-1). Before, settling
/// the answer panicked (in debug builds), leaving two of the three records failed as
/// `Closed` and the partition blocked.
#[tokio::test]
async fn a_hostile_base_offset_leaves_the_offsets_unknown() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    broker.script(ApiKey::Produce, |request| {
        let produce: ProduceRequest = request.decode();
        let topics = produce
            .topic_data
            .iter()
            .map(|t| {
                TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_partition_responses(
                        t.partition_data
                            .iter()
                            .map(|p| {
                                PartitionProduceResponse::default()
                                    .with_index(p.index)
                                    .with_base_offset(i64::MAX - 1)
                                    .with_log_append_time_ms(i64::MIN)
                            })
                            .collect(),
                    )
            })
            .collect();
        Reply::response(ProduceResponse::default().with_responses(topics))
    });
    let mut config = producer_config(&broker.bootstrap());
    config.linger = Duration::from_millis(200);
    let producer = Producer::new(config).await.unwrap();
    let written = tokio::time::timeout(
        Duration::from_secs(10),
        send_all(
            &producer,
            ["a", "b", "c"].map(|v| ProducerRecord::new("t", v).partition(0)),
        ),
    )
    .await
    .expect("settled");
    let offsets: Vec<i64> = written.iter().map(|m| m.offset).collect();
    assert_eq!(offsets, [-1, -1, -1]);
    let again = send_all(&producer, [ProducerRecord::new("t", "d").partition(0)]).await;
    assert_eq!(again[0].offset, i64::MAX - 1, "the partition goes on");
}
