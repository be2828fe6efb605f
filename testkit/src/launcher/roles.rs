//! Who does what in a running cluster, asked of its nodes over the wire: each
//! partition's leader and in-sync replicas (Metadata), the active controller
//! (DescribeQuorum, which a broker forwards to the controllers), and a
//! transactional id's coordinator (FindCoordinator). A scenario uses them to
//! pick the node its fault hits.

use super::KafkaCluster;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_quorum_request::{
    PartitionData as QuorumPartition, TopicData as QuorumTopic,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    DescribeQuorumRequest, FindCoordinatorRequest, MetadataRequest, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{
    encode_request_header_into_buffer, Decodable, HeaderVersion, Request, StrBytes,
};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one node may take to answer before the next is asked.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest response read.
const MAX_RESPONSE: usize = 16 << 20;

/// Where one partition stands, by node index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRoles {
    /// The leader, if the partition has one.
    pub leader: Option<usize>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The in-sync replicas, leader included.
    pub isr: Vec<usize>,
}

impl KafkaCluster {
    /// Leader and ISR of `topic`'s `partition`, as the first running node that
    /// answers sees them (`None` if none answers or the partition is unknown).
    /// A node reports what the controller last told it, so right after a
    /// fault the answer may lag by a heartbeat. Blocks up to 2 s per node.
    pub fn partition_roles(&self, topic: &str, partition: i32) -> Option<PartitionRoles> {
        let request =
            MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.to_string()))))]));
        self.ask_any(|addr| {
            let response = call(addr, &request, 12)?;
            let found = response
                .topics
                .iter()
                .filter(|t| t.error_code == 0)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == partition && p.error_code == 0)
                .map(|p| PartitionRoles {
                    leader: usize::try_from(p.leader_id.0).ok(),
                    leader_epoch: p.leader_epoch,
                    isr: p
                        .isr_nodes
                        .iter()
                        .filter_map(|id| usize::try_from(id.0).ok())
                        .collect(),
                });
            found.ok_or_else(|| io::Error::other(format!("{topic}-{partition} not in metadata")))
        })
    }

    /// The node leading `topic`'s `partition`; see [`KafkaCluster::partition_roles`].
    pub fn partition_leader(&self, topic: &str, partition: i32) -> Option<usize> {
        self.partition_roles(topic, partition)?.leader
    }

    /// The active controller: the leader of the metadata quorum, as the first
    /// running node that answers DescribeQuorum reports it. Blocks up to 2 s
    /// per node.
    pub fn active_controller(&self) -> Option<usize> {
        let request = DescribeQuorumRequest::default().with_topics(vec![QuorumTopic::default()
            .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
            .with_partitions(vec![QuorumPartition::default().with_partition_index(0)])]);
        self.ask_any(|addr| {
            let response = call(addr, &request, 1)?;
            if response.error_code != 0 {
                return Err(io::Error::other(format!(
                    "DescribeQuorum error {}",
                    response.error_code
                )));
            }
            response
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .find(|p| p.error_code == 0)
                .and_then(|p| usize::try_from(p.leader_id.0).ok())
                .ok_or_else(|| io::Error::other("the quorum has no leader"))
        })
    }

    /// The node coordinating `transactional_id`'s transactions, as the first
    /// running node that answers FindCoordinator names it (`None` if none
    /// answers or none can name one yet, say while the coordinator moves).
    /// Blocks up to 2 s per node.
    pub fn transaction_coordinator(&self, transactional_id: &str) -> Option<usize> {
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(transactional_id.to_string()))
            .with_key_type(1);
        self.ask_any(|addr| {
            let response = call(addr, &request, 3)?;
            if response.error_code != 0 {
                return Err(io::Error::other(format!(
                    "FindCoordinator error {}",
                    response.error_code
                )));
            }
            usize::try_from(response.node_id.0)
                .map_err(|_| io::Error::other("no coordinator named"))
        })
    }

    /// The first answer of a running, unfrozen node to `ask`.
    fn ask_any<T>(&self, ask: impl Fn(SocketAddr) -> io::Result<T>) -> Option<T> {
        self.nodes.iter().find_map(|node| {
            let st = node.lock();
            if st.child.is_none() || st.paused {
                return None;
            }
            drop(st);
            ask(node.addr()).ok()
        })
    }
}

/// Sends `request` at `version` to `addr` on a connection of its own and
/// reads the answer.
fn call<R: Request>(addr: SocketAddr, request: &R, version: i16) -> io::Result<R::Response> {
    let invalid =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut stream = TcpStream::connect_timeout(&addr, ASK_TIMEOUT)?;
    stream.set_read_timeout(Some(ASK_TIMEOUT))?;
    stream.set_write_timeout(Some(ASK_TIMEOUT))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("kafkit-testkit-roles")));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    encode_request_header_into_buffer(&mut frame, &header).map_err(|e| invalid(&e))?;
    request
        .encode(&mut frame, version)
        .map_err(|e| invalid(&e))?;
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    stream.write_all(&frame)?;

    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size)
        .ok()
        .filter(|s| (4..=MAX_RESPONSE).contains(s))
        .ok_or_else(|| io::Error::other(format!("bad response size {size}")))?;
    let mut body = vec![0u8; size];
    stream.read_exact(&mut body)?;
    let mut body = Bytes::from(body);
    let header = ResponseHeader::decode(&mut body, R::Response::header_version(version))
        .map_err(|e| invalid(&e))?;
    if header.correlation_id != 1 {
        return Err(io::Error::other("correlation id mismatch"));
    }
    R::Response::decode(&mut body, version).map_err(|e| invalid(&e))
}
