use crate::support::*;
use kafkit::{Consumer, ProducerRecord, TopicPartition};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Partitions are processed concurrently, each partition's records in offset order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_run_in_parallel_and_each_keeps_its_order() {
    let (bootstrap, topic) = fresh_topic("parallel", 4).await;
    let records =
        (0..400).map(|i| ProducerRecord::new(topic.as_str(), format!("{i}")).partition(i % 4));
    produce(&bootstrap, records).await;

    let consumer = Consumer::new(consumer_config(&bootstrap)).await.unwrap();
    consumer
        .assign((0..4).map(|p| TopicPartition::new(&topic, p)))
        .await
        .unwrap();
    let seen: Arc<Mutex<BTreeMap<i32, Vec<i64>>>> = Arc::default();
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut total = 0;
    for _ in 0..60 {
        let (seen, active, peak) = (seen.clone(), active.clone(), peak.clone());
        total += consumer
            .process_partitions(Duration::from_millis(500), 4, move |tp, records| {
                let (seen, active, peak) = (seen.clone(), active.clone(), peak.clone());
                async move {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    for r in records {
                        assert_eq!(r.partition, tp.partition);
                        seen.lock()
                            .unwrap()
                            .entry(tp.partition)
                            .or_default()
                            .push(r.offset);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .await
            .unwrap();
        if total >= 400 {
            break;
        }
    }
    assert_eq!(total, 400);
    let seen = seen.lock().unwrap();
    for p in 0..4 {
        assert_eq!(
            seen[&p],
            (0..100).collect::<Vec<i64>>(),
            "partition {p} in order"
        );
    }
    assert!(peak.load(Ordering::SeqCst) > 1, "partitions overlapped");
}
