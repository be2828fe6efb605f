//! kafkit's copier and Java's `TransactionalMessageCopier` take turns on one
//! `transactional.id` and one consumer group: each resumes from the offsets the other
//! committed in its transactions, and a copier killed with a transaction open is fenced by
//! its successor's `init_transactions`, which aborts that transaction. The output, read with
//! `read_committed`, is the input exactly.

use crate::common::{check_copy, fill_input, read_committed, Copier, Tool};
use crate::support::{bootstrap, create_topic, topic};
use kafkit_testkit::CopierArgs;
use std::time::Duration;

const RECORDS: usize = 12_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_and_java_copiers_take_over_from_each_other() {
    // One at a time: copiers, JVMs and the broker share 2 cores.
    let _heavy = crate::support::HEAVY.lock().await;
    let bootstrap = bootstrap().await;
    let (input_topic, output_topic) = (topic("takeover-in"), topic("takeover-out"));
    create_topic(&bootstrap, &input_topic, 1).await;
    create_topic(&bootstrap, &output_topic, 1).await;
    let input = fill_input(&bootstrap, &input_topic, 1, RECORDS).await;
    let group = topic("takeover-group");
    let args = |max_messages: i64| {
        let mut a = CopierArgs::new(&bootstrap, &input_topic, 0, &output_topic, &group, &group);
        (a.transaction_size, a.max_messages, a.use_group_metadata) = (100, max_messages, true);
        // Java's copier reads its committed offsets before its initTransactions: after a
        // predecessor killed with offsets in its open transaction, the stable offsets it asks
        // for come only once the coordinator has aborted that transaction on its timeout.
        a.transaction_timeout_ms = 10_000;
        a
    };
    let limit = Duration::from_secs(120);
    // Each turn: which copier, how many records it may copy (-1: to the end), and whether
    // it is killed once it has committed 1,000 (with its next transaction likely open).
    let turns = [
        (Tool::Java, 3_000, false),
        (Tool::Kafkit, 3_000, true),
        (Tool::Java, 3_000, true),
        (Tool::Kafkit, 3_000, false),
        (Tool::Java, -1, true),
        (Tool::Kafkit, -1, false),
    ];
    for (i, &(tool, max, kill)) in turns.iter().enumerate() {
        let mut copier = Copier::start(tool, &args(max), &[]).await;
        if kill {
            copier.wait_processed(1_000, limit).await;
            copier.kill().await;
            continue;
        }
        let status = copier.wait(limit).await;
        assert!(
            status.success(),
            "turn {i} ({tool:?}) failed ({status}):\n{}",
            copier.stderr()
        );
        let last = copier.status().expect("a status line");
        assert_eq!(last.remaining, 0, "turn {i} ({tool:?}): {last:?}");
        if max > 0 {
            assert_eq!(
                last.total_processed, max as u64,
                "turn {i} ({tool:?}): {last:?}"
            );
        }
    }
    // The last turn copied what was left, so there was something left: each turn's
    // successor picked up where the committed offsets said.
    let output = read_committed(&bootstrap, &output_topic, 1).await;
    let report = check_copy(&input, &output);
    assert!(report.is_clean(), "{report}");
    // Once more: a Java copier finds nothing left to copy.
    let mut last = Copier::start(Tool::Java, &args(-1), &[]).await;
    assert!(last.wait(limit).await.success(), "{}", last.stderr());
    assert_eq!(last.status().map(|s| s.total_processed), Some(0));
}
