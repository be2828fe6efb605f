//! The producer's per-record path, `send_with_callback` up to the record sitting in its
//! batch (metadata, partitioning, appending), timed against a real broker (the testkit's, or
//! `KAFKA_BOOTSTRAP_SERVERS`), with many partitions and many topics:
//!
//! ```sh
//! cargo bench --bench produce_path
//! ```
//!
//! Only the sends are timed; the records are delivered after each sample, outside the
//! clock, so `buffer.memory` (512 MiB here) never makes a send wait. The broker and the
//! producer's own tasks still run meanwhile, so on a busy machine compare runs made minutes
//! apart, not against other machines.
//!
//! - `keyless/6`, `keyless/1000`: 100-byte keyless records to one topic of 6 or 1,000
//!   partitions (the sticky partitioner fills one partition's batch at a time);
//! - `keyed/1000`: keyed records, spread by their key's hash over all 1,000 partitions;
//! - `100_topics`: keyless records to 100 topics of 6 partitions in turn, so every record
//!   looks a different topic up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafkit::{Admin, ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord};
use tokio::runtime::Runtime;

/// Records of one workload: topic, key and value, sent in turn.
struct Workload {
    name: &'static str,
    partitions: i32,
    records: Vec<(Arc<str>, Option<Bytes>)>,
}

fn workloads(run: &str) -> Vec<Workload> {
    let topic = |name: &str| -> Arc<str> { format!("produce-path-{run}-{name}").into() };
    let keys = (0..4096).map(|i| Some(Bytes::from(format!("user-{i:05}"))));
    vec![
        Workload {
            name: "keyless/6",
            partitions: 6,
            records: vec![(topic("p6"), None)],
        },
        Workload {
            name: "keyless/1000",
            partitions: 1000,
            records: vec![(topic("p1000"), None)],
        },
        Workload {
            name: "keyed/1000",
            partitions: 1000,
            records: keys.map(|k| (topic("p1000"), k)).collect(),
        },
        Workload {
            name: "100_topics",
            partitions: 6,
            records: (0..100).map(|i| (topic(&format!("t{i}")), None)).collect(),
        },
    ]
}

async fn setup(bootstrap: &str, workloads: &[Workload]) -> kafkit::Result<Producer> {
    let admin = Admin::new(ClientConfig::new(bootstrap)).await?;
    let mut seen = std::collections::HashSet::new();
    let topics = workloads.iter().flat_map(|w| {
        w.records
            .iter()
            .map(move |(t, _)| (t.clone(), w.partitions))
    });
    let new: Vec<NewTopic> = topics
        .filter(|(t, _)| seen.insert(t.clone()))
        .map(|(t, p)| NewTopic::new(&*t, p, 1))
        .collect();
    admin.create_topics(new).await?;
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("linger.ms", "5"),
        ("batch.size", "65536"),
        ("buffer.memory", "536870912"),
    ])?;
    let producer = Producer::new(config).await?;
    // Metadata of every topic in the cache and the connection open before the clock starts.
    for w in workloads {
        for (topic, key) in &w.records {
            let mut record = ProducerRecord::new(topic.clone(), Bytes::from_static(&[0; 100]));
            record.key = key.clone();
            // Its outcome shows in the flush below.
            drop(producer.send(record).await?);
        }
    }
    producer.flush().await;
    Ok(producer)
}

fn produce_path(c: &mut Criterion) {
    // Blocks while the broker starts, so before the runtime exists.
    let bootstrap = kafkit_testkit::bootstrap_servers();
    let runtime = Runtime::new().expect("tokio runtime");
    let workloads = workloads(&std::process::id().to_string());
    let producer = runtime
        .block_on(setup(&bootstrap, &workloads))
        .expect("cannot set the benchmark up");
    let value = Bytes::from_static(&[b'v'; 100]);
    let mut group = c.benchmark_group("produce_path");
    group
        .throughput(Throughput::Elements(1))
        .measurement_time(Duration::from_secs(4));
    for w in &workloads {
        group.bench_function(BenchmarkId::from_parameter(w.name), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut next = w.records.iter().cycle();
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (topic, key) = next.next().expect("a cycle never ends");
                        let mut record = ProducerRecord::new(topic.clone(), value.clone());
                        record.key = key.clone();
                        producer
                            .send_with_callback(record, |outcome| {
                                outcome.expect("not delivered");
                            })
                            .await
                            .expect("not queued");
                    }
                    let elapsed = start.elapsed();
                    producer.flush().await;
                    elapsed
                })
            })
        });
    }
    group.finish();
    runtime.block_on(producer.close(Duration::from_secs(30)));
}

criterion_group!(benches, produce_path);
criterion_main!(benches);
