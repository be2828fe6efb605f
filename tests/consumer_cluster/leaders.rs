//! Where a partition's replicas are, asked of a broker directly: kafkit's clients do not
//! tell, and the truncation test must know which node to stop and which to kill.

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const VERSION: i16 = 12;

/// Partition `partition` of `topic` as the first node of `bootstrap` that answers sees it:
/// its leader (-1 for none), leader epoch and replicas, by node id. A node may learn of a
/// new topic a moment after the others: it is asked again for up to 30 s.
pub async fn replicas(bootstrap: &str, topic: &str, partition: i32) -> (i32, i32, Vec<i32>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let socket = 'found: {
            for broker in bootstrap.split(',') {
                if let Ok(socket) = TcpStream::connect(broker).await {
                    break 'found socket;
                }
            }
            panic!("no node of {bootstrap} answers");
        };
        if let Some(found) = ask(socket, topic, partition).await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic}-{partition} is not in the metadata"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn ask(mut socket: TcpStream, topic: &str, partition: i32) -> Option<(i32, i32, Vec<i32>)> {
    let request =
        MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(topic.to_string()))))]));
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header
        .encode(&mut frame, MetadataRequest::header_version(VERSION))
        .unwrap();
    request.encode(&mut frame, VERSION).unwrap();
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());

    socket.write_all(&frame).await.unwrap();
    let size = socket.read_i32().await.unwrap() as usize;
    let mut body = vec![0; size];
    socket.read_exact(&mut body).await.unwrap();
    let mut body = bytes::Bytes::from(body);
    ResponseHeader::decode(&mut body, MetadataResponse::header_version(VERSION)).unwrap();
    let response = MetadataResponse::decode(&mut body, VERSION).unwrap();
    assert!(!body.has_remaining(), "trailing bytes");
    let p = response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == partition)?;
    let replicas = p.replica_nodes.iter().map(|id| id.0).collect();
    Some((p.leader_id.0, p.leader_epoch, replicas))
}
