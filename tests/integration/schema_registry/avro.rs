//! Avro: kafkit's `AvroSerde` against itself, and against confluent-kafka's Python
//! `AvroSerializer` and `AvroDeserializer`, sharing the registry's schema ids.

use super::*;
use kafkit::serdes::avro::apache_avro::types::Value;
use kafkit::serdes::registry::SchemaType;
use kafkit::{Avro, AvroSerde, RecordPart, TypedConsumerRecord};

const READING: &str = r#"{"type":"record","name":"Reading","namespace":"kafkit.test","fields":[{"name":"sensor","type":"string"},{"name":"celsius","type":"double"},{"name":"seq","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
    seq: i64,
    note: Option<String>,
}

/// What `schema_registry_peer.py produce avro` writes as record `i` (its key is the sensor),
/// and what kafkit writes here too.
fn reading(i: i64) -> (String, Avro<Reading>) {
    let sensor = format!("sensor-{}", i % 3);
    let reading = Reading {
        sensor: sensor.clone(),
        celsius: i as f64 / 4.0,
        seq: i,
        note: (i % 2 == 1).then(|| "odd".to_string()),
    };
    (sensor, Avro(reading))
}

fn peer_format(topic: &str) -> PeerFormat {
    PeerFormat::new("avro", topic, READING.as_bytes(), &[])
}

/// kafkit writes Avro readings (serde types) and reads them back, as serde types and as
/// generic values; Python's AvroDeserializer reads the same records, naming the same schema
/// id; kafkit's writer registered the schema once and then sent every record without a
/// request.
#[tokio::test]
async fn kafkit_avro_records_round_trip_and_python_reads_them() {
    let setup = setup("avro-kafkit").await;
    let client = &setup.client;
    let writer = AvroSerde::with_schema(client.clone(), RecordPart::Value, READING).unwrap();
    let reader = AvroSerde::new(client.clone(), RecordPart::Value);
    let sent: Vec<(String, Avro<Reading>)> = (0..30).map(reading).collect();
    let registered = setup.kafkit_writes_and_reads(writer, reader, &sent).await;
    assert_eq!(registered.schema_type, SchemaType::Avro);

    // The same bytes as generic values, resolved to the schema a reader gives.
    let generic = setup
        .consumer(AvroSerde::with_schema(client.clone(), RecordPart::Value, READING).unwrap())
        .await;
    let got: Vec<TypedConsumerRecord<String, Value>> = poll_typed(&generic, 30).await;
    match &got[1].value {
        Value::Record(fields) => {
            assert_eq!(
                fields[0],
                ("sensor".to_string(), Value::String("sensor-1".into()))
            );
            assert_eq!(fields[2], ("seq".to_string(), Value::Long(1)));
            assert_eq!(
                fields[3],
                (
                    "note".to_string(),
                    Value::Union(1, Box::new(Value::String("odd".into())))
                )
            );
        }
        other => panic!("not a record: {other:?}"),
    }

    let expected: Vec<(String, serde_json::Value)> = sent
        .iter()
        .map(|(key, value)| (key.clone(), serde_json::to_value(&value.0).unwrap()))
        .collect();
    let format = peer_format(&setup.topic);
    setup
        .python_reads(&format, &expected, (registered.id, "AVRO"))
        .await;
}

/// Python's AvroSerializer writes readings (registering its schema); kafkit reads them with
/// no schema of its own, by the ids in the records; then kafkit writes to the same topic
/// with the same schema text and gets the same id the Python writer got, and the same bytes.
#[tokio::test]
async fn python_avro_records_are_read_by_kafkit_with_the_same_schema_id() {
    let setup = setup("avro-python").await;
    let reader = AvroSerde::new(setup.client.clone(), RecordPart::Value);
    let expected: Vec<(String, Avro<Reading>)> = (0..20).map(reading).collect();
    let format = peer_format(&setup.topic);
    let produced = setup
        .python_writes_and_kafkit_reads(&format, reader, &expected)
        .await;

    let writer = AvroSerde::with_schema(setup.client.clone(), RecordPart::Value, READING).unwrap();
    let bytes = kafkit::Serializer::serialize(&writer, &setup.topic, &mut Vec::new(), reading(0).1)
        .unwrap()
        .unwrap();
    assert_eq!(
        i32::from_be_bytes(bytes[1..5].try_into().unwrap()),
        produced.ids[0],
        "kafkit and confluent-kafka name the schema by one id"
    );
    assert_eq!(&bytes[..], &produced.first[..]);
}
