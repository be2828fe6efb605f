//! `describe_cluster` on the shared broker.

use crate::admin;
use crate::support::*;

#[tokio::test]
async fn describe_cluster_names_the_broker_clients_bootstrap_from() {
    let bootstrap = bootstrap().await;
    let cluster = admin(&bootstrap).await.describe_cluster().await.unwrap();
    assert!(!cluster.cluster_id.is_empty(), "{cluster:?}");
    assert!(!cluster.nodes.is_empty(), "{cluster:?}");
    let controller = cluster.controller.clone().expect("a controller");
    assert!(cluster.nodes.contains(&controller), "{cluster:?}");
    let ports: Vec<String> = cluster.nodes.iter().map(|n| n.port.to_string()).collect();
    assert!(
        bootstrap
            .split(',')
            .any(|b| ports.iter().any(|p| b.ends_with(&format!(":{p}")))),
        "{bootstrap} is none of {cluster:?}"
    );
    // The shared broker sets no broker.rack (the three-node test checks racks).
    assert!(
        cluster.nodes.iter().all(|n| n.rack.is_none()),
        "{cluster:?}"
    );
}
