//! Records with a real Schema Registry (the testkit's Apicurio Registry, through its
//! Confluent API) and the real broker, in Avro (`avro.rs`, feature `avro`) and Protobuf
//! (`protobuf.rs`, feature `protobuf`): kafkit's serdes through `TypedProducer` and
//! `TypedConsumer`, and both directions against confluent-kafka's Python serializers and
//! deserializers (`schema_registry_peer.py`). What both formats' tests do alike is here.

#[cfg(feature = "avro")]
mod avro;
#[cfg(feature = "protobuf")]
mod protobuf;

use crate::support::*;
use crate::typed_records::poll_typed;
use kafkit::serdes::registry::{SchemaRegistryClient, SchemaRegistryConfig, SubjectVersion};
use kafkit::{
    Consumer, DefaultSerde, Deserializer, Producer, Serializer, TopicPartition, TypedConsumer,
    TypedProducer, TypedProducerRecord,
};
use kafkit_testkit::SchemaRegistry;
use std::fmt::Debug;
use std::path::PathBuf;

/// A format as `schema_registry_peer.py` takes it: its name, and its schema in a file of
/// the test's own (removed on drop) with the arguments after it.
struct PeerFormat {
    name: &'static str,
    file: PathBuf,
    after: Vec<String>,
}

impl PeerFormat {
    fn new(name: &'static str, topic: &str, schema: &[u8], after: &[&str]) -> Self {
        let file = std::env::temp_dir().join(format!("{topic}.{name}-schema"));
        std::fs::write(&file, schema).unwrap();
        Self {
            name,
            file,
            after: after.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl Drop for PeerFormat {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// What `schema_registry_peer.py produce` printed.
struct Produced {
    /// The schema ids of the records Python wrote.
    ids: Vec<i32>,
    /// The first record's value.
    first: Vec<u8>,
}

/// What each test starts with: the registry, a client of it, and a fresh topic.
struct Setup {
    registry: SchemaRegistry,
    client: SchemaRegistryClient,
    bootstrap: String,
    topic: String,
}

async fn setup(prefix: &str) -> Setup {
    let registry = schema_registry().await;
    let (bootstrap, topic) = fresh_topic(prefix, 1).await;
    Setup {
        client: client(&registry, &[]),
        registry,
        bootstrap,
        topic,
    }
}

/// A client of `registry` with the settings `extra` besides its URL.
fn client(registry: &SchemaRegistry, extra: &[(&str, &str)]) -> SchemaRegistryClient {
    let url = registry.url();
    let properties = [("schema.registry.url", url.as_str())]
        .into_iter()
        .chain(extra.iter().copied());
    SchemaRegistryClient::new(SchemaRegistryConfig::from_properties(properties).unwrap()).unwrap()
}

impl Setup {
    async fn peer(&self, mode: &str, format: &PeerFormat, n: usize) -> String {
        let args = [
            mode,
            format.name,
            &self.bootstrap,
            &self.registry.url(),
            &self.topic,
        ]
        .map(str::to_string)
        .into_iter()
        .chain([n.to_string(), format.file.display().to_string()])
        .chain(format.after.iter().cloned())
        .collect();
        run_python_script("schema_registry_peer.py", args).await
    }

    /// Python writes `expected.len()` readings of `format` (see `schema_registry_peer.py`),
    /// all with one schema id; kafkit reads them back as `expected`, values through `reader`.
    async fn python_writes_and_kafkit_reads<V: PartialEq + Debug, S: Deserializer<V>>(
        &self,
        format: &PeerFormat,
        reader: S,
        expected: &[(String, V)],
    ) -> Produced {
        let out = self.peer("produce", format, expected.len()).await;
        let printed: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        let hex = printed["first"].as_str().unwrap();
        let produced = Produced {
            ids: serde_json::from_value(printed["ids"].clone()).unwrap(),
            first: (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect(),
        };
        assert_eq!(produced.ids.len(), 1, "{out}");
        self.kafkit_reads(reader, expected).await;
        produced
    }

    /// Python reads `expected.len()` records of `format` from the start of the topic: each
    /// has the expected key and value (as the peer prints it), and schema id `id` of
    /// `schema_type`.
    async fn python_reads(
        &self,
        format: &PeerFormat,
        expected: &[(String, serde_json::Value)],
        (id, schema_type): (i32, &str),
    ) {
        let lines = self.peer("consume", format, expected.len()).await;
        let seen: Vec<serde_json::Value> = lines
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(seen.len(), expected.len(), "{lines}");
        for (record, (key, value)) in seen.iter().zip(expected) {
            assert_eq!(record["id"], id, "{record}");
            assert_eq!(record["schema_type"], schema_type, "{record}");
            assert_eq!(record["key"], key.as_str(), "{record}");
            assert_eq!(&record["value"], value, "{record}");
        }
    }

    /// kafkit writes `records` with values through `writer`, waits for every delivery, and
    /// reads them back through `reader`; the subject `<topic>-value` then has one version,
    /// returned.
    async fn kafkit_writes_and_reads<V: PartialEq + Debug + Clone, W, R>(
        &self,
        writer: W,
        reader: R,
        records: &[(String, V)],
    ) -> SubjectVersion
    where
        W: Serializer<V>,
        R: Deserializer<V>,
    {
        let producer = Producer::new(producer_config(&self.bootstrap))
            .await
            .unwrap();
        let typed: TypedProducer<String, V, DefaultSerde, W> =
            TypedProducer::with_serializers(producer, DefaultSerde, writer);
        let mut deliveries = Vec::new();
        for (key, value) in records.iter().cloned() {
            let record = TypedProducerRecord::new(self.topic.as_str(), key, value);
            deliveries.push(typed.send(record).await.unwrap());
        }
        typed.producer().flush().await;
        for delivery in deliveries {
            delivery.await.unwrap();
        }
        self.kafkit_reads(reader, records).await;
        let registered = self
            .client
            .latest_version(&format!("{}-value", self.topic))
            .await
            .unwrap();
        assert_eq!(registered.version, 1);
        registered
    }

    /// A consumer of the topic's partition 0, its values read through `serde`.
    async fn consumer<V, S: Deserializer<V>>(
        &self,
        serde: S,
    ) -> TypedConsumer<String, V, DefaultSerde, S> {
        let consumer = Consumer::new(consumer_config(&self.bootstrap))
            .await
            .unwrap();
        consumer
            .assign([TopicPartition::new(self.topic.as_str(), 0)])
            .await
            .unwrap();
        TypedConsumer::with_deserializers(consumer, DefaultSerde, serde)
    }

    /// kafkit reads `expected` (keys and values) from the start of the topic, values
    /// through `serde`.
    async fn kafkit_reads<V: PartialEq + Debug, S: Deserializer<V>>(
        &self,
        serde: S,
        expected: &[(String, V)],
    ) {
        let typed = self.consumer(serde).await;
        let got: Vec<(String, V)> = poll_typed(&typed, expected.len())
            .await
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect();
        assert_eq!(got, expected);
    }
}
