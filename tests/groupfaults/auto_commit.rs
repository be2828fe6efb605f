//! Auto-commit is at least once (issue 11, item 2). A member with auto-commit polls a batch,
//! and while it "processes" it, the next poll's auto-commit... must not have covered it: the
//! member is SIGKILLed mid-batch, and the member that takes over re-reads that batch.
//!
//! Java snapshots the positions of records returned by *earlier* polls before a poll hands
//! out new ones. Before the fix, kafkit's auto-commit read the positions from a task that
//! ran after the poll had moved them past the batch it returned, so the kill lost the batch:
//! the next member started after it. Run with each group protocol: auto-commit is the same
//! under both.

use crate::common::*;
use crate::support::*;
use kafkit::GroupProtocol;
use std::time::Duration;
use tokio::time::Instant;

/// The `(partition, offset)` of the records a member wrote after its last `# processed`
/// line: the batch it was processing when it died.
fn unprocessed(member: &Member) -> Vec<(i32, i64)> {
    let lines = member.lines();
    let after = lines
        .iter()
        .rposition(|l| l == "# processed")
        .map_or(0, |i| i + 1);
    lines[after..]
        .iter()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split(' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_while_processing_an_auto_committed_poll_rereads_the_batch() {
    killed_while_processing_an_auto_committed_poll(GroupProtocol::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_while_processing_an_auto_committed_poll_rereads_the_batch_consumer_protocol(
) {
    killed_while_processing_an_auto_committed_poll(GroupProtocol::Consumer).await;
}

async fn killed_while_processing_an_auto_committed_poll(protocol: GroupProtocol) {
    let _turn = HEAVY.lock().await;
    let t0 = Instant::now();
    let broker = start_broker(protocol, 3000).await;
    let topic = broker.create_topic("gf-autocommit", 1).await;
    let produced = produce_values(&broker.bootstrap, &topic, "v", 0..400).await;
    log(t0, format!("{} records on one partition", produced.len()));
    // Every poll finds an auto-commit due (100 ms interval, 3 s of processing per batch of
    // 50), so the poll that returns the second batch commits.
    let mut args = MemberArgs::new(&broker, protocol, &topic, "gf-autocommit", 3000, 3000);
    args.auto_commit_interval_ms = Some(100);
    let mut victim = Member::start(&args, "victim").await;
    wait_until(
        "the victim polled its second batch",
        Duration::from_secs(60),
        || victim.records().len() >= 100,
    )
    .await;
    // The auto-commit of that poll has landed well within a second; processing goes on
    // for three.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let batch = unprocessed(&victim);
    victim.kill();
    log(
        t0,
        format!("SIGKILLed the victim while it processed {batch:?}"),
    );
    assert!(
        !batch.is_empty(),
        "the victim was between batches: {:?}",
        victim.events()
    );

    let heir = Member::start(&args, "heir").await;
    let first = batch[0].1;
    let last = batch[batch.len() - 1].1;
    wait_until(
        "the heir read past the victim's batch",
        Duration::from_secs(60),
        || heir.records().iter().any(|(_, offset, _)| *offset > last),
    )
    .await;
    let reread: Vec<i64> = heir
        .records()
        .iter()
        .map(|(_, offset, _)| *offset)
        .filter(|o| (first..=last).contains(o))
        .collect();
    log(
        t0,
        format!("the heir re-read {} of the batch", reread.len()),
    );
    assert_eq!(
        reread,
        (first..=last).collect::<Vec<_>>(),
        "the batch the victim was processing when it died ({first}..={last}) was committed \
         before it was processed: the heir started at {:?}",
        heir.records().first()
    );
}
