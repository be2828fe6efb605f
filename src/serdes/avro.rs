//! Avro keys and values in the Schema Registry's wire format (feature `avro`), as Confluent's
//! `KafkaAvroSerializer` and `AvroSerializer` write them: a zero magic byte, the schema's id
//! as four big-endian bytes, then the Avro binary encoding of the datum.
//!
//! [`AvroSerde`] serializes and deserializes both [`apache_avro::types::Value`] and serde
//! types wrapped in [`Avro`], and `None` of either as Kafka's null (a tombstone).

pub use apache_avro;

use crate::error::{Error, Result};
use crate::record::Header;
use crate::serdes::registry::{SchemaRegistryClient, SchemaType, SubjectNameStrategy};
use crate::serdes::{Deserializer, RecordPart, Serializer};
use crate::sync::lock;
use apache_avro::types::Value;
use apache_avro::Schema;
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// The wire format's first byte.
const MAGIC: u8 = 0;
/// The magic byte and the four-byte schema id.
const HEADER: usize = 5;

/// A serde type written and read as Avro by [`AvroSerde`] (as `Json<T>`, feature `json`, is for
/// JSON): its fields map to the schema's by name, as `apache_avro::to_value` and
/// `from_value` map them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Avro<T>(pub T);

/// A schema the serde was given, parsed once.
struct Given {
    text: String,
    parsed: Schema,
    /// The full name of a named schema (a record, an enum, a fixed): what the record
    /// subject name strategies use.
    full_name: Option<String>,
}

/// The schema a subject is written with, and its id.
struct Writer {
    id: i32,
    schema: Schema,
}

/// The Avro serializer and deserializer of one part (key or value) of records, with a
/// Schema Registry: Confluent's wire format, subject name strategies and settings
/// (`auto.register.schemas`, `use.latest.version`, `key.subject.name.strategy`,
/// `value.subject.name.strategy`, from the client's
/// [`SchemaRegistryConfig`](crate::serdes::registry::SchemaRegistryConfig)).
///
/// Writing: the subject comes from the topic, the part and the strategy; its schema id is
/// registered (or looked up, or its latest version taken) on the first record of each
/// subject and kept, so later records make no request. Reading: the id in each record names
/// the writer's schema, fetched once per id; with a schema given, the datum is resolved to it
/// (Avro's schema evolution), otherwise read as written.
///
/// ```no_run
/// use kafkit::serdes::registry::{SchemaRegistryClient, SchemaRegistryConfig};
/// use kafkit::{Avro, AvroSerde, DefaultSerde, Producer, ProducerConfig, RecordPart};
/// use kafkit::{TypedProducer, TypedProducerRecord};
///
/// #[derive(serde::Serialize)]
/// struct Reading { sensor: String, celsius: f64 }
///
/// # async fn f() -> kafkit::Result<()> {
/// let registry = SchemaRegistryClient::new(SchemaRegistryConfig::new("http://localhost:8081"))?;
/// let schema = r#"{"type":"record","name":"Reading","fields":[
///     {"name":"sensor","type":"string"},{"name":"celsius","type":"double"}]}"#;
/// let values = AvroSerde::with_schema(registry, RecordPart::Value, schema)?;
/// let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
/// let readings: TypedProducer<String, Avro<Reading>, DefaultSerde, AvroSerde> =
///     TypedProducer::with_serializers(producer, DefaultSerde, values);
/// let reading = Reading { sensor: "s1".into(), celsius: 21.5 };
/// readings.send(TypedProducerRecord::new("readings", "s1".to_string(), Avro(reading))).await?;
/// # Ok(()) }
/// ```
pub struct AvroSerde {
    client: SchemaRegistryClient,
    part: RecordPart,
    given: Option<Given>,
    writers: Mutex<HashMap<String, Arc<Writer>>>,
    readers: Mutex<HashMap<i32, Arc<Schema>>>,
}

impl fmt::Debug for AvroSerde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroSerde")
            .field("part", &self.part)
            .field("schema", &self.given.as_ref().map(|g| &g.text))
            .finish_non_exhaustive()
    }
}

impl AvroSerde {
    /// A serde without a schema of its own: it reads records as their writers' schemas say,
    /// and writes only with `use.latest.version=true` (the subject's latest schema).
    pub fn new(client: SchemaRegistryClient, part: RecordPart) -> Self {
        Self {
            client,
            part,
            given: None,
            writers: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// A serde that writes with `schema` (Avro's JSON; registered as written, so give the
    /// same text as other writers to share their id) and resolves what it reads to it.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] if `schema` is not a valid Avro schema.
    pub fn with_schema(
        client: SchemaRegistryClient,
        part: RecordPart,
        schema: &str,
    ) -> Result<Self> {
        let parsed = Schema::parse_str(schema)
            .map_err(|e| Error::serialization_with_source("not an Avro schema", e))?;
        let full_name = parsed.name().map(|name| name.fullname(None));
        Ok(Self {
            given: Some(Given {
                text: schema.to_string(),
                parsed,
                full_name,
            }),
            ..Self::new(client, part)
        })
    }

    /// The schema and id records of `topic` are written with: resolved once per subject.
    fn writer(&self, topic: &str) -> Result<Arc<Writer>> {
        let config = self.client.config();
        let strategy = config.subject_name_strategy(self.part);
        let given = self.given.as_ref();
        if given.is_none() && strategy != SubjectNameStrategy::TopicName {
            return Err(Error::serialization(format!(
                "{strategy:?} names the subject after the schema: give the serde a schema \
                 (AvroSerde::with_schema)"
            )));
        }
        let subject =
            strategy.subject(topic, self.part, given.and_then(|g| g.full_name.as_deref()))?;
        if let Some(writer) = lock(&self.writers).get(&subject) {
            return Ok(writer.clone());
        }
        let writer = if config.use_latest_version() {
            let latest = self.client.latest_version_blocking(&subject)?;
            if latest.schema_type != SchemaType::Avro {
                return Err(Error::serialization(format!(
                    "the latest schema of subject {subject:?} is {}, not Avro",
                    latest.schema_type
                )));
            }
            Writer {
                id: latest.id,
                schema: parse_registered(&latest.schema, latest.id)?,
            }
        } else {
            let given = given.ok_or_else(|| {
                Error::serialization(
                    "an AvroSerde without a schema writes only with use.latest.version=true",
                )
            })?;
            let id = if config.auto_register_schemas() {
                self.client
                    .register_blocking(&subject, &given.text, SchemaType::Avro)?
            } else {
                self.client
                    .lookup_id_blocking(&subject, &given.text, SchemaType::Avro)?
            };
            Writer {
                id,
                schema: given.parsed.clone(),
            }
        };
        Ok(lock(&self.writers)
            .entry(subject)
            .or_insert_with(|| Arc::new(writer))
            .clone())
    }

    /// The writer's schema with id `id`, parsed once.
    fn reader(&self, id: i32) -> Result<Arc<Schema>> {
        if let Some(schema) = lock(&self.readers).get(&id) {
            return Ok(schema.clone());
        }
        let found = self.client.schema_blocking(id)?;
        if found.schema_type != SchemaType::Avro {
            return Err(Error::serialization(format!(
                "schema id {id} is {}, not Avro",
                found.schema_type
            )));
        }
        let schema = parse_registered(&found.schema, id)?;
        Ok(lock(&self.readers)
            .entry(id)
            .or_insert_with(|| Arc::new(schema))
            .clone())
    }

    fn write(&self, topic: &str, value: Value) -> Result<Option<Bytes>> {
        let writer = self.writer(topic)?;
        let value = value.resolve(&writer.schema).map_err(|e| {
            Error::serialization_with_source(
                format!("the {} does not fit schema id {}", self.part, writer.id),
                e,
            )
        })?;
        let datum = apache_avro::to_avro_datum(&writer.schema, value)
            .map_err(|e| Error::serialization_with_source("Avro encoding failed", e))?;
        let mut bytes = Vec::with_capacity(HEADER + datum.len());
        bytes.push(MAGIC);
        bytes.extend_from_slice(&writer.id.to_be_bytes());
        bytes.extend_from_slice(&datum);
        Ok(Some(Bytes::from(bytes)))
    }

    fn read(&self, data: Option<&Bytes>) -> Result<Value> {
        let bytes = data.ok_or_else(|| {
            Error::serialization("null is not an Avro datum; read it as an Option")
        })?;
        let (id, mut datum) = split_header(bytes)?;
        let writer = self.reader(id)?;
        let reader_schema = self.given.as_ref().map(|g| &g.parsed);
        let value =
            apache_avro::from_avro_datum(&writer, &mut datum, reader_schema).map_err(|e| {
                Error::serialization_with_source(
                    format!("cannot read an Avro datum of schema id {id}"),
                    e,
                )
            })?;
        if !datum.is_empty() {
            return Err(Error::serialization(format!(
                "{} bytes follow the Avro datum of schema id {id}",
                datum.len()
            )));
        }
        Ok(value)
    }
}

/// The schema id and the datum of a record in the wire format.
fn split_header(bytes: &[u8]) -> Result<(i32, &[u8])> {
    match bytes {
        [MAGIC, a, b, c, d, datum @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), datum)),
        [MAGIC, ..] => Err(Error::serialization(format!(
            "{} bytes are too few for the Schema Registry wire format's 5-byte header",
            bytes.len()
        ))),
        [magic, ..] => Err(Error::serialization(format!(
            "unknown magic byte {magic}: not the Schema Registry wire format"
        ))),
        [] => Err(Error::serialization(
            "0 bytes: not the Schema Registry wire format",
        )),
    }
}

fn parse_registered(schema: &str, id: i32) -> Result<Schema> {
    Schema::parse_str(schema).map_err(|e| {
        Error::serialization_with_source(format!("schema id {id} is not a valid Avro schema"), e)
    })
}

impl Serializer<Value> for AvroSerde {
    fn serialize(
        &self,
        topic: &str,
        _headers: &mut Vec<Header>,
        data: Value,
    ) -> Result<Option<Bytes>> {
        self.write(topic, data)
    }
}

impl Deserializer<Value> for AvroSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Value> {
        self.read(data)
    }
}

impl<T: serde::Serialize> Serializer<Avro<T>> for AvroSerde {
    fn serialize(
        &self,
        topic: &str,
        _headers: &mut Vec<Header>,
        data: Avro<T>,
    ) -> Result<Option<Bytes>> {
        let value = apache_avro::to_value(data.0)
            .map_err(|e| Error::serialization_with_source("cannot turn the value into Avro", e))?;
        self.write(topic, value)
    }
}

impl<T: serde::de::DeserializeOwned> Deserializer<Avro<T>> for AvroSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Avro<T>> {
        let value = self.read(data)?;
        apache_avro::from_value(&value).map(Avro).map_err(|e| {
            Error::serialization_with_source("the Avro datum does not fit the type", e)
        })
    }
}

nullable!(AvroSerde);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serdes::registry::fake::FakeRegistry;
    use crate::serdes::registry::SchemaRegistryConfig;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};
    use std::sync::atomic::{AtomicI32, Ordering};

    const READING: &str = r#"{"type":"record","name":"Reading","namespace":"kafkit.test","fields":[
        {"name":"sensor","type":"string"},
        {"name":"celsius","type":"double"},
        {"name":"seq","type":"long"},
        {"name":"note","type":["null","string"],"default":null},
        {"name":"raw","type":"bytes"},
        {"name":"tags","type":{"type":"array","items":"int"}}]}"#;

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Reading {
        sensor: String,
        celsius: f64,
        seq: i64,
        note: Option<String>,
        #[serde(with = "apache_avro::serde_avro_bytes")]
        raw: Vec<u8>,
        tags: Vec<i32>,
    }

    /// A registry that registers every (subject, schema) under ids from 1 and serves them.
    fn registry() -> FakeRegistry {
        let next = AtomicI32::new(1);
        let schemas: Mutex<HashMap<String, i32>> = Mutex::new(HashMap::new());
        FakeRegistry::start(move |request, body| {
            let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if let Some(subject) = request
                .strip_prefix("POST /subjects/")
                .and_then(|rest| rest.strip_suffix("/versions"))
            {
                let schema = body["schema"].as_str().unwrap().to_string();
                let mut schemas = schemas.lock().unwrap();
                let id = *schemas
                    .entry(schema)
                    .or_insert_with(|| next.fetch_add(1, Ordering::SeqCst));
                return (200, format!(r#"{{"id":{id},"subject":"{subject}"}}"#));
            }
            if let Some(id) = request.strip_prefix("GET /schemas/ids/") {
                let schemas = schemas.lock().unwrap();
                if let Some((schema, _)) = schemas.iter().find(|(_, i)| i.to_string() == id) {
                    return (200, serde_json::json!({ "schema": schema }).to_string());
                }
            }
            (
                404,
                r#"{"error_code":40403,"message":"Schema not found"}"#.into(),
            )
        })
    }

    fn client(url: &str, extra: &[(&str, &str)]) -> SchemaRegistryClient {
        let mut properties = vec![("schema.registry.url", url)];
        properties.extend_from_slice(extra);
        SchemaRegistryClient::new(SchemaRegistryConfig::from_properties(properties).unwrap())
            .unwrap()
    }

    fn reading(seq: i64) -> Reading {
        Reading {
            sensor: format!("s{seq}"),
            celsius: 21.5,
            seq,
            note: (seq % 2 == 0).then(|| "even".into()),
            raw: vec![0, 255, 7],
            tags: vec![1, -2, 3],
        }
    }

    #[test]
    fn the_wire_format_is_magic_id_then_the_datum() {
        let fake = registry();
        let serde =
            AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, READING).unwrap();
        let bytes = serde
            .serialize("t", &mut Vec::new(), Avro(reading(1)))
            .unwrap()
            .unwrap();
        assert_eq!(
            &bytes[..5],
            &[0, 0, 0, 0, 1],
            "magic 0, schema id 1 big-endian"
        );
        // The datum: "s1" (zigzag length 2 = 4), 21.5 as a little-endian double, 1 as zigzag
        // long (2), the union's branch 0 (null), bytes [0,255,7], one block of 3 ints.
        let mut expected = vec![4, b's', b'1'];
        expected.extend_from_slice(&21.5_f64.to_le_bytes());
        expected.extend_from_slice(&[2, 0, 6, 0, 255, 7, 6, 2, 3, 6, 0]);
        assert_eq!(&bytes[5..], &expected[..]);
        let back: Avro<Reading> = serde.deserialize("t", &[], Some(&bytes)).unwrap();
        assert_eq!(back.0, reading(1));
        // Steady state: one registration, one schema lookup by id (the reader's), then none.
        let requests = fake.requests();
        for seq in 0..100 {
            let bytes = serde
                .serialize("t", &mut Vec::new(), Avro(reading(seq)))
                .unwrap();
            let _: Avro<Reading> = serde.deserialize("t", &[], bytes.as_ref()).unwrap();
        }
        assert_eq!(requests, 2);
        assert_eq!(
            fake.requests(),
            requests,
            "no HTTP request in the steady state"
        );
        // A second topic is a second subject: one more registration, the same id.
        let other = serde
            .serialize("u", &mut Vec::new(), Avro(reading(1)))
            .unwrap()
            .unwrap();
        assert_eq!(&other[..5], &bytes[..5]);
        assert_eq!(fake.requests(), requests + 1);
        let seen = fake.seen.lock().unwrap().clone();
        assert!(
            seen[0].starts_with("POST /subjects/t-value/versions"),
            "{seen:?}"
        );
    }

    #[test]
    fn subject_name_strategies_for_keys_and_values() {
        let fake = registry();
        let key = client(
            &fake.url,
            &[("key.subject.name.strategy", "RecordNameStrategy")],
        );
        let value = client(
            &fake.url,
            &[("value.subject.name.strategy", "TopicRecordNameStrategy")],
        );
        let keys = AvroSerde::with_schema(key.clone(), RecordPart::Key, READING).unwrap();
        let values = AvroSerde::with_schema(value, RecordPart::Value, READING).unwrap();
        let topic_keys =
            AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Key, READING).unwrap();
        keys.serialize("orders", &mut Vec::new(), Avro(reading(1)))
            .unwrap();
        values
            .serialize("orders", &mut Vec::new(), Avro(reading(1)))
            .unwrap();
        topic_keys
            .serialize("orders", &mut Vec::new(), Avro(reading(1)))
            .unwrap();
        let seen: Vec<String> = fake
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            seen,
            [
                "POST /subjects/kafkit.test.Reading/versions",
                "POST /subjects/orders-kafkit.test.Reading/versions",
                "POST /subjects/orders-key/versions",
            ]
        );
        // Without a schema, a record strategy has nothing to name the subject after.
        let err = AvroSerde::new(key, RecordPart::Key)
            .serialize("orders", &mut Vec::new(), Value::Null)
            .unwrap_err();
        assert!(err.to_string().contains("with_schema"), "{err}");
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        let fake = registry();
        let serde =
            AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, READING).unwrap();
        let good = serde
            .serialize("t", &mut Vec::new(), Avro(reading(1)))
            .unwrap()
            .unwrap();
        let read = |bytes: &[u8]| -> Result<Value> {
            serde.deserialize("t", &[], Some(&Bytes::copy_from_slice(bytes)))
        };
        let message = |bytes: &[u8]| read(bytes).unwrap_err().to_string();
        assert!(message(&[1, 0, 0, 0, 1, 2]).contains("unknown magic byte 1"));
        assert!(message(&[0, 0, 0]).contains("too few"));
        assert!(message(&[]).contains("0 bytes"));
        assert!(message(&good[..good.len() - 2]).contains("cannot read an Avro datum"));
        let mut longer = good.to_vec();
        longer.push(9);
        assert!(
            message(&longer).contains("1 bytes follow"),
            "{}",
            message(&longer)
        );
        let mut unknown = good.to_vec();
        unknown[4] = 42;
        let err = read(&unknown).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SchemaRegistry {
                    status: Some(404),
                    error_code: Some(40403),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(serde
            .deserialize("t", &[], None)
            .map(|_: Value| ())
            .is_err());
        let none: Option<Avro<Reading>> = serde.deserialize("t", &[], None).unwrap();
        assert_eq!(none, None);
        assert_eq!(
            serde
                .serialize("t", &mut Vec::new(), None::<Value>)
                .unwrap(),
            None
        );
        // A value that does not fit the schema is refused before anything is sent.
        let err = serde
            .serialize(
                "t",
                &mut Vec::new(),
                Value::Record(vec![("sensor".into(), Value::Int(1))]),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("does not fit schema id 1"),
            "{err}"
        );
        assert!(AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, "{").is_err());
    }

    #[test]
    fn use_latest_version_writes_with_the_subjects_schema() {
        let fake = FakeRegistry::start(|request, _| match request {
            "GET /subjects/t-value/versions/latest" => (
                200,
                serde_json::json!({"subject":"t-value","version":4,"id":31,"schema":"\"long\""})
                    .to_string(),
            ),
            "POST /subjects/t-value" => (
                200,
                serde_json::json!({"subject":"t-value","version":2,"id":12,"schema":"\"long\""})
                    .to_string(),
            ),
            _ => (
                404,
                r#"{"error_code":40401,"message":"Subject not found"}"#.into(),
            ),
        });
        let latest = client(
            &fake.url,
            &[
                ("auto.register.schemas", "false"),
                ("use.latest.version", "true"),
            ],
        );
        let bytes = AvroSerde::new(latest, RecordPart::Value)
            .serialize("t", &mut Vec::new(), Value::Long(-1))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..], &[0, 0, 0, 0, 31, 1]);
        // auto.register.schemas=false alone: the given schema's id, looked up, not registered.
        let lookup = client(&fake.url, &[("auto.register.schemas", "false")]);
        let bytes = AvroSerde::with_schema(lookup, RecordPart::Value, "\"long\"")
            .unwrap()
            .serialize("t", &mut Vec::new(), Value::Long(1))
            .unwrap()
            .unwrap();
        assert_eq!(&bytes[..], &[0, 0, 0, 0, 12, 2]);
        let seen = fake.seen.lock().unwrap().clone();
        assert!(
            seen.iter().all(|r| !r.contains("/versions ")),
            "nothing registered: {seen:?}"
        );
    }

    fn arb_reading() -> impl Strategy<Value = Reading> {
        (
            ".{0,20}",
            any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()),
            any::<i64>(),
            proptest::option::of(".{0,10}"),
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<i32>(), 0..20),
        )
            .prop_map(|(sensor, celsius, seq, note, raw, tags)| Reading {
                sensor,
                celsius,
                seq,
                note,
                raw,
                tags,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any reading written comes back equal, through the wire format.
        #[test]
        fn readings_round_trip(readings in proptest::collection::vec(arb_reading(), 1..5)) {
            thread_local! {
                static SERDE: (FakeRegistry, AvroSerde) = {
                    let fake = registry();
                    let serde = AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, READING).unwrap();
                    (fake, serde)
                };
            }
            SERDE.with(|(_, serde)| {
                for reading in readings {
                    let bytes = serde.serialize("t", &mut Vec::new(), Avro(reading.clone())).unwrap();
                    let back: Avro<Reading> = serde.deserialize("t", &[], bytes.as_ref()).unwrap();
                    prop_assert_eq!(back.0, reading);
                }
                Ok(())
            })?;
        }

        /// Any bytes after a valid header are read or refused, never a panic.
        #[test]
        fn garbage_after_the_header_is_refused_not_panicked_on(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            thread_local! {
                static SERDE: (FakeRegistry, AvroSerde) = {
                    let fake = registry();
                    let serde = AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, READING).unwrap();
                    serde.serialize("t", &mut Vec::new(), Avro(reading(1))).unwrap();
                    (fake, serde)
                };
            }
            SERDE.with(|(_, serde)| {
                let mut bytes = vec![0, 0, 0, 0, 1];
                bytes.extend_from_slice(&tail);
                let _ = serde.deserialize("t", &[], Some(&Bytes::from(bytes))).map(|_: Value| ());
            });
        }
    }
}
