//! The cluster layer against the testkit's fake broker.

use super::*;
use crate::config::ClientConfig;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{ApiKey, MetadataResponse};
use kafkit_testkit::{FakeBroker, Reply};

fn broker(id: i32, addr: std::net::SocketAddr) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(id.into())
        .with_host(StrBytes::from_string(addr.ip().to_string()))
        .with_port(addr.port().into())
}

/// A cached controller that is gone (killed, not yet out of the metadata) must not fail
/// admin requests while other brokers live: in KRaft any broker takes them, and the id
/// Metadata names is an arbitrary live broker as of its answer.
#[tokio::test]
async fn a_controller_that_cannot_be_reached_gives_way_to_a_live_broker() {
    let live = FakeBroker::start().await.unwrap();
    // A port nothing listens on: connections to it are refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let live_addr = live.addr();
    live.script(ApiKey::Metadata, move |_| {
        Reply::response(
            MetadataResponse::default()
                .with_brokers(vec![broker(0, live_addr), broker(1, dead)])
                .with_controller_id(1.into()),
        )
    });
    let settings = settings::cluster_settings(&ClientConfig::new(live.bootstrap())).unwrap();
    let cluster = Cluster::connect(settings).await.unwrap();
    assert_eq!(cluster.snapshot().controller, Some(1));
    let conn = cluster
        .controller()
        .await
        .expect("the live broker takes the controller's requests");
    assert_eq!(conn.addr(), live_addr.to_string());
}
