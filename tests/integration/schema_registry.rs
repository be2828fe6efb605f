//! Avro records with a real Schema Registry (the testkit's Apicurio Registry, through its
//! Confluent API) and the real broker: kafkit's `AvroSerde` through `TypedProducer` and
//! `TypedConsumer`, and both directions against confluent-kafka's Python `AvroSerializer`
//! and `AvroDeserializer` (`avro_peer.py`), sharing the registry's schema ids.

use crate::support::*;
use crate::typed_records::poll_typed;
use kafkit::serdes::avro::apache_avro::types::Value;
use kafkit::serdes::registry::{SchemaRegistryClient, SchemaRegistryConfig, SchemaType};
use kafkit::{
    Avro, AvroSerde, Consumer, DefaultSerde, Producer, RecordPart, TopicPartition, TypedConsumer,
    TypedConsumerRecord, TypedProducer, TypedProducerRecord,
};
use kafkit_testkit::SchemaRegistry;
use std::path::Path;
use std::process::Command;

const READING: &str = r#"{"type":"record","name":"Reading","namespace":"kafkit.test","fields":[{"name":"sensor","type":"string"},{"name":"celsius","type":"double"},{"name":"seq","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
    seq: i64,
    note: Option<String>,
}

/// What `avro_peer.py produce` writes as record `i`, and what kafkit writes here too.
fn reading(i: i64) -> Reading {
    Reading {
        sensor: format!("sensor-{}", i % 3),
        celsius: i as f64 / 4.0,
        seq: i,
        note: (i % 2 == 1).then(|| "odd".to_string()),
    }
}

async fn start_registry() -> SchemaRegistry {
    tokio::task::spawn_blocking(SchemaRegistry::start)
        .await
        .expect("the registry starter panicked")
        .unwrap_or_else(|e| panic!("no schema registry: {e}"))
}

/// Runs `avro_peer.py` with the venv's Python; its stdout.
async fn peer(args: Vec<String>) -> String {
    let python = python().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/avro_peer.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&python).arg(&script).args(&args).output()
    })
    .await
    .expect("the peer runner panicked")
    .expect("cannot run avro_peer.py");
    assert!(
        out.status.success(),
        "avro_peer.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn avro_consumer<V>(
    bootstrap: &str,
    topic: &str,
    serde: AvroSerde,
) -> TypedConsumer<String, V, DefaultSerde, AvroSerde> {
    let consumer = Consumer::new(consumer_config(bootstrap)).await.unwrap();
    consumer
        .assign([TopicPartition::new(topic, 0)])
        .await
        .unwrap();
    TypedConsumer::with_deserializers(consumer, DefaultSerde, serde)
}

/// kafkit writes Avro readings (serde types) and reads them back, as serde types and as
/// generic values; Python's AvroDeserializer reads the same records, naming the same schema
/// id; kafkit's writer registered the schema once and then sent every record without a
/// request.
#[tokio::test]
async fn kafkit_avro_records_round_trip_and_python_reads_them() {
    let registry = start_registry().await;
    let (bootstrap, topic) = fresh_topic("avro-kafkit", 1).await;
    let client = SchemaRegistryClient::new(SchemaRegistryConfig::new(registry.url())).unwrap();
    let values = AvroSerde::with_schema(client.clone(), RecordPart::Value, READING).unwrap();
    let producer = Producer::new(producer_config(&bootstrap)).await.unwrap();
    let readings: TypedProducer<String, Avro<Reading>, DefaultSerde, AvroSerde> =
        TypedProducer::with_serializers(producer, DefaultSerde, values);
    let mut deliveries = Vec::new();
    for i in 0..30 {
        let record = TypedProducerRecord::new(topic.as_str(), reading(i).sensor, Avro(reading(i)));
        deliveries.push(readings.send(record).await.unwrap());
    }
    readings.producer().flush().await;
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    let registered = client
        .latest_version(&format!("{topic}-value"))
        .await
        .unwrap();
    assert_eq!(
        (registered.version, registered.schema_type),
        (1, SchemaType::Avro)
    );

    let typed = avro_consumer(
        &bootstrap,
        &topic,
        AvroSerde::new(client.clone(), RecordPart::Value),
    )
    .await;
    let got: Vec<TypedConsumerRecord<String, Avro<Reading>>> = poll_typed(&typed, 30).await;
    let sent: Vec<Reading> = (0..30).map(reading).collect();
    assert_eq!(
        got.iter().map(|r| r.value.0.clone()).collect::<Vec<_>>(),
        sent
    );
    assert!(got.iter().all(|r| r.key == r.value.0.sensor));

    // The same bytes as generic values, resolved to the schema a reader gives.
    let generic = avro_consumer(
        &bootstrap,
        &topic,
        AvroSerde::with_schema(client.clone(), RecordPart::Value, READING).unwrap(),
    )
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

    let lines = peer(vec![
        "consume".into(),
        bootstrap.clone(),
        registry.url(),
        topic.clone(),
        "30".into(),
    ])
    .await;
    let seen: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(seen.len(), 30, "{lines}");
    for (i, record) in seen.iter().enumerate() {
        let expected = reading(i as i64);
        assert_eq!(record["id"], registered.id, "{record}");
        assert_eq!(record["key"], expected.sensor.as_str());
        assert_eq!(
            record["value"],
            serde_json::to_value(&expected).unwrap(),
            "{record}"
        );
    }
}

/// Python's AvroSerializer writes readings (registering its schema); kafkit reads them with
/// no schema of its own, by the ids in the records; then kafkit writes to the same topic
/// with the same schema text and gets the same id the Python writer got.
#[tokio::test]
async fn python_avro_records_are_read_by_kafkit_with_the_same_schema_id() {
    let registry = start_registry().await;
    let (bootstrap, topic) = fresh_topic("avro-python", 1).await;
    let schema_file = std::env::temp_dir().join(format!("{topic}.avsc"));
    std::fs::write(&schema_file, READING).unwrap();
    let ids = peer(vec![
        "produce".into(),
        bootstrap.clone(),
        registry.url(),
        topic.clone(),
        schema_file.display().to_string(),
        "20".into(),
    ])
    .await;
    let _ = std::fs::remove_file(&schema_file);
    let python_ids: Vec<i32> = serde_json::from_str(ids.trim()).unwrap();
    assert_eq!(python_ids.len(), 1, "{ids}");

    let client = SchemaRegistryClient::new(SchemaRegistryConfig::new(registry.url())).unwrap();
    let typed = avro_consumer(
        &bootstrap,
        &topic,
        AvroSerde::new(client.clone(), RecordPart::Value),
    )
    .await;
    let got: Vec<TypedConsumerRecord<String, Avro<Reading>>> = poll_typed(&typed, 20).await;
    let expected: Vec<Reading> = (0..20).map(reading).collect();
    assert_eq!(
        got.iter().map(|r| r.value.0.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(got.iter().all(|r| r.key == r.value.0.sensor));

    // kafkit's writer, with the same schema text under the same subject: the same id.
    let values = AvroSerde::with_schema(client.clone(), RecordPart::Value, READING).unwrap();
    let bytes = kafkit::Serializer::serialize(&values, &topic, &mut Vec::new(), Avro(reading(20)))
        .unwrap()
        .unwrap();
    assert_eq!(bytes[0], 0);
    assert_eq!(
        i32::from_be_bytes(bytes[1..5].try_into().unwrap()),
        python_ids[0],
        "kafkit and confluent-kafka name the schema by one id"
    );
}
