//! The cluster's description: its id, controller and brokers.

use super::{check, Admin};
use crate::error::Result;
use kafka_protocol::messages::DescribeClusterRequest;

/// A broker (Java's `Node`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Node {
    /// The broker id.
    pub id: i32,
    /// The host clients reach it at.
    pub host: String,
    /// The port clients reach it at.
    pub port: i32,
    /// Its `broker.rack`, if set.
    pub rack: Option<String>,
}

/// What `describe_cluster` reports (Java's `DescribeClusterResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The controller as brokers tell clients: in KRaft a live broker that forwards
    /// controller requests (clients never reach the quorum itself). `None` if unknown.
    pub controller: Option<Node>,
    /// The live, unfenced brokers, by ascending id.
    pub nodes: Vec<Node>,
}

impl Admin {
    /// Describes the cluster: its id, controller and brokers with their racks (Java's
    /// `describeCluster`). Asks any broker, retrying within the call's time.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.within("describe_cluster", async move {
            let request = DescribeClusterRequest::default();
            let response = self
                .cluster
                .retry(self.api_timeout, || async {
                    let conn = self.cluster.any_connection().await?;
                    let response = conn.send(&request).await?;
                    check(
                        response.error_code,
                        format!("describing the cluster at {}", conn.addr()),
                        response.error_message.as_ref(),
                    )?;
                    Ok(response)
                })
                .await?;
            let mut nodes: Vec<Node> = response
                .brokers
                .iter()
                .map(|b| Node {
                    id: b.broker_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(ToString::to_string),
                })
                .collect();
            nodes.sort_by_key(|n| n.id);
            let controller = nodes
                .iter()
                .find(|n| n.id == response.controller_id.0)
                .cloned();
            Ok(ClusterDescription {
                cluster_id: response.cluster_id.to_string(),
                controller,
                nodes,
            })
        })
        .await
    }
}
