//! Typed keys and values: a [`Serializer`] turns a key or value into a record's bytes, a
//! [`Deserializer`] turns them back, each given the topic and the record's headers as Java's
//! `Serializer.serialize(topic, headers, data)` and `Deserializer.deserialize(topic, headers,
//! data)` are.
//!
//! [`DefaultSerde`] is what the typed producer and consumer use unless told otherwise. It
//! writes the bytes Java's built-in serializers write, so kafkit and Java applications read
//! each other's records:
//!
//! | type | bytes | Java |
//! |---|---|---|
//! | `Bytes`, `Vec<u8>`, `&[u8]` | as they are (`Bytes`: shared, never copied) | `BytesSerializer`, `ByteArraySerializer` |
//! | `String`, `&str` | UTF-8 (checked when read) | `StringSerializer` |
//! | `i16`, `i32`, `i64` | 2, 4, 8 bytes, big-endian | `ShortSerializer`, `IntegerSerializer`, `LongSerializer` |
//! | `f32`, `f64` | IEEE 754 bits, big-endian | `FloatSerializer`, `DoubleSerializer` |
//! | `uuid::Uuid` | its hyphenated text | `UUIDSerializer` |
//! | `()` | null (reading anything else fails) | `VoidSerializer` |
//! | `Option<T>` | `None` is null, `Some` as `T` | (Java's `null`) |
//! | `Json<T>` (feature `json`) | `serde_json` | `JsonSerializer` of Kafka Connect, schemas off |
//!
//! With a Schema Registry, `AvroSerde` (feature `avro`, in `kafkit::serdes::avro`) and
//! `ProtobufSerde` (feature `protobuf`, in `kafkit::serdes::protobuf`) write and read Avro and
//! Protobuf in Confluent's wire format, through the client in `registry` (feature
//! `schema-registry`).
//!
//! Only `Option<T>` and `()` accept a null key or value: reading null into any other type
//! fails, since Rust's types, unlike Java's, have no null. Read keys that may be absent as
//! `Option<K>`.

/// `Option<T>` for a serde that handles `T`: `None` is a null key or value (Java's null),
/// written and read without the serde.
macro_rules! nullable {
    ($serde:ty) => {
        impl<T> $crate::serdes::Serializer<Option<T>> for $serde
        where
            $serde: $crate::serdes::Serializer<T>,
        {
            fn serialize(
                &self,
                topic: &str,
                headers: &mut Vec<$crate::record::Header>,
                data: Option<T>,
            ) -> $crate::error::Result<Option<bytes::Bytes>> {
                match data {
                    Some(data) => <Self as $crate::serdes::Serializer<T>>::serialize(
                        self, topic, headers, data,
                    ),
                    None => Ok(None),
                }
            }
        }

        impl<T> $crate::serdes::Deserializer<Option<T>> for $serde
        where
            $serde: $crate::serdes::Deserializer<T>,
        {
            fn deserialize(
                &self,
                topic: &str,
                headers: &[$crate::record::Header],
                data: Option<&bytes::Bytes>,
            ) -> $crate::error::Result<Option<T>> {
                match data {
                    Some(_) => <Self as $crate::serdes::Deserializer<T>>::deserialize(
                        self, topic, headers, data,
                    )
                    .map(Some),
                    None => Ok(None),
                }
            }
        }
    };
}

#[cfg(feature = "avro")]
pub mod avro;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "protobuf")]
pub mod protobuf;
#[cfg(feature = "schema-registry")]
pub mod registry;

use crate::error::{Error, Result};
use crate::record::Header;
use bytes::Bytes;
#[cfg(feature = "json")]
pub use json::Json;
use std::fmt;

/// Turns a key or value into the bytes of a record (Java's `Serializer`).
///
/// `data` is taken by value, so a type that owns its bytes (`Bytes`, `Vec<u8>`, `String`)
/// becomes the record's bytes without a copy.
///
/// ```
/// use bytes::Bytes;
/// use kafkit::{Header, Serializer};
///
/// /// Writes text in upper case, and says so in a header.
/// struct Shouting;
///
/// impl Serializer<String> for Shouting {
///     fn serialize(
///         &self,
///         _topic: &str,
///         headers: &mut Vec<Header>,
///         data: String,
///     ) -> kafkit::Result<Option<Bytes>> {
///         headers.push(Header::new("case", "upper"));
///         Ok(Some(Bytes::from(data.to_uppercase())))
///     }
/// }
///
/// let mut headers = Vec::new();
/// let bytes = Shouting.serialize("t", &mut headers, "hi".to_string()).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&b"HI"[..]));
/// assert_eq!(headers, [Header::new("case", "upper")]);
/// ```
pub trait Serializer<T> {
    /// The bytes of `data` for a record of `topic`; `None` is Kafka's null. A serializer may
    /// add to the record's `headers` (a content type, a schema id). A failure is
    /// [`Error::Serialization`] (made with [`Error::serialization`]); the record is not sent.
    fn serialize(&self, topic: &str, headers: &mut Vec<Header>, data: T) -> Result<Option<Bytes>>;
}

/// Turns the bytes of a record's key or value back into a value (Java's `Deserializer`).
///
/// `data` is `None` for Kafka's null. It is borrowed from the record, so a deserializer into
/// `Bytes` shares the fetched bytes (a reference count, no copy), and a failed record keeps
/// its bytes for the error (see [`Error::RecordDeserialization`]).
///
/// ```
/// use bytes::Bytes;
/// use kafkit::{Deserializer, Error, Header};
///
/// /// Reads a temperature written as text, such as `21.5`.
/// struct Celsius;
///
/// impl Deserializer<f64> for Celsius {
///     fn deserialize(&self, _topic: &str, _headers: &[Header], data: Option<&Bytes>) -> kafkit::Result<f64> {
///         let text = data.ok_or_else(|| Error::serialization("no temperature"))?;
///         std::str::from_utf8(text)
///             .ok()
///             .and_then(|t| t.parse().ok())
///             .ok_or_else(|| Error::serialization(format!("not a temperature: {text:?}")))
///     }
/// }
///
/// assert_eq!(Celsius.deserialize("t", &[], Some(&Bytes::from_static(b"21.5"))).unwrap(), 21.5);
/// assert!(Celsius.deserialize("t", &[], Some(&Bytes::from_static(b"warm"))).is_err());
/// ```
pub trait Deserializer<T> {
    /// The value in `data`, read from a record of `topic` with these `headers`. A failure is
    /// [`Error::Serialization`] (made with [`Error::serialization`]); the typed consumer
    /// reports it as [`Error::RecordDeserialization`], naming the record.
    fn deserialize(&self, topic: &str, headers: &[Header], data: Option<&Bytes>) -> Result<T>;
}

/// The part of a record a serializer or deserializer failed on (Java's
/// `DeserializationExceptionOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordPart {
    /// The record's key.
    Key,
    /// The record's value.
    Value,
}

impl fmt::Display for RecordPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordPart::Key => "key",
            RecordPart::Value => "value",
        })
    }
}

/// The serializer and deserializer of the types Java's built-in serdes cover, with the same
/// bytes (see the table in the [module docs](self)); what [`TypedProducer`] and
/// [`TypedConsumer`] use unless given others.
///
/// ```
/// use kafkit::{DefaultSerde, Deserializer, Serializer};
/// let bytes = DefaultSerde.serialize("t", &mut Vec::new(), 1_i32).unwrap();
/// assert_eq!(bytes.as_deref(), Some(&[0, 0, 0, 1][..])); // Java's IntegerSerializer
/// let back: i32 = DefaultSerde.deserialize("t", &[], bytes.as_ref()).unwrap();
/// assert_eq!(back, 1);
/// let nothing: Option<String> = DefaultSerde.deserialize("t", &[], None).unwrap();
/// assert_eq!(nothing, None);
/// ```
///
/// [`TypedProducer`]: crate::TypedProducer
/// [`TypedConsumer`]: crate::TypedConsumer
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultSerde;

/// The bytes of a non-null key or value, or the error for a null one.
fn present<'a>(data: Option<&'a Bytes>, type_name: &str) -> Result<&'a Bytes> {
    data.ok_or_else(|| {
        Error::serialization(format!(
            "null cannot be read as {type_name}; read it as Option<{type_name}>"
        ))
    })
}

impl Serializer<Bytes> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: Bytes,
    ) -> Result<Option<Bytes>> {
        Ok(Some(data))
    }
}

impl Deserializer<Bytes> for DefaultSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Bytes> {
        present(data, "Bytes").cloned()
    }
}

impl Serializer<Vec<u8>> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: Vec<u8>,
    ) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::from(data)))
    }
}

impl Deserializer<Vec<u8>> for DefaultSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<Vec<u8>> {
        present(data, "Vec<u8>").map(|bytes| bytes.to_vec())
    }
}

impl Serializer<&[u8]> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: &[u8],
    ) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(data)))
    }
}

impl Serializer<String> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: String,
    ) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::from(data)))
    }
}

impl Deserializer<String> for DefaultSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<String> {
        let bytes = present(data, "String")?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(Error::serialization(format!(
                "{} bytes are not UTF-8 text: {e}",
                bytes.len()
            ))),
        }
    }
}

impl Serializer<&str> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: &str,
    ) -> Result<Option<Bytes>> {
        Ok(Some(Bytes::copy_from_slice(data.as_bytes())))
    }
}

impl Serializer<()> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        _data: (),
    ) -> Result<Option<Bytes>> {
        Ok(None)
    }
}

impl Deserializer<()> for DefaultSerde {
    /// Java's `VoidDeserializer`: anything but null is an error.
    fn deserialize(&self, _topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<()> {
        match data {
            None => Ok(()),
            Some(bytes) => Err(Error::serialization(format!(
                "expected null, found {} bytes",
                bytes.len()
            ))),
        }
    }
}

/// Numbers as Java's serializers write them: fixed width, big-endian.
macro_rules! big_endian {
    ($($t:ty => $java:literal),* $(,)?) => {$(
        impl Serializer<$t> for DefaultSerde {
            fn serialize(&self, _topic: &str, _headers: &mut Vec<Header>, data: $t) -> Result<Option<Bytes>> {
                Ok(Some(Bytes::copy_from_slice(&data.to_be_bytes())))
            }
        }

        impl Deserializer<$t> for DefaultSerde {
            fn deserialize(&self, _topic: &str, _headers: &[Header], data: Option<&Bytes>) -> Result<$t> {
                let bytes = present(data, stringify!($t))?;
                match <[u8; std::mem::size_of::<$t>()]>::try_from(&bytes[..]) {
                    Ok(array) => Ok(<$t>::from_be_bytes(array)),
                    Err(_) => Err(Error::serialization(format!(
                        concat!("{} bytes cannot be a ", stringify!($t), " (", $java, "): it takes {}"),
                        bytes.len(),
                        std::mem::size_of::<$t>()
                    ))),
                }
            }
        }
    )*};
}

big_endian! {
    i16 => "Java's Short",
    i32 => "Java's Integer",
    i64 => "Java's Long",
    f32 => "Java's Float",
    f64 => "Java's Double",
}

impl Serializer<uuid::Uuid> for DefaultSerde {
    fn serialize(
        &self,
        _topic: &str,
        _headers: &mut Vec<Header>,
        data: uuid::Uuid,
    ) -> Result<Option<Bytes>> {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        Ok(Some(Bytes::copy_from_slice(
            data.hyphenated().encode_lower(&mut text).as_bytes(),
        )))
    }
}

impl Deserializer<uuid::Uuid> for DefaultSerde {
    fn deserialize(
        &self,
        _topic: &str,
        _headers: &[Header],
        data: Option<&Bytes>,
    ) -> Result<uuid::Uuid> {
        let bytes = present(data, "Uuid")?;
        uuid::Uuid::try_parse_ascii(bytes)
            .map_err(|e| Error::serialization(format!("not a UUID ({e}): {bytes:?}")))
    }
}

nullable!(DefaultSerde);

#[cfg(test)]
mod tests {
    use super::*;

    fn write<T>(data: T) -> Option<Bytes>
    where
        DefaultSerde: Serializer<T>,
    {
        DefaultSerde.serialize("t", &mut Vec::new(), data).unwrap()
    }

    fn read<T>(data: Option<&[u8]>) -> Result<T>
    where
        DefaultSerde: Deserializer<T>,
    {
        let data = data.map(Bytes::copy_from_slice);
        DefaultSerde.deserialize("t", &[], data.as_ref())
    }

    #[test]
    fn numbers_are_javas_big_endian_bytes() {
        // What Java's IntegerSerializer, LongSerializer... write for these values.
        assert_eq!(write(-2_i16).as_deref(), Some(&[0xff, 0xfe][..]));
        assert_eq!(write(258_i32).as_deref(), Some(&[0, 0, 1, 2][..]));
        assert_eq!(write(-1_i64).as_deref(), Some(&[0xff; 8][..]));
        assert_eq!(write(1.0_f32).as_deref(), Some(&[0x3f, 0x80, 0, 0][..]));
        assert_eq!(
            write(-2.5_f64).as_deref(),
            Some(&[0xc0, 0x04, 0, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(read::<i32>(Some(&[0, 0, 1, 2])).unwrap(), 258);
        assert_eq!(read::<i64>(Some(&[0xff; 8])).unwrap(), -1);
        assert_eq!(read::<f64>(write(0.1_f64).as_deref()).unwrap(), 0.1);
        let short = read::<i64>(Some(&[1, 2, 3])).unwrap_err();
        assert_eq!(
            short.to_string(),
            "serialization failed: 3 bytes cannot be a i64 (Java's Long): it takes 8"
        );
        assert!(read::<i32>(Some(&[0; 8])).is_err());
    }

    #[test]
    fn text_bytes_and_uuids() {
        assert_eq!(write("héllo").as_deref(), Some("héllo".as_bytes()));
        assert_eq!(read::<String>(Some("héllo".as_bytes())).unwrap(), "héllo");
        let err = read::<String>(Some(&[b'a', 0xff])).unwrap_err();
        assert!(
            err.to_string().contains("2 bytes are not UTF-8 text"),
            "{err}"
        );
        assert_eq!(write(vec![1u8, 2]).as_deref(), Some(&[1, 2][..]));
        assert_eq!(write(&[3u8][..]).as_deref(), Some(&[3][..]));
        assert_eq!(read::<Vec<u8>>(Some(&[])).unwrap(), Vec::<u8>::new());
        // Java's UUIDSerializer writes UUID.toString(): lower case, hyphenated.
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            write(id).as_deref(),
            Some(&b"01234567-89ab-cdef-0123-456789abcdef"[..])
        );
        assert_eq!(
            read::<uuid::Uuid>(Some(b"01234567-89AB-CDEF-0123-456789ABCDEF")).unwrap(),
            id
        );
        assert!(read::<uuid::Uuid>(Some(b"not-a-uuid")).is_err());
    }

    #[test]
    fn null_is_read_only_as_option_or_unit() {
        assert_eq!(write(()), None);
        assert_eq!(write(None::<String>), None);
        assert_eq!(write(Some(7_i32)).as_deref(), Some(&[0, 0, 0, 7][..]));
        assert_eq!(read::<Option<i32>>(None).unwrap(), None);
        assert_eq!(read::<Option<i32>>(Some(&[0, 0, 0, 7])).unwrap(), Some(7));
        assert!(read::<()>(None).is_ok());
        // An empty value is not null.
        let err = read::<()>(Some(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "serialization failed: expected null, found 0 bytes"
        );
        for err in [
            read::<Bytes>(None).unwrap_err(),
            read::<String>(None).unwrap_err(),
            read::<i64>(None).unwrap_err(),
        ] {
            assert!(err.to_string().contains("read it as Option<"), "{err}");
            assert!(!err.is_retriable());
        }
        // An empty string is a value, not null.
        assert_eq!(
            read::<Option<String>>(Some(&[])).unwrap(),
            Some(String::new())
        );
    }

    #[test]
    fn bytes_are_shared_not_copied() {
        let fetched = Bytes::from(vec![9u8; 64]);
        let slice = fetched.slice(8..40);
        let read: Bytes = DefaultSerde.deserialize("t", &[], Some(&slice)).unwrap();
        assert_eq!(read.as_ptr(), slice.as_ptr());
        let written = write(slice.clone()).unwrap();
        assert_eq!(written.as_ptr(), slice.as_ptr());
    }
}
