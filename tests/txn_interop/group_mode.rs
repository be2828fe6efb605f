//! The copiers in group mode (`--group-mode`): kafkit's copier and Java's
//! `TransactionalMessageCopier` join one consumer group, each with its own
//! `transactional.id`, and share the input's partitions, rebalancing as each joins and, done
//! with what it was given, leaves. Offsets go with the group's metadata (KIP-447), so a copy
//! made under a generation that a rebalance ended is refused and aborted. The output, read
//! with `read_committed`, is the input exactly.

use crate::common::{check_copy, fill_input, read_committed, Copier, Tool};
use crate::support::{bootstrap, create_topic, topic};
use kafkit_testkit::CopierArgs;
use std::time::Duration;

const PARTITIONS: i32 = 3;
const RECORDS: usize = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_copiers_share_a_group_and_copy_exactly_once() {
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    let (input_topic, output_topic) = (topic("group-mode-in"), topic("group-mode-out"));
    create_topic(&bootstrap, &input_topic, PARTITIONS).await;
    create_topic(&bootstrap, &output_topic, PARTITIONS).await;
    let input = fill_input(&bootstrap, &input_topic, PARTITIONS, RECORDS).await;
    let group = topic("group-mode-group");
    let args = |id: &str| {
        let mut a = CopierArgs::new(&bootstrap, &input_topic, 0, &output_topic, id, &group);
        (a.transaction_size, a.group_mode, a.use_group_metadata) = (100, true, true);
        a
    };
    let limit = Duration::from_secs(180);
    // Built before Java's starts (a first build takes longer than Java's whole copy).
    tokio::task::spawn_blocking(|| crate::support::example_binary("transactional_copier"))
        .await
        .unwrap();
    // Java's first, copying when kafkit's joins: the group rebalances mid-copy.
    let mut java = Copier::start(Tool::Java, &args(&topic("group-mode-java")), &[]).await;
    java.wait_processed(100, limit).await;
    let kafkit = Copier::start(Tool::Kafkit, &args(&topic("group-mode-kafkit")), &[]).await;
    let mut copied = Vec::new();
    for mut copier in [java, kafkit] {
        let status = copier.wait(limit).await;
        assert!(
            status.success(),
            "the {:?} copier failed ({status}):\n{}",
            copier.tool,
            copier.stderr()
        );
        copied.push((copier.tool, copier.status()));
    }
    println!("last statuses: {copied:?}");
    let output = read_committed(&bootstrap, &output_topic, PARTITIONS).await;
    let report = check_copy(&input, &output);
    assert!(report.is_clean(), "{report}; last statuses: {copied:?}");
    // Each counts what it committed: together the input once, and kafkit's copier a share.
    let counts: Vec<u64> = copied
        .iter()
        .map(|(_, s)| s.as_ref().map_or(0, |s| s.total_processed))
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), RECORDS as u64, "{copied:?}");
    assert!(counts[1] > 0, "kafkit's copier copied nothing: {copied:?}");
}
