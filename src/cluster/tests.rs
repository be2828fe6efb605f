//! The cluster layer against the testkit's fake broker.

use super::*;
use crate::config::ClientConfig;
use crate::retry::Backoff;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
use kafkit_testkit::{FakeBroker, Reply};

fn settings(bootstrap: String, max_idle: Duration) -> ClusterSettings {
    ClusterSettings {
        bootstrap: vec![bootstrap],
        params: ConnectionParams {
            client_id: StrBytes::from_static_str("test"),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            max_response_size: 1 << 20,
            max_control_response_size: 1 << 20,
            security: Default::default(),
        },
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
        metadata_max_age: Duration::from_secs(3600),
        metadata_max_idle: max_idle,
        allow_auto_create_topics: false,
    }
}

/// The topics the last Metadata request the broker received asked for.
fn last_metadata_topics(broker: &FakeBroker) -> Vec<String> {
    let last = broker
        .received()
        .into_iter()
        .rev()
        .find(|r| r.api_key == ApiKey::Metadata)
        .expect("a Metadata request");
    let mut topics: Vec<String> = last
        .decode::<MetadataRequest>()
        .topics
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.name.map(|n| n.0.to_string()))
        .collect();
    topics.sort();
    topics
}

#[tokio::test]
async fn topics_unused_for_metadata_max_idle_are_no_longer_refreshed_or_kept() {
    let broker = FakeBroker::builder()
        .topic("busy", 1)
        .topic("once", 1)
        .topic("consumed", 1)
        .start()
        .await
        .unwrap();
    let max_idle = Duration::from_secs(5);
    let cluster = Cluster::connect(settings(broker.bootstrap(), max_idle))
        .await
        .unwrap();
    cluster.topic("busy", Duration::from_secs(5)).await.unwrap();
    cluster.topic("once", Duration::from_secs(5)).await.unwrap();
    cluster.track("consumed");
    cluster.refresh().await.unwrap();
    assert_eq!(last_metadata_topics(&broker), ["busy", "consumed", "once"]);

    // "busy" is sent to all along; "once" never again; "consumed" is a consumer's.
    let until = Instant::now() + max_idle + Duration::from_millis(500);
    while Instant::now() < until {
        assert!(cluster.cached_topic("busy").is_some());
        // Refreshes in between notice the uses: a use is only seen at the next refresh.
        cluster.refresh().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.refresh().await.unwrap();
    assert_eq!(last_metadata_topics(&broker), ["busy", "consumed"]);
    let snapshot = cluster.snapshot();
    assert!(snapshot.topics.contains_key("busy") && snapshot.topics.contains_key("consumed"));
    assert!(
        !snapshot.topics.contains_key("once"),
        "an idle topic stays cached"
    );
    // Sending to it again brings it back.
    cluster.topic("once", Duration::from_secs(5)).await.unwrap();
}

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

/// A broker that drops the first connection mid-request (a reset, a restart under way) does
/// not fail the client's construction: the first metadata is asked again. Before, the reset
/// was returned from `Cluster::connect` (a scenario's producer failed to start that way
/// while a proxy reset connections).
#[tokio::test]
async fn a_connection_dropped_during_the_first_metadata_is_tried_again() {
    let live = FakeBroker::start().await.unwrap();
    let dropped = std::sync::atomic::AtomicBool::new(false);
    live.script(ApiKey::Metadata, move |_| {
        if dropped.swap(true, std::sync::atomic::Ordering::Relaxed) {
            Reply::Default
        } else {
            Reply::Close
        }
    });
    let settings = settings::cluster_settings(&ClientConfig::new(live.bootstrap())).unwrap();
    let cluster = Cluster::connect(settings)
        .await
        .expect("the second Metadata answers");
    assert!(!cluster.snapshot().brokers.is_empty());
    let metadata_requests = live
        .received()
        .iter()
        .filter(|r| r.api_key == ApiKey::Metadata)
        .count();
    assert_eq!(metadata_requests, 2);
}

/// An address nothing listens on still fails construction at once, with every address
/// tried named: refused connections are not retried here.
#[tokio::test]
async fn no_reachable_bootstrap_server_fails_the_first_metadata_at_once() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let settings = settings::cluster_settings(&ClientConfig::new(dead.to_string())).unwrap();
    let started = Instant::now();
    let err = Cluster::connect(settings).await.unwrap_err();
    assert!(matches!(err, Error::NoBrokerReachable { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
