//! Protobuf: kafkit's `ProtobufSerde` against itself, and against confluent-kafka's Python
//! `ProtobufSerializer` and `ProtobufDeserializer`, whose message class is built from the
//! descriptor this test parses from the same `.proto` text.

use super::*;
use kafkit::serdes::protobuf::prost::Message;
use kafkit::serdes::registry::{SchemaRegistryClient, SchemaType};
use kafkit::{Protobuf, ProtobufSerde, RecordPart};

/// `Reading` is the file's second message (indexes `[1]`), with a nested one.
const SCHEMA: &str = r#"syntax = "proto3";
package kafkit.test;

// Not written: it makes Reading the file's second message.
message Alert {
  bool urgent = 1;
}

message Reading {
  string sensor = 1;
  double celsius = 2;
  int64 seq = 3;
  Note note = 4;
  repeated int32 tags = 5;

  message Note {
    string text = 1;
  }
}
"#;

const READING: &str = "kafkit.test.Reading";

#[derive(Clone, PartialEq, Message)]
struct Reading {
    #[prost(string, tag = "1")]
    sensor: String,
    #[prost(double, tag = "2")]
    celsius: f64,
    #[prost(int64, tag = "3")]
    seq: i64,
    #[prost(message, optional, tag = "4")]
    note: Option<Note>,
    #[prost(int32, repeated, tag = "5")]
    tags: Vec<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct Note {
    #[prost(string, tag = "1")]
    text: String,
}

/// What `schema_registry_peer.py produce protobuf` writes as record `i` (its key is the
/// sensor), and what kafkit writes here too.
fn reading(i: i64) -> (String, Protobuf<Reading>) {
    let sensor = format!("sensor-{}", i % 3);
    let reading = Reading {
        sensor: sensor.clone(),
        celsius: i as f64 / 4.0,
        seq: i,
        note: (i % 2 == 1).then(|| Note { text: "odd".into() }),
        tags: vec![i as i32, -(i as i32)],
    };
    (sensor, Protobuf(reading))
}

/// `SCHEMA`'s descriptor for the peer, which builds `Reading`'s class from it.
fn peer_format(topic: &str) -> PeerFormat {
    let descriptor = protox_parse::parse("reading.proto", SCHEMA).unwrap();
    PeerFormat::new("protobuf", topic, &descriptor.encode_to_vec(), &[READING])
}

fn writer(client: &SchemaRegistryClient) -> ProtobufSerde {
    ProtobufSerde::with_schema(client.clone(), RecordPart::Value, SCHEMA, READING).unwrap()
}

/// kafkit writes Protobuf readings and reads them back; Python's ProtobufDeserializer reads
/// the same records (their framing: magic byte, schema id, message indexes), whose id names
/// the PROTOBUF schema kafkit registered as its `.proto` text.
#[tokio::test]
async fn kafkit_protobuf_records_round_trip_and_python_reads_them() {
    let setup = setup("protobuf-kafkit").await;
    let reader = ProtobufSerde::new(setup.client.clone(), RecordPart::Value);
    let sent: Vec<(String, Protobuf<Reading>)> = (0..30).map(reading).collect();
    let registered = setup
        .kafkit_writes_and_reads(writer(&setup.client), reader, &sent)
        .await;
    assert_eq!(
        (registered.schema_type, registered.schema.as_str()),
        (SchemaType::Protobuf, SCHEMA)
    );

    let as_printed = |Protobuf(r): &Protobuf<Reading>| {
        let note = r.note.as_ref().map(|n| n.text.as_str());
        serde_json::json!({"sensor": r.sensor, "celsius": r.celsius, "seq": r.seq,
            "note": note, "tags": r.tags})
    };
    let expected: Vec<(String, serde_json::Value)> = sent
        .iter()
        .map(|(key, value)| (key.clone(), as_printed(value)))
        .collect();
    let format = peer_format(&setup.topic);
    setup
        .python_reads(&format, &expected, (registered.id, "PROTOBUF"))
        .await;
}

/// Python's ProtobufSerializer writes readings (registering the file as a base64
/// descriptor, as it does); kafkit reads them with no schema of its own; kafkit's bytes for
/// the same reading after the schema id (message indexes, then the message) are Python's;
/// and a kafkit writer with `use.latest.version` finds `Reading` in the descriptor Python
/// registered and writes Python's very bytes, id included.
#[tokio::test]
async fn python_protobuf_records_are_read_by_kafkit_and_framed_alike() {
    let setup = setup("protobuf-python").await;
    let reader = ProtobufSerde::new(setup.client.clone(), RecordPart::Value);
    let expected: Vec<(String, Protobuf<Reading>)> = (0..20).map(reading).collect();
    let format = peer_format(&setup.topic);
    let produced = setup
        .python_writes_and_kafkit_reads(&format, reader, &expected)
        .await;

    // Under a registration of kafkit's own (another subject): Python's bytes after the id.
    let other_topic = format!("{}-kafkit", setup.topic);
    let ours = kafkit::Serializer::serialize(
        &writer(&setup.client),
        &other_topic,
        &mut Vec::new(),
        reading(0).1,
    )
    .unwrap()
    .unwrap();
    assert_eq!(&ours[5..7], &[2, 2], "indexes [1]");
    assert_eq!(&ours[5..], &produced.first[5..]);

    let latest = client(
        &setup.registry,
        &[
            ("auto.register.schemas", "false"),
            ("use.latest.version", "true"),
        ],
    );
    let bytes = kafkit::Serializer::serialize(
        &writer(&latest),
        &setup.topic,
        &mut Vec::new(),
        reading(0).1,
    )
    .unwrap()
    .unwrap();
    assert_eq!(&bytes[..], &produced.first[..]);
}
