//! Avro keys and values in the Schema Registry's wire format (feature `avro`), as Confluent's
//! `KafkaAvroSerializer` and `AvroSerializer` write them: a zero magic byte, the schema's id
//! as four big-endian bytes, then the Avro binary encoding of the datum.
//!
//! [`AvroSerde`] serializes and deserializes both [`apache_avro::types::Value`] and serde
//! types wrapped in [`Avro`], and `None` of either as Kafka's null (a tombstone).

pub use apache_avro;

use crate::error::{Error, Result};
use crate::record::Header;
use crate::serdes::registry::{wire, SchemaRegistryClient, SchemaType};
use crate::serdes::{Deserializer, RecordPart, Serializer};
use crate::sync::lock;
use apache_avro::types::Value;
use apache_avro::Schema;
use bytes::Bytes;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

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
///
/// # Allocation limit
///
/// apache-avro reserves room for as many values as an array or map block claims before it
/// reads one (56 bytes each in an array, about 160 in a map's table), up to a process-wide
/// limit that is 512 MiB by default: a 25-byte record claiming 500 million items then asks
/// for 28 GB, and the process aborts.
/// Creating an `AvroSerde` sets that limit to [`AVRO_MAX_ALLOCATION`] (a string, byte array,
/// array or map of at most 1 Mi bytes or items) unless it is set already: apache-avro takes
/// the first setting, so an application that needs larger fields calls
/// `apache_avro::util::max_allocation_bytes` before it creates an `AvroSerde` or decodes Avro.
/// Beyond the limit, reading fails with [`Error::Serialization`].
pub struct AvroSerde {
    client: SchemaRegistryClient,
    part: RecordPart,
    given: Option<Given>,
    writers: wire::Writers<Writer>,
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

/// The allocation limit an [`AvroSerde`] sets for apache-avro (see its *Allocation limit*):
/// Kafka's default largest record (`message.max.bytes`), so no field of such a record is
/// refused; it reserves at most 56 MiB for one claimed array and 170 MiB for one claimed map
/// (a hash table of 2 Mi buckets), under the 256 MB a fuzz target may allocate at once.
pub const AVRO_MAX_ALLOCATION: usize = 1 << 20;

impl AvroSerde {
    /// A serde without a schema of its own: it reads records as their writers' schemas say,
    /// and writes only with `use.latest.version=true` (the subject's latest schema).
    pub fn new(client: SchemaRegistryClient, part: RecordPart) -> Self {
        apache_avro::util::max_allocation_bytes(AVRO_MAX_ALLOCATION);
        Self {
            client,
            part,
            given: None,
            writers: wire::Writers::new(SchemaType::Avro, "AvroSerde::with_schema"),
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
        apache_avro::util::max_allocation_bytes(AVRO_MAX_ALLOCATION);
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
        let given = self.given.as_ref().map(|g| wire::Given {
            text: &g.text,
            record_name: g.full_name.as_deref(),
            schema: &g.parsed,
        });
        self.writers.get(
            &self.client,
            self.part,
            topic,
            given,
            |chosen| match chosen {
                wire::Chosen::Latest { id, text } => Ok(Writer {
                    id,
                    schema: parse_registered(text, id)?,
                }),
                wire::Chosen::Given { id, schema } => Ok(Writer {
                    id,
                    schema: schema.clone(),
                }),
            },
        )
    }

    /// The writer's schema with id `id`, parsed once.
    fn reader(&self, id: i32) -> Result<Arc<Schema>> {
        if let Some(schema) = lock(&self.readers).get(&id) {
            return Ok(schema.clone());
        }
        let found = wire::registered(&self.client, id, SchemaType::Avro)?;
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
        let mut bytes = wire::start_record(writer.id, datum.len());
        bytes.extend_from_slice(&datum);
        Ok(Some(Bytes::from(bytes)))
    }

    fn read(&self, data: Option<&Bytes>) -> Result<Value> {
        let bytes = data.ok_or_else(|| {
            Error::serialization("null is not an Avro datum; read it as an Option")
        })?;
        let (id, datum) = wire::split_header(bytes)?;
        let writer = self.reader(id)?;
        decode(id, &writer, self.given.as_ref().map(|g| &g.parsed), datum)
    }
}

/// The datum of a record written with schema `id` (`writer`), resolved to `reader` if given;
/// the whole of it.
fn decode(id: i32, writer: &Schema, reader: Option<&Schema>, mut datum: &[u8]) -> Result<Value> {
    let value = apache_avro::from_avro_datum(writer, &mut datum, reader).map_err(|e| {
        Error::serialization_with_source(format!("cannot read an Avro datum of schema id {id}"), e)
    })?;
    if !datum.is_empty() {
        return Err(Error::serialization(format!(
            "{} bytes follow the Avro datum of schema id {id}",
            datum.len()
        )));
    }
    Ok(value)
}

/// Hooks for the fuzz targets, exported from the crate root only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::*;
    use std::sync::OnceLock;

    /// A writer's schema with every kind of Avro value that claims a length or a count, or
    /// picks a branch: strings, bytes, arrays, maps, unions, enums, fixed, nested records.
    const SCHEMA: &str = r#"{"type":"record","name":"R","fields":[
        {"name":"s","type":"string"},
        {"name":"b","type":"bytes"},
        {"name":"n","type":["null","long","string"]},
        {"name":"a","type":{"type":"array","items":"int"}},
        {"name":"m","type":{"type":"map","values":{"type":"array","items":"string"}}},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
        {"name":"f","type":{"type":"fixed","name":"F","size":4}},
        {"name":"r","type":{"type":"array","items":{"type":"record","name":"I","fields":[
            {"name":"d","type":"double"},{"name":"z","type":"boolean"}]}}}]}"#;

    /// Arbitrary bytes as a record in the Avro wire format, read as `AvroSerde` reads one
    /// once it has the writer's schema (under the allocation limit an `AvroSerde` sets).
    /// Errors are fine answers.
    pub fn fuzz_avro_record(data: &[u8]) {
        static WRITER: OnceLock<Schema> = OnceLock::new();
        apache_avro::util::max_allocation_bytes(AVRO_MAX_ALLOCATION);
        let writer = WRITER.get_or_init(|| Schema::parse_str(SCHEMA).expect("the hook's schema"));
        if let Ok((id, datum)) = wire::split_header(data) {
            let _ = decode(id, writer, None, datum);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_hook_takes_records_good_and_bad() {
            for record in [
                &[][..],
                &[0, 0, 0, 0, 1],
                &[0, 0, 0, 0, 1, 2, b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                &[0, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
                // The fuzzer's first find: a map claiming 2 million entries, for which a
                // 4 Mi limit still let apache-avro reserve a 340 MB table.
                &[
                    0, 0, 0, 0x19, 0, 0, 0, 0, 0, 0xfe, 0x80, 0xfe, 1, 0, 0, 5, 5,
                ],
            ] {
                fuzz_avro_record(record);
            }
        }
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
    use crate::serdes::registry::fake::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

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
        let fake = FakeRegistry::registering();
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
        let fake = FakeRegistry::registering();
        let [key, value, plain] = strategy_clients(&fake.url);
        let keys = AvroSerde::with_schema(key.clone(), RecordPart::Key, READING).unwrap();
        let values = AvroSerde::with_schema(value, RecordPart::Value, READING).unwrap();
        let topic_keys = AvroSerde::with_schema(plain, RecordPart::Key, READING).unwrap();
        for serde in [keys, values, topic_keys] {
            serde
                .serialize("orders", &mut Vec::new(), Avro(reading(1)))
                .unwrap();
        }
        assert_eq!(
            fake.request_lines(),
            strategy_registrations("kafkit.test.Reading")
        );
        // Without a schema, a record strategy has nothing to name the subject after.
        let err = AvroSerde::new(key, RecordPart::Key)
            .serialize("orders", &mut Vec::new(), Value::Null)
            .unwrap_err();
        assert!(err.to_string().contains("with_schema"), "{err}");
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        let fake = FakeRegistry::registering();
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
        assert_schema_not_found(&read(&unknown).unwrap_err());
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
        fake.assert_nothing_registered();
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

    /// A block count is a length the datum claims: apache-avro reserves room for that many
    /// values before reading one, up to its allocation limit (512 MiB by default: 500
    /// million values of 48 bytes, more than this machine's memory, and an abort). Within
    /// kafkit's limit ([`AVRO_MAX_ALLOCATION`]) the claim is refused with a typed error.
    #[test]
    fn an_absurd_array_length_is_refused_not_allocated() {
        let fake = FakeRegistry::registering();
        let serde =
            AvroSerde::with_schema(client(&fake.url, &[]), RecordPart::Value, READING).unwrap();
        serde
            .serialize("t", &mut Vec::new(), Avro(reading(1)))
            .unwrap();
        let mut bytes = vec![0, 0, 0, 0, 1, 4, b's', b'1'];
        bytes.extend_from_slice(&21.5_f64.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 6, 0, 255, 7]);
        // 500,000,000 items, zig-zag varint.
        let mut n = 500_000_000_u64 << 1;
        while n >= 0x80 {
            bytes.push((n as u8) | 0x80);
            n >>= 7;
        }
        bytes.push(n as u8);
        let error = serde
            .deserialize("t", &[], Some(&Bytes::from(bytes)))
            .map(|_: Value| ())
            .unwrap_err();
        assert!(matches!(error, Error::Serialization { .. }), "{error:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any reading written comes back equal, through the wire format.
        #[test]
        fn readings_round_trip(readings in proptest::collection::vec(arb_reading(), 1..5)) {
            thread_local! {
                static SERDE: (FakeRegistry, AvroSerde) = {
                    let fake = FakeRegistry::registering();
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
                    let fake = FakeRegistry::registering();
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
