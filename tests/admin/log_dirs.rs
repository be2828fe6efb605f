//! `describe_log_dirs` on the shared broker.

use crate::support::*;
use crate::{admin, code};
use kafkit::{Error, ErrorCode, ProducerRecord, TopicPartition};

#[tokio::test]
async fn describe_log_dirs_finds_each_replica_and_its_size() {
    let (bootstrap, name) = fresh_topic("log-dirs", 2).await;
    produce(
        &bootstrap,
        (0..50).map(|i| ProducerRecord::new(name.as_str(), "x".repeat(100)).partition(i % 2)),
    )
    .await;
    let admin = admin(&bootstrap).await;
    let node = admin.describe_cluster().await.unwrap().nodes[0].id;
    let described = admin.describe_log_dirs([node, 999]).await.unwrap();
    assert_eq!(code(&described[&999]), ErrorCode::BROKER_NOT_AVAILABLE);
    let dirs = described[&node].as_ref().unwrap();
    assert!(!dirs.is_empty());
    let mut found = 0;
    for (path, dir) in dirs {
        assert!(dir.error.is_none(), "{path}: {dir:?}");
        assert!(
            dir.total_bytes.unwrap() > 0 && dir.usable_bytes.unwrap() > 0,
            "{dir:?}"
        );
        for p in 0..2 {
            if let Some(replica) = dir.replicas.get(&TopicPartition::new(&name, p)) {
                // 25 records of 100 bytes, and batch overhead.
                assert!(replica.size >= 2500, "{path}: {replica:?}");
                assert_eq!(replica.offset_lag, 0);
                assert!(!replica.is_future);
                found += 1;
            }
        }
    }
    assert_eq!(found, 2, "{dirs:?}");

    let err = admin.describe_log_dirs([-1]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}
