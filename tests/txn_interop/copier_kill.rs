//! kafkit's copier, one process per input partition with random aborts, SIGKILLed and
//! restarted every few seconds: the output, read with `read_committed`, is the input
//! exactly. Without transactions (the negative control) the same kills leave duplicates.

use crate::common::{check_copy, fill_input, read_committed, read_isolated, Copier, Tool};
use crate::support::{bootstrap, create_topic, topic};
use kafkit::IsolationLevel;
use kafkit_testkit::CopierArgs;
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

const PARTITIONS: i32 = 3;

/// The records copied: issue 13's 100,000, or `TXN_COPY_RECORDS`.
fn records() -> usize {
    std::env::var("TXN_COPY_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// What one run saw: the kills, and how long it took.
struct Run {
    kills: usize,
    took: Duration,
}

/// Copies `input_topic` to `output_topic` with one kafkit copier per partition (with
/// `transaction_size` records per poll), killing a random one of those copying (a batch
/// committed since it started) every `every` (±50 %) and starting it again at once, until
/// each has exited 0 having copied its partition to the end.
async fn copy_with_kills(
    bootstrap: &str,
    (input_topic, output_topic): (&str, &str),
    (transaction_size, extra): (u32, &[&str]),
    every: Duration,
    limit: Duration,
) -> Run {
    let group = topic("copier-group");
    let args: Vec<CopierArgs> = (0..PARTITIONS)
        .map(|p| {
            let mut a = CopierArgs::new(
                bootstrap,
                input_topic,
                p,
                output_topic,
                format!("{group}-{p}"),
                &group,
            );
            a.random_aborts = true;
            a.transaction_size = transaction_size;
            a.use_group_metadata = true;
            a.transaction_timeout_ms = 10_000;
            a
        })
        .collect();
    let mut copiers = Vec::new();
    for a in &args {
        copiers.push(Some(Copier::start(Tool::Kafkit, a, extra).await));
    }
    let start = Instant::now();
    let mut kills = 0;
    let mut next_kill = start + every;
    while copiers.iter().any(Option::is_some) {
        assert!(
            start.elapsed() < limit,
            "the copiers did not finish within {limit:?} ({kills} kills)"
        );
        for slot in copiers.iter_mut() {
            let finished = match slot.as_mut().and_then(Copier::exited) {
                None => continue,
                Some(status) => status,
            };
            let c = slot.take().unwrap();
            assert!(
                finished.success(),
                "a copier failed ({finished}); last status {:?}; stderr:\n{}",
                c.status(),
                c.stderr()
            );
            let status = c
                .status()
                .expect("a copier that finished printed its status");
            assert_eq!(status.stage, "ShutdownComplete");
            assert_eq!(status.remaining, 0, "{status:?}");
        }
        if Instant::now() >= next_kill {
            // Only copiers that have committed a batch since they started: they are
            // copying, not starting up, so the kill cuts a batch.
            let copying: Vec<usize> = (0..copiers.len())
                .filter(|&i| {
                    copiers[i]
                        .as_ref()
                        .and_then(Copier::status)
                        .is_some_and(|s| s.total_processed > 0)
                })
                .collect();
            if copying.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let victim = copying[rand::rng().random_range(0..copying.len())];
            copiers[victim].as_mut().unwrap().kill().await;
            kills += 1;
            copiers[victim] = Some(Copier::start(Tool::Kafkit, &args[victim], extra).await);
            let jitter = rand::rng().random_range(0.5..1.5);
            next_kill = Instant::now() + every.mul_f64(jitter);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Run {
        kills,
        took: start.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copier_killed_and_restarted_copies_exactly_once() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    let (input_topic, output_topic) = (topic("copy-in"), topic("copy-out"));
    create_topic(&bootstrap, &input_topic, PARTITIONS).await;
    create_topic(&bootstrap, &output_topic, PARTITIONS).await;
    let n = records();
    let input = fill_input(&bootstrap, &input_topic, PARTITIONS, n).await;

    let run = copy_with_kills(
        &bootstrap,
        (&input_topic, &output_topic),
        (200, &[]),
        Duration::from_secs(2),
        Duration::from_secs(170),
    )
    .await;
    println!(
        "copied {n} records in {:?} with {} kills",
        run.took, run.kills
    );
    assert!(
        run.kills >= 5,
        "only {} kills: the run proved little",
        run.kills
    );

    let output = read_committed(&bootstrap, &output_topic, PARTITIONS).await;
    let report = check_copy(&input, &output);
    assert!(report.is_clean(), "read_committed output:\n{report}");
    assert_eq!(output.len(), n);

    // The aborted transactions (random, and those the kills cut) did write records: a
    // read_uncommitted reader sees them as duplicates, so the check above could fail.
    let uncommitted = read_isolated(
        &bootstrap,
        &output_topic,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await;
    let report = check_copy(&input, &uncommitted);
    assert!(
        !report.duplicated.is_empty(),
        "read_uncommitted shows no aborted record: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_transactions_kills_duplicate_records() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    let (input_topic, output_topic) = (topic("copy-ctl-in"), topic("copy-ctl-out"));
    create_topic(&bootstrap, &input_topic, PARTITIONS).await;
    create_topic(&bootstrap, &output_topic, PARTITIONS).await;
    let n = records();
    let input = fill_input(&bootstrap, &input_topic, PARTITIONS, n).await;

    // The same copiers and batches (200 records a poll, written in 512-byte batches, so
    // over several requests), killed eight times as often: without transactions they are quick.
    let run = copy_with_kills(
        &bootstrap,
        (&input_topic, &output_topic),
        (200, &["--no-transactions"]),
        Duration::from_millis(250),
        Duration::from_secs(170),
    )
    .await;
    assert!(
        run.kills >= 5,
        "only {} kills: the run proved little",
        run.kills
    );
    println!(
        "copied {n} records without transactions in {:?} with {} kills",
        run.took, run.kills
    );
    let output = read_committed(&bootstrap, &output_topic, PARTITIONS).await;
    let report = check_copy(&input, &output);
    // At least once: nothing lost, but the batches written and not yet committed when a
    // copier was killed are written again by its successor.
    println!("{report}");
    assert!(report.lost.is_empty(), "{report}");
    assert!(
        !report.duplicated.is_empty(),
        "{} kills without transactions left no duplicate: {report}",
        run.kills
    );
}
