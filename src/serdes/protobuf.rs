//! Protobuf keys and values in the Schema Registry's wire format (feature `protobuf`), as
//! Confluent's `KafkaProtobufSerializer` and `ProtobufSerializer` write them: a zero magic
//! byte, the schema's id as four big-endian bytes, the message indexes, then the message's
//! Protobuf encoding.
//!
//! The message indexes say which message of the schema's `.proto` file the record is: the
//! path to it, one index per level of nesting (`[1, 0]` is the first message nested in the
//! file's second message), written as zig-zag varints, their count first; the file's first
//! message, `[0]`, is the single byte 0.
//!
//! [`ProtobufSerde`] serializes and deserializes [`prost::Message`] types wrapped in
//! [`Protobuf`], and `None` as Kafka's null (a tombstone).

pub use prost;

use crate::error::{Error, Result};
use crate::record::Header;
use crate::serdes::registry::{wire, SchemaRegistryClient, SchemaType};
use crate::serdes::{Deserializer, RecordPart, Serializer};
use base64::Engine;
use bytes::Bytes;
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto};
use std::fmt;

/// A [`prost::Message`] written and read as Protobuf by [`ProtobufSerde`] (as `Avro<T>` is
/// for Avro).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protobuf<T>(pub T);

/// The schema a serde was given.
struct Given {
    text: String,
    /// The full name of the message written (`package.Outer.Inner`).
    message: String,
    /// Its message indexes in `text`, encoded.
    indexes: Vec<u8>,
}

/// What records of a subject are written with.
struct Writer {
    id: i32,
    /// The message indexes, encoded.
    indexes: Vec<u8>,
}

/// The Protobuf serializer and deserializer of one part (key or value) of records, with a
/// Schema Registry: Confluent's wire format, subject name strategies (the record strategies
/// name the subject after the message's full name) and settings (`auto.register.schemas`,
/// `use.latest.version`, `key.subject.name.strategy`, `value.subject.name.strategy`, from the
/// client's [`SchemaRegistryConfig`](crate::serdes::registry::SchemaRegistryConfig)).
///
/// Writing: the serde is given the schema's `.proto` text and the message's full name; the
/// text is registered as it is (or looked up, or the subject's latest version taken, in which
/// the message is found by name) on the first record of each subject, and the id and message
/// indexes kept, so later records make no request. Reading: the schema id in each record must
/// name a Protobuf schema (fetched once per id); the message is decoded into the type asked
/// for, as Confluent's deserializers with a specific type do. Schemas that import other
/// files (schema references) are not supported yet.
///
/// ```no_run
/// use kafkit::serdes::registry::{SchemaRegistryClient, SchemaRegistryConfig};
/// use kafkit::{DefaultSerde, Producer, ProducerConfig, Protobuf, ProtobufSerde, RecordPart};
/// use kafkit::{TypedProducer, TypedProducerRecord};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Reading {
///     #[prost(string, tag = "1")]
///     sensor: String,
///     #[prost(double, tag = "2")]
///     celsius: f64,
/// }
///
/// # async fn f() -> kafkit::Result<()> {
/// let registry = SchemaRegistryClient::new(SchemaRegistryConfig::new("http://localhost:8081"))?;
/// let schema = r#"syntax = "proto3"; package shop;
///     message Reading { string sensor = 1; double celsius = 2; }"#;
/// let values = ProtobufSerde::with_schema(registry, RecordPart::Value, schema, "shop.Reading")?;
/// let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
/// let readings: TypedProducer<String, Protobuf<Reading>, DefaultSerde, ProtobufSerde> =
///     TypedProducer::with_serializers(producer, DefaultSerde, values);
/// let reading = Reading { sensor: "s1".into(), celsius: 21.5 };
/// readings.send(TypedProducerRecord::new("readings", "s1".to_string(), Protobuf(reading))).await?;
/// # Ok(()) }
/// ```
pub struct ProtobufSerde {
    client: SchemaRegistryClient,
    part: RecordPart,
    given: Option<Given>,
    writers: wire::Writers<Writer>,
}

impl fmt::Debug for ProtobufSerde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtobufSerde")
            .field("part", &self.part)
            .field("message", &self.given.as_ref().map(|g| &g.message))
            .finish_non_exhaustive()
    }
}

impl ProtobufSerde {
    /// A serde that reads records of any Protobuf schema into the type asked for; it cannot
    /// write (it knows no schema): use [`with_schema`](Self::with_schema) for that.
    pub fn new(client: SchemaRegistryClient, part: RecordPart) -> Self {
        Self {
            client,
            part,
            given: None,
            writers: wire::Writers::new(SchemaType::Protobuf, "ProtobufSerde::with_schema"),
        }
    }

    /// A serde that writes message `message` (its full name: `package.Outer.Inner`) of the
    /// `.proto` file `schema`, registered as written (give the same text as other writers to
    /// share their id).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] if `schema` is not a valid `.proto` file or has no message
    /// `message`.
    pub fn with_schema(
        client: SchemaRegistryClient,
        part: RecordPart,
        schema: &str,
        message: &str,
    ) -> Result<Self> {
        let file = protox_parse::parse("schema.proto", schema)
            .map_err(|e| Error::serialization_with_source("not a .proto file", e))?;
        let message = message.strip_prefix('.').unwrap_or(message);
        let indexes = message_indexes(&file, message)
            .ok_or_else(|| Error::serialization(format!("the schema has no message {message}")))?;
        Ok(Self {
            given: Some(Given {
                text: schema.to_string(),
                message: message.to_string(),
                indexes: encode_indexes(&indexes),
            }),
            ..Self::new(client, part)
        })
    }

    /// [`with_schema`](Self::with_schema) for the message `T` (its full name from
    /// [`prost::Name`], which `#[derive(prost::Name)]` and prost-build's `enable_type_names`
    /// provide).
    ///
    /// # Errors
    ///
    /// As [`with_schema`](Self::with_schema)'s.
    pub fn for_message<T: prost::Name>(
        client: SchemaRegistryClient,
        part: RecordPart,
        schema: &str,
    ) -> Result<Self> {
        Self::with_schema(client, part, schema, &T::full_name())
    }

    fn write(&self, topic: &str, message: &impl Message) -> Result<Option<Bytes>> {
        let given = self.given.as_ref().ok_or_else(|| {
            Error::serialization(
                "a ProtobufSerde made with ProtobufSerde::new only reads: give it the schema \
                 it writes with (ProtobufSerde::with_schema)",
            )
        })?;
        let writer = self.writers.get(
            &self.client,
            self.part,
            topic,
            Some(wire::Given {
                text: &given.text,
                record_name: Some(&given.message),
                schema: given,
            }),
            |chosen| match chosen {
                wire::Chosen::Given { id, schema } => Ok(Writer {
                    id,
                    indexes: schema.indexes.clone(),
                }),
                wire::Chosen::Latest { id, text } => {
                    let file = parse_registered(text, id)?;
                    let indexes = message_indexes(&file, &given.message).ok_or_else(|| {
                        Error::serialization(format!(
                            "schema id {id} has no message {}",
                            given.message
                        ))
                    })?;
                    Ok(Writer {
                        id,
                        indexes: encode_indexes(&indexes),
                    })
                }
            },
        )?;
        let mut bytes = wire::start_record(writer.id, writer.indexes.len() + message.encoded_len());
        bytes.extend_from_slice(&writer.indexes);
        message
            .encode(&mut bytes)
            .map_err(|e| Error::serialization_with_source("Protobuf encoding failed", e))?;
        Ok(Some(Bytes::from(bytes)))
    }

    fn read<T: Message + Default>(&self, data: Option<&Bytes>) -> Result<T> {
        let bytes = data.ok_or_else(|| {
            Error::serialization("null is not a Protobuf message; read it as an Option")
        })?;
        let (id, rest) = wire::split_header(bytes)?;
        let (_indexes, message) = split_indexes(rest)?;
        wire::registered(&self.client, id, SchemaType::Protobuf)?;
        T::decode(message).map_err(|e| {
            Error::serialization_with_source(
                format!("cannot read a Protobuf message of schema id {id}"),
                e,
            )
        })
    }
}

/// A registered schema: `.proto` text, or a base64 `FileDescriptorProto`, the form
/// confluent-kafka's Python serializer registers.
fn parse_registered(text: &str, id: i32) -> Result<FileDescriptorProto> {
    protox_parse::parse("schema.proto", text).or_else(|parse_error| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| FileDescriptorProto::decode(&bytes[..]).ok())
            .ok_or_else(|| {
                Error::serialization_with_source(
                    format!("schema id {id} is not a valid .proto file"),
                    parse_error,
                )
            })
    })
}

/// The path to message `full_name` in `file`: its index among the file's messages, then
/// among that message's nested ones, and so on.
fn message_indexes(file: &FileDescriptorProto, full_name: &str) -> Option<Vec<i32>> {
    let relative = match file.package() {
        "" => full_name,
        package => full_name.strip_prefix(package)?.strip_prefix('.')?,
    };
    let mut messages: &[DescriptorProto] = &file.message_type;
    let mut indexes = Vec::new();
    for name in relative.split('.') {
        let (index, message) = messages
            .iter()
            .enumerate()
            .find(|(_, message)| message.name() == name)?;
        indexes.push(i32::try_from(index).ok()?);
        messages = &message.nested_type;
    }
    Some(indexes)
}

fn encode_indexes(indexes: &[i32]) -> Vec<u8> {
    if indexes == [0] {
        return vec![0];
    }
    let mut bytes = Vec::with_capacity(5 * (indexes.len() + 1));
    // A file holds far fewer than 2^31 messages, nested as deep.
    write_varint(&mut bytes, i32::try_from(indexes.len()).unwrap_or(i32::MAX));
    for index in indexes {
        write_varint(&mut bytes, *index);
    }
    bytes
}

/// The message indexes at the start of `bytes`, and the message after them.
fn split_indexes(bytes: &[u8]) -> Result<(Vec<i32>, &[u8])> {
    let (count, mut rest) = read_varint(bytes)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    // Every index takes a byte at least, so a count beyond the bytes left is not a record's
    // (and is not allocated for).
    let count = usize::try_from(count)
        .ok()
        .filter(|count| *count <= rest.len())
        .ok_or_else(|| {
            Error::serialization(format!(
                "{count} message indexes in {} bytes: not the Protobuf wire format",
                rest.len()
            ))
        })?;
    let mut indexes = Vec::with_capacity(count);
    for _ in 0..count {
        let (index, after) = read_varint(rest)?;
        if index < 0 {
            return Err(Error::serialization(format!(
                "negative message index {index}"
            )));
        }
        indexes.push(index);
        rest = after;
    }
    Ok((indexes, rest))
}

/// A zig-zag varint of at most 32 bits (Java's `ByteUtils.writeVarint`).
fn write_varint(bytes: &mut Vec<u8>, value: i32) {
    let mut zigzag = ((value << 1) ^ (value >> 31)) as u32;
    while zigzag >= 0x80 {
        bytes.push((zigzag as u8 & 0x7f) | 0x80);
        zigzag >>= 7;
    }
    bytes.push(zigzag as u8);
}

/// A zig-zag varint of at most 32 bits, and the bytes after it.
fn read_varint(bytes: &[u8]) -> Result<(i32, &[u8])> {
    let mut zigzag: u32 = 0;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        if i == 4 && *byte > 0x0f {
            return Err(Error::serialization(
                "a message index varint exceeds 32 bits",
            ));
        }
        zigzag |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = (zigzag >> 1) as i32 ^ -((zigzag & 1) as i32);
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(Error::serialization(
        "the message indexes end inside a varint: not the Protobuf wire format",
    ))
}

impl<T: Message> Serializer<Protobuf<T>> for ProtobufSerde {
    fn serialize(
        &self,
        topic: &str,
        _headers: &mut Vec<Header>,
        data: Protobuf<T>,
    ) -> Result<Option<Bytes>> {
        self.write(topic, &data.0)
    }
}

impl<T: Message + Default> Deserializer<Protobuf<T>> for ProtobufSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Protobuf<T>> {
        self.read(data).map(Protobuf)
    }
}

nullable!(ProtobufSerde);

/// Hooks for the fuzz targets, exported from the crate root only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
pub mod hooks {
    use super::*;

    /// Arbitrary bytes as a record in the Protobuf wire format, read as far as a reader gets
    /// without a registry: the header, the message indexes (never more than the bytes
    /// after the header), then the message, decoded as a `FileDescriptorProto` (a deep,
    /// nested message type). Errors are fine answers.
    pub fn fuzz_protobuf_record(data: &[u8]) {
        let Ok((_, rest)) = wire::split_header(data) else {
            return;
        };
        let Ok((indexes, message)) = split_indexes(rest) else {
            return;
        };
        assert!(indexes.len() <= rest.len(), "more indexes than bytes");
        let _ = FileDescriptorProto::decode(message);
    }

    /// Arbitrary bytes as the text of a registered schema (what `use.latest.version` takes
    /// from the registry): parsed as `.proto` text or a base64 descriptor, then searched for
    /// a nested message.
    pub fn fuzz_protobuf_schema(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(file) = parse_registered(text, 1) {
            let _ = message_indexes(&file, "a.B.C");
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hooks_take_records_and_schemas_good_and_bad() {
            for record in [
                &[][..],
                &[0, 0, 0, 0, 1, 0, 10, 1, b'a'],
                &[0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f],
                &[0, 0, 0, 0, 1, 4, 2, 0, 0xff],
            ] {
                fuzz_protobuf_record(record);
            }
            for schema in [
                &b"syntax = \"proto3\"; package a; message B { message C {} }"[..],
                b"message {",
                b"CgFh",
                &[0xff, 0xfe],
            ] {
                fuzz_protobuf_schema(schema);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serdes::registry::fake::*;
    use proptest::prelude::*;

    const SCHEMA: &str = r#"syntax = "proto3";
package kafkit.test;
message Other { int32 x = 1; }
message Reading {
  message Inner { string note = 1; }
  sint64 seq = 1;
  Inner inner = 2;
  bytes raw = 3;
  map<string, int32> counts = 4;
  string sensor = 5;
}
"#;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Reading {
        #[prost(sint64, tag = "1")]
        seq: i64,
        #[prost(message, optional, tag = "2")]
        inner: Option<Inner>,
        #[prost(bytes = "vec", tag = "3")]
        raw: Vec<u8>,
        #[prost(btree_map = "string, int32", tag = "4")]
        counts: std::collections::BTreeMap<String, i32>,
        #[prost(string, tag = "5")]
        sensor: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Inner {
        #[prost(string, tag = "1")]
        note: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Other {
        #[prost(int32, tag = "1")]
        x: i32,
    }

    fn reading(seq: i64) -> Reading {
        Reading {
            seq,
            inner: (seq % 2 == 0).then(|| Inner {
                note: "even".into(),
            }),
            raw: vec![0, 255, 7],
            counts: [("a".to_string(), -1), ("b".to_string(), 2)].into(),
            sensor: format!("s{seq}"),
        }
    }

    fn serde(fake: &FakeRegistry, message: &str, extra: &[(&str, &str)]) -> ProtobufSerde {
        ProtobufSerde::with_schema(client(&fake.url, extra), RecordPart::Value, SCHEMA, message)
            .unwrap()
    }

    fn write<T: Message>(serde: &ProtobufSerde, topic: &str, message: T) -> Bytes {
        serde
            .serialize(topic, &mut Vec::new(), Protobuf(message))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_wire_format_is_magic_id_indexes_then_the_message() {
        let fake = FakeRegistry::registering();
        let readings = serde(&fake, "kafkit.test.Reading", &[]);
        let bytes = write(&readings, "t", reading(1));
        // Magic 0, schema id 1, then the indexes [1]: count 1 and index 1, zig-zag (2, 2).
        assert_eq!(&bytes[..7], &[0, 0, 0, 0, 1, 2, 2]);
        assert_eq!(&bytes[7..], &reading(1).encode_to_vec()[..]);
        let back: Protobuf<Reading> = readings.deserialize("t", &[], Some(&bytes)).unwrap();
        assert_eq!(back.0, reading(1));
        // The first message, [0], is the single byte 0; a nested one, [1, 0], is (4, 2, 0).
        let others = serde(&fake, "kafkit.test.Other", &[]);
        let other = write(&others, "t", Other { x: -3 });
        assert_eq!(&other[..6], &[0, 0, 0, 0, 1, 0]);
        assert_eq!(&other[6..], &Other { x: -3 }.encode_to_vec()[..]);
        let inners = serde(&fake, ".kafkit.test.Reading.Inner", &[]);
        let inner = write(&inners, "t", Inner { note: "n".into() });
        assert_eq!(&inner[..8], &[0, 0, 0, 0, 1, 4, 2, 0]);
        let back: Protobuf<Inner> = readings.deserialize("t", &[], Some(&inner)).unwrap();
        assert_eq!(back.0.note, "n");
        // Steady state: a registration per serde (each has a client of its own), one schema
        // lookup by id (the reader's), then none.
        let requests = fake.requests();
        assert_eq!(requests, 4);
        for seq in 0..100 {
            let bytes = write(&readings, "t", reading(seq));
            let back: Protobuf<Reading> = readings.deserialize("t", &[], Some(&bytes)).unwrap();
            assert_eq!(back.0, reading(seq));
        }
        assert_eq!(
            fake.requests(),
            requests,
            "no HTTP request in the steady state"
        );
        let seen = fake.seen.lock().unwrap().clone();
        assert!(
            seen[0].starts_with("POST /subjects/t-value/versions"),
            "{seen:?}"
        );
    }

    #[test]
    fn indexes_follow_the_files_nesting_map_entries_included() {
        let file = protox_parse::parse(
            "a.proto",
            "syntax = \"proto3\"; message A { map<string, int32> m = 1; message B { message C {} } }",
        )
        .unwrap();
        assert_eq!(message_indexes(&file, "A"), Some(vec![0]));
        // A's map field is a nested message too (MEntry), before B, as protoc makes it.
        assert_eq!(message_indexes(&file, "A.B"), Some(vec![0, 1]));
        assert_eq!(message_indexes(&file, "A.B.C"), Some(vec![0, 1, 0]));
        assert_eq!(message_indexes(&file, "A.D"), None);
        assert_eq!(message_indexes(&file, "x.A"), None);
        for indexes in [vec![0], vec![1], vec![0, 1, 0], vec![300, i32::MAX]] {
            let bytes = encode_indexes(&indexes);
            assert_eq!(split_indexes(&bytes).unwrap(), (indexes, &[][..]));
        }
        // Confluent's shortcut, and the long form of [0] that other writers may use.
        assert_eq!(encode_indexes(&[0]), [0]);
        assert_eq!(split_indexes(&[2, 0, 9]).unwrap(), (vec![0], &[9][..]));
    }

    #[test]
    fn subject_name_strategies_use_the_messages_full_name() {
        let fake = FakeRegistry::registering();
        let [key, value, plain] = strategy_clients(&fake.url);
        let keys = ProtobufSerde::for_message::<Named>(key, RecordPart::Key, SCHEMA).unwrap();
        write(&keys, "orders", Named::default());
        let inner = "kafkit.test.Reading.Inner";
        let values = ProtobufSerde::with_schema(value, RecordPart::Value, SCHEMA, inner).unwrap();
        write(&values, "orders", Inner::default());
        let other = "kafkit.test.Other";
        let topic_keys = ProtobufSerde::with_schema(plain, RecordPart::Key, SCHEMA, other).unwrap();
        write(&topic_keys, "orders", Other::default());
        let [by_record, _, by_topic] = strategy_registrations("kafkit.test.Reading");
        let [_, by_topic_and_record, _] = strategy_registrations(inner);
        assert_eq!(
            fake.request_lines(),
            [by_record, by_topic_and_record, by_topic]
        );
    }

    /// `Reading`'s name by `prost::Name`, as `#[derive(prost::Name)]` gives it.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Named {}

    impl prost::Name for Named {
        const NAME: &'static str = "Reading";
        const PACKAGE: &'static str = "kafkit.test";
    }

    #[test]
    fn malformed_records_are_typed_errors() {
        let fake = FakeRegistry::registering();
        let readings = serde(&fake, "kafkit.test.Reading", &[]);
        let good = write(&readings, "t", reading(1));
        let read = |bytes: &[u8]| -> Result<Protobuf<Reading>> {
            readings.deserialize("t", &[], Some(&Bytes::copy_from_slice(bytes)))
        };
        let message = |bytes: &[u8]| read(bytes).unwrap_err().to_string();
        assert!(message(&[1, 0, 0, 0, 1, 0]).contains("unknown magic byte 1"));
        assert!(message(&[0, 0, 0]).contains("too few"));
        assert!(message(&[]).contains("0 bytes"));
        assert!(message(&[0, 0, 0, 0, 1]).contains("end inside a varint"));
        assert!(message(&[0, 0, 0, 0, 1, 0x80]).contains("end inside a varint"));
        assert!(message(&[0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x7f]).contains("exceeds 32 bits"));
        // An absurd count: refused before anything is allocated for it.
        let huge = [0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f, 2];
        assert!(
            message(&huge).contains("2147483647 message indexes in 1 bytes"),
            "{}",
            message(&huge)
        );
        assert!(message(&[0, 0, 0, 0, 1, 1, 2]).contains("-1 message indexes"));
        assert!(message(&[0, 0, 0, 0, 1, 2, 1]).contains("negative message index -1"));
        assert!(message(&good[..good.len() - 2]).contains("cannot read a Protobuf message"));
        let mut unknown = good.to_vec();
        unknown[4] = 42;
        assert_schema_not_found(&read(&unknown).unwrap_err());
        // A record whose schema id names an Avro schema.
        let avro = client(&fake.url, &[])
            .register_blocking("a-value", "\"long\"", SchemaType::Avro)
            .unwrap();
        let mut of_avro = good.to_vec();
        of_avro[1..5].copy_from_slice(&avro.to_be_bytes());
        assert!(
            message(&of_avro).contains("is AVRO, not PROTOBUF"),
            "{}",
            message(&of_avro)
        );
        assert!(readings
            .deserialize("t", &[], None)
            .map(|_: Protobuf<Reading>| ())
            .is_err());
        let none: Option<Protobuf<Reading>> = readings.deserialize("t", &[], None).unwrap();
        assert_eq!(none, None);
        assert_eq!(
            readings
                .serialize("t", &mut Vec::new(), None::<Protobuf<Reading>>)
                .unwrap(),
            None
        );
        // A reader without a schema reads, and refuses to write.
        let reader = ProtobufSerde::new(client(&fake.url, &[]), RecordPart::Value);
        let back: Protobuf<Reading> = reader.deserialize("t", &[], Some(&good)).unwrap();
        assert_eq!(back.0, reading(1));
        let err = reader
            .serialize("t", &mut Vec::new(), Protobuf(reading(1)))
            .unwrap_err();
        assert!(err.to_string().contains("with_schema"), "{err}");
        let c = || client(&fake.url, &[]);
        let bad = ProtobufSerde::with_schema(c(), RecordPart::Value, "message {", "A").unwrap_err();
        assert!(bad.to_string().contains("not a .proto file"), "{bad}");
        let missing =
            ProtobufSerde::with_schema(c(), RecordPart::Value, SCHEMA, "Reading").unwrap_err();
        assert!(
            missing.to_string().contains("no message Reading"),
            "{missing}"
        );
    }

    #[test]
    fn use_latest_version_finds_the_message_in_the_subjects_schema() {
        // The latest schema as confluent-kafka's Python serializer registers it: a base64
        // FileDescriptorProto, in which Reading is the first message.
        let mut file = protox_parse::parse("r.proto", SCHEMA).unwrap();
        file.message_type.reverse();
        let serialized = base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec());
        let fake = FakeRegistry::start(move |request, _| match request {
            "GET /subjects/t-value/versions/latest" => (
                200,
                serde_json::json!({"subject":"t-value","version":4,"id":31,
                    "schemaType":"PROTOBUF","schema":serialized})
                .to_string(),
            ),
            "GET /subjects/u-value/versions/latest" => (
                200,
                serde_json::json!({"subject":"u-value","version":1,"id":32,
                    "schemaType":"PROTOBUF","schema":"syntax = \"proto3\"; message X {}"})
                .to_string(),
            ),
            "POST /subjects/t-value" => (
                200,
                serde_json::json!({"subject":"t-value","version":2,"id":12,
                    "schemaType":"PROTOBUF","schema":SCHEMA})
                .to_string(),
            ),
            _ => (
                404,
                r#"{"error_code":40401,"message":"Subject not found"}"#.into(),
            ),
        });
        let latest = [
            ("auto.register.schemas", "false"),
            ("use.latest.version", "true"),
        ];
        let readings = serde(&fake, "kafkit.test.Reading", &latest);
        assert_eq!(
            &write(&readings, "t", reading(1))[..6],
            &[0, 0, 0, 0, 31, 0]
        );
        let err = readings
            .serialize("u", &mut Vec::new(), Protobuf(reading(1)))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("schema id 32 has no message kafkit.test.Reading"),
            "{err}"
        );
        // auto.register.schemas=false alone: the given schema's id, looked up, not registered.
        let lookup = serde(
            &fake,
            "kafkit.test.Reading",
            &[("auto.register.schemas", "false")],
        );
        assert_eq!(
            &write(&lookup, "t", reading(1))[..7],
            &[0, 0, 0, 0, 12, 2, 2]
        );
        fake.assert_nothing_registered();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any message indexes written come back, and anything may follow them.
        #[test]
        fn indexes_round_trip(indexes in proptest::collection::vec(0..i32::MAX, 1..8), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = encode_indexes(&indexes);
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(split_indexes(&bytes).unwrap(), (indexes, &tail[..]));
        }

        /// Any bytes at all are read or refused, never a panic.
        #[test]
        fn arbitrary_bytes_are_refused_not_panicked_on(bytes in proptest::collection::vec(any::<u8>(), 0..64), header in any::<bool>()) {
            thread_local! {
                static SERDE: (FakeRegistry, ProtobufSerde) = {
                    let fake = FakeRegistry::registering();
                    let serde = serde(&fake, "kafkit.test.Reading", &[]);
                    write(&serde, "t", reading(1));
                    (fake, serde)
                };
            }
            SERDE.with(|(_, serde)| {
                // With a valid header (schema id 1) half the time, to reach the indexes and the message.
                let mut record = if header { vec![0, 0, 0, 0, 1] } else { Vec::new() };
                record.extend_from_slice(&bytes);
                let _ = serde.deserialize("t", &[], Some(&Bytes::from(record))).map(|_: Protobuf<Reading>| ());
            });
        }
    }
}
