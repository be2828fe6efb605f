//! `describe_topics` and `create_partitions` on the shared broker, checked against Java's
//! `TopicCommand`.

use crate::support::*;
use crate::{admin, code, java};
use kafkit::{Error, ErrorCode, NewPartitions};

#[tokio::test]
async fn describe_topics_reports_partitions_and_unknown_topics_apart() {
    let (bootstrap, name) = fresh_topic("describe", 3).await;
    let missing = topic("missing");
    let admin = admin(&bootstrap).await;
    let node = admin.describe_cluster().await.unwrap().nodes[0].id;
    let described = admin.describe_topics([&name, &missing]).await.unwrap();
    assert_eq!(described.len(), 2);
    assert_eq!(
        code(&described[&missing]),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    let topic = described[&name].as_ref().unwrap();
    assert_eq!(topic.name, name);
    assert!(!topic.internal);
    let id = topic.topic_id.clone().expect("a topic id");
    assert_eq!(id.len(), 22, "{id}");
    assert_eq!(topic.partitions.len(), 3);
    for (i, p) in topic.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        assert_eq!(p.leader, Some(node));
        assert_eq!(p.replicas, vec![node]);
        assert_eq!(p.isr, vec![node]);
        assert!(p.offline_replicas.is_empty());
    }

    // Java prints the same id.
    let java = java(
        "TopicCommand",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--topic",
            &name,
        ],
    )
    .await;
    assert!(java.contains(&format!("TopicId: {id}")), "{java}");

    let err = admin.describe_topics(["bad name"]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTopic { .. }), "{err:?}");
}

#[tokio::test]
async fn create_partitions_grows_topics_and_fails_each_refusal_on_its_own() {
    let (bootstrap, grown) = fresh_topic("grow", 2).await;
    let placed = topic("grow-placed");
    let shrunk = topic("grow-shrunk");
    let missing = topic("grow-missing");
    create_topic(&bootstrap, &placed, 1).await;
    create_topic(&bootstrap, &shrunk, 3).await;
    let admin = admin(&bootstrap).await;
    let node = admin.describe_cluster().await.unwrap().nodes[0].id;

    let results = admin
        .create_partitions([
            (grown.clone(), NewPartitions::increase_to(5)),
            (
                placed.clone(),
                NewPartitions::increase_to_with(3, vec![vec![node], vec![node]]),
            ),
            (shrunk.clone(), NewPartitions::increase_to(2)),
            (missing.clone(), NewPartitions::increase_to(2)),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    results[&grown].as_ref().unwrap();
    results[&placed].as_ref().unwrap();
    assert_eq!(code(&results[&shrunk]), ErrorCode::INVALID_PARTITIONS);
    assert_eq!(
        code(&results[&missing]),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let described = admin
        .describe_topics([&grown, &placed, &shrunk])
        .await
        .unwrap();
    let count = |t: &String| described[t].as_ref().unwrap().partitions.len();
    assert_eq!((count(&grown), count(&placed), count(&shrunk)), (5, 3, 3));
    let java = java(
        "TopicCommand",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--topic",
            &grown,
        ],
    )
    .await;
    assert!(java.contains("PartitionCount: 5"), "{java}");

    // Refused before anything is sent.
    for bad in [0, -1] {
        let err = admin
            .create_partitions([(grown.clone(), NewPartitions::increase_to(bad))])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    }
    let err = admin
        .create_partitions([(
            grown.clone(),
            NewPartitions::increase_to_with(6, vec![vec![]]),
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = admin
        .create_partitions([("a/b", NewPartitions::increase_to(6))])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTopic { .. }), "{err:?}");
    assert_eq!(
        admin.describe_topics([&grown]).await.unwrap()[&grown]
            .as_ref()
            .unwrap()
            .partitions
            .len(),
        5
    );
}
