//! An idempotent producer's first batch to a partition stuck on a frozen leader, while the
//! partition moves to another node: the next batch must not be written there before it.
//!
//! A broker that holds no state for a producer on a partition writes a batch of any
//! sequence as its first. Before kafkit queued a batch only on the connection its
//! partition's earlier unsettled batches were queued on, the second record went to the new
//! leader and was written at offset 0 while the first waited on the frozen node; the first
//! then came back refused as out of order, and was written after it, under a new epoch.

use crate::leaders::replicas;
use crate::support::*;
use kafkit::{Acks, Producer, ProducerConfig, ProducerRecord};
use kafkit_testkit::KafkaCluster;
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 6;
/// Long enough that the first record's request is still waiting for the frozen leader when
/// the second is sent to the new one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Short, so the producer learns of the new leader soon after the election.
const METADATA_MAX_AGE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_first_batch_stuck_on_a_frozen_leader_is_not_overtaken_on_the_new_one() {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    // Node 0 alone is a controller, so freezing a leader on node 1 or 2 leaves the quorum
    // whole to fence it and elect another.
    let broker = Broker::start_with(KafkaCluster::builder().nodes(3).controllers(1)).await;
    let bootstrap = broker.bootstrap.clone();
    let topic = broker.create_topic("leader-move", PARTITIONS).await;

    // A partition led by a broker-only node, and another it leads, to open the producer's
    // connection to it without giving the first partition any producer state.
    let mut leaders = Vec::new();
    for p in 0..PARTITIONS {
        let (leader, _, _) = replicas(&bootstrap, &topic, p).await;
        leaders.push((p, leader));
    }
    let (partition, frozen, warm) = leaders
        .iter()
        .filter(|&&(_, leader)| leader > 0)
        .find_map(|&(p, leader)| {
            let other = leaders.iter().find(|&&(q, l)| q != p && l == leader)?;
            Some((p, leader, other.0))
        })
        .unwrap_or_else(|| panic!("no broker-only node leads two partitions: {leaders:?}"));
    log(
        t0,
        format!("partition {partition} and {warm} led by node {frozen}"),
    );

    let mut config = ProducerConfig::new(&bootstrap);
    config.acks = Acks::All;
    config.enable_idempotence = true;
    config.linger = Duration::ZERO;
    config.client.request_timeout = REQUEST_TIMEOUT;
    config.client.metadata_max_age = METADATA_MAX_AGE;
    config.delivery_timeout = Duration::from_secs(120);
    let producer = Producer::new(config).await.expect("producer");
    producer
        .send(ProducerRecord::new(topic.as_str(), "warm").partition(warm))
        .await
        .expect("send")
        .await
        .expect("the warm-up record");

    broker.pause(frozen as usize).await;
    log(t0, format!("node {frozen} frozen"));
    let first = producer
        .send(ProducerRecord::new(topic.as_str(), "first").partition(partition))
        .await
        .expect("send the first record");

    // The bootstrap without the frozen node, which would take the question and never answer.
    let frozen_addr = broker
        .blocking(move |c| c.broker_addr(frozen as usize))
        .await;
    let live: Vec<&str> = bootstrap.split(',').filter(|&a| a != frozen_addr).collect();
    let live = live.join(",");
    let deadline = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        let (leader, _, _) = replicas(&live, &topic, partition).await;
        if leader >= 0 && leader != frozen {
            break leader;
        }
        assert!(Instant::now() < deadline, "no new leader elected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    log(t0, format!("node {leader} leads partition {partition}"));
    // Past a few metadata refreshes, the producer sends to the new leader.
    tokio::time::sleep(METADATA_MAX_AGE * 4).await;
    let second = producer
        .send(ProducerRecord::new(topic.as_str(), "second").partition(partition))
        .await
        .expect("send the second record");
    // Give the second record time to be written first, as it was before the fix.
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.resume(frozen as usize).await;
    log(t0, format!("node {frozen} resumed"));

    let limit = Duration::from_secs(90);
    let first = tokio::time::timeout(limit, first)
        .await
        .expect("the first record's delivery hangs")
        .expect("the first record");
    let second = tokio::time::timeout(limit, second)
        .await
        .expect("the second record's delivery hangs")
        .expect("the second record");
    log(
        t0,
        format!(
            "first at offset {}, second at offset {}",
            first.offset, second.offset
        ),
    );
    assert!(
        first.offset < second.offset,
        "written out of order: first at {}, second at {}",
        first.offset,
        second.offset
    );
    let read: Vec<(i32, String)> = read_all(&bootstrap, &topic, PARTITIONS)
        .await
        .iter()
        .filter(|r| r.partition == partition)
        .map(|r| (r.partition, value_of(r)))
        .collect();
    assert_eq!(
        read,
        [
            (partition, "first".to_string()),
            (partition, "second".to_string())
        ],
        "partition {partition} holds another log"
    );
}
