//! The fake broker against a raw client written with kafka-protocol's messages, and against
//! the launcher's hand-written Metadata probe.

use super::*;
use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// A client that writes request frames and reads response frames, nothing more.
struct RawClient {
    stream: TcpStream,
    correlation: i32,
}

impl RawClient {
    async fn connect(broker: &FakeBroker) -> RawClient {
        let stream = TcpStream::connect(broker.addr()).await.unwrap();
        RawClient {
            stream,
            correlation: 0,
        }
    }

    /// Writes `req` at `version`; returns its correlation id.
    async fn send<R: Request>(&mut self, req: &R, version: i16) -> i32 {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("raw")));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, R::header_version(version))
            .unwrap();
        req.encode(&mut frame, version).unwrap();
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&frame).await.unwrap();
        self.correlation
    }

    /// The next frame, without its size; `None` if the broker closed the connection.
    async fn frame(&mut self) -> Option<Bytes> {
        let size = self.stream.read_i32().await.ok()?;
        let mut frame = BytesMut::zeroed(size as usize);
        self.stream.read_exact(&mut frame).await.ok()?;
        Some(frame.freeze())
    }

    /// The next response, as `R`'s response at `version`, checked against `correlation`.
    async fn receive<R: Request>(&mut self, correlation: i32, version: i16) -> R::Response {
        let mut frame = self
            .frame()
            .await
            .expect("a response, not a closed connection");
        let header_version = <R::Response as HeaderVersion>::header_version(version);
        let header = ResponseHeader::decode(&mut frame, header_version).unwrap();
        assert_eq!(header.correlation_id, correlation);
        let response = R::Response::decode(&mut frame, version).unwrap();
        assert!(!frame.has_remaining(), "bytes left after the response");
        response
    }

    async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        let correlation = self.send(req, version).await;
        self.receive::<R>(correlation, version).await
    }
}

/// One v2 batch of `values`, as a producer writes it (offsets from 0).
fn batch(values: &[&str]) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch where offset minus sequence changes.
            sequence: i as i32,
            timestamp: 0,
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
    buf.freeze()
}

/// `(offset, value)` of every record in `records`.
fn offsets_and_values(records: &Bytes) -> Vec<(i64, String)> {
    let sets = RecordBatchDecoder::decode_all(&mut records.clone()).unwrap();
    sets.iter()
        .flat_map(|set| &set.records)
        .map(|r| {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
            (r.offset, value.into_owned())
        })
        .collect()
}

fn name(s: &str) -> TopicName {
    StrBytes::from_string(s.to_string()).into()
}

fn produce_request(
    topic: &str,
    id: Uuid,
    partition: i32,
    records: Bytes,
    version: i16,
) -> ProduceRequest {
    let data = PartitionProduceData::default()
        .with_index(partition)
        .with_records(Some(records));
    let data = TopicProduceData::default().with_partition_data(vec![data]);
    let data = match version {
        13.. => data.with_topic_id(id),
        _ => data.with_name(name(topic)),
    };
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![data])
}

fn fetch_request(
    topic: &str,
    id: Uuid,
    at: (i32, i64),
    max_wait_ms: i32,
    version: i16,
) -> FetchRequest {
    let (partition, offset) = at;
    let partition = FetchPartition::default()
        .with_partition(partition)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    let data = FetchTopic::default().with_partitions(vec![partition]);
    let data = match version {
        13.. => data.with_topic_id(id),
        _ => data.with_topic(name(topic)),
    };
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_max_bytes(1 << 20)
        .with_topics(vec![data])
}

fn list_latest(topic: &str) -> ListOffsetsRequest {
    let partition = ListOffsetsPartition::default()
        .with_partition_index(0)
        .with_timestamp(-1);
    let topic = ListOffsetsTopic::default()
        .with_name(name(topic))
        .with_partitions(vec![partition]);
    ListOffsetsRequest::default().with_topics(vec![topic])
}

fn metadata_of(topic: &str) -> MetadataRequest {
    let topic = MetadataRequestTopic::default().with_name(Some(name(topic)));
    MetadataRequest::default().with_topics(Some(vec![topic]))
}

/// Every API with a default answer, at every version kafka-protocol has: the answers
/// encode, decode, and say what the broker holds.
#[tokio::test]
async fn answers_every_version_of_its_default_apis() {
    let broker = FakeBroker::builder()
        .node_id(7)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    let mut client = RawClient::connect(&broker).await;
    let id = broker.shared.logs().topic("t").unwrap().id;
    let versions = |key: ApiKey| {
        let range = answers::versions(key);
        range.min..=range.max
    };

    for v in versions(ApiKey::ApiVersions) {
        let response = client.call(&ApiVersionsRequest::default(), v).await;
        assert_eq!(response.error_code, 0, "v{v}");
        let produce = response.api_keys.iter().find(|k| k.api_key == 0).unwrap();
        assert_eq!((produce.min_version, produce.max_version), (3, 13), "v{v}");
    }
    for v in versions(ApiKey::Metadata) {
        let response = client.call(&metadata_of("t"), v).await;
        assert_eq!(response.brokers[0].node_id.0, 7, "v{v}");
        assert_eq!(response.brokers[0].port, i32::from(broker.addr().port()));
        let partition = &response.topics[0].partitions[0];
        assert_eq!(
            (partition.error_code, partition.leader_id.0),
            (0, 7),
            "v{v}"
        );
    }
    let mut written = 0;
    for v in versions(ApiKey::Produce) {
        let response = client
            .call(&produce_request("t", id, 0, batch(&["a", "b"]), v), v)
            .await;
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(
            (partition.error_code, partition.base_offset),
            (0, written),
            "v{v}"
        );
        written += 2;
    }
    for v in versions(ApiKey::Fetch) {
        let response = client.call(&fetch_request("t", id, (0, 2), 0, v), v).await;
        let partition = &response.responses[0].partitions[0];
        assert_eq!(
            (partition.error_code, partition.high_watermark),
            (0, written),
            "v{v}"
        );
        let read = offsets_and_values(partition.records.as_ref().unwrap());
        assert_eq!(read.first(), Some(&(2, "a".to_string())), "v{v}");
        assert_eq!(read.len() as i64, written - 2, "v{v}");
    }
    for v in versions(ApiKey::ListOffsets) {
        let response = client.call(&list_latest("t"), v).await;
        assert_eq!(response.topics[0].partitions[0].offset, written, "v{v}");
    }
    for v in versions(ApiKey::InitProducerId) {
        let response = client.call(&InitProducerIdRequest::default(), v).await;
        assert!(
            response.producer_id.0 >= 1000 && response.error_code == 0,
            "v{v}"
        );
    }
    for v in versions(ApiKey::FindCoordinator) {
        let key = StrBytes::from_static_str("group");
        let request = match v {
            4.. => FindCoordinatorRequest::default().with_coordinator_keys(vec![key]),
            _ => FindCoordinatorRequest::default().with_key(key),
        };
        let response = client.call(&request, v).await;
        let node = match v {
            4.. => response.coordinators[0].node_id.0,
            _ => response.node_id.0,
        };
        assert_eq!(node, 7, "v{v}");
    }
    for v in versions(ApiKey::CreateTopics) {
        let topic = CreatableTopic::default()
            .with_name(name(&format!("created-{v}")))
            .with_num_partitions(3)
            .with_replication_factor(1);
        let response = client
            .call(&CreateTopicsRequest::default().with_topics(vec![topic]), v)
            .await;
        assert_eq!(response.topics[0].error_code, 0, "v{v}");
        let logs = broker.shared.logs();
        let created = logs.topic(&format!("created-{v}")).expect("created");
        assert_eq!(created.partitions.len(), 3, "v{v}");
    }
}

#[tokio::test]
async fn batches_get_offsets_in_order_and_fetches_start_at_the_batch_holding_the_offset() {
    let broker = FakeBroker::builder().topic("t", 2).start().await.unwrap();
    let mut client = RawClient::connect(&broker).await;
    let id = Uuid::nil();
    let first = client
        .call(&produce_request("t", id, 1, batch(&["a", "b", "c"]), 9), 9)
        .await;
    let second = client
        .call(&produce_request("t", id, 1, batch(&["d", "e"]), 9), 9)
        .await;
    let base = |r: &ProduceResponse| r.responses[0].partition_responses[0].base_offset;
    assert_eq!((base(&first), base(&second)), (0, 3));
    assert_eq!(broker.batches("t", 1).len(), 2);
    assert!(broker.batches("t", 0).is_empty(), "partition 0 untouched");

    let fetched = client
        .call(&fetch_request("t", id, (1, 4), 0, 12), 12)
        .await;
    let partition = &fetched.responses[0].partitions[0];
    // Like a broker, the whole batch holding offset 4, from its base.
    let read = offsets_and_values(partition.records.as_ref().unwrap());
    assert_eq!(read, [(3, "d".to_string()), (4, "e".to_string())]);
    assert_eq!(partition.high_watermark, 5);

    let past = client
        .call(&fetch_request("t", id, (1, 6), 0, 12), 12)
        .await;
    assert_eq!(
        past.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
    let latest = client.call(&list_latest("t"), 7).await;
    assert_eq!(
        latest.topics[0].partitions[0].offset, 0,
        "partition 0 is empty"
    );
}

#[tokio::test]
async fn unknown_topics_and_partitions_and_broken_batches_are_errors() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let mut client = RawClient::connect(&broker).await;
    let metadata = client.call(&metadata_of("nope"), 12).await;
    assert_eq!(
        metadata.topics[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let id = Uuid::nil();
    let produced = client
        .call(&produce_request("t", id, 1, batch(&["x"]), 9), 9)
        .await;
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 3);
    let broken = batch(&["x"]).slice(..40);
    let produced = client
        .call(&produce_request("t", id, 0, broken, 9), 9)
        .await;
    assert_eq!(
        produced.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    assert!(broker.batches("t", 0).is_empty());
}

#[tokio::test]
async fn acks_0_gets_no_response() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let mut client = RawClient::connect(&broker).await;
    let request = produce_request("t", Uuid::nil(), 0, batch(&["x"]), 9).with_acks(0);
    client.send(&request, 9).await;
    // The next frame answers the Metadata request sent after the Produce.
    let metadata = client.call(&metadata_of("t"), 12).await;
    assert_eq!(metadata.topics[0].error_code, 0);
    assert_eq!(broker.batches("t", 0).len(), 1, "written all the same");
}

#[tokio::test]
async fn a_fetch_with_nothing_to_return_waits_for_a_produce() {
    let broker = FakeBroker::builder().topic("t", 1).start().await.unwrap();
    let mut consumer = RawClient::connect(&broker).await;
    let started = Instant::now();
    let correlation = consumer
        .send(&fetch_request("t", Uuid::nil(), (0, 0), 10_000, 12), 12)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut producer = RawClient::connect(&broker).await;
    producer
        .call(
            &produce_request("t", Uuid::nil(), 0, batch(&["late"]), 9),
            9,
        )
        .await;
    let fetched = consumer.receive::<FetchRequest>(correlation, 12).await;
    let read = offsets_and_values(fetched.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(read, [(0, "late".to_string())]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // With nothing coming, it answers empty after max_wait_ms.
    let started = Instant::now();
    let empty = consumer
        .call(&fetch_request("t", Uuid::nil(), (0, 1), 300, 12), 12)
        .await;
    let records = &empty.responses[0].partitions[0].records;
    assert!(records.as_ref().is_none_or(|r| r.is_empty()), "{records:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn the_launchers_probe_sees_the_fake_as_a_cluster_of_one() {
    let broker = FakeBroker::builder().node_id(3).start().await.unwrap();
    let addr = broker.addr();
    let view = tokio::task::spawn_blocking(move || {
        crate::launcher::probe_metadata(addr, Duration::from_secs(5))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(view.brokers, [3]);
    assert_eq!(
        view.endpoints,
        [("127.0.0.1".to_string(), i32::from(addr.port()))]
    );
    assert_eq!(view.controller, 3);
}

#[tokio::test]
async fn a_hook_sees_the_decoded_request_and_can_answer_its_own_way() {
    let broker = FakeBroker::start().await.unwrap();
    broker.script(ApiKey::Metadata, |req| {
        let request: MetadataRequest = req.decode();
        let topic = request.topics.unwrap()[0].name.clone().unwrap();
        Reply::response(
            MetadataResponse::default().with_cluster_id(Some(StrBytes::from_string(format!(
                "asked for {} by {}",
                topic.0,
                req.client_id.as_deref().unwrap_or("?")
            )))),
        )
    });
    let mut client = RawClient::connect(&broker).await;
    let response = client.call(&metadata_of("t"), 12).await;
    assert_eq!(response.cluster_id.as_deref(), Some("asked for t by raw"));

    broker.unscript(ApiKey::Metadata);
    let response = client.call(&metadata_of("t"), 12).await;
    assert_eq!(
        response.cluster_id.as_deref(),
        Some(CLUSTER_ID),
        "the default again"
    );

    let seen: Vec<(ApiKey, i16)> = broker
        .received()
        .iter()
        .map(|r| (r.api_key, r.version))
        .collect();
    assert_eq!(seen, [(ApiKey::Metadata, 12), (ApiKey::Metadata, 12)]);
    assert_eq!(broker.received()[1].correlation_id, 2);
    assert_eq!(broker.connections(), 1);
}

#[tokio::test]
async fn injected_errors_fail_only_the_partitions_named() {
    let broker = FakeBroker::builder().topic("t", 2).start().await.unwrap();
    broker.script(ApiKey::Produce, |_| Reply::errors([("t", 1)], 6));
    let mut client = RawClient::connect(&broker).await;
    for partition in [0, 1] {
        let request = produce_request("t", Uuid::nil(), partition, batch(&["x"]), 9);
        let response = client.call(&request, 9).await;
        let code = response.responses[0].partition_responses[0].error_code;
        assert_eq!(
            code,
            if partition == 1 { 6 } else { 0 },
            "partition {partition}"
        );
    }
    assert_eq!(broker.batches("t", 0).len(), 1);
    assert!(
        broker.batches("t", 1).is_empty(),
        "nothing written where it failed"
    );

    // An API without partitions cannot take them: the connection closes.
    broker.script(ApiKey::InitProducerId, |_| Reply::errors([("t", 0)], 6));
    client.send(&InitProducerIdRequest::default(), 4).await;
    assert!(client.frame().await.is_none());
}

#[tokio::test]
async fn a_reply_can_wait_hang_close_or_be_raw_bytes() {
    let broker = FakeBroker::start().await.unwrap();
    broker.script(ApiKey::ApiVersions, |_| {
        Reply::after(Duration::from_millis(300), Reply::Default)
    });
    let mut client = RawClient::connect(&broker).await;
    let started = Instant::now();
    client.call(&ApiVersionsRequest::default(), 3).await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A hostile frame: the Metadata response's broker array claims 0x7fffffff entries.
    broker.script(ApiKey::Metadata, |req| {
        Reply::Raw(req.frame(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]))
    });
    let correlation = client.send(&metadata_of("t"), 4).await;
    let mut frame = client.frame().await.unwrap();
    assert_eq!(frame.get_i32(), correlation);
    assert_eq!(&frame[..], [0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);

    broker.script(ApiKey::Metadata, |_| Reply::Hang);
    client.send(&metadata_of("t"), 4).await;
    client.send(&ApiVersionsRequest::default(), 3).await;
    let nothing = tokio::time::timeout(Duration::from_millis(500), client.frame()).await;
    assert!(nothing.is_err(), "a hung connection answers nothing more");

    broker.script(ApiKey::Metadata, |_| Reply::Close);
    let mut client = RawClient::connect(&broker).await;
    client.send(&metadata_of("t"), 4).await;
    assert!(client.frame().await.is_none(), "closed without an answer");
    assert_eq!(broker.connections(), 2);
}
