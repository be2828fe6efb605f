//! Tests of the transaction peers against a real broker: each peer's
//! committed records are what the other reads with `read_committed`, and
//! Java's `TransactionalMessageCopier`, with random aborts, copies a topic
//! exactly as the copy checker sees it. They prove the tools before kafkit's
//! tests lean on them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::{
    unique_name, CopierArgs, CopierStatus, CopyChecker, KafkaCluster, PeerRecord, TxnPeer,
    TxnProduce,
};

const PARTITIONS: i32 = 3;
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One broker whose auto-created topics have [`PARTITIONS`] partitions.
fn cluster() -> KafkaCluster {
    KafkaCluster::builder()
        .property("num.partitions", PARTITIONS.to_string())
        .start()
        .expect("a broker for the peer tests")
}

fn positions(records: &[PeerRecord]) -> BTreeSet<&PeerRecord> {
    records.iter().collect()
}

#[test]
fn each_peer_reads_the_others_committed_transactions_exactly() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap();
    for (writer, reader) in [
        (TxnPeer::Java, TxnPeer::Librdkafka),
        (TxnPeer::Librdkafka, TxnPeer::Java),
    ] {
        let spec = TxnProduce {
            topic: unique_name("peer-txn"),
            transactional_id: Some(unique_name("peer-txn-id")),
            transactions: 6,
            records_per_transaction: 50,
            abort_every: 3,
            prefix: format!("{writer:?}"),
        };
        let committed = writer.produce_transactions(&bootstrap, &spec).unwrap();
        assert_eq!(
            committed.len() as u64,
            spec.committed_records(),
            "{writer:?}"
        );
        let partitions: BTreeSet<i32> = committed.iter().map(|r| r.partition).collect();
        assert!(
            partitions.len() > 1,
            "{writer:?}'s five keys spread over several partitions: {partitions:?}"
        );
        for reader in [reader, writer] {
            let read = reader
                .read_committed(&bootstrap, &spec.topic, READ_TIMEOUT)
                .unwrap();
            assert_eq!(read.len(), committed.len(), "{reader:?} reads {writer:?}");
            assert_eq!(
                positions(&read),
                positions(&committed),
                "{reader:?} reads exactly {writer:?}'s committed records"
            );
        }
    }
}

#[test]
fn javas_copier_with_random_aborts_copies_exactly() {
    const RECORDS_PER_TXN: u32 = 500;
    let cluster = cluster();
    let bootstrap = cluster.bootstrap();
    let input = unique_name("copier-in");
    let output = unique_name("copier-out");
    let spec = TxnProduce {
        topic: input.clone(),
        transactional_id: None,
        transactions: 6,
        records_per_transaction: RECORDS_PER_TXN,
        abort_every: 0,
        prefix: "in".into(),
    };
    let written = TxnPeer::Java
        .produce_transactions(&bootstrap, &spec)
        .unwrap();
    // The output topic exists, with as many partitions, before the copiers
    // write to the input record's partition number.
    TxnPeer::Java
        .produce_transactions(
            &bootstrap,
            &TxnProduce {
                topic: output.clone(),
                transactional_id: Some(unique_name("copier-out-create")),
                transactions: 1,
                records_per_transaction: 1,
                abort_every: 1,
                prefix: "none".into(),
            },
        )
        .unwrap();

    let group = unique_name("copier-group");
    for partition in 0..PARTITIONS {
        let mut args = CopierArgs::new(
            &bootstrap,
            &input,
            partition,
            &output,
            format!("{group}-{partition}"),
            &group,
        );
        args.transaction_size = 100;
        args.random_aborts = true;
        args.use_group_metadata = true;
        let out = args.java_command().unwrap().output().unwrap();
        assert!(
            out.status.success(),
            "copier of partition {partition}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let statuses: Vec<CopierStatus> = stdout.lines().filter_map(CopierStatus::parse).collect();
        let last = statuses.last().expect("the copier printed its status");
        assert_eq!(last.stage, "ShutdownComplete", "{stdout}");
        assert_eq!(last.remaining, 0, "{stdout}");
        let in_partition = written.iter().filter(|r| r.partition == partition).count();
        assert_eq!(last.total_processed, in_partition as u64, "{stdout}");
        assert!(
            statuses.iter().any(|s| s.stage == "ProcessLoop"),
            "{stdout}"
        );
    }

    let mut checker = CopyChecker::new();
    for r in &written {
        checker.input(r.partition, r.key.as_deref(), r.value.clone().unwrap());
    }
    let copied = TxnPeer::Librdkafka
        .read_committed(&bootstrap, &output, READ_TIMEOUT)
        .unwrap();
    for r in &copied {
        checker.output(r.partition, r.offset, r.value.clone().unwrap());
    }
    let report = checker.report();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.output, written.len());
}
